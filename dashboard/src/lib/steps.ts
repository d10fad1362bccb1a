// Steps in a tenant's words: a plain label for every step of the store workflows, how long each
// step typically takes (so the progress bar moves with time, not with the step count), and what
// a step's error or waiting reason means. The code names (`wait-ready`) stay the identifiers:
// they are shown to operators and on hover, never as the only text.

import type { CurrentRun, RunStatus, StepStatus } from "../api/types";
import { formatClock, humanize } from "./format";

// ---------------------------------------------------------------------------------------------
// Labels

/**
 * Plain labels. The step names come from `workflows/src/store.rs` (provisioning, teardown,
 * rotation, upgrade), the engines' setup, migration and verify steps
 * (`executors/src/woocommerce.rs`, `executors/src/medusa.rs`), the backup and restore workflows
 * (`workflows/src/store.rs`: `dump-<part>` and `restore-<part>` for each of the engine's
 * `backup_parts`; a restore into the same store ends with `mark-restored`) and the cleanup
 * workflows (`workflows/src/cleanup.rs`);
 * `steps.test.ts` reads those files and fails when a step has no label here.
 */
export const STEP_LABELS: Record<string, string> = {
  // Provisioning (both engines)
  "mark-provisioning": "Getting started",
  "ensure-namespace": "Reserving the store's space on the cluster",
  "ensure-store-secret": "Creating the store's passwords",
  "chart-values": "Preparing the store's settings",
  "install-chart": "Installing the store",
  "wait-ready": "Starting the store",
  "publish-values": "Preparing the public address",
  "publish-chart": "Publishing the store",
  "wait-published": "Bringing the store online",
  "verify-storefront": "Placing a test order",
  "mark-ready": "Finishing up",
  // WooCommerce setup
  "wp-core-install": "Installing WordPress",
  "woocommerce-configure": "Configuring WooCommerce",
  "woocommerce-products": "Adding the starter products",
  // MedusaJS setup
  "medusa-admin-user": "Creating the admin account",
  "medusa-setup": "Setting up the shop",
  // Deletion (and removal of orphaned namespaces)
  "uninstall-chart": "Removing the store's software",
  "delete-namespace": "Deleting the store's data",
  "wait-namespace-gone": "Waiting until everything is removed",
  "mark-deleted": "Finishing the deletion",
  // Day-2 upgrade (both engines; the engine's migrations and verification in between)
  "record-release": "Recording the current version",
  "upgrade-values": "Preparing the new version's settings",
  "upgrade-chart": "Installing the new version",
  "wait-upgraded": "Starting the new version",
  "wp-core-update-db": "Updating the WordPress database",
  "wc-update": "Updating the WooCommerce database",
  "medusa-migrations": "Updating the Medusa database",
  "mark-upgraded": "Finishing the upgrade",
  // …and its on-failure steps: the automatic rollback
  "record-upgrade-failure": "Recording why the upgrade failed",
  "rollback-chart": "Rolling back to the previous version",
  "wait-rolled-back": "Starting the previous version again",
  "verify-storefront-after-rollback": "Placing a test order again",
  "mark-rolled-back": "Finishing the rollback",
  // Admin password rotation
  "set-admin-password": "Setting the new admin password",
  "finish-rotation": "Retiring the old password",
  // Backup (WooCommerce: its database and uploaded files) and its on-failure step
  "dump-database": "Saving the database",
  "dump-uploads": "Saving the uploaded files",
  "write-manifest": "Recording what the backup holds",
  "finish-backup": "Finishing the backup",
  "prune-backups": "Removing old backups",
  "fail-backup": "Cleaning up after the failed backup",
  // Restore into a new store: provisioning, with the backup's data put in before publication
  "verify-backup": "Checking the backup",
  "restore-database": "Restoring the database",
  "restore-uploads": "Restoring the uploaded files",
  "wp-rehome": "Moving the site to its new address",
  // Medusa: the restored database brought up to this Medusa, and the storefront's key put in it
  "medusa-restore-migrations": "Updating the restored database",
  "medusa-rehome": "Connecting the storefront to the restored shop",
  // Restore into the same store: the backup checked, its parts in place of the store's, the
  // steps above that make the data the store's again, a test order, then this
  "mark-restored": "Finishing the restore",
  // Scheduled cleanup and backups (operators)
  "start-due-backups": "Starting the backups that are due",
  "reap-failed-stores": "Removing stores that failed long ago",
  "reap-orphans": "Finding leftover namespaces",
  "prune-history": "Pruning old history",
};

