import { describe, expect, it } from "vitest";

import { BACKUP_STATUSES, RUN_STATUSES, STORE_STATUSES, type BackupStatus, type RunStatus, type StoreStatus } from "./types";

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
