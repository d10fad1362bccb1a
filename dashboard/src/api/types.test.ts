import { describe, expect, it } from "vitest";

import {
  BACKUP_STATUSES,
  RUN_STATUSES,
  STORE_STATUSES,
  type BackupStatus,
  type BackupTrigger,
  type HealthStatus,
  type Registration,
  type RolloutOutcome,
  type RolloutStatus,
  type RunStatus,
  type StoreOperation,
  type StoreStatus,
  type TimelineEvent,
  type WaveStatus,
} from "./types";

// Each list is checked against a `Record` over the generated union: `npm run typecheck` fails
// here when the contract gains (or drops) a value, and the test then holds the list to it.

describe("the lists of the contract's values", () => {
  it("RUN_STATUSES has every run status", () => {
    const every: Record<RunStatus, true> = {
      queued: true,
      running: true,
      waiting: true,
      succeeded: true,
      failed: true,
      cancelled: true,
    };
    expect([...RUN_STATUSES].sort()).toEqual(Object.keys(every).sort());
  });

  it("STORE_STATUSES has every store status", () => {
    const every: Record<StoreStatus, true> = {
      requested: true,
      provisioning: true,
      ready: true,
      upgrading: true,
      restoring: true,
      failed: true,
      deleting: true,
      deleted: true,
    };
    expect([...STORE_STATUSES].sort()).toEqual(Object.keys(every).sort());
  });

  it("BACKUP_STATUSES has every backup status", () => {
    const every: Record<BackupStatus, true> = { running: true, complete: true, failed: true };
    expect([...BACKUP_STATUSES].sort()).toEqual(Object.keys(every).sort());
  });
});

// The contract's values the dashboard tells apart with comparisons (not with a `Record` over
// the union, which would catch a new value by itself): `npm run typecheck` fails here when the
// contract gains or drops one, so the code that names them is looked at again.

describe("the contract's values the dashboard handles one by one", () => {
  it("a store's operations (the progress card's titles)", () => {
    const every: Record<StoreOperation, true> = { provision: true, teardown: true, upgrade: true, restore: true };
    expect(Object.keys(every)).toHaveLength(4);
  });

  it("a backup's triggers", () => {
    const every: Record<BackupTrigger, true> = { manual: true, scheduled: true };
    expect(Object.keys(every)).toHaveLength(2);
  });

  it("rollout, wave and wave-store statuses", () => {
    const rollout: Record<RolloutStatus, true> = {
      queued: true,
      running: true,
      waiting: true,
      succeeded: true,
      halted: true,
      failed: true,
      cancelled: true,
    };
    const wave: Record<WaveStatus, true> = {
      pending: true,
      running: true,
      succeeded: true,
      accepted: true,
      halted: true,
      cancelled: true,
    };
    const outcome: Record<RolloutOutcome, true> = {
      pending: true,
      upgrading: true,
      upgraded: true,
      failed: true,
      skipped: true,
    };
    // A rollout's statuses are a run's, and `halted`.
    expect(Object.keys(rollout).sort()).toEqual([...RUN_STATUSES, "halted"].sort());
    expect(Object.keys(wave)).toHaveLength(6);
    expect(Object.keys(outcome)).toHaveLength(5);
  });

  it("health's status and registration, a timeline event's source", () => {
    const status: Record<HealthStatus, true> = { healthy: true, degraded: true };
    const registration: Record<Registration, true> = { open: true, closed: true };
    const source: Record<TimelineEvent["source"], true> = { run: true, audit: true };
    expect([status, registration, source].map((r) => Object.keys(r).length)).toEqual([2, 2, 2]);
  });
});
