import { describe, expect, it } from "vitest";

import { rolloutPollInterval } from "../api/queries";
import type { RolloutStatus } from "../api/types";
import {
  entry,
  HALTED_AT_CANARY,
  HALTED_AT_LAST,
  IDS,
  rollout,
  RUNNING,
  store,
  SUCCEEDED,
  wave,
} from "../test/rollouts";
import {
  cancelText,
  donePercent,
  haltReason,
  haltRule,
  haltTitle,
  isRolloutInProgress,
  parseFailurePercent,
  parseWaveSizes,
  planWaves,
  resumeText,
  rolloutActions,
  rolloutCandidates,
  rolloutStatusLook,
  shownWaveStatus,
  toleratedFailures,
  totalsText,
  waveText,
} from "./rollouts";

const STATUSES: RolloutStatus[] = ["queued", "running", "waiting", "succeeded", "halted", "failed", "cancelled"];

describe("which actions a rollout offers", () => {
  it("Resume only when halted, Cancel only while in progress (queued, running and waiting alike)", () => {
    const offered = Object.fromEntries(STATUSES.map((s) => [s, rolloutActions(s)]));
    expect(offered).toEqual({
      queued: { resume: false, cancel: true },
      running: { resume: false, cancel: true },
      waiting: { resume: false, cancel: true },
      succeeded: { resume: false, cancel: false },
      halted: { resume: true, cancel: false },
      failed: { resume: false, cancel: false },
      cancelled: { resume: false, cancel: false },
    });
  });

  it("follows a rollout every 2 s while in progress and stops once it finished", () => {
    expect(STATUSES.filter(isRolloutInProgress)).toEqual(["queued", "running", "waiting"]);
    expect(rolloutPollInterval("waiting")).toBe(2000);
    expect(rolloutPollInterval("queued")).toBe(2000);
    for (const status of ["succeeded", "halted", "failed", "cancelled"] as const) expect(rolloutPollInterval(status)).toBe(false);
    expect(rolloutPollInterval(undefined)).toBe(false);
  });
});

describe("the start form", () => {
  it("reads wave sizes written with commas or spaces, and says what is wrong", () => {
    expect(parseWaveSizes("1, 5, 25")).toEqual({ ok: true, value: [1, 5, 25] });
    expect(parseWaveSizes(" 2 10 ")).toEqual({ ok: true, value: [2, 10] });
    expect(parseWaveSizes("")).toEqual({ ok: false, error: "Give at least one wave size, such as 1, 5, 25." });
    expect(parseWaveSizes("1, 0")).toEqual({ ok: false, error: "Each wave has at least 1 store." });
    expect(parseWaveSizes("1, x")).toEqual({ ok: false, error: "“x” is not a whole number of stores." });
    expect(parseWaveSizes("1.5")).toMatchObject({ ok: false });
    expect(parseWaveSizes("1 1 1 1 1 1 1")).toMatchObject({ ok: true });
    expect(parseWaveSizes("1 1 1 1 1 1 1 1")).toEqual({
      ok: false,
      error: "At most 7 wave sizes: the stores left over always form one more wave.",
    });
  });

  it("turns the percentage into the share the API takes", () => {
    expect(parseFailurePercent("20")).toEqual({ ok: true, value: 0.2 });
    expect(parseFailurePercent("12.5 %")).toEqual({ ok: true, value: 0.125 });
    expect(parseFailurePercent("0")).toEqual({ ok: true, value: 0 });
    expect(parseFailurePercent("100")).toEqual({ ok: true, value: 1 });
    for (const bad of ["", "150", "-5", "abc"]) expect(parseFailurePercent(bad)).toMatchObject({ ok: false });
  });

  it("plans the waves as the API does: the sizes as far as they go, then the rest", () => {
    expect(planWaves(3, [1])).toEqual([1, 2]);
    expect(planWaves(3, [1, 5, 25])).toEqual([1, 2]);
    expect(planWaves(40, [1, 5, 25])).toEqual([1, 5, 25, 9]);
    expect(planWaves(31, [1, 5, 25])).toEqual([1, 5, 25]);
    expect(planWaves(0, [1, 5])).toEqual([]);
  });

  it("says when a wave halts: more than the share of its upgrades failing", () => {
    expect(toleratedFailures(5, 0.2)).toBe(1);
    expect(haltRule(1, 0.2)).toBe("halts if its upgrade fails");
    expect(haltRule(2, 0.2)).toBe("halts if any upgrade fails");
    expect(haltRule(5, 0.2)).toBe("halts if more than 1 of its 5 upgrades fail");
    expect(haltRule(25, 0.2)).toBe("halts if more than 5 of its 25 upgrades fail");
    expect(haltRule(3, 1)).toBe("never halts, even if every upgrade fails");
    expect(haltRule(3, 0)).toBe("halts if any upgrade fails");
  });

  it("picks the ready stores with an upgrade, of the engine asked for, oldest first, and their target", () => {
    const stores = [
      store(2),
      store(0),
      store(1, { status: "upgrading" }),
      store(1, { id: "store-medusa01", engine: "medusa", availableUpgrade: null }),
      store(1, { id: "store-current1", availableUpgrade: null }),
    ];
    const all = rolloutCandidates(stores, { total: 5 });
    expect(all.stores.map((s) => s.id)).toEqual([IDS[0], IDS[2]]);
    expect(all.target).toEqual({ chart: "2.3.0", app: "2.3.0" });
    expect(all.partial).toBe(false);
    expect(rolloutCandidates(stores, { engine: "medusa" }).stores).toEqual([]);
    expect(rolloutCandidates(stores, { total: 600 }).partial).toBe(true);
    expect(rolloutCandidates([store(0, { availableUpgrade: null })]).target).toBeNull();
  });
});