/**
 * Where a step means something else in one workflow: a restore into the same store does not move
 * the site anywhere (`wp-rehome` gives the restored data the store's own address back) nor set a
 * new password (`set-admin-password` puts the store's current one back over the backup's).
 */
export const WORKFLOW_STEP_LABELS: Record<string, Record<string, string>> = {
  "restore-in-place-woocommerce": {
    "wp-rehome": "Keeping the store's address",
    "set-admin-password": "Keeping the store's admin password",
  },
  "restore-in-place-medusa": {
    "set-admin-password": "Keeping the store's admin password",
    "medusa-rehome": "Keeping the storefront's key",
  },
};

/**
 * The plain label of a step (in `workflow`, where known: some steps read differently there); an
 * unknown step reads as its humanized code name.
 */
export function stepLabel(name: string | null | undefined, workflow?: string | null): string {
  if (!name) return "—";
  return (workflow ? WORKFLOW_STEP_LABELS[workflow]?.[name] : undefined) ?? STEP_LABELS[name] ?? humanize(name);
}

// ---------------------------------------------------------------------------------------------
// Typical durations

/**
 * Typical seconds per step on a real cluster, so that the bar's share of each step is its share
 * of the expected time. Where the numbers come from:
 *
 * - The README's real-control-plane figures (kube-apiserver, real helm, kwok node): a
 *   WooCommerce store is ready about 10 s after creation (9.6 s), a Medusa store about 16 s
 *   (16.2 s), a teardown takes about 15 s (15.6 s, mostly the namespace controller).
 * - The browser tests (`npm run e2e`, per step `durationMs` from the store page) against the
 *   fake cluster and `storeflow up --simulated-cluster`: `wait-ready` 5.0 s (it rechecks every
 *   5 s) out of a 5.6 s WooCommerce run, every other step under 0.1 s (helm is faked there);
 *   Medusa: `wait-ready` 10.0 s, `medusa-admin-user` 3.1–5.3 s (the `medusa user` CLI),
 *   `medusa-setup` 0.75–0.8 s, `wait-published` 5.0 s (the storefront starts),
 *   `verify-storefront` 1.2–1.9 s — and the README's fake-cluster figures (admin user 3.4 s,
 *   setup 0.6 s, verification 0.55 s).
 * - helm against a real API server takes about a second per install or upgrade.
 *
 * - Upgrades (`npm run e2e`, fake cluster; `wait-upgraded` and `wait-rolled-back` recheck every
 *   2 s): a WooCommerce upgrade took 2.2 s, `wait-upgraded` 2.0 s of it (one recheck), every
 *   other step under 0.05 s; on a real cluster the new pods take longer to start, like
 *   `wait-ready`. A rollback is the same again (helm rollback, wait, a test order).
 *
 * - Backups and restores: estimates, not measurements (the browser tests' platforms have no
 *   backup bucket, so no backup there gets past its first part): a small store's database dump
 *   and its uploads stream in a few seconds each, the manifest and the database-only steps are
 *   quick; a restore's check of the backup reads every part once more.
 *
 * Database-only steps (`mark-*`, `*-values`) are instant. The WooCommerce column adds up to
 * 10.1 s and the Medusa one (with its overrides below) to 16.4 s.
 */
export const TYPICAL_SECONDS: Record<string, number> = {
  "mark-provisioning": 0.05,
  "ensure-namespace": 0.1,
  "ensure-store-secret": 0.1,
  "chart-values": 0.02,
  "install-chart": 1,
  "wait-ready": 5,
  "wp-core-install": 0.5,
  "woocommerce-configure": 0.5,
  "woocommerce-products": 0.3,
  "medusa-admin-user": 3.4,
  "medusa-setup": 0.7,
  "publish-values": 0.02,
  "publish-chart": 1,
  "wait-published": 1,
  "verify-storefront": 0.5,
  "mark-ready": 0.05,
  "uninstall-chart": 1,
  "delete-namespace": 0.2,
  "wait-namespace-gone": 14,
  "mark-deleted": 0.05,
  "set-admin-password": 1,
  "finish-rotation": 0.05,
  "record-release": 0.5,
  "upgrade-values": 0.02,
  "upgrade-chart": 1,
  "wait-upgraded": 4,
  "wp-core-update-db": 0.5,
  "wc-update": 0.5,
  "medusa-migrations": 2,
  "mark-upgraded": 0.05,
  "record-upgrade-failure": 0.05,
  "rollback-chart": 1,
  "wait-rolled-back": 4,
  "verify-storefront-after-rollback": 0.5,
  "mark-rolled-back": 0.05,
  "dump-database": 3,
  "dump-uploads": 3,
  "write-manifest": 0.5,
  "finish-backup": 0.05,
  "prune-backups": 0.5,
  "fail-backup": 0.5,
  "verify-backup": 3,
  "restore-database": 3,
  "restore-uploads": 3,
  "wp-rehome": 1,
  "medusa-restore-migrations": 2,
  "medusa-rehome": 1,
  "mark-restored": 0.05,
};

