import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import { backupPollInterval, BACKUP_POLL_MS } from "../api/queries";
import type { Backup, BackupPolicy, EngineName, Store } from "../api/types";
import { COMPLETE, FAILED, OFF, RUNNING, STORE_ID } from "../test/backups";
import { ADMIN, apiError, ENGINES, json, mockFetch, renderWithProviders, TENANT, type Handler } from "../test/render";
import { store as storeOf } from "../test/rollouts";
import { BackupsCard } from "./Backups";

afterEach(() => vi.unstubAllGlobals());

const NEXT = new Date(Date.now() + 5 * 3600_000).toISOString();

function shop(extra: Partial<Store> = {}): Store {
  return storeOf(0, { id: STORE_ID, name: "probe-shop", namespace: STORE_ID, ownerId: TENANT.id, ...extra });
}

interface Options {
  store?: Store;
  backups?: Backup[];
  policy?: BackupPolicy;
  user?: typeof TENANT | typeof ADMIN;
  /** Answers first (a mutation's route). */
  extra?: Handler;
}

function renderSection({ store = shop(), backups = [], policy = OFF, user = TENANT, extra }: Options = {}) {
  setToken("t");
  let current = policy;
  const mocked = mockFetch(...(extra ? [extra] : []), (url, init) => {
    if (url.pathname === "/api/v1/auth/me") return json({ user });
    if (url.pathname === "/api/v1/backups") return json({ backups });
    if (url.pathname === `/api/v1/stores/${store.id}/backup-policy` && (init.method ?? "GET") === "GET")
      return json({ policy: current });
    if (url.pathname === `/api/v1/stores/${store.id}/backup-policy` && init.method === "PUT") {
      const body = JSON.parse(String(init.body));
      current = { ...body, nextAt: body.schedule ? NEXT : null };
      return json({
        message: body.schedule ? "Scheduled backups are on." : "Scheduled backups are off; existing backups are kept.",
        policy: current,
      });
    }
    return undefined;
  });
  renderWithProviders(<BackupsCard store={store} operator={user.role === "admin"} now={Date.now()} />);
  return mocked;
}

const section = () => document.getElementById("backups") as HTMLElement;
const row = (id: string) => section().querySelector(`[data-backup="${id}"]`) as HTMLElement;

describe("the store's backups", () => {
  it("lists them with status, trigger, what they hold, the running step and why one failed", async () => {
    const { calls } = renderSection({ backups: [RUNNING, COMPLETE, FAILED] });
    await screen.findByTestId("store-backups");
    expect(calls.find((c) => c.url.pathname === "/api/v1/backups")?.url.search).toBe(`?storeId=${STORE_ID}&limit=10`);

    const running = row(RUNNING.id);
    expect(running.querySelector("[data-backup-status]")?.textContent).toBe("Running");
    expect(within(running).getByTestId("backup-trigger").textContent).toBe("Manual");
    expect(within(running).getByTestId("backup-step").textContent).toBe("Saving the database…");
    expect(within(running).queryByRole("button", { name: /Restore/ })).toBeNull();

    const complete = row(COMPLETE.id);
    expect(complete.querySelector("[data-backup-status]")?.textContent).toBe("Complete");
    expect(within(complete).getByTestId("backup-trigger").textContent).toBe("Scheduled");
    expect(within(complete).getByTestId("backup-holds").textContent).toBe("46.3 MB (database, uploaded files) · took 14 s");
    expect(within(complete).getByTestId("backup-versions").textContent).toBe("Chart 2.1.0 · app 2.1.0");
    expect(within(complete).getByRole("button", { name: /^Restore into a new store/ })).toBeTruthy();

    const failed = row(FAILED.id);
    expect(within(failed).getByTestId("backup-error").textContent).toBe(
      "The platform's backup storage could not be reached.",
    );
    // The raw error a click away for tenants, no run link.
    expect((within(failed).getByTestId("raw-details") as HTMLDetailsElement).open).toBe(false);
    expect(within(section()).queryByRole("link", { name: "Backup run" })).toBeNull();
  });

  it("gives operators the raw error in the open and the backup's run", async () => {
    renderSection({ backups: [FAILED], user: ADMIN });
    await screen.findByTestId("store-backups");
    expect((within(row(FAILED.id)).getByTestId("raw-details") as HTMLDetailsElement).open).toBe(true);
    expect(within(row(FAILED.id)).getByRole("link", { name: "Backup run" }).getAttribute("href")).toBe(
      `/runs/${FAILED.runId}`,
    );
  });

  it("says so when there are none", async () => {
    renderSection();
    expect((await screen.findByTestId("no-backups")).textContent).toBe("No backups yet.");
  });

  it("asks again every few seconds while one runs, and rarely otherwise", () => {
    expect(backupPollInterval([COMPLETE, RUNNING])).toBe(BACKUP_POLL_MS);
    expect(backupPollInterval([COMPLETE, FAILED])).toBe(30_000);
    expect(backupPollInterval(undefined)).toBe(30_000);
  });
});

