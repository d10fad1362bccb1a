// Store backups in words: whether a store can be backed up now (and why not), how a backup
// stands, the schedule's retention fields, the name a restored store is offered, whether a
// backup can be restored into its own store, and which backup a store was restored from.

import type { Backup, BackupStatus, Engine, Store } from "../api/types";
import { describeCron } from "./cron";
import { formatDateTime } from "./format";
import { asSentence, plainStepError, stepLabel } from "./steps";
import { storeNameProblems } from "./storeRules";

/**
 * Why a store cannot be backed up right now ("Back up now" is disabled with it); null when it can.
 * `engine`: the store's engine from the registry (`GET /engines`), null when the server has no
 * such engine (`backupAvailability` also covers the registry not having answered yet).
 */
export function backupBlockReason(store: Pick<Store, "status" | "engine">, engine: Engine | null): string | null {
  if (!engine?.backups) {
    return `${engine?.label ?? store.engine} stores cannot be backed up by the platform yet.`;
  }
  switch (store.status) {
    case "ready":
      return null;
    case "requested":
    case "provisioning":
      return "The store can be backed up once it is ready.";
    case "upgrading":
      return "The store is being upgraded: back it up once it is ready again.";
    case "restoring":
      return "The store is being restored from a backup: back it up once it is ready again.";
    case "failed":
      return "The store has failed: it can be backed up once it is ready again.";
    case "deleting":
    case "deleted":
      return "The store is deleted, so it gets no more backups. Its backups can still be restored into a new store.";
    default:
      return "Only ready stores can be backed up.";
  }
}

/**
 * "Back up now" for a store whose engine may not be known yet (undefined: the registry has not
 * answered): `pending` until it is, so the button waits disabled without a reason rather than
 * saying the store cannot be backed up.
 */
export function backupAvailability(
  store: Pick<Store, "status" | "engine">,
  engine: Engine | null | undefined,
): { state: "pending" } | { state: "ready" } | { state: "blocked"; reason: string } {
  if (engine === undefined) return { state: "pending" };
  const reason = backupBlockReason(store, engine);
  return reason ? { state: "blocked", reason } : { state: "ready" };
}

/**
 * Whether the store's backup schedule can be changed: its engine has backups (known from the
 * registry) and the store is not deleted (a deleted store's schedule cannot be turned on).
 */
export function canSchedule(store: Pick<Store, "status">, engine: Engine | null | undefined): boolean {
  return !!engine?.backups && store.status !== "deleting" && store.status !== "deleted";
}

type Look = { label: string; tone: "gray" | "blue" | "green" | "red"; pulse?: boolean };

export const BACKUP_STATUS_LOOK: Record<BackupStatus, Look> = {
  running: { label: "Running", tone: "blue", pulse: true },
  complete: { label: "Complete", tone: "green" },
  failed: { label: "Failed", tone: "red" },
};

export function backupStatusLabel(status: string): string {
  return BACKUP_STATUS_LOOK[status as BackupStatus]?.label ?? status;
}

/** "Manual" (Back up now) or "Scheduled". */
export function triggerLabel(trigger: string): string {
  if (trigger === "manual") return "Manual";
  if (trigger === "scheduled") return "Scheduled";
  return trigger;
}

/** What a running backup is doing: "Saving the database…"; "Backing up…" when the API does not say which step. */
export function backupStepText(backup: Pick<Backup, "status" | "step">): string | null {
  if (backup.status !== "running") return null;
  return backup.step ? `${stepLabel(backup.step)}…` : "Backing up…";
}

const PART_LABELS: Record<string, string> = { database: "database", uploads: "uploaded files" };

/**
 * What a part of a backup holds: "database", "uploaded files" (an unknown part by its name; ""
 * for a part the manifest does not name).
 */
export function partLabel(name: string | null): string {
  return name === null ? "" : (PART_LABELS[name] ?? name);
}

/** Why a backup failed, as a sentence (the raw text stays one click away). */
export function plainBackupError(error: string | null | undefined): string {
  const lower = (error ?? "").toLowerCase();
  if (lower.includes("cancelled")) return "The backup was cancelled.";
  if (lower.includes("backup bucket")) return "The platform's backup storage could not be reached.";
  return asSentence(plainStepError(error));
}

/** The schedule in words where it is a common one ("every day at 03:00 UTC"), else the expression. */
export function scheduleText(schedule: string): string {
  return describeCron(schedule) ?? `on the schedule “${schedule}” (UTC)`;
}

// ---------------------------------------------------------------------------------------------
// Retention

/** The most backups of each kind the API keeps (`PUT /stores/{id}/backup-policy`). */
export const KEEP_LIMITS = { keepDaily: 366, keepWeekly: 520 } as const;
export type KeepField = keyof typeof KEEP_LIMITS;

/** A retention field's whole number (0 to its maximum), or why it is not one. */
export function parseKeep(
  text: string,
  field: KeepField,
): { ok: true; value: number } | { ok: false; problem: string } {
  const max = KEEP_LIMITS[field];
  const trimmed = text.trim();
  const problem = `Enter a whole number from 0 to ${max}.`;
  if (!/^\d{1,4}$/.test(trimmed)) return { ok: false, problem };
  const value = Number(trimmed);
  return value <= max ? { ok: true, value } : { ok: false, problem };
}

