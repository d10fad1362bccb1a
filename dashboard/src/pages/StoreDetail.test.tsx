import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import type { ProgressStep, StoreDetail, TimelineEvent, User } from "../api/types";
import { ADMIN, json, mockFetch, renderWithProviders, TENANT, type Handler } from "../test/render";
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
