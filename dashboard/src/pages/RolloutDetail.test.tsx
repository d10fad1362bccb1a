import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import type { Rollout, Store } from "../api/types";
import { ADMIN, apiError, json, mockFetch, renderWithProviders } from "../test/render";
import {
  CRASH,
  HALTED_AT_CANARY,
  HALTED_AT_LAST,
  IDS,
  ROLLOUT_ID,
  RUNNING,
  RUNS,
  store,
  SUCCEEDED,
  wave,
  entry,
  rollout as makeRollout,
} from "../test/rollouts";
import { RolloutDetailPage, storeOutcomeText } from "./RolloutDetail";

afterEach(() => vi.unstubAllGlobals());

const V220 = { chart: "2.2.0", app: "2.2.0" };

/** The canary rolled back by its own upgrade; the others untouched on 2.2.0. */
const STORES: Store[] = [
  store(0, {
    lastUpgrade: {
      status: "rolled_back",
      runId: RUNS[0],
      from: V220,
      to: { chart: "2.3.0", app: "2.3.0" },
      failedStep: "wait-upgraded",
      error: CRASH,
      at: "2026-12-04T13:38:31Z",
    },
  }),
  store(1),
  store(2),
];

interface Options {
  rollout?: Rollout;
  answer?: () => Response;
  action?: (name: string) => Response;
}

function renderDetail({ rollout = HALTED_AT_CANARY, answer, action }: Options = {}) {
  setToken("t");
  const mocked = mockFetch((url, init) => {
    if (url.pathname === "/api/v1/auth/me") return json({ user: ADMIN });
    if (url.pathname === "/api/v1/stores") return json({ stores: STORES, total: 3, limit: 100, offset: 0 });
    if (url.pathname === `/api/v1/rollouts/${ROLLOUT_ID}` && (init.method ?? "GET") === "GET")
      return answer ? answer() : json({ rollout });
    const act = /^\/api\/v1\/rollouts\/[^/]+\/(resume|cancel)$/.exec(url.pathname);
    if (act && init.method === "POST") {
      if (action) return action(act[1]);
      return json({ message: "ok", rollout: { ...rollout, status: act[1] === "cancel" ? "cancelled" : "queued" } }, 202);
    }
    return undefined;
  });
  renderWithProviders(
    <Routes>
      <Route path="/rollouts/:id" element={<RolloutDetailPage />} />
    </Routes>,
    { route: `/rollouts/${ROLLOUT_ID}` },
  );
  return mocked;
}

const waveCard = (n: number) => document.querySelector(`[data-wave="${n}"]`) as HTMLElement;
const storeRow = (id: string) => document.querySelector(`[data-rollout-store="${id}"]`) as HTMLElement;