describe("Back up now", () => {
  it("is disabled, with the reason beside it, unless the store is ready and WooCommerce", async () => {
    renderSection({ store: shop({ status: "provisioning" }) });
    const button = await screen.findByRole("button", { name: "Back up now" });
    expect((button as HTMLButtonElement).disabled).toBe(true);
    const reason = await screen.findByTestId("backup-blocked");
    expect(reason.textContent).toBe("The store can be backed up once it is ready.");
    expect(button.getAttribute("aria-describedby")).toBe(reason.id);
  });

  it("is offered for a MedusaJS store too, with its schedule form", async () => {
    renderSection({ store: shop({ engine: "medusa", theme: null }) });
    const button = await screen.findByRole("button", { name: "Back up now" });
    await waitFor(() => expect((button as HTMLButtonElement).disabled).toBe(false));
    expect(screen.queryByTestId("backup-blocked")).toBeNull();
    await screen.findByTestId("backup-schedule");
  });

  it("is not offered for an engine without backups, which has no schedule form either", async () => {
    // The server's registry says which engines have backups (`GET /engines`).
    const example = {
      ...ENGINES[1],
      name: "example",
      label: "Example Shop",
      backups: false,
      restoreIntoNewStore: false,
      restoreInPlace: false,
    };
    renderSection({
      store: shop({ engine: "example" as EngineName, theme: null }),
      extra: (url) => (url.pathname === "/api/v1/engines" ? json({ engines: [...ENGINES, example] }) : undefined),
    });
    const button = await screen.findByRole("button", { name: "Back up now" });
    expect((button as HTMLButtonElement).disabled).toBe(true);
    expect((await screen.findByTestId("backup-blocked")).textContent).toBe(
      "Example Shop stores cannot be backed up by the platform yet.",
    );
    await screen.findByTestId("no-backups");
    expect(screen.queryByTestId("backup-schedule")).toBeNull();
  });

  it("is not offered for an engine the server does not know, by its name", async () => {
    renderSection({ store: shop({ engine: "retired" as EngineName, theme: null }) });
    expect((await screen.findByTestId("backup-blocked")).textContent).toBe(
      "retired stores cannot be backed up by the platform yet.",
    );
    expect((screen.getByRole("button", { name: "Back up now" }) as HTMLButtonElement).disabled).toBe(true);
    expect(screen.queryByTestId("backup-schedule")).toBeNull();
  });

  it("waits, disabled and without a reason, until the engines are known", async () => {
    let answer: (response: Response) => void = () => {};
    renderSection({
      backups: [COMPLETE],
      extra: (url) =>
        url.pathname === "/api/v1/engines" ? new Promise<Response>((resolve) => (answer = resolve)) : undefined,
    });
    await screen.findByTestId("store-backups");
    const button = screen.getByRole("button", { name: "Back up now" }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    // Never "cannot be backed up" while the registry has not answered.
    expect(screen.queryByTestId("backup-blocked")).toBeNull();
    expect(screen.queryByTestId("backup-schedule")).toBeNull();
    expect(within(row(COMPLETE.id)).queryByTestId("restore-in-place")).toBeNull();
    expect((within(row(COMPLETE.id)).getByTestId("restore-backup") as HTMLButtonElement).disabled).toBe(true);

    answer(json({ engines: ENGINES }));
    await waitFor(() => expect(button.disabled).toBe(false));
    expect(screen.queryByTestId("backup-blocked")).toBeNull();
    await screen.findByTestId("backup-schedule");
    expect((within(row(COMPLETE.id)).getByTestId("restore-backup") as HTMLButtonElement).disabled).toBe(false);
    expect(within(row(COMPLETE.id)).getByTestId("restore-in-place")).toBeTruthy();
  });

  it("offers neither restore for an engine whose backups cannot be restored", async () => {
    const noRestore = ENGINES.map((e) => ({ ...e, restoreIntoNewStore: false, restoreInPlace: false }));
    renderSection({
      backups: [COMPLETE],
      extra: (url) => (url.pathname === "/api/v1/engines" ? json({ engines: noRestore }) : undefined),
    });
    const button = await screen.findByRole("button", { name: "Back up now" });
    await waitFor(() => expect((button as HTMLButtonElement).disabled).toBe(false));
    expect(within(row(COMPLETE.id)).queryByTestId("restore-backup")).toBeNull();
    expect(within(row(COMPLETE.id)).queryByTestId("restore-in-place")).toBeNull();
  });

  it("says what a running backup waits for", async () => {
    const stuck = { ...RUNNING, waitingFor: "this worker has no backup bucket: set BACKUP_S3_BUCKET" };
    renderSection({ backups: [stuck] });
    await waitFor(() => expect(row(RUNNING.id)).toBeTruthy());
    expect(within(row(RUNNING.id)).getByTestId("backup-waiting").textContent).toBe(
      "Waiting: this worker has no backup bucket: set BACKUP_S3_BUCKET",
    );
  });

  it("starts a backup, and shows the API's reason when one is already running", async () => {
    let started = 0;
    const { calls } = renderSection({
      backups: [RUNNING],
      extra: (url, init) => {
        if (url.pathname !== `/api/v1/stores/${STORE_ID}/backups` || init.method !== "POST") return undefined;
        started++;
        if (started === 1) {
          return json(
            { requestId: "req_1", message: "Backup started. The store stays available while it runs.", backup: RUNNING },
            202,
          );
        }
        return apiError(409, "BACKUP_IN_PROGRESS", "A backup of this store is already running.", {
          suggestion: "Follow it with GET /api/v1/backups/{id}; start another once it has finished.",
          details: { backupId: RUNNING.id },
        });
      },
    });
    const button = await screen.findByRole("button", { name: "Back up now" });
    await waitFor(() => expect((button as HTMLButtonElement).disabled).toBe(false));
    const lists = () => calls.filter((c) => c.url.pathname === "/api/v1/backups").length;
    await screen.findByTestId("store-backups");
    const before = lists();
    fireEvent.click(button);
    await screen.findByText("Backup started. The store stays available while it runs.");
    // The list is asked again, to show the new backup.
    await waitFor(() => expect(lists()).toBeGreaterThan(before));
    expect(screen.queryByTestId("backup-start-error")).toBeNull();

    fireEvent.click(screen.getByRole("button", { name: "Back up now" }));
    const refusal = await screen.findByTestId("backup-start-error");
    expect(refusal.getAttribute("data-error-code")).toBe("BACKUP_IN_PROGRESS");
    expect(within(refusal).getByRole("alert").textContent).toContain("A backup of this store is already running.");
    expect(refusal.textContent).not.toMatch(/GET |\/api\//);
    const posts = calls.filter((c) => c.init.method === "POST");
    expect(posts).toHaveLength(2);
    expect(posts[0].init.body).toBeUndefined();
  });
});

describe("the backup schedule", () => {
  const form = () => screen.getByTestId("backup-schedule");
  const field = (label: string) => within(form()).getByLabelText(label) as HTMLInputElement;
  const puts = (calls: { url: URL; init: RequestInit }[]) =>
    calls.filter((c) => c.init.method === "PUT").map((c) => JSON.parse(String(c.init.body)));

  it("saves a schedule with its retention and shows the next backup", async () => {
    const { calls } = renderSection();
    await waitFor(() => expect(screen.getByTestId("backup-schedule-status").textContent).toBe("Scheduled backups are off."));
    expect(field("Keep daily").value).toBe("7");
    expect(field("Keep weekly").value).toBe("4");
    expect(form().textContent).toContain("5 fields, UTC, e.g. 0 3 * * *");
    fireEvent.change(field("Schedule (cron)"), { target: { value: "  0  3 * * * " } });
    fireEvent.change(field("Keep daily"), { target: { value: "5" } });
    fireEvent.click(within(form()).getByRole("button", { name: "Save" }));
    const next = await screen.findByTestId("backup-next");
    expect(next.textContent).toMatch(/^\w{3} \d{1,2}, \d{2}:\d{2} UTC$/);
    expect(next.getAttribute("datetime")).toBe(NEXT);
    const status = screen.getByTestId("backup-schedule-status");
    expect(status.getAttribute("data-scheduled")).toBe("on");
    expect(status.textContent).toContain("Scheduled backups are on: every day at 03:00 UTC, keeping the newest of each of the last 5 days and 4 weeks.");
    expect(status.textContent).toContain("(in 5 h)");
    expect(puts(calls)).toEqual([{ schedule: "0 3 * * *", keepDaily: 5, keepWeekly: 4 }]);
    // The field shows the expression as saved.
    expect(field("Schedule (cron)").value).toBe("0 3 * * *");
  });

  it("turns the schedule off, keeping the retention saved", async () => {
    const { calls } = renderSection({ policy: { schedule: "30 2 * * 1", keepDaily: 3, keepWeekly: 8, nextAt: NEXT } });
    await screen.findByTestId("backup-next");
    expect(screen.getByTestId("backup-schedule-status").textContent).toContain("every Monday at 02:30 UTC");
    // An unsaved change of the retention does not go with "Turn off".
    fireEvent.change(field("Keep daily"), { target: { value: "abc" } });
    fireEvent.click(within(form()).getByRole("button", { name: "Turn off" }));
    await waitFor(() =>
      expect(screen.getByTestId("backup-schedule-status").textContent).toBe("Scheduled backups are off."),
    );
    expect(puts(calls)).toEqual([{ schedule: null, keepDaily: 3, keepWeekly: 8 }]);
    expect(screen.queryByTestId("backup-next")).toBeNull();
    expect(within(form()).queryByRole("button", { name: "Turn off" })).toBeNull();
    expect(field("Schedule (cron)").value).toBe("");
  });

  it("catches an expression without 5 fields and wrong numbers before sending", async () => {
    const { calls } = renderSection();
    await screen.findByTestId("backup-schedule-status");
    fireEvent.click(within(form()).getByRole("button", { name: "Save" }));
    expect(within(form()).getByText(/^Enter a schedule, such as “0 3 \* \* \*”/)).toBeTruthy();
    fireEvent.change(field("Schedule (cron)"), { target: { value: "* * *" } });
    fireEvent.change(field("Keep weekly"), { target: { value: "600" } });
    fireEvent.click(within(form()).getByRole("button", { name: "Save" }));
    const lists = [...form().querySelectorAll("[data-field-errors]")].map((l) => l.textContent);
    expect(lists).toEqual([
      "“* * *” is not a valid schedule. It has 3 fields; a schedule needs 5: minute, hour, day of month, month and day of week.",
      "Enter a whole number from 0 to 520.",
    ]);
    expect(field("Schedule (cron)").getAttribute("aria-invalid")).toBe("true");
    expect(puts(calls)).toEqual([]);
  });

  it("shows the API's field errors beside their fields, in words, and keeps what was typed", async () => {
    const { calls } = renderSection({
      extra: (_url, init) => {
        if (init.method !== "PUT") return undefined;
        const { schedule } = JSON.parse(String(init.body));
        return apiError(400, "VALIDATION_ERROR", `invalid cron expression \`${schedule}\`: hour 25 is out of range (0-23)`, {
          suggestion: "Check the request parameters and try again.",
          details: [
            { field: "schedule", message: `invalid cron expression \`${schedule}\`: hour 25 is out of range (0-23)` },
            { field: "keepDaily", message: "a schedule needs at least one daily or weekly backup kept" },
          ],
        });
      },
    });
    await screen.findByTestId("backup-schedule-status");
    fireEvent.change(field("Schedule (cron)"), { target: { value: "0 25 * * *" } });
    fireEvent.click(within(form()).getByRole("button", { name: "Save" }));
    await waitFor(() => expect(form().querySelectorAll("[data-field-errors]")).toHaveLength(2));
    const lists = [...form().querySelectorAll("[data-field-errors]")].map((l) => l.textContent);
    expect(lists).toEqual([
      "“0 25 * * *” is not a valid schedule. Hour 25 is out of range (0-23).",
      "A schedule needs at least one daily or weekly backup kept.",
    ]);
    expect(field("Schedule (cron)").value).toBe("0 25 * * *");
    expect(field("Keep daily").getAttribute("aria-invalid")).toBe("true");
    // Said at the fields only.
    expect(within(form()).queryByRole("alert")).toBeNull();
    expect(screen.getByTestId("backup-schedule-status").textContent).toBe("Scheduled backups are off.");
    expect(puts(calls)).toHaveLength(1);
    // Typing again clears the API's complaint.
    fireEvent.change(field("Schedule (cron)"), { target: { value: "0 2 * * *" } });
    expect(form().querySelectorAll("[data-field-errors]")).toHaveLength(0);
  });

  it("shows a refusal that is not about a field under the form", async () => {
    renderSection({
      extra: (_url, init) =>
        init.method === "PUT"
          ? apiError(409, "BACKUP_NOT_SUPPORTED", "Stores of engine 'medusa' cannot be backed up by storeflow yet.")
          : undefined,
    });
    await screen.findByTestId("backup-schedule-status");
    fireEvent.change(field("Schedule (cron)"), { target: { value: "0 3 * * *" } });
    fireEvent.click(within(form()).getByRole("button", { name: "Save" }));
    const alert = await within(form()).findByRole("alert");
    expect(alert.textContent).toContain("The schedule was not saved");
    expect(alert.textContent).toContain("MedusaJS stores cannot be backed up by the platform yet.");
  });

  it("is not offered for a deleted store", async () => {
    renderSection({ store: shop({ status: "deleted" }), backups: [COMPLETE] });
    await screen.findByTestId("store-backups");
    expect(screen.getByTestId("backup-blocked").textContent).toMatch(/^The store is deleted/);
    expect(screen.queryByTestId("backup-schedule")).toBeNull();
    // Its backups can still be restored.
    expect(within(row(COMPLETE.id)).getByRole("button", { name: /^Restore into a new store/ })).toBeTruthy();
  });
});

describe("restoring a backup into a new store", () => {
  const NEW_ID = "store-5e5e5e5e";

  function restoring(answer: (body: Record<string, unknown>) => Response) {
    return renderSection({
      backups: [COMPLETE],
      extra: (url, init) =>
        url.pathname === "/api/v1/stores" && init.method === "POST" ? answer(JSON.parse(String(init.body))) : undefined,
    });
  }

  it("asks for the new store's name, creates it from the backup and opens it", async () => {
    const { calls } = restoring((body) =>
      json(
        {
          message: "Store creation initiated. Provisioning and the restore of the backup are in progress.",
          store: shop({ id: NEW_ID, name: String(body.name), status: "requested" }),
          run: { id: "01a241dc-0000-7000-8000-000000000009", workflow: "restore-woocommerce", status: "queued" },
        },
        202,
      ),
    );
    await screen.findByTestId("store-backups");
    fireEvent.click(within(row(COMPLETE.id)).getByRole("button", { name: /^Restore into a new store/ }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByText("Restore probe-shop into a new store?")).toBeTruthy();
    const name = within(dialog).getByLabelText("New store's name") as HTMLInputElement;
    expect(name.value).toBe("probe-shop-restored");
    expect(within(dialog).getByTestId("restore-what").textContent).toMatch(/database and uploaded files/);
    fireEvent.change(name, { target: { value: "probe-shop-2" } });
    fireEvent.change(within(dialog).getByLabelText(/Admin password/), { target: { value: "Restored-Pass-1" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Restore into a new store" }));
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe(`/stores/${NEW_ID}`));
    const post = calls.find((c) => c.url.pathname === "/api/v1/stores" && c.init.method === "POST")!;
    expect(JSON.parse(String(post.init.body))).toEqual({
      name: "probe-shop-2",
      restoreFrom: COMPLETE.id,
      password: "Restored-Pass-1",
    });
    expect((post.init.headers as Record<string, string>)["Idempotency-Key"]).toMatch(/^[0-9a-f-]{32,36}$/);
    await screen.findByText(/is being created from the backup of probe-shop/);
  });

  it("checks the name as the API does, and shows the API's refusal in the dialog", async () => {
    const { calls } = restoring(() =>
      apiError(409, "BACKUP_NOT_RESTORABLE", `Backup ${COMPLETE.id} is failed, not complete.`, {
        details: { status: "failed" },
        suggestion: "Restore a complete backup: GET /api/v1/backups?status=complete lists them.",
      }),
    );
    await screen.findByTestId("store-backups");
    fireEvent.click(within(row(COMPLETE.id)).getByRole("button", { name: /^Restore into a new store/ }));
    const dialog = await screen.findByRole("dialog");
    const name = within(dialog).getByLabelText("New store's name") as HTMLInputElement;
    const confirm = within(dialog).getByRole("button", { name: "Restore into a new store" }) as HTMLButtonElement;
    fireEvent.change(name, { target: { value: "Bad Name" } });
    expect(confirm.disabled).toBe(true);
    expect(dialog.querySelector("[data-field-errors]")?.textContent).toMatch(/lowercase/);
    fireEvent.change(name, { target: { value: "good-name" } });
    expect(confirm.disabled).toBe(false);
    fireEvent.click(confirm);
    const alert = await within(dialog).findByRole("alert");
    expect(alert.textContent).toContain("This backup failed, so there is nothing to restore from it.");
    expect(alert.textContent).not.toMatch(/GET |\/api\//);
    expect(screen.getByTestId("location").textContent).toBe("/");
    expect(calls.filter((c) => c.init.method === "POST")).toHaveLength(1);
  });

  it("tells an operator that a restored store of someone else's backup is theirs", async () => {
    renderSection({ backups: [COMPLETE], user: ADMIN });
    await screen.findByTestId("store-backups");
    fireEvent.click(within(row(COMPLETE.id)).getByRole("button", { name: /^Restore into a new store/ }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByTestId("restore-owner").textContent).toBe(
      "The new store will be yours, not the owner of the backed-up store.",
    );
  });
});

describe("restoring a backup into the store itself", () => {
  const RESTORE = `/api/v1/stores/${STORE_ID}/restore`;

  function restoring(answer: (body: Record<string, unknown>) => Response, options: Options = {}) {
    return renderSection({
      backups: [RUNNING, COMPLETE, FAILED],
      ...options,
      extra: (url, init) => (url.pathname === RESTORE && init.method === "POST" ? answer(JSON.parse(String(init.body))) : undefined),
    });
  }

  const openDialog = async () => {
    await screen.findByTestId("store-backups");
    fireEvent.click(within(row(COMPLETE.id)).getByTestId("restore-in-place"));
    return screen.findByRole("dialog");
  };

  it("is offered on the complete backups of a ready WooCommerce store only", async () => {
    renderSection({ backups: [RUNNING, COMPLETE, FAILED] });
    await screen.findByTestId("store-backups");
    const action = within(row(COMPLETE.id)).getByRole("button", { name: /^Restore into this store/ });
    expect(action.textContent).toBe("Restore into this store");
    expect(action.getAttribute("aria-label")).toMatch(/replaces the store's current data$/);
    // Beside the restore into a new store.
    expect(within(row(COMPLETE.id)).getByRole("button", { name: /^Restore into a new store/ })).toBeTruthy();
    expect(within(row(RUNNING.id)).queryByTestId("restore-in-place")).toBeNull();
    expect(within(row(FAILED.id)).queryByTestId("restore-in-place")).toBeNull();
  });

  for (const status of ["restoring", "upgrading", "failed", "provisioning", "deleted"] as const) {
    it(`is not offered while the store is ${status}; a new store can still be restored`, async () => {
      renderSection({ store: shop({ status }), backups: [COMPLETE] });
      await screen.findByTestId("store-backups");
      expect(within(row(COMPLETE.id)).queryByTestId("restore-in-place")).toBeNull();
      expect(within(row(COMPLETE.id)).getByRole("button", { name: /^Restore into a new store/ })).toBeTruthy();
    });
  }

  it("says what is replaced and what stays, and waits for the store's exact name", async () => {
    const { calls } = restoring(() => json({}, 500));
    const dialog = await openDialog();
    expect(within(dialog).getByRole("heading").textContent).toMatch(/^Restore probe-shop to its backup of /);
    const what = within(dialog).getByTestId("restore-in-place-what").textContent ?? "";
    expect(what).toContain("The store's current data is replaced by the backup's.");
    expect(what).toMatch(/products, orders, customers/);
    expect(what).toMatch(/added or changed since then are lost/);
    expect(what).toContain("The store keeps its address and its current admin password.");
    const confirm = within(dialog).getByRole("button", { name: "Replace the store's data" }) as HTMLButtonElement;
    const typed = within(dialog).getByLabelText(/to confirm$/) as HTMLInputElement;
    expect(confirm.disabled).toBe(true);
    // Exactly the name: no other case, no spaces around it (the API compares it as it is).
    for (const text of ["probe", "Probe-shop", "probe-shop ", " probe-shop"]) {
      fireEvent.change(typed, { target: { value: text } });
      expect(confirm.disabled).toBe(true);
    }
    fireEvent.change(typed, { target: { value: "probe-shop" } });
    expect(confirm.disabled).toBe(false);
    expect(calls.filter((c) => c.init.method === "POST")).toHaveLength(0);
  });

  it("sends the backup and the name, closes, and asks for the store again", async () => {
    const { calls } = restoring((body) =>
      json(
        {
          requestId: "req_r",
          message:
            "Restore of the backup of 2026-12-03 03:00 UTC into store 'probe-shop' initiated: the backup is checked whole first, then the store's data is replaced and the store is verified with a test order.",
          store: shop({ status: "restoring", restoredFrom: { backupId: String(body.backupId), restoredAt: null } }),
          run: { id: "01a241dc-0000-7000-8000-00000000000a", workflow: "restore-in-place-woocommerce", status: "queued" },
          backup: COMPLETE,
        },
        202,
      ),
    );
    const dialog = await openDialog();
    fireEvent.change(within(dialog).getByLabelText(/to confirm$/), { target: { value: "probe-shop" } });
    const lists = () => calls.filter((c) => c.url.pathname === "/api/v1/backups").length;
    const before = lists();
    fireEvent.click(within(dialog).getByRole("button", { name: "Replace the store's data" }));
    await screen.findByText(/from its backup of/);
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    const post = calls.find((c) => c.url.pathname === RESTORE)!;
    expect(post.init.method).toBe("POST");
    expect(JSON.parse(String(post.init.body))).toEqual({ backupId: COMPLETE.id, confirm: "probe-shop" });
    // The backups (and the store, through its queries) are asked again.
    await waitFor(() => expect(lists()).toBeGreaterThan(before));
  });

  it("shows the API's refusal in words, and its field messages beside the field", async () => {
    let answer: Response = apiError(409, "BACKUP_IN_PROGRESS", "A backup of this store is running; the store cannot be restored until it has finished.", {
      suggestion: "Follow it with GET /api/v1/backups/{id}, then restore.",
      details: { backupId: RUNNING.id },
    });
    const { calls } = restoring(() => answer);
    const dialog = await openDialog();
    const typed = within(dialog).getByLabelText(/to confirm$/);
    fireEvent.change(typed, { target: { value: "probe-shop" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Replace the store's data" }));
    const alert = await within(dialog).findByRole("alert");
    expect(alert.textContent).toContain("A backup of this store is running: the store can be restored once it has finished.");
    expect(alert.textContent).not.toMatch(/GET |\/api\//);
    expect(screen.getByRole("dialog")).toBeTruthy();

    answer = apiError(400, "VALIDATION_ERROR", "The confirmation does not match the store's name; nothing was restored.", {
      details: [{ field: "confirm", message: "must be exactly 'probe-shop': restoring replaces this store's data with the backup's" }],
    });
    fireEvent.click(within(dialog).getByRole("button", { name: "Replace the store's data" }));
    await within(dialog).findByText("The confirmation does not match the store's name; nothing was restored.");
    const field = dialog.querySelector("[data-field-errors]") as HTMLElement;
    expect(field.textContent).toBe("Must be exactly 'probe-shop': restoring replaces this store's data with the backup's.");
    expect(typed.getAttribute("aria-invalid")).toBe("true");

    answer = apiError(400, "VALIDATION_ERROR", `Backup ${COMPLETE.id} is of a medusa store; this store is woocommerce.`, {
      details: [{ field: "backupId", message: "must be a backup of a woocommerce store" }],
    });
    fireEvent.click(within(dialog).getByRole("button", { name: "Replace the store's data" }));
    await waitFor(() =>
      expect(within(dialog).getByTestId("restore-backup-errors").textContent).toBe("Must be a backup of a WooCommerce store."),
    );
    expect(calls.filter((c) => c.url.pathname === RESTORE)).toHaveLength(3);
  });
});