describe("a rollout in words", () => {
  it("totals: only what is not zero", () => {
    expect(totalsText(HALTED_AT_CANARY.totals)).toBe("1 failed · 2 not started");
    expect(totalsText(SUCCEEDED.totals)).toBe("3 upgraded");
    expect(totalsText(RUNNING.totals)).toBe("1 upgrading · 2 not started");
    expect(totalsText({ upgraded: 0, failed: 0, skipped: 0, pending: 0, upgrading: 0 })).toBe("No stores");
    expect(donePercent(HALTED_AT_CANARY.totals)).toBe(33);
    expect(donePercent(SUCCEEDED.totals)).toBe(100);
  });

  it("a succeeded rollout whose failures were accepted does not read as a clean success", () => {
    expect(rolloutStatusLook(SUCCEEDED)).toEqual({ label: "Succeeded", tone: "green" });
    const accepted = rollout("succeeded", [wave(1, "accepted", [entry(0, "failed")])]);
    expect(rolloutStatusLook(accepted)).toEqual({ label: "Finished with failures", tone: "amber" });
    expect(rolloutStatusLook(RUNNING).label).toBe("Running");
    expect(rolloutStatusLook(HALTED_AT_CANARY)).toEqual({ label: "Halted", tone: "red" });
  });

  it("says what each wave status means", () => {
    const [canary, second] = HALTED_AT_CANARY.waves;
    expect(waveText(canary, HALTED_AT_CANARY)).toBe(
      "1 of 1 upgrade failed, more than the 20% allowed: the rollout halted here and wave 2 was not started. Each failed upgrade rolls its store back by itself.",
    );
    expect(waveText(second, HALTED_AT_CANARY)).toBe("Not started: the rollout stopped before this wave. Its 2 stores were not touched.");
    expect(waveText(HALTED_AT_LAST.waves[0], HALTED_AT_LAST)).toBe(
      "1 of 1 upgrade failed, more than the 20% allowed; an operator accepted this and resumed the rollout.",
    );
    expect(waveText(HALTED_AT_LAST.waves[1], HALTED_AT_LAST)).toBe(
      "2 of 2 upgrades failed, more than the 20% allowed: the rollout halted here. Each failed upgrade rolls its store back by itself.",
    );
    expect(waveText(RUNNING.waves[0], RUNNING)).toBe("0 of 1 upgrade finished, 1 in progress.");
    expect(waveText(RUNNING.waves[1], RUNNING)).toBe(
      "Starts once wave 1 has finished and no more than 20% of its upgrades failed.",
    );
    expect(waveText(SUCCEEDED.waves[0], SUCCEEDED)).toBe("The store was upgraded.");
    expect(waveText(SUCCEEDED.waves[1], SUCCEEDED)).toBe("All 2 stores were upgraded.");
    const tolerated = rollout("succeeded", [
      wave(1, "succeeded", [entry(0, "upgraded"), entry(1, "failed"), entry(2, "skipped", { error: "the store is failed, not ready" })]),
    ], { maxFailureShare: 0.5 });
    expect(waveText(tolerated.waves[0], tolerated)).toBe(
      "1 of 2 upgrades failed, within the 50% allowed: the rollout went on; 1 skipped.",
    );
  });

  it("a wave whose upgrades all finished reads as checking, and as cancelled once the rollout was", () => {
    const finished = rollout("waiting", [wave(1, "running", [entry(0, "upgraded")]), wave(2, "pending", [entry(1, "pending")])]);
    expect(shownWaveStatus(finished.waves[0], finished)).toBe("checking");
    expect(waveText(finished.waves[0], finished)).toBe(
      "Every upgrade of this wave finished (1 upgraded, 0 failed): the rollout is checking whether it may go on.",
    );
    expect(shownWaveStatus(RUNNING.waves[0], RUNNING)).toBe("running");
    // What the API answers for a rollout cancelled after wave 1's upgrade finished.
    const cancelled = rollout("cancelled", [wave(1, "running", [entry(0, "upgraded")]), wave(2, "cancelled", [entry(1, "pending")])]);
    expect(shownWaveStatus(cancelled.waves[0], cancelled)).toBe("cancelled");
    expect(waveText(cancelled.waves[1], cancelled)).toBe("Not started: the rollout was cancelled. Its stores were not touched.");
  });

  it("explains a halt from the waves, and keeps the API's reason without its wrapping and advice", () => {
    expect(haltTitle(HALTED_AT_CANARY)).toBe(
      "Wave 1 halted the rollout: 1 of 1 upgrade failed (100%, more than the 20% allowed)",
    );
    expect(haltTitle(HALTED_AT_LAST)).toBe(
      "Wave 2 halted the rollout: 2 of 2 upgrades failed (100%, more than the 20% allowed)",
    );
    expect(haltReason(HALTED_AT_CANARY.error)).toBe(
      "Wave 1 halted the rollout: 1 of 1 upgrades failed (100% > 20% allowed): store-064bb135; the failed stores were rolled back.",
    );
    expect(haltReason(null)).toBeNull();
    expect(haltReason("something else broke")).toBe("Something else broke.");
  });

  it("says what resuming does: accept the wave's failures and start the next one, or finish", () => {
    expect(resumeText(HALTED_AT_CANARY)).toBe(
      "Resuming accepts the failures of wave 1 (1 of 1 upgrade failed; the failed store stays on its previous version) and starts wave 2 (2 stores). Each later wave still halts the rollout by itself when more than 20% of its upgrades fail.",
    );
    expect(resumeText(HALTED_AT_LAST)).toBe(
      "Resuming accepts the failures of wave 2 (2 of 2 upgrades failed; the failed stores stay on their previous version). Wave 2 was the last: the rollout then finishes, and no other store is upgraded.",
    );
  });

  it("says what cancelling does to waiting and running upgrades", () => {
    expect(cancelText(RUNNING)).toEqual([
      "Upgrades still waiting for their turn are cancelled and their stores stay ready on the version they run (2 stores not started yet); later waves never start.",
      "The upgrade running right now is cancelled too: that store may need a retry from its store page.",
      "Stores already upgraded stay upgraded.",
    ]);
  });
});