/** Per workflow, where a step takes notably longer than elsewhere. */
const WORKFLOW_SECONDS: Record<string, Record<string, number>> = {
  // A Medusa backend takes longer to start than WordPress, and publishing starts the storefront
  // (a new pod to wait for), where WooCommerce's publishing only adds the Ingress.
  "provision-medusa": { "wait-ready": 6, "wait-published": 3, "verify-storefront": 1 },
  "upgrade-medusa": { "verify-storefront": 1, "verify-storefront-after-rollback": 1 },
};

/** For a step in no table: as long as a typical cluster call. */
export const DEFAULT_STEP_SECONDS = 1;

export function typicalSeconds(step: string, workflow?: string | null): number {
  return (workflow ? WORKFLOW_SECONDS[workflow]?.[step] : undefined) ?? TYPICAL_SECONDS[step] ?? DEFAULT_STEP_SECONDS;
}

/**
 * The steps of the store workflows in order (as `workflows/src/store.rs` builds them; every
 * provisioning version so far has the same steps), for pages that only know the current step's
 * number (the store list). When a run's step count or current step does not match (a version
 * with other steps), the API's own percentage is used. An upgrade's on-failure steps (the
 * rollback, `ROLLBACK_STEPS`) follow its main steps, as the engine numbers them.
 */
export const WORKFLOW_STEPS: Record<string, string[]> = {
  "provision-woocommerce": [
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
  ],
  "provision-medusa": [
    "mark-provisioning",
    "ensure-namespace",
    "ensure-store-secret",
    "chart-values",
    "install-chart",
    "wait-ready",
    "medusa-admin-user",
    "medusa-setup",
    "publish-values",
    "publish-chart",
    "wait-published",
    "verify-storefront",
    "mark-ready",
  ],
  "upgrade-woocommerce": [
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
  ],
  "upgrade-medusa": [
    "record-release",
    "upgrade-values",
    "upgrade-chart",
    "wait-upgraded",
    "medusa-migrations",
    "verify-storefront",
    "mark-upgraded",
    "record-upgrade-failure",
    "rollback-chart",
    "wait-rolled-back",
    "verify-storefront-after-rollback",
    "mark-rolled-back",
  ],
  "backup-woocommerce": [
    "dump-database",
    "dump-uploads",
    "write-manifest",
    "finish-backup",
    "prune-backups",
    // On failure only.
    "fail-backup",
  ],
  "restore-woocommerce": [
    "mark-provisioning",
    "ensure-namespace",
    "ensure-store-secret",
    "chart-values",
    "install-chart",
    "wait-ready",
    "wp-core-install",
    "woocommerce-configure",
    "woocommerce-products",
    "verify-backup",
    "restore-database",
    "restore-uploads",
    "wp-rehome",
    "set-admin-password",
    "wp-core-update-db",
    "wc-update",
    "publish-values",
    "publish-chart",
    "wait-published",
    "verify-storefront",
    "mark-ready",
  ],
  // Into the same store: no release installed, the store keeps its chart, URL and password.
  "restore-in-place-woocommerce": [
    "verify-backup",
    "restore-database",
    "restore-uploads",
    "wp-rehome",
    "set-admin-password",
    "wp-core-update-db",
    "wc-update",
    "verify-storefront",
    "mark-restored",
  ],
  // Medusa: the database is the whole backup (no uploads: images are URLs).
  "backup-medusa": ["dump-database", "write-manifest", "finish-backup", "prune-backups", "fail-backup"],
  "restore-medusa": [
    "mark-provisioning",
    "ensure-namespace",
    "ensure-store-secret",
    "chart-values",
    "install-chart",
    "wait-ready",
    "medusa-admin-user",
    "medusa-setup",
    "verify-backup",
    "restore-database",
    "medusa-restore-migrations",
    "set-admin-password",
    "medusa-rehome",
    "medusa-migrations",
    "publish-values",
    "publish-chart",
    "wait-published",
    "verify-storefront",
    "mark-ready",
  ],
  "restore-in-place-medusa": [
    "verify-backup",
    "restore-database",
    "medusa-restore-migrations",
    "set-admin-password",
    "medusa-rehome",
    "medusa-migrations",
    "verify-storefront",
    "mark-restored",
  ],
  "teardown-store": ["uninstall-chart", "delete-namespace", "wait-namespace-gone", "mark-deleted"],
  "rotate-credentials": ["set-admin-password", "finish-rotation"],
};