/** The retention fields' problems, by the API's field names, as the API would name them. */
export function retentionProblems(daily: string, weekly: string, scheduled: boolean): Record<KeepField, string[]> {
  const d = parseKeep(daily, "keepDaily");
  const w = parseKeep(weekly, "keepWeekly");
  const problems: Record<KeepField, string[]> = {
    keepDaily: d.ok ? [] : [d.problem],
    keepWeekly: w.ok ? [] : [w.problem],
  };
  if (scheduled && d.ok && w.ok && d.value === 0 && w.value === 0) {
    problems.keepDaily.push("Keep at least one daily or one weekly backup while backups are scheduled.");
  }
  return problems;
}

/**
 * The API's message about a retention field as a sentence ("keep 0 to 366 daily backups" →
 * "Keep 0 to 366 daily backups.").
 */
export function retentionErrorWords(message: string): string {
  return asSentence(message);
}

// ---------------------------------------------------------------------------------------------
// Restore

const RESTORED_SUFFIX = "-restored";

/**
 * The name offered for a store restored from a backup of `storeName`: "<name>-restored", cut to
 * the 63 characters a name may have; empty when that would not be a valid name.
 */
export function restoredName(storeName: string): string {
  const base = storeName.slice(0, 63 - RESTORED_SUFFIX.length).replace(/-+$/, "");
  const name = `${base}${RESTORED_SUFFIX}`;
  return base && storeNameProblems(name).length === 0 ? name : "";
}

// ---------------------------------------------------------------------------------------------
// Restore into the same store

/**
 * Whether the store's own backups offer "Restore into this store": a ready store of an engine
 * that can be restored in place (the API refuses any other status with INVALID_STORE_STATE);
 * false while the engine is not known yet (undefined) or unknown to the server (null).
 */
export function canRestoreInPlace(store: Pick<Store, "status">, engine: Engine | null | undefined): boolean {
  return store.status === "ready" && !!engine?.restoreInPlace;
}

/**
 * Whether a complete backup offers "Restore into a new store": its engine can restore into a new
 * store. `pending` while the registry is not known yet (the button waits, disabled).
 */
export function restoreIntoNewStore(engine: Engine | null | undefined): "yes" | "no" | "pending" {
  if (engine === undefined) return "pending";
  return engine?.restoreIntoNewStore ? "yes" : "no";
}

/** How the restore a store's `restoredFrom` names stands. */
export type RestoreState = "running" | "done" | "stopped";

export interface RestoredFromWords {
  state: RestoreState;
  /** "Restored from", "Restoring from", "Restore from". */
  lead: string;
  /** "backup of Dec 3, 03:00 AM"; "a backup" while the backup is not known. */
  backup: string;
  /** After the backup: " did not finish" once the restore stopped; else empty. */
  tail: string;
  /** When the restore completed ("done" only). */
  at: string | null;
}

/**
 * The store page's line about the backup a store was (or is being) restored from: "Restored from
 * backup of Dec 3, 03:00 AM · Dec 4, 10:12 AM", "Restoring from backup of Dec 3, 03:00 AM" while it runs (a
 * restore in place, or the provisioning of a store created from a backup), "Restore from backup
 * of … did not finish" once it stopped. A backup of another store (a store created from it) is
 * named with that store. Null for a store never restored.
 */
export function restoredFromWords(
  store: Pick<Store, "id" | "status" | "restoredFrom">,
  backup: Pick<Backup, "createdAt" | "storeId" | "storeName"> | null | undefined,
): RestoredFromWords | null {
  const from = store.restoredFrom;
  if (!from) return null;
  const what = !backup
    ? "a backup"
    : backup.storeId === store.id
      ? `backup of ${formatDateTime(backup.createdAt)}`
      : `backup of ${backup.storeName}, ${formatDateTime(backup.createdAt)}`;
  if (from.restoredAt) return { state: "done", lead: "Restored from", backup: what, tail: "", at: from.restoredAt };
  if (["requested", "provisioning", "restoring"].includes(store.status)) {
    return { state: "running", lead: "Restoring from", backup: what, tail: "", at: null };
  }
  return { state: "stopped", lead: "Restore from", backup: what, tail: " did not finish", at: null };
}

// ---------------------------------------------------------------------------------------------
// The Backups page

/** A backup's store as the Backups page shows it. */
export type BackupStore<S = Store> =
  | { kind: "live"; store: S }
  /** Deleted: the store list leaves deleted stores out, and it holds every store the caller can see. */
  | { kind: "deleted" }
  /** Not known (the stores are still loading, or there are more than the list read). */
  | { kind: "unknown" };

/** Whether a backup's store still exists, from the stores the caller can see (`useStoreDirectory`). */
export function backupStore<S extends Pick<Store, "id">>(
  storeId: string,
  directory: { stores: S[]; total: number } | undefined,
): BackupStore<S> {
  if (!directory) return { kind: "unknown" };
  const store = directory.stores.find((s) => s.id === storeId);
  if (store) return { kind: "live", store };
  return directory.stores.length >= directory.total ? { kind: "deleted" } : { kind: "unknown" };
}
