import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import type { ProgressStep, StoreDetail, TimelineEvent, User } from "../api/types";
import { ADMIN, apiError, json, mockFetch, renderWithProviders, TENANT, type Handler } from "../test/render";
import { StoreDetailPage } from "./StoreDetail";

afterEach(() => vi.unstubAllGlobals());

// What `storeflow up` answered for a store whose image could not be pulled (fake cluster,
// `fail-next image-pull`), trimmed.
const RAW =
  'step `wait-ready` failed: pod mariadb-0 container mariadb cannot start: ImagePullBackOff Back-off pulling image "mariadb:11.4"; fix the image or configuration, then retry this step';
const RUN_ID = "01a23fb5-6651-746d-9af9-011cad5c704d";
const NAMES = [
  "mark-provisioning",
  "ensure-namespace",
  "ensure-store-secret",
  "chart-values",
  "install-chart",
  "wait-ready",
  "wp-core-install",
  "woocommerce-configure",
  "woocommerce-products",
  "publish-values",
  "publish-chart",
  "wait-published",
  "verify-storefront",
  "mark-ready",
];

function steps(current: number, status: ProgressStep["status"], extra: Partial<ProgressStep> = {}): ProgressStep[] {
  return NAMES.map((name, i) => ({
    number: i + 1,
    name,
    status: i < current ? "succeeded" : i === current ? status : "pending",
    attempt: i <= current ? 1 : 0,
    maxAttempts: 5,
    startedAt: i <= current ? "2026-12-04T06:19:42Z" : null,
    finishedAt: i < current ? "2026-12-04T06:19:42Z" : null,
    durationMs: i < current ? 3 : null,
    error: null,
    waitingFor: null,
    ...(i === current ? extra : {}),
  }));
}

function store(extra: Partial<StoreDetail> = {}): StoreDetail {
  return {
    id: "store-33655d8d",
    name: "probe-fail",
    engine: "woocommerce",
    theme: "storefront",
    status: "failed",
    namespace: "store-33655d8d",
    ownerId: TENANT.id,
    urls: { storefront: "http://probe-fail.stores.local/", admin: "http://probe-fail.stores.local/wp-admin/" },
    adminCredentials: { username: "admin", email: "a@example.com", password: "secret-pass", loginUrl: null },
    isCredentialOwner: true,
    failureReason: RAW,
    failedStep: "wait-ready",
    retryCount: 0,
    provisioningDurationMs: null,
    versions: { chart: "2.1.0", app: "2.1.0" },
    availableUpgrade: null,
    lastUpgrade: null,
    restoredFrom: null,
    currentRun: {
      id: RUN_ID,
      operation: "provision",
      workflow: "provision-woocommerce",
      status: "failed",
      percent: 35,
      step: "wait-ready",
      stepNumber: 6,
      stepCount: 14,
      nextAttemptAt: null,
    },
    createdAt: "2026-12-04T06:19:42Z",
    updatedAt: "2026-12-04T06:19:47Z",
    readyAt: null,
    deletedAt: null,
    progress: {
      runId: RUN_ID,
      workflow: "provision-woocommerce",
      version: 1,
      status: "failed",
      percent: 35,
      error: RAW,
      startedAt: "2026-12-04T06:19:42Z",
      finishedAt: "2026-12-04T06:19:47Z",
      nextAttemptAt: null,
      steps: steps(5, "failed", { error: RAW, finishedAt: "2026-12-04T06:19:47Z" }),
    },
    runs: [
      { id: RUN_ID, workflow: "provision-woocommerce", status: "failed", createdAt: "2026-12-04T06:19:42Z", finishedAt: null },
    ],
    ...extra,
  };
}

const EVENTS: TimelineEvent[] = [
  {
    id: "run-80",
    source: "run",
    at: "2026-12-04T06:19:47.59Z",
    kind: "step_failed",
    runId: RUN_ID,
    workflow: "provision-woocommerce",
    step: "wait-ready",
    attempt: 1,
    actor: null,
    data: { error: RAW, will_retry: false },
  },
  {
    id: "run-81",
    source: "run",
    at: "2026-12-04T06:19:47.60Z",
    kind: "finished",
    runId: RUN_ID,
    workflow: "provision-woocommerce",
    step: null,
    attempt: null,
    actor: null,
    data: { status: "failed", error: RAW },
  },
  {
    id: "audit-11",
    source: "audit",
    at: "2026-12-04T06:19:47.61Z",
    kind: "status_changed",
    runId: null,
    workflow: null,
    step: null,
    attempt: null,
    actor: null,
    data: { from: "provisioning", to: "failed", step: "wait-ready" },
  },
];

/** `extra` answers first (a mutation's route). */
function renderStore(answer: StoreDetail, user: User = TENANT, events: TimelineEvent[] = EVENTS, extra?: Handler) {
  setToken("t");
  const mocked = mockFetch(...(extra ? [extra] : []), (url) => {
    if (url.pathname === "/api/v1/auth/me") return json({ user });
    if (url.pathname === "/api/v1/health") return json({ status: "healthy", timestamp: "2026-12-04T06:20:00Z" });
    if (url.pathname === `/api/v1/stores/${answer.id}/events/stream`) return new Response(null, { status: 204 });
    if (url.pathname === `/api/v1/stores/${answer.id}/events`) return json({ events });
    if (url.pathname === `/api/v1/stores/${answer.id}/backup-policy`)
      return json({ policy: { schedule: null, keepDaily: 7, keepWeekly: 4, nextAt: null } });
    if (url.pathname === "/api/v1/backups") return json({ backups: [] });
    if (url.pathname === `/api/v1/stores/${answer.id}`) return json({ store: answer });
    return undefined;
  });
  renderWithProviders(
    <Routes>
      <Route path="/stores/:id" element={<StoreDetailPage />} />
    </Routes>,
    { route: `/stores/${answer.id}` },
  );
  return mocked;
}