const CURRENT: StepStatus[] = ["running", "retrying", "polling", "queued"];

export function isCurrentStep(status: StepStatus): boolean {
  return CURRENT.includes(status);
}

/**
 * The on-failure steps of the upgrade workflows (`.on_failure(…)` in `workflows/src/store.rs`):
 * they run only when a main step fails for good, and roll the release back. In a run that
 * succeeded they end `skipped`.
 */
export const ROLLBACK_STEPS: readonly string[] = [
  "record-upgrade-failure",
  "rollback-chart",
  "wait-rolled-back",
  "verify-storefront-after-rollback",
  "mark-rolled-back",
];

export function isRollbackStep(name: string): boolean {
  return ROLLBACK_STEPS.includes(name) || name.endsWith("-after-rollback");
}

/** Whether the run's on-failure steps have started (a main step failed and the rollback took over). */
export function rollbackStarted(steps: { name: string; status: StepStatus }[]): boolean {
  return steps.some((s) => isRollbackStep(s.name) && s.status !== "pending" && s.status !== "skipped");
}

/**
 * The steps that make up the run's way as it goes: without `skipped` steps, and without the
 * on-failure steps while they have not started (they may never run). These are the steps the
 * bar and "step 3 of 8" count.
 */
export function countedSteps<S extends { name: string; status: StepStatus }>(steps: S[]): S[] {
  const compensating = rollbackStarted(steps);
  return steps.filter((s) => s.status !== "skipped" && (compensating || !isRollbackStep(s.name)));
}

export interface TimedStep {
  name: string;
  status: StepStatus;
  startedAt?: string | null;
}

/** A running step counts at most this share of its typical time, however long it runs. */
const RUNNING_SHARE_CAP = 0.9;

/**
 * The run's progress in percent, weighted by the steps' typical durations: finished steps count
 * whole, the current step in proportion to how long it has run (`now`) against its typical time
 * (up to 90 % of it). 100 only when the run succeeded; a failed or cancelled run keeps what it
 * finished. Skipped steps, and on-failure steps that have not started, do not count
 * (`countedSteps`); while they run, the failed step they took over from counts as passed.
 */
export function weightedPercent({
  steps,
  workflow,
  runStatus,
  now,
}: {
  steps: TimedStep[];
  workflow?: string | null;
  runStatus: RunStatus | null | undefined;
  now?: number;
}): number {
  if (runStatus === "succeeded") return 100;
  let total = 0;
  let done = 0;
  const moving = runStatus !== "failed" && runStatus !== "cancelled";
  for (const step of countedSteps(steps)) {
    const weight = typicalSeconds(step.name, workflow);
    total += weight;
    if (step.status === "succeeded" || (moving && step.status === "failed")) {
      done += weight;
    } else if (moving && now !== undefined && step.startedAt && step.status !== "pending") {
      const elapsed = Math.max(0, (now - new Date(step.startedAt).getTime()) / 1000);
      if (Number.isFinite(elapsed)) done += Math.min(elapsed, weight * RUNNING_SHARE_CAP);
    }
  }
  if (total <= 0) return 0;
  return Math.max(0, Math.min(99, Math.floor((done / total) * 100)));
}

/**
 * The same weighting for a store list row, which only has the current run's summary: the steps
 * before the current one count whole. Falls back to the API's step-count percentage for a
 * workflow (or version) this table does not know.
 */
