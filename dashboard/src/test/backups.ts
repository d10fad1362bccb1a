// Backups in the shape `storeflow up` answers them (`GET /api/v1/backups`), for the tests of the
// Backups section and page. The running one is as the simulated cluster left it (no backup
// bucket: the first part waits); the complete and failed ones follow `BackupRow::to_json`.

import type { Backup, BackupPolicy } from "../api/types";
import { TENANT } from "./render";

export const STORE_ID = "store-18407d45";
export const DELETED_STORE_ID = "store-0badf00d";
export const RUN_ID = "01a241db-4c83-763b-8564-69e634f96378";

export function backup(extra: Partial<Backup> = {}): Backup {
  return {
    id: "01a241db-4c83-763b-8564-69e56276b6bb",
    storeId: STORE_ID,
    storeName: "probe-shop",
    ownerId: TENANT.id,
    engine: "woocommerce",
    status: "running",
    trigger: "manual",
    runId: RUN_ID,
    step: "dump-database",
    waitingFor: null,
    sizeBytes: null,
    storedBytes: null,
    versions: null,
    parts: [],
    error: null,
    createdAt: "2026-12-04T16:20:20.733948Z",
    completedAt: null,
    ...extra,
  };
}

export const RUNNING = backup();

export const COMPLETE = backup({
  id: "01a241c0-1111-7000-8000-000000000002",
  status: "complete",
  trigger: "scheduled",
  step: null,
  waitingFor: null,
  sizeBytes: 48_512_331,
  storedBytes: 48_530_002,
  versions: { chart: "2.1.0", app: "2.1.0" },
  parts: [
    { name: "database", size: 3_512_331, sha256: "9f2c".padEnd(64, "0") },
    { name: "uploads", size: 45_000_000, sha256: "41be".padEnd(64, "0") },
  ],
  createdAt: "2026-12-03T03:00:04Z",
  completedAt: "2026-12-03T03:00:18Z",
});

export const FAILED = backup({
  id: "01a241b0-2222-7000-8000-000000000003",
  status: "failed",
  trigger: "scheduled",
  step: null,
  waitingFor: null,
  error: "step `dump-database` failed: storing the database: the backup bucket answered: connection refused",
  createdAt: "2026-12-02T03:00:02Z",
  completedAt: "2026-12-02T03:01:02Z",
});

/** A complete backup of a store deleted since. */
export const OF_DELETED = backup({
  ...COMPLETE,
  id: "01a24000-3333-7000-8000-000000000004",
  storeId: DELETED_STORE_ID,
  storeName: "old-shop",
  trigger: "manual",
  createdAt: "2026-11-25T10:00:00Z",
  completedAt: "2026-11-25T10:00:09Z",
});

export const OFF: BackupPolicy = { schedule: null, keepDaily: 7, keepWeekly: 4, nextAt: null };