/** The page's text outside closed disclosures (what a tenant reads without clicking). */
function visibleText(): string {
  const clone = document.body.cloneNode(true) as HTMLElement;
  for (const details of clone.querySelectorAll("details:not([open])")) {
    for (const child of [...details.children]) if (child.tagName !== "SUMMARY") child.remove();
  }
  return clone.textContent ?? "";
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe("a failed store", () => {
  it("says what stopped once, in plain words, with one Retry and the raw error behind Details", async () => {
    renderStore(store());
    const reason = await screen.findByTestId("failure-reason");
    expect(reason.textContent).toBe("The store's software could not be downloaded onto the cluster.");
    expect(screen.getByTestId("failure-title").textContent).toBe("Provisioning stopped at “Starting the store”");
    await screen.findByText("Stopped at “Starting the store”");

    const text = visibleText();
    expect(count(text, "could not be downloaded")).toBe(1);
    expect(text).not.toContain("ImagePullBackOff");
    expect(text).not.toMatch(/[`]|kubectl|storeflow doctor|wait-ready/);
    expect(screen.getAllByRole("button", { name: "Retry" })).toHaveLength(1);

    // One click away: the raw error and the step's code name, once.
    const details = within(screen.getByRole("alert")).getByTestId("raw-details") as HTMLDetailsElement;
    expect(details.open).toBe(false);
    expect(within(details).getByTestId("raw-text").textContent).toBe(RAW);
    expect(details.textContent).toContain("wait-ready");
    expect(count(document.body.textContent ?? "", "ImagePullBackOff")).toBe(1);
    // No operator advice for a tenant.
    expect(screen.queryByTestId("operator-advice")).toBeNull();
  });

  it("gives administrators the operator advice and the raw errors", async () => {
    renderStore(store({ isCredentialOwner: false, ownerUsername: "alice" }), ADMIN);
    await screen.findByTestId("failure-reason");
    expect(screen.getByTestId("operator-advice").textContent).toMatch(/kubectl -n <namespace> describe pods/);
    // Open for administrators; closed for tenants.
    expect((within(screen.getByRole("alert")).getByTestId("raw-details") as HTMLDetailsElement).open).toBe(true);
    expect(screen.getAllByRole("button", { name: "Retry" })).toHaveLength(1);
    expect((await screen.findAllByTestId("event-raw")).length).toBeGreaterThan(0);
  });

  it("weights its progress by time and keeps it under 100", async () => {
    renderStore(store());
    const percent = Number((await screen.findByTestId("progress-percent")).textContent?.replace("%", ""));
    // Five short steps of fourteen done: 36 % by count, about a tenth of the expected time.
    expect(percent).toBeGreaterThan(5);
    expect(percent).toBeLessThan(20);
    expect(screen.getByTestId("progress-summary").textContent).toBe("Stopped at step 6 of 14: Starting the store");
  });
});

describe("a store that retries or waits", () => {
  it("shows the cause of the current step's retry and the next attempt", async () => {
    const next = new Date(Date.now() + 30_000).toISOString();
    renderStore(
      store({
        status: "provisioning",
        failureReason: null,
        failedStep: null,
        progress: {
          ...store().progress!,
          status: "waiting",
          error: null,
          finishedAt: null,
          nextAttemptAt: next,
          steps: steps(4, "retrying", { error: "helm upgrade --install: exit status 1: connection reset" }),
        },
      }),
      TENANT,
      [],
    );
    const state = await screen.findByTestId("retry-state");
    expect(state.textContent).toMatch(
      /^Retrying: the store's software could not be installed — next attempt at \d{2}:\d{2}:\d{2} \(attempt 2 of 5\)$/,
    );
    expect(screen.getByTestId("progress-summary").textContent).toBe("Step 5 of 14: Installing the store");
  });
});

describe("a deleted store", () => {
  it("shows its addresses as plain text, not links", async () => {
    renderStore(
      store({
        status: "deleted",
        failureReason: null,
        failedStep: null,
        adminCredentials: undefined,
        deletedAt: "2026-12-04T06:30:00Z",
        progress: undefined,
        currentRun: null,
      }),
      TENANT,
      [],
    );
    await screen.findByText("This store is deleted");
    const texts = screen.getAllByTestId("url-text").map((e) => e.textContent);
    expect(texts).toEqual(["http://probe-fail.stores.local/", "http://probe-fail.stores.local/wp-admin/"]);
    expect(document.querySelectorAll('a[href^="http"]')).toHaveLength(0);
    expect(screen.getAllByText("No longer online: the store is deleted.")).toHaveLength(2);
  });

  it("stops linking as soon as the deletion starts", async () => {
    renderStore(
      store({ status: "deleting", failureReason: null, failedStep: null, progress: undefined, currentRun: null }),
      TENANT,
      [],
    );
    await screen.findByText("Access");
    expect(screen.getAllByTestId("url-text")).toHaveLength(2);
    expect(document.querySelectorAll('a[href^="http"]')).toHaveLength(0);
    expect(screen.getAllByText("Going offline: the store is being deleted.")).toHaveLength(2);
  });

  it("keeps the links of a ready store", async () => {
    renderStore(
      store({ status: "ready", failureReason: null, failedStep: null, readyAt: "2026-12-04T06:20:00Z", progress: undefined }),
      TENANT,
      [],
    );
    await screen.findByText("Access");
    expect(document.querySelectorAll('a[href^="http"]')).toHaveLength(2);
    expect(screen.queryAllByTestId("url-text")).toHaveLength(0);
  });
});

function ready(extra: Partial<StoreDetail> = {}): StoreDetail {
  return store({
    status: "ready",
    failureReason: null,
    failedStep: null,
    readyAt: "2026-12-04T06:20:54Z",
    provisioningDurationMs: 72_000,
    timeToFirstOrderMs: 80_000,
    progress: undefined,
    currentRun: null,
    runs: [],
    ...extra,
  });
}

describe("its backups", () => {
  it("has a Backups section: Back up now for a ready store, its backups, its schedule", async () => {
    const { calls } = renderStore(ready(), TENANT, []);
    const section = await screen.findByRole("region", { name: "Backups" });
    const button = within(section).getByRole("button", { name: "Back up now" }) as HTMLButtonElement;
    // Enabled once the engine registry says the store's engine has backups.
    await waitFor(() => expect(button.disabled).toBe(false));
    await within(section).findByText("No backups yet.");
    await within(section).findByText("Scheduled backups are off.");
    expect(calls.some((c) => c.url.pathname === "/api/v1/backups" && c.url.searchParams.get("storeId") === "store-33655d8d")).toBe(
      true,
    );
  });

  it("says why a failed store cannot be backed up now", async () => {
    renderStore(store());
    const section = await screen.findByRole("region", { name: "Backups" });
    expect((within(section).getByRole("button", { name: "Back up now" }) as HTMLButtonElement).disabled).toBe(true);
    expect((await within(section).findByTestId("backup-blocked")).textContent).toBe(
      "The store has failed: it can be backed up once it is ready again.",
    );
  });
});

describe("how long a store took", () => {
  it("says when it was ready and when it took its first order, in plain words", async () => {
    renderStore(ready(), TENANT, []);
    expect((await screen.findByTestId("ready-in")).textContent).toBe("1 min 12 s");
    expect(screen.getByText("Ready in")).toBeTruthy();
    expect(screen.getByTestId("first-order").textContent).toBe("1 min 20 s after creation");
  });

  it("leaves out what the API does not say", async () => {
    renderStore(ready({ provisioningDurationMs: null, timeToFirstOrderMs: undefined }), TENANT, []);
    await screen.findByText("Access");
    expect(screen.queryByTestId("ready-in")).toBeNull();
    expect(screen.queryByTestId("first-order")).toBeNull();
  });
});

describe("a queued store", () => {
  const queued = (queuePosition?: number | null): StoreDetail =>
    store({
      status: "requested",
      failureReason: null,
      failedStep: null,
      queuePosition: queuePosition ?? undefined,
      currentRun: { ...store().currentRun!, status: "queued", step: "mark-provisioning", stepNumber: 1 },
      progress: {
        ...store().progress!,
        status: "queued",
        error: null,
        startedAt: null,
        finishedAt: null,
        steps: steps(0, "pending").map((step) => ({ ...step, attempt: 0, startedAt: null })),
      },
    });

  it("says how many stores are ahead while it waits for a slot", async () => {
    renderStore(queued(3), TENANT, []);
    expect((await screen.findByTestId("progress-summary")).textContent).toBe(
      "Waiting for a free provisioning slot: 2 stores ahead of this one.",
    );
  });

  it("keeps the general words when the server does not say its place", async () => {
    renderStore(queued(undefined), TENANT, []);
    expect((await screen.findByTestId("progress-summary")).textContent).toBe(
      "Queued: waiting for a worker to pick it up.",
    );
  });
});

describe("changing the admin password", () => {
  const rotateHandler =
    (bodies: (string | undefined)[]): Handler =>
    (url, init) => {
      if (url.pathname.endsWith("/rotate-credentials") && init.method === "POST") {
        bodies.push(init.body as string | undefined);
        return json({ message: "Credential rotation initiated", store: ready(), run: { id: RUN_ID } }, 202);
      }
      return undefined;
    };

  it("says the new password works once the change finishes, while it runs", async () => {
    renderStore(ready({ rotation: { runId: RUN_ID, status: "running" } }), TENANT, []);
    const notice = await screen.findByTestId("rotation-status");
    expect(notice.textContent).toContain("Changing the admin password…");
    expect(notice.textContent).toContain("it works once the change finishes");
    expect(notice.textContent).toContain("Until then the previous password still works.");
    expect(screen.queryByRole("button", { name: "Change admin password" })).toBeNull();
  });

  it("reports a change that finished before the page ever saw it running", async () => {
    let posted = false;
    const fastRotation: Handler = (url, init) => {
      if (url.pathname.endsWith("/rotate-credentials") && init.method === "POST") {
        posted = true;
        return json({ message: "Credential rotation initiated", store: ready(), run: { id: RUN_ID } }, 202);
      }
      // The next read already shows the rotation finished: `rotation` was never seen set.
      if (posted && url.pathname === "/api/v1/stores/store-33655d8d")
        return json({
          store: ready({
            runs: [
              {
                id: RUN_ID,
                workflow: "rotate-credentials",
                status: "succeeded",
                createdAt: "2026-12-04T06:30:00Z",
                finishedAt: "2026-12-04T06:30:01Z",
              },
            ],
          }),
        });
      return undefined;
    };
    renderStore(ready(), TENANT, [], fastRotation);
    fireEvent.click(await screen.findByRole("button", { name: "Change admin password" }));
    fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Change password" }));
    expect((await screen.findByTestId("rotation-done")).textContent).toContain("The previous one no longer does.");
  });

  it("lets the owner choose the new password, checked before it is sent", async () => {
    const bodies: (string | undefined)[] = [];
    renderStore(ready(), TENANT, [], rotateHandler(bodies));
    fireEvent.click(await screen.findByRole("button", { name: "Change admin password" }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.click(within(dialog).getByLabelText("Choose it myself"));
    const field = within(dialog).getByLabelText("New admin password");
    const confirm = within(dialog).getByRole("button", { name: "Change password" }) as HTMLButtonElement;
    fireEvent.change(field, { target: { value: "short" } });
    fireEvent.blur(field);
    expect(within(dialog).getByText("Password must be 8 to 128 characters.")).toBeTruthy();
    expect(confirm.disabled).toBe(true);
    fireEvent.change(field, { target: { value: "Rotated-Pass-77" } });
    expect(confirm.disabled).toBe(false);
    fireEvent.click(confirm);
    await waitFor(() => expect(bodies).toHaveLength(1));
    expect(JSON.parse(bodies[0]!)).toEqual({ password: "Rotated-Pass-77" });
  });

  it("sends no body for a generated password", async () => {
    const bodies: (string | undefined)[] = [];
    renderStore(ready(), TENANT, [], rotateHandler(bodies));
    fireEvent.click(await screen.findByRole("button", { name: "Change admin password" }));
    const dialog = await screen.findByRole("dialog");
    expect((within(dialog).getByLabelText("Generate a strong one") as HTMLInputElement).checked).toBe(true);
    fireEvent.click(within(dialog).getByRole("button", { name: "Change password" }));
    await waitFor(() => expect(bodies).toEqual([undefined]));
  });

  it("gives operators who are not the owner a generated password only", async () => {
    const bodies: (string | undefined)[] = [];
    renderStore(
      ready({ isCredentialOwner: false, ownerUsername: "alice", adminCredentials: { username: "admin", email: "a****@example.com", password: "••••••••", loginUrl: null } }),
      ADMIN,
      [],
      rotateHandler(bodies),
    );
    fireEvent.click(await screen.findByRole("button", { name: "Change admin password" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain("A new password is generated. Only the store's owner (alice) can see it.");
    expect(within(dialog).queryAllByRole("radio")).toHaveLength(0);
    fireEvent.click(within(dialog).getByRole("button", { name: "Change password" }));
    await waitFor(() => expect(bodies).toEqual([undefined]));
  });

  it("offers no change while the store is not ready", async () => {
    renderStore(store(), TENANT, []);
    await screen.findByTestId("failure-reason");
    expect(screen.queryByRole("button", { name: "Change admin password" })).toBeNull();
  });
});

describe("day-2 upgrades", () => {
  const UPGRADE_RUN = "01a2412b-2e51-77b6-80c3-b5269d4821b1";
  const CRASH =
    "step `wait-upgraded` failed: pod wordpress-7d9f8b6c4-00000 container wordpress cannot start: CrashLoopBackOff (restarted 5 times) back-off 40s restarting failed container (image wordpress:6.8-php8.2-apache-crashloop); fix the image or configuration, then retry this step";
  const UPGRADE_NAMES = [
    "record-release",
    "upgrade-values",
    "upgrade-chart",
    "wait-upgraded",
    "wp-core-update-db",
    "wc-update",
    "verify-storefront",
    "mark-upgraded",
    "record-upgrade-failure",
    "rollback-chart",
    "wait-rolled-back",
    "verify-storefront-after-rollback",
    "mark-rolled-back",
  ];
  const upgradeSteps = (statuses: ProgressStep["status"][], errors: Record<string, string> = {}): ProgressStep[] =>
    UPGRADE_NAMES.map((name, i) => ({
      number: i + 1,
      name,
      status: statuses[i],
      attempt: ["pending", "skipped"].includes(statuses[i]) ? 0 : 1,
      maxAttempts: 5,
      startedAt: ["pending", "skipped"].includes(statuses[i]) ? null : "2026-12-04T13:07:58Z",
      finishedAt: statuses[i] === "succeeded" || statuses[i] === "failed" ? "2026-12-04T13:07:59Z" : null,
      durationMs: statuses[i] === "succeeded" ? 30 : null,
      error: errors[name] ?? null,
      waitingFor: null,
    }));
  const upgradeRun = (status: "running" | "waiting" | "succeeded" | "failed", stepStatuses: ProgressStep["status"][], errors = {}) => ({
    currentRun: {
      id: UPGRADE_RUN,
      operation: "upgrade" as const,
      workflow: "upgrade-woocommerce",
      status,
      percent: 23,
      step: status === "succeeded" || status === "failed" ? null : "wait-upgraded",
      stepNumber: 4,
      stepCount: 13,
      nextAttemptAt: null,
    },
    progress: {
      runId: UPGRADE_RUN,
      workflow: "upgrade-woocommerce",
      version: 1,
      status,
      percent: 23,
      error: null,
      startedAt: "2026-12-04T13:07:58Z",
      finishedAt: status === "succeeded" || status === "failed" ? "2026-12-04T13:08:03Z" : null,
      nextAttemptAt: null,
      steps: upgradeSteps(stepStatuses, errors),
    },
  });
  const MAIN_DONE: ProgressStep["status"][] = [...Array(8).fill("succeeded"), ...Array(5).fill("skipped")];
  const ROLLING_BACK: ProgressStep["status"][] = [
    "succeeded",
    "succeeded",
    "succeeded",
    "failed",
    "skipped",
    "skipped",
    "skipped",
    "skipped",
    "succeeded",
    "succeeded",
    "polling",
    "pending",
    "pending",
  ];
  const ROLLED_BACK: ProgressStep["status"][] = [...ROLLING_BACK.slice(0, 10), "succeeded", "succeeded", "succeeded"];

  const available = (extra: Partial<StoreDetail> = {}) =>
    ready({ versions: { chart: "2.1.0", app: "2.1.0" }, availableUpgrade: { chart: "2.2.0", app: "2.2.0" }, ...extra });

  const upgradeHandler =
    (answer: () => Response, bodies: (string | undefined)[] = []): Handler =>
    (url, init) => {
      if (url.pathname.endsWith("/upgrade") && init.method === "POST") {
        bodies.push(init.body as string | undefined);
        return answer();
      }
      return undefined;
    };

  it("shows the versions, and no upgrade action when the store runs the newest chart", async () => {
    renderStore(ready({ versions: { chart: "2.1.0", app: "2.1.0" } }), TENANT, []);
    expect((await screen.findByTestId("store-versions")).textContent).toBe("Chart 2.1.0 · app 2.1.0");
    expect(screen.queryByTestId("upgrade-available")).toBeNull();
    expect(screen.queryByRole("button", { name: /^Upgrade to/ })).toBeNull();
  });

  it("says unknown for a store provisioned before versions were recorded", async () => {
    renderStore(ready({ versions: { chart: null, app: null }, availableUpgrade: { chart: "2.2.0", app: "2.2.0" } }), TENANT, []);
    expect((await screen.findByTestId("store-versions")).textContent).toBe("Unknown");
    expect(screen.getByText(/created before the platform recorded versions/)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Upgrade to chart 2.2.0 (app 2.2.0)" })).toBeTruthy();
  });

  it("offers the upgrade with a confirmation that says what happens, and sends no body", async () => {
    const bodies: (string | undefined)[] = [];
    renderStore(
      available(),
      ADMIN,
      [],
      upgradeHandler(
        () =>
          json(
            {
              message: "Store upgrade to chart 2.2.0 (app 2.2.0) initiated; a failed upgrade is rolled back and verified again by itself.",
              store: available({ status: "upgrading" }),
              run: { id: UPGRADE_RUN, workflow: "upgrade-woocommerce", status: "queued" },
              from: { chart: "2.1.0", app: "2.1.0" },
              to: { chart: "2.2.0", app: "2.2.0" },
            },
            202,
          ),
        bodies,
      ),
    );
    expect((await screen.findByTestId("upgrade-available")).textContent).toBe("Upgrade available");
    expect(screen.getByTestId("available-upgrade").textContent).toContain("Chart 2.2.0 (app 2.2.0) is available.");
    fireEvent.click(screen.getByRole("button", { name: "Upgrade to chart 2.2.0 (app 2.2.0)" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain("Upgrade probe-fail to chart 2.2.0 (app 2.2.0)?");
    expect(within(dialog).getByTestId("upgrade-what").textContent).toBe(
      "The store goes from chart 2.1.0 (app 2.1.0) to chart 2.2.0 (app 2.2.0): the new version is installed, its database updates run, and the store is verified with a real test order.",
    );
    expect(within(dialog).getByTestId("upgrade-safety").textContent).toContain(
      "If any step fails, the store is rolled back to chart 2.1.0 (app 2.1.0) automatically and verified again with a test order.",
    );
    fireEvent.click(within(dialog).getByRole("button", { name: "Upgrade store" }));
    await waitFor(() => expect(bodies).toEqual([undefined]));
    expect(await screen.findByText(/Store upgrade to chart 2\.2\.0 \(app 2\.2\.0\) initiated/)).toBeTruthy();
  });

  it("shows a tenant the platform's refusal, then no longer offers the upgrade", async () => {
    renderStore(
      available(),
      TENANT,
      [],
      upgradeHandler(() =>
        apiError(403, "UPGRADE_NOT_ALLOWED", "Store upgrades are started by operators on this platform.", {
          suggestion: "Ask an operator to upgrade the store, or to set TENANT_UPGRADES=true.",
        }),
      ),
    );
    fireEvent.click(await screen.findByRole("button", { name: "Upgrade to chart 2.2.0 (app 2.2.0)" }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.click(within(dialog).getByRole("button", { name: "Upgrade store" }));
    const alert = await within(dialog).findByRole("alert");
    expect(alert.textContent).toContain("Store upgrades are started by operators on this platform.");
    expect(within(alert).getByTestId("error-suggestion").textContent).toBe(
      "Ask your platform's administrators to upgrade this store.",
    );
    // No setting names for a tenant.
    expect(dialog.textContent).not.toContain("TENANT_UPGRADES");
    expect(within(dialog).queryByTestId("operator-suggestion")).toBeNull();
    fireEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(screen.queryByRole("button", { name: /^Upgrade to/ })).toBeNull());
    expect(screen.getByTestId("available-upgrade").textContent).toContain(
      "Upgrades are started by operators on this platform: ask your platform's administrators.",
    );
  });

  it("shows a conflict's message, and operators the API's suggestion", async () => {
    renderStore(
      available(),
      ADMIN,
      [],
      upgradeHandler(() =>
        apiError(409, "UP_TO_DATE", "Store already runs chart 2.2.0 with app version 2.2.0.", {
          suggestion: 'Nothing to upgrade. Send {"force": true} to apply the chart and verify the store again anyway.',
        }),
      ),
    );
    fireEvent.click(await screen.findByRole("button", { name: "Upgrade to chart 2.2.0 (app 2.2.0)" }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.click(within(dialog).getByRole("button", { name: "Upgrade store" }));
    const alert = await within(dialog).findByRole("alert");
    expect(alert.textContent).toContain("Store already runs chart 2.2.0 with app version 2.2.0.");
    expect(within(dialog).getByTestId("operator-suggestion").textContent).toContain('{"force": true}');
    // Still offered: only a tenant's refusal hides it.
    expect(screen.getByTestId("upgrade-store")).toBeTruthy();
  });

  it("shows a server that cannot read its chart (503) in plain words", async () => {
    renderStore(
      available(),
      ADMIN,
      [],
      upgradeHandler(() =>
        apiError(503, "CHART_UNKNOWN", "This server cannot read the store chart, so it does not know which version to upgrade to.", {
          suggestion: "Set HELM_CHART_PATH to the ecommerce-store chart directory and restart storeflow; `storeflow doctor` checks it.",
        }),
      ),
    );
    fireEvent.click(await screen.findByRole("button", { name: "Upgrade to chart 2.2.0 (app 2.2.0)" }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.click(within(dialog).getByRole("button", { name: "Upgrade store" }));
    const alert = await within(dialog).findByRole("alert");
    expect(alert.textContent).toContain("This server cannot read the store chart");
    expect(within(dialog).getByTestId("operator-suggestion").textContent).toContain("HELM_CHART_PATH");
  });

  it("shows an upgrading store's badge, what the upgrade does, and its live progress", async () => {
    renderStore(
      available({
        status: "upgrading",
        ...upgradeRun("running", ["succeeded", "succeeded", "succeeded", "running", ...Array(9).fill("pending")]),
      }),
      TENANT,
      [],
    );
    const badge = await screen.findByText("Upgrading");
    expect(badge.getAttribute("data-status")).toBe("upgrading");
    expect(screen.getByTestId("upgrade-title").textContent).toBe(
      "Upgrading from chart 2.1.0 (app 2.1.0) to chart 2.2.0 (app 2.2.0)",
    );
    expect(screen.getByText("Upgrade", { selector: "h2" })).toBeTruthy();
    // The rollback steps are not counted while they may never run.
    expect(screen.getByTestId("progress-summary").textContent).toBe("Step 4 of 8: Starting the new version");
    expect(screen.getByTestId("rollback-heading").textContent).toBe("Automatic rollback: only if a step above fails");
    // Nothing else to start meanwhile.
    expect(screen.queryByRole("button", { name: /^Upgrade to/ })).toBeNull();
    expect(screen.queryByRole("button", { name: "Delete" })).toBeNull();
    expect(screen.queryByTestId("upgrade-available")).toBeNull();
  });

  it("says where an upgrade failed and that it rolls back, while the rollback runs", async () => {
    renderStore(
      available({
        status: "upgrading",
        versions: { chart: "2.2.0", app: "2.2.0" },
        availableUpgrade: { chart: "2.3.0", app: "2.3.0" },
        ...upgradeRun("waiting", ROLLING_BACK, { "wait-upgraded": CRASH }),
        lastUpgrade: {
          status: "rolling_back",
          runId: UPGRADE_RUN,
          from: { chart: "2.2.0", app: "2.2.0" },
          failedStep: "wait-upgraded",
          error: CRASH,
          at: "2026-12-04T13:08:00.81Z",
        },
      }),
      TENANT,
      [],
    );
    const notice = (await screen.findByTestId("upgrade-title")).closest("[data-upgrade-notice]") as HTMLElement;
    expect(notice.getAttribute("data-upgrade-notice")).toBe("rolling_back");
    expect(within(notice).getByTestId("upgrade-title").textContent).toBe(
      "Upgrade failed at “Starting the new version”: rolling back to chart 2.2.0 (app 2.2.0)",
    );
    expect(within(notice).getByTestId("upgrade-reason").textContent).toBe(
      "A part of the store keeps crashing when it starts.",
    );
    // The raw error one click away for a tenant, once on the page.
    expect((within(notice).getByTestId("raw-details") as HTMLDetailsElement).open).toBe(false);
    expect(within(notice).getByTestId("raw-text").textContent).toBe(CRASH);
    expect(screen.getByTestId("progress-summary").textContent).toBe(
      "Rolling back: step 7 of 9: Starting the previous version again",
    );
    expect(visibleText()).not.toContain("CrashLoopBackOff");
    expect(screen.getByTestId("step-stopped").textContent).toBe(
      "Failed here — the automatic rollback below took over; see above for why.",
    );
  });

  it("says a rolled-back upgrade failed, where and why, and that the store was verified again", async () => {
    renderStore(
      available({
        versions: { chart: "2.2.0", app: "2.2.0" },
        availableUpgrade: { chart: "2.3.0", app: "2.3.0" },
        ...upgradeRun("failed", ROLLED_BACK, { "wait-upgraded": CRASH }),
        lastUpgrade: {
          status: "rolled_back",
          runId: UPGRADE_RUN,
          from: { chart: "2.2.0", app: "2.2.0" },
          to: { chart: "2.3.0", app: "2.3.0" },
          failedStep: "wait-upgraded",
          error: CRASH,
          at: "2026-12-04T13:08:02.92Z",
        },
      }),
      ADMIN,
      [],
    );
    const notice = (await screen.findByTestId("upgrade-title")).closest("[data-upgrade-notice]") as HTMLElement;
    expect(notice.getAttribute("data-upgrade-notice")).toBe("rolled_back");
    expect(within(notice).getByTestId("upgrade-title").textContent).toBe(
      "The upgrade to chart 2.3.0 (app 2.3.0) failed at “Starting the new version” and was rolled back",
    );
    expect(within(notice).getByTestId("upgrade-text").textContent).toBe(
      "The store runs chart 2.2.0 (app 2.2.0) again and was verified again with a test order.",
    );
    // Operators see the error text in the open.
    expect((within(notice).getByTestId("raw-details") as HTMLDetailsElement).open).toBe(true);
    expect(within(notice).getByTestId("raw-text").textContent).toBe(CRASH);
    expect(screen.getByTestId("store-versions").textContent).toBe("Chart 2.2.0 · app 2.2.0");
    // The run failed, the store is fine: a full, amber bar, and the upgrade may be tried again.
    expect(screen.getByTestId("progress-summary").textContent).toBe(
      "The upgrade failed; the store was rolled back and verified again.",
    );
    expect(screen.getByTestId("progress-percent").textContent).toBe("100%");
    expect(screen.getByRole("button", { name: "Upgrade to chart 2.3.0 (app 2.3.0)" })).toBeTruthy();
    expect(screen.queryByTestId("failure-reason")).toBeNull();
  });

  it("says from which chart to which a store was upgraded, and when", async () => {
    renderStore(
      ready({
        versions: { chart: "2.2.0", app: "2.2.0" },
        ...upgradeRun("succeeded", MAIN_DONE),
        lastUpgrade: {
          status: "succeeded",
          runId: UPGRADE_RUN,
          from: { chart: "2.1.0", app: "2.1.0" },
          to: { chart: "2.2.0", app: "2.2.0" },
          at: new Date(Date.now() - 5 * 60_000).toISOString(),
        },
      }),
      TENANT,
      [],
    );
    expect((await screen.findByTestId("upgrade-succeeded")).textContent).toBe("Upgraded from chart 2.1.0 to 2.2.0 5 min ago");
    expect(screen.getByTestId("progress-summary").textContent).toBe(
      "The store is upgraded and verified with a test order.",
    );
    expect(screen.getByTestId("progress-percent").textContent).toBe("100%");
    expect(screen.getByTestId("rollback-heading").textContent).toBe("Automatic rollback: not needed");
    expect(document.querySelectorAll('[data-step-status="skipped"]')).toHaveLength(5);
    expect(screen.queryByTestId("upgrade-title")).toBeNull();
  });

  it("names an upgrade whose rollback stopped, and retries it from the failed step", async () => {
    const statuses: ProgressStep["status"][] = [...ROLLING_BACK.slice(0, 10), "failed", "pending", "pending"];
    const RAW_ROLLBACK = "step `wait-rolled-back` failed: still pending after 5m (the step's timeout)";
    renderStore(
      available({
        status: "failed",
        versions: { chart: "2.2.0", app: "2.2.0" },
        availableUpgrade: { chart: "2.3.0", app: "2.3.0" },
        failureReason: RAW_ROLLBACK,
        failedStep: "wait-rolled-back",
        ...upgradeRun("failed", statuses, { "wait-upgraded": CRASH, "wait-rolled-back": RAW_ROLLBACK }),
        lastUpgrade: {
          status: "rolling_back",
          runId: UPGRADE_RUN,
          from: { chart: "2.2.0", app: "2.2.0" },
          failedStep: "wait-upgraded",
          error: CRASH,
          at: "2026-12-04T13:08:00.81Z",
        },
      }),
      TENANT,
      [],
    );
    expect((await screen.findByTestId("failure-title")).textContent).toBe(
      "The rollback stopped at “Starting the previous version again”",
    );
    expect(screen.getByTestId("progress-summary").textContent).toBe(
      "Rollback stopped at step 7 of 9: Starting the previous version again",
    );
    expect(screen.getByTestId("upgrade-rollback-stopped").textContent).toBe(
      "The upgrade had failed at “Starting the new version” (a part of the store keeps crashing when it starts), and rolling the store back to chart 2.2.0 (app 2.2.0) did not finish.",
    );
    expect(screen.queryByRole("button", { name: /^Upgrade to/ })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain(
      "The rollback carries on from “Starting the previous version again”; the steps that finished are not repeated.",
    );
  });
});

describe("restoring a backup into the store", () => {
  const RESTORE_RUN = "01a2420a-1b2c-7000-8000-00000000000b";
  const BACKUP = {
    id: "01a241c0-1111-7000-8000-000000000002",
    storeId: "store-33655d8d",
    storeName: "probe-fail",
    ownerId: TENANT.id,
    engine: "woocommerce",
    status: "complete",
    trigger: "manual",
    runId: null,
    step: null,
    waitingFor: null,
    sizeBytes: 48_512_331,
    storedBytes: 48_530_002,
    versions: { chart: "2.1.0", app: "2.1.0" },
    parts: [],
    error: null,
    createdAt: "2026-12-03T03:00:04Z",
    completedAt: "2026-12-03T03:00:18Z",
  };
  const NAMES_IN_PLACE = [
    "verify-backup",
    "restore-database",
    "restore-uploads",
    "wp-rehome",
    "set-admin-password",
    "wp-core-update-db",
    "wc-update",
    "verify-storefront",
    "mark-restored",
  ];
  const restoreRun = (status: "running" | "failed", current: number, currentStatus: ProgressStep["status"], error?: string) => ({
    currentRun: {
      id: RESTORE_RUN,
      operation: "restore" as const,
      workflow: "restore-in-place-woocommerce",
      status,
      percent: 30,
      step: NAMES_IN_PLACE[current],
      stepNumber: current + 1,
      stepCount: NAMES_IN_PLACE.length,
      nextAttemptAt: null,
    },
    progress: {
      runId: RESTORE_RUN,
      workflow: "restore-in-place-woocommerce",
      version: 1,
      status,
      percent: 30,
      error: error ?? null,
      startedAt: "2026-12-04T10:00:00Z",
      finishedAt: status === "failed" ? "2026-12-04T10:00:09Z" : null,
      nextAttemptAt: null,
      steps: NAMES_IN_PLACE.map((name, i) => ({
        number: i + 1,
        name,
        status: (i < current ? "succeeded" : i === current ? currentStatus : "pending") as ProgressStep["status"],
        attempt: i <= current ? 1 : 0,
        maxAttempts: 4,
        startedAt: i <= current ? "2026-12-04T10:00:00Z" : null,
        finishedAt: i < current ? "2026-12-04T10:00:03Z" : null,
        durationMs: i < current ? 3000 : null,
        error: i === current ? (error ?? null) : null,
        waitingFor: null,
      })),
    },
    runs: [
      { id: RESTORE_RUN, workflow: "restore-in-place-woocommerce", status, createdAt: "2026-12-04T10:00:00Z", finishedAt: null },
    ],
  });
  const backupRoutes: Handler = (url) => {
    if (url.pathname === `/api/v1/backups/${BACKUP.id}`) return json({ backup: BACKUP });
    if (url.pathname === "/api/v1/backups") return json({ backups: [BACKUP] });
    return undefined;
  };

  it("shows a restoring store: its badge, the restore's steps, which backup, and no actions that would conflict", async () => {
    renderStore(
      ready({
        status: "restoring",
        restoredFrom: { backupId: BACKUP.id, restoredAt: null },
        ...restoreRun("running", 2, "running"),
      }),
      TENANT,
      [],
      backupRoutes,
    );
    const badge = await screen.findByText("Restoring");
    expect(badge.getAttribute("data-status")).toBe("restoring");
    expect(screen.getByRole("region", { name: "Restore" })).toBeTruthy();
    expect(screen.getByTestId("progress-summary").textContent).toBe("Step 3 of 9: Restoring the uploaded files");
    const line = await screen.findByTestId("restored-from");
    expect(line.getAttribute("data-restore-state")).toBe("running");
    await waitFor(() => expect(line.textContent).toMatch(/^Restoring from backup of \S.*\d/));
    expect(line.textContent).not.toContain("…");
    // The backup's row is on the page: the line leads to it.
    const link = await within(line).findByRole("link");
    expect(link.getAttribute("href")).toBe(`#backup-${BACKUP.id}`);
    await waitFor(() => expect(document.getElementById(`backup-${BACKUP.id}`)).toBeTruthy());
    // Nothing that the API would refuse while restoring.
    expect(screen.queryByRole("button", { name: "Delete" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Change admin password" })).toBeNull();
    expect(screen.queryByTestId("restore-in-place")).toBeNull();
    const backups = screen.getByRole("region", { name: "Backups" });
    expect((within(backups).getByRole("button", { name: "Back up now" }) as HTMLButtonElement).disabled).toBe(true);
    expect(within(backups).getByTestId("backup-blocked").textContent).toBe(
      "The store is being restored from a backup: back it up once it is ready again.",
    );
  });

  it("says a restore stopped, whether the data may be half replaced, and that Retry resumes it", async () => {
    const RAW = "step `restore-uploads` failed: reading the backup: the backup bucket answered: connection refused";
    const { calls } = renderStore(
      ready({
        status: "failed",
        failedStep: "restore-uploads",
        failureReason: RAW,
        restoredFrom: { backupId: BACKUP.id, restoredAt: null },
        ...restoreRun("failed", 2, "failed", RAW),
      }),
      TENANT,
      [],
      (url, init) =>
        url.pathname.endsWith("/retry") && init.method === "POST"
          ? json({ message: "Store restore retry initiated: the restore resumes at its failed step.", store: ready() }, 202)
          : backupRoutes(url, init),
    );
    expect((await screen.findByTestId("failure-title")).textContent).toBe("Restore stopped at “Restoring the uploaded files”");
    expect(screen.getByTestId("restore-stopped").textContent).toBe(
      "The store's data may be partly replaced by the backup's until the restore finishes.",
    );
    expect(screen.getByRole("alert").textContent).toContain("Retry resumes the restore at its failed step");
    await waitFor(() => expect(screen.getByTestId("restored-from").textContent).toMatch(/^Restore from backup of .+ did not finish$/));
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByTestId("retry-what").textContent).toBe(
      "The restore resumes at its failed step, “Restoring the uploaded files”; the steps that finished are not repeated.",
    );
    fireEvent.click(within(dialog).getByRole("button", { name: "Retry" }));
    await screen.findByText("Store restore retry initiated: the restore resumes at its failed step.");
    expect(calls.some((c) => c.url.pathname === "/api/v1/stores/store-33655d8d/retry")).toBe(true);
  });

  it("says the store's data is untouched when the backup's check failed", async () => {
    renderStore(
      ready({
        status: "failed",
        failedStep: "verify-backup",
        failureReason: "step `verify-backup` failed: the manifest does not match",
        restoredFrom: { backupId: BACKUP.id, restoredAt: null },
        ...restoreRun("failed", 0, "failed", "step `verify-backup` failed: the manifest does not match"),
      }),
      TENANT,
      [],
      backupRoutes,
    );
    expect((await screen.findByTestId("failure-title")).textContent).toBe("Restore stopped at “Checking the backup”");
    expect(screen.getByTestId("restore-stopped").textContent).toBe(
      "The backup is checked before anything is replaced, so the store's data is still as it was.",
    );
  });

  it("says a cancelled restore starts again from its beginning", async () => {
    const run = restoreRun("failed", 2, "cancelled", "The run was cancelled by an operator.");
    renderStore(
      ready({
        status: "failed",
        failedStep: "restore-uploads",
        failureReason: "The run was cancelled by an operator.",
        restoredFrom: { backupId: BACKUP.id, restoredAt: null },
        ...run,
        progress: { ...run.progress, status: "cancelled" },
      }),
      TENANT,
      [],
      backupRoutes,
    );
    expect((await screen.findByTestId("failure-reason")).textContent).toBe("It was cancelled by an operator.");
    expect(screen.getByRole("alert").textContent).toContain("Retry starts the restore again from its beginning");
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByTestId("retry-what").textContent).toBe(
      "The restore starts again from its beginning: the backup is checked, then put in place of the store's data.",
    );
  });

  it("says which backup a ready store was restored from, and when", async () => {
    renderStore(
      ready({ restoredFrom: { backupId: BACKUP.id, restoredAt: "2026-12-04T10:00:12Z" } }),
      TENANT,
      [],
      backupRoutes,
    );
    const line = await screen.findByTestId("restored-from");
    expect(line.getAttribute("data-restore-state")).toBe("done");
    await waitFor(() => expect(line.textContent).toMatch(/^Restored from backup of .+ · .+$/));
    expect(line.querySelector("time")?.getAttribute("datetime")).toBe("2026-12-04T10:00:12Z");
    // A ready store's complete backups offer the restore into it.
    await waitFor(() => expect(screen.getByTestId("restore-in-place")).toBeTruthy());
  });

  it("links a backup of another store to that store's backups", async () => {
    const other = { ...BACKUP, id: "01a24000-3333-7000-8000-000000000004", storeId: "store-0badf00d", storeName: "old-shop" };
    renderStore(ready({ restoredFrom: { backupId: other.id, restoredAt: "2026-12-04T10:00:12Z" } }), TENANT, [], (url) =>
      url.pathname === `/api/v1/backups/${other.id}` ? json({ backup: other }) : undefined,
    );
    const line = await screen.findByTestId("restored-from");
    const link = await within(line).findByRole("link");
    expect(link.textContent).toMatch(/^backup of old-shop, /);
    expect(link.getAttribute("href")).toBe("/backups?store=store-0badf00d");
  });

  it("says nothing of a store never restored", async () => {
    renderStore(ready({ restoredFrom: null }), TENANT, []);
    await screen.findByRole("region", { name: "Backups" });
    expect(screen.queryByTestId("restored-from")).toBeNull();
  });
});