export function runPercent(run: CurrentRun | null | undefined): number {
  if (!run) return 0;
  if (run.status === "succeeded") return 100;
  const fallback = Math.min(99, Math.max(0, Math.round(run.percent)));
  const sequence = run.workflow ? WORKFLOW_STEPS[run.workflow] : undefined;
  if (!sequence || run.stepCount !== sequence.length || !run.stepNumber) return fallback;
  const index = run.stepNumber - 1;
  if (run.step && sequence[index] !== run.step) return fallback;
  return weightedPercent({
    steps: sequence.map((name, i) => ({ name, status: i < index ? "succeeded" : "pending" })),
    workflow: run.workflow,
    runStatus: run.status,
  });
}

/**
 * A queued run's place in line, when the API says it (`store.queuePosition`, 1 = next, while
 * every provisioning slot of the cluster is taken); null when it does not (not queued, or the
 * store is not waiting for a slot).
 */
export function queueWords(run: CurrentRun | null | undefined, queuePosition: number | null | undefined): string | null {
  if (!run || run.status !== "queued") return null;
  if (typeof queuePosition !== "number" || !Number.isFinite(queuePosition) || queuePosition < 1) return null;
  const ahead = queuePosition - 1;
  if (ahead === 0) return "Waiting for a free provisioning slot: this store is next.";
  return `Waiting for a free provisioning slot: ${ahead} store${ahead === 1 ? "" : "s"} ahead of this one.`;
}

// ---------------------------------------------------------------------------------------------
// Errors and waiting reasons in plain words

