// Rollouts as `storeflow up` answered them (fake cluster; chart 2.2.0 shipped, then a chart
// 2.3.0 whose WordPress image crash-loops), for the tests of the rollout pages and words.

import type { Rollout, RolloutStore, RolloutWave, Store } from "../api/types";

export const CRASH =
  "step `wait-upgraded` failed: pod wordpress-7d9f8b6c4-00000 container wordpress cannot start: CrashLoopBackOff (restarted 5 times) back-off 40s restarting failed container (image wordpress:6.8-php8.2-apache-crashloop); fix the image or configuration, then retry this step (the on-failure steps ran: record-upgrade-failure, rollback-chart, wait-rolled-back, verify-storefront-after-rollback, mark-rolled-back)";
export const HALT_1 =
  "step `check-wave-1` failed: wave 1 halted the rollout: 1 of 1 upgrades failed (100% > 20% allowed): store-064bb135; the failed stores were rolled back. Resume the rollout to accept this and start the next wave, or cancel it";
export const HALT_2 =
  "step `check-wave-2` failed: wave 2 halted the rollout: 2 of 2 upgrades failed (100% > 20% allowed): store-7c8a42a6, store-112dc460; the failed stores were rolled back. Resume the rollout to accept this and start the next wave, or cancel it";

export const ROLLOUT_ID = "01a24147-0855-7212-8610-45eb97fc85cd";
export const IDS = ["store-064bb135", "store-7c8a42a6", "store-112dc460"];
export const RUNS = [
  "01a24147-0869-7532-8d16-e14357639692",
  "01a24147-29a7-72c7-90f2-7e86237f8ad8",
  "01a24147-29ad-7000-8000-0000000000aa",
];
const V220 = { chart: "2.2.0", app: "2.2.0" };
const V230 = { chart: "2.3.0", app: "2.3.0" };

export function entry(i: number, outcome: RolloutStore["outcome"], extra: Partial<RolloutStore> = {}): RolloutStore {
  const started = outcome !== "pending" && outcome !== "skipped";
  return {
    storeId: IDS[i],
    outcome,
    runId: started ? RUNS[i] : null,
    error: outcome === "failed" ? CRASH : null,
    ...extra,
  };
}

export function wave(number: number, status: RolloutWave["status"], stores: RolloutStore[]): RolloutWave {
  return { number, status, stores };
}

/** A rollout whose totals follow its waves. */
export function rollout(status: Rollout["status"], waves: RolloutWave[], extra: Partial<Rollout> = {}): Rollout {
  const totals = { upgraded: 0, failed: 0, skipped: 0, pending: 0, upgrading: 0 };
  for (const w of waves) for (const s of w.stores) totals[s.outcome] += 1;
  return {
    id: ROLLOUT_ID,
    status,
    target: V230,
    maxFailureShare: 0.2,
    error: null,
    createdAt: "2026-12-04T13:38:23.948236Z",
    finishedAt: ["queued", "running", "waiting"].includes(status) ? null : "2026-12-04T13:38:32.047590Z",
    totals,
    waves,
    ...extra,
  };
}

/** The canary failed and halted the rollout; wave 2 not started. */
export const HALTED_AT_CANARY = rollout(
  "halted",
  [wave(1, "halted", [entry(0, "failed")]), wave(2, "pending", [entry(1, "pending"), entry(2, "pending")])],
  { error: HALT_1 },
);

/** Resumed past the canary; wave 2 failed too and halted it again (the last wave). */
export const HALTED_AT_LAST = rollout(
  "halted",
  [wave(1, "accepted", [entry(0, "failed")]), wave(2, "halted", [entry(1, "failed"), entry(2, "failed")])],
  { error: HALT_2, finishedAt: "2026-12-04T13:38:40.601391Z" },
);

/** The canary upgrading, wave 2 waiting. */
export const RUNNING = rollout("waiting", [
  wave(1, "running", [entry(0, "upgrading")]),
  wave(2, "pending", [entry(1, "pending"), entry(2, "pending")]),
]);

export const SUCCEEDED = rollout(
  "succeeded",
  [wave(1, "succeeded", [entry(0, "upgraded")]), wave(2, "succeeded", [entry(1, "upgraded"), entry(2, "upgraded")])],
  { target: V220 },
);

export function store(i: number, extra: Partial<Store> = {}): Store {
  return {
    id: IDS[i],
    name: ["a-shop", "b-shop", "c-shop"][i],
    engine: "woocommerce",
    theme: "storefront",
    status: "ready",
    namespace: IDS[i],
    ownerId: "01a21c52-0000-701c-afd7-acd811c4bd88",
    ownerUsername: "alice",
    urls: { storefront: null, admin: null },
    isCredentialOwner: false,
    failureReason: null,
    failedStep: null,
    retryCount: 0,
    provisioningDurationMs: 9000,
    currentRun: null,
    versions: V220,
    availableUpgrade: V230,
    lastUpgrade: null,
    restoredFrom: null,
    createdAt: `2026-12-04T13:3${i}:00Z`,
    updatedAt: "2026-12-04T13:38:00Z",
    readyAt: "2026-12-04T13:38:00Z",
    deletedAt: null,
    ...extra,
  };
}