describe("a halted rollout", () => {
  it("says which wave halted it and why, that the next wave's stores were not touched, and offers Resume only", async () => {
    renderDetail();
    expect((await screen.findByTestId("halt-title")).textContent).toBe(
      "Wave 1 halted the rollout: 1 of 1 upgrade failed (100%, more than the 20% allowed)",
    );
    expect(screen.getByTestId("halt-text").textContent).toContain("Wave 2 was not started: its 2 stores were not touched.");
    expect(screen.getByTestId("halt-reason").textContent).toBe(
      "Wave 1 halted the rollout: 1 of 1 upgrades failed (100% > 20% allowed): store-064bb135; the failed stores were rolled back.",
    );
    expect(document.querySelector("[data-rollout-status]")?.textContent).toBe("Halted");
    expect(waveCard(1).querySelector("[data-wave-status]")?.textContent).toBe("Halted");
    expect(waveCard(2).querySelector("[data-wave-status]")?.textContent).toBe("Pending");
    expect(within(waveCard(2)).getAllByText("Not started")).toHaveLength(2);
    expect(screen.getByTestId("total-failed").textContent).toBe("1");
    expect(screen.getByTestId("total-pending").textContent).toBe("2");
    expect(screen.getByRole("button", { name: "Resume" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Cancel rollout" })).toBeNull();
    expect(document.querySelector("[data-live]")?.getAttribute("data-live")).toBe("finished");
    // Nothing of the engine's wording in what is read.
    expect(screen.getByTestId("halt-reason").textContent).not.toMatch(/check-wave|cancel it/);
  });

  it("each store: its name linking to its page, the failure in plain words, rolled back, and its upgrade run", async () => {
    renderDetail();
    await waitFor(() => expect(within(storeRow(IDS[0])).getByTestId("store-link").textContent).toBe("a-shop"));
    const canary = storeRow(IDS[0]);
    expect(within(canary).getByTestId("store-link").getAttribute("href")).toBe(`/stores/${IDS[0]}`);
    expect(canary.querySelector("[data-outcome]")?.textContent).toBe("Failed");
    expect(within(canary).getByTestId("store-outcome-text").textContent).toBe(
      "A part of the store keeps crashing when it starts. Rolled back to chart 2.2.0 (app 2.2.0) and verified again.",
    );
    expect(within(canary).getByTestId("raw-text").textContent).toBe(CRASH);
    expect(within(canary).getByTestId("upgrade-run-link").getAttribute("href")).toBe(`/runs/${RUNS[0]}`);
    expect(within(canary).getByTestId("store-chart").textContent).toBe("Chart 2.2.0");
    const untouched = storeRow(IDS[1]);
    expect(within(untouched).queryByTestId("upgrade-run-link")).toBeNull();
    expect(within(untouched).queryByTestId("store-outcome-text")).toBeNull();
  });

  it("Resume explains that it accepts the wave's failures and starts the next wave, then asks the API", async () => {
    const { calls } = renderDetail();
    fireEvent.click(await screen.findByRole("button", { name: "Resume" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByText("Resume past wave 1?")).toBeTruthy();
    expect(within(dialog).getByTestId("resume-text").textContent).toContain(
      "Resuming accepts the failures of wave 1 (1 of 1 upgrade failed; the failed store stays on its previous version) and starts wave 2 (2 stores).",
    );
    fireEvent.click(within(dialog).getByRole("button", { name: "Resume rollout" }));
    await waitFor(() =>
      expect(calls.some((c) => c.url.pathname === `/api/v1/rollouts/${ROLLOUT_ID}/resume` && c.init.method === "POST")).toBe(true),
    );
    expect(await screen.findByText("Rollout resumed: the failures of wave 1 are accepted; wave 2 starts.")).toBeTruthy();
  });

  it("halted at its last wave: resuming finishes the rollout", async () => {
    renderDetail({ rollout: HALTED_AT_LAST });
    expect((await screen.findByTestId("halt-text")).textContent).toContain("It was the last wave.");
    expect(waveCard(1).querySelector("[data-wave-status]")?.textContent).toBe("Accepted");
    fireEvent.click(screen.getByRole("button", { name: "Resume" }));
    expect((await screen.findByTestId("resume-text")).textContent).toContain(
      "Wave 2 was the last: the rollout then finishes, and no other store is upgraded.",
    );
  });

  it("a refused resume shows in the dialog, in plain words", async () => {
    renderDetail({
      action: () =>
        apiError(409, "ROLLOUT_NOT_HALTED", `Rollout ${ROLLOUT_ID} is running, not halted by a wave.`, {
          suggestion: "Only a rollout that a wave's failures halted can be resumed.",
        }),
    });
    fireEvent.click(await screen.findByRole("button", { name: "Resume" }));
    fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Resume rollout" }));
    const alert = await within(screen.getByRole("dialog")).findByRole("alert");
    expect(alert.textContent).toContain("This rollout is not halted, so there is nothing to resume.");
    expect(alert.textContent).not.toContain(ROLLOUT_ID);
  });
});

describe("a rollout in progress", () => {
  it("offers Cancel only, explaining what happens to waiting and running upgrades, and follows it live", async () => {
    const { calls } = renderDetail({ rollout: RUNNING });
    fireEvent.click(await screen.findByRole("button", { name: "Cancel rollout" }));
    expect(screen.queryByRole("button", { name: "Resume" })).toBeNull();
    expect(document.querySelector("[data-live]")?.getAttribute("data-live")).toBe("polling");
    const dialog = await screen.findByRole("dialog");
    const lines = within(dialog).getAllByTestId("cancel-text").map((p) => p.textContent);
    expect(lines[0]).toContain("Upgrades still waiting for their turn are cancelled and their stores stay ready");
    expect(lines[1]).toBe("The upgrade running right now is cancelled too: that store may need a retry from its store page.");
    fireEvent.click(within(dialog).getByRole("button", { name: "Cancel rollout" }));
    await waitFor(() =>
      expect(calls.some((c) => c.url.pathname === `/api/v1/rollouts/${ROLLOUT_ID}/cancel` && c.init.method === "POST")).toBe(true),
    );
  });

  it("a cancel refused because it finished meanwhile says so", async () => {
    renderDetail({
      rollout: RUNNING,
      action: () =>
        apiError(409, "INVALID_RUN_STATE", `cannot cancel run ${ROLLOUT_ID}: the run already finished (succeeded)`),
    });
    fireEvent.click(await screen.findByRole("button", { name: "Cancel rollout" }));
    fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Cancel rollout" }));
    const alert = await within(screen.getByRole("dialog")).findByRole("alert");
    expect(alert.textContent).toContain("It has finished already: there is nothing left to cancel.");
  });

  it("the waves: the running one counts its upgrades, the next one waits for it", async () => {
    renderDetail({ rollout: RUNNING });
    await screen.findByRole("button", { name: "Cancel rollout" });
    expect(within(waveCard(1)).getByTestId("wave-text").textContent).toBe("0 of 1 upgrade finished, 1 in progress.");
    expect(within(waveCard(2)).getByTestId("wave-text").textContent).toBe(
      "Starts once wave 1 has finished and no more than 20% of its upgrades failed.",
    );
    expect(storeRow(IDS[0]).querySelector("[data-outcome]")?.textContent).toBe("Upgrading");
  });
});

describe("a finished rollout", () => {
  it("succeeded: every store upgraded, no action, not followed any more", async () => {
    renderDetail({ rollout: SUCCEEDED });
    expect(await screen.findByText("Every store of the rollout runs chart 2.2.0 (app 2.2.0)")).toBeTruthy();
    expect(screen.getByTestId("total-upgraded").textContent).toBe("3");
    expect(screen.queryByRole("button", { name: "Resume" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Cancel rollout" })).toBeNull();
    expect(screen.getByTestId("rollout-done").textContent).toBe("100% of the stores are done (upgraded, failed or skipped).");
  });

  it("cancelled: the wave the API leaves `running` reads as cancelled", async () => {
    renderDetail({
      rollout: makeRollout("cancelled", [
        wave(1, "running", [entry(0, "upgraded")]),
        wave(2, "cancelled", [entry(1, "pending"), entry(2, "pending")]),
      ]),
    });
    expect(await screen.findByText("The rollout was cancelled")).toBeTruthy();
    expect(waveCard(1).querySelector("[data-wave-status]")?.textContent).toBe("Cancelled");
    expect(screen.queryByRole("button", { name: "Cancel rollout" })).toBeNull();
  });

  it("a skipped store says why", () => {
    expect(storeOutcomeText({ storeId: IDS[1], outcome: "skipped", runId: null, error: "the store is failed, not ready" }, undefined)).toBe(
      "Skipped: the store is failed, not ready.",
    );
  });
});

describe("errors", () => {
  it("an unknown rollout", async () => {
    renderDetail({ answer: () => apiError(404, "RUN_NOT_FOUND", `run ${ROLLOUT_ID} not found`) });
    expect(await screen.findByText("This rollout does not exist")).toBeTruthy();
  });

  it("is for operators: a 403 from the API says so", async () => {
    renderDetail({ answer: () => apiError(403, "FORBIDDEN", "Access denied. Required role: admin.") });
    expect(await screen.findByText("Operators only")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Resume" })).toBeNull();
  });
});