/** What went wrong, from a step's raw error (tool output, API answers), as a sentence fragment. */
export function plainStepError(error: string | null | undefined): string {
  const text = (error ?? "").trim();
  const lower = text.toLowerCase();
  if (!text) return "the step did not finish";
  if (lower.includes("cancelled by an operator")) return "it was cancelled by an operator";
  if (/imagepullbackoff|errimagepull|invalidimagename|pulling image/.test(lower))
    return "the store's software could not be downloaded onto the cluster";
  if (lower.includes("crashloopbackoff")) return "a part of the store keeps crashing when it starts";
  if (lower.includes("createcontainerconfigerror")) return "a part of the store is misconfigured and cannot start";
  if (lower.includes("cannot be scheduled") || lower.includes("unschedulable"))
    return "the cluster has no room to run the store right now";
  if (lower.includes("still pending after")) return "the store took too long to come up";
  if (lower.includes("deadline passed")) return "provisioning took longer than its overall time limit";
  if (lower.includes("timed out") || lower.includes("timeout")) return "the step took longer than allowed";
  if (lower.includes("exists but is not this store's")) return "the store's space on the cluster is used by something else";
  // Backups and restores: the bucket (before the cluster's words: the bucket's own 403s are not the cluster's).
  if (/is corrupt|does not match its checksum|missing from the bucket/.test(lower))
    return "the backup is damaged or incomplete, so it cannot be restored";
  if (lower.includes("backup bucket")) return "the platform's backup storage could not be reached";
  if (lower.includes("kubernetes api refused") || /\b403\b|forbidden/.test(lower))
    return "the cluster refused what the platform asked of it";
  if (
    lower.includes("cannot reach the kubernetes api") ||
    lower.includes("circuit open") ||
    lower.includes("kubernetes api answered") ||
    lower.includes("no kubernetes cluster") ||
    lower.includes("is unavailable")
  )
    return "the platform could not reach its cluster";
  if (lower.includes("helm")) return "the store's software could not be installed";
  if (lower.includes("medusa")) return "setting up Medusa did not work";
  if (/`wp |wp-cli|exited with/.test(lower)) return "setting up WordPress did not work";
  if (lower.includes("test order") || lower.includes("checkout") || lower.includes("store api"))
    return "the test order did not go through";
  return "something went wrong in this step";
}

/** Why a step waits, from its raw `waiting_for`, as a sentence fragment. */
export function plainWaiting(waitingFor: string | null | undefined): string {
  const text = (waitingFor ?? "").trim();
  const lower = text.toLowerCase();
  if (!text) return "the cluster has not finished yet";
  if (lower.includes("no kubernetes cluster is configured")) return "no cluster is connected to the platform yet";
  if (lower.includes("circuit half-open")) return "the platform is checking whether its cluster answers again";
  if (lower.includes("kubernetes") && (lower.includes("unavailable") || lower.includes("circuit")))
    return "the cluster is not answering";
  if (lower.includes("helm") && lower.includes("unavailable")) return "the installer is not answering";
  if (lower.startsWith("release ") || lower.includes("helm operation"))
    return "an earlier installation of the store is still finishing";
  if (lower.includes("still terminating")) return "an earlier copy of the store is still being removed";
  if (lower.includes("is terminating")) return "the cluster is still removing the store's data";
  if (lower.includes("no deployments or statefulsets")) return "the store's services are being created";
  if (lower.includes("no ready") && lower.includes("pod")) return "the store's services are starting";
  if (/\d+\/\d+ (ready|available|updated)|new revision|old replica|update not rolled out/.test(lower))
    return "the store's services are starting";
  return "the cluster has not finished yet";
}

function capitalizeFirst(text: string): string {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** Ends a fragment as a sentence. */
export function asSentence(fragment: string): string {
  const text = capitalizeFirst(fragment.trim());
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

export interface StepEvent {
  kind: string;
  step?: string | null;
  at: string;
  data?: Record<string, unknown> | null;
}

function latest(events: StepEvent[] | undefined, step: string, kind: string): StepEvent | undefined {
  let found: StepEvent | undefined;
  for (const event of events ?? []) {
    if (event.kind !== kind || event.step !== step) continue;
    if (!found || event.at >= found.at) found = event;
  }
  return found;
}

function str(value: unknown): string | null {
  return typeof value === "string" && value ? value : null;
}

export interface StepLike {
  name: string;
  status: StepStatus;
  attempt: number;
  maxAttempts: number;
  error: string | null;
  waitingFor: string | null;
}

/** "attempt 2 of 5" (an operator's step retry gives a fresh budget, so the count can pass it). */
function attemptOf(attempt: number, max: number): string {
  return attempt <= max ? `attempt ${attempt} of ${max}` : `attempt ${attempt}`;
}

/** What the current step is doing, when it is not simply running: retrying or waiting. */
export interface StepSituation {
  kind: "retrying" | "waiting";
  /** "Retrying: … — next attempt at 14:03:27 (attempt 2 of 5)" or "Waiting: …". */
  text: string;
  /** The raw error or waiting reason, for the details. */
  raw: string | null;
  /** When the next attempt or check is due, if known. */
  next: string | null;
}

/**
 * The current step's situation from its data (status, attempts, last error, waiting reason) and
 * the run's next activity, completed from the run's events (`step_failed` with `error` and
 * `will_retry`, `retry_scheduled` with `at`, `pending` with `waiting_for`) where the step data
 * lacks something.
 */
export function stepSituation(
  step: StepLike,
  { nextAttemptAt, events }: { nextAttemptAt?: string | null; events?: StepEvent[] } = {},
): StepSituation | null {
  if (step.status === "polling") {
    const raw = step.waitingFor ?? str(latest(events, step.name, "pending")?.data?.waiting_for);
    const next = nextAttemptAt ?? null;
    return {
      kind: "waiting",
      text: `Waiting: ${plainWaiting(raw)}${next ? ` — next check at ${formatClock(next)}` : ""}`,
      raw,
      next,
    };
  }
  const failed = latest(events, step.name, "step_failed");
  const raw = step.error ?? (failed?.data?.will_retry === true ? str(failed.data.error) : null);
  if (step.status === "retrying") {
    // `attempt` counts the attempts made; the next one is the one after.
    const scheduled = latest(events, step.name, "retry_scheduled");
    const next = nextAttemptAt ?? str(scheduled?.data?.at);
    return {
      kind: "retrying",
      text:
        `Retrying: ${plainStepError(raw)} — ` +
        `${next ? `next attempt at ${formatClock(next)}` : "next attempt shortly"} (${attemptOf(step.attempt + 1, step.maxAttempts)})`,
      raw,
      next,
    };
  }
  if (step.status === "running" && step.attempt > 1 && raw) {
    return {
      kind: "retrying",
      text: `Retrying: ${plainStepError(raw)} — ${attemptOf(step.attempt, step.maxAttempts)} is running now`,
      raw,
      next: null,
    };
  }
  return null;
}

/** What a tenant can do about a failed or retrying step, in plain words (no operator tools). */
export function tenantAdvice(error: string | null | undefined, status: StepStatus): string {
  const lower = (error ?? "").toLowerCase();
  if (status !== "failed" && status !== "cancelled") {
    return "Nothing to do: the platform tries again by itself.";
  }
  if (lower.includes("cancelled by an operator")) {
    return "Retry to carry on from this step.";
  }
  return "Retry to carry on from this step; the steps that finished are not repeated. If it fails again, contact your platform's administrators.";
}
