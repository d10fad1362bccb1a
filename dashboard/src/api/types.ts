// The API's JSON shapes, as server/src/api/*.rs writes them. Store routes use camelCase; the
// engine's run, step, event and schedule views are snake_case.

export type Role = "admin" | "tenant";

export interface User {
  id: string;
  email: string;
  username: string;
  role: Role;
  createdAt: string;
}

/** A row of the admins' user list (`GET /users`). */
export interface UserAccount extends User {
  isActive: boolean;
  lastLoginAt: string | null;
  /** Stores that are not deleted. */
  storeCount: number;
}

export interface UserList {
  users: UserAccount[];
  total: number;
  limit: number;
  offset: number;
}

/** An invitation not used yet and not expired (`GET /invites`; the link itself is shown once). */
export interface Invite {
  email: string;
  role: Role;
  createdAt: string;
  expiresAt: string;
  /** The inviting admin's e-mail address. */
  invitedBy: string | null;
}

/** A one-time link, as `POST /invites` and `POST /users/{id}/password-reset` answer it. */
export interface OneTimeLinkAnswer {
  /** `/register?invite=…` */
  invitePath?: string;
  /** `/reset-password?token=…` */
  resetPath?: string;
  email?: string;
  role?: Role;
  expiresAt: string;
  message: string;
}

export interface AuthAnswer {
  user: User;
  token: string;
}

export type StoreStatus =
  | "requested"
  | "provisioning"
  | "ready"
  /** A day-2 upgrade (or its automatic rollback) runs; the store is `ready` again afterwards. */
  | "upgrading"
  /**
   * Its data is being replaced by one of its backups (`POST /stores/{id}/restore`); the store is
   * `ready` again afterwards, or `failed` at the restore's step (a retry resumes the restore).
   */
  | "restoring"
  | "failed"
  | "deleting"
  | "deleted";
export const STORE_STATUSES: StoreStatus[] = [
  "requested",
  "provisioning",
  "ready",
  "upgrading",
  "restoring",
  "failed",
  "deleting",
  "deleted",
];

/**
 * An engine of the server build's registry (`GET /engines`): its name as stores and backups carry
 * it, its label, its themes and what the platform can do with its stores. The registry does not
 * change while the server runs.
 */
export interface Engine {
  /** `woocommerce`, `medusa`: a store's and a backup's `engine`. */
  name: string;
  /** "WooCommerce", "MedusaJS". */
  label: string;
  /** The themes a new store may choose (`theme` of `POST /stores`); empty: the engine has none. */
  themes: string[];
  /** The theme a new store gets when none is chosen; null for an engine without themes. */
  defaultTheme: string | null;
  upgrades: boolean;
  backups: boolean;
  /** A complete backup of its stores can be restored into a new store. */
  restoreIntoNewStore: boolean;
  /** A complete backup can be restored into the (ready) store it was taken of. */
  restoreInPlace: boolean;
}

export type RunStatus = "queued" | "running" | "waiting" | "succeeded" | "failed" | "cancelled";
export const RUN_STATUSES: RunStatus[] = ["queued", "running", "waiting", "succeeded", "failed", "cancelled"];

export type StepStatus =
  | "pending"
  | "running"
  | "retrying"
  | "polling"
  | "queued"
  | "succeeded"
  | "failed"
  | "cancelled"
  /**
   * Not run: an on-failure (compensation) step of a run whose main steps all succeeded, or a
   * main step left out because an earlier one failed and the on-failure steps took over.
   */
  | "skipped";

/** What a store's current run does (`currentRun.operation`); `restore`: a backup restored into the store itself. */
export type StoreOperation = "provision" | "teardown" | "upgrade" | "restore";

export interface CurrentRun {
  id: string;
  /** `provision`, `teardown`, `upgrade`, `restore` (or another operation of a newer server). */
  operation: StoreOperation | (string & {}) | null;
  workflow: string | null;
  status: RunStatus | null;
  percent: number;
  step: string | null;
  stepNumber: number | null;
  stepCount: number | null;
  nextAttemptAt: string | null;
}

/** In clear for the owner, masked for anyone else, or why they cannot be read. */
export interface Credentials {
  username?: string;
  email?: string;
  password?: string;
  loginUrl?: string | null;
  unavailable?: string;
}

/** A store chart release: the chart's `version` and its `appVersion`. */
export interface StoreVersions {
  chart: string | null;
  app: string | null;
}

/**
 * The outcome of a store's last upgrade. `rolling_back` while the failed upgrade's automatic
 * rollback runs (the store is still `upgrading`); `rolled_back` once the release runs `from`
 * again and the store was verified again by a test order (the store is `ready`).
 */
export type UpgradeOutcome = "succeeded" | "rolling_back" | "rolled_back";

export interface LastUpgrade {
  status: UpgradeOutcome;
  runId: string;
  /** The versions before the upgrade (after a rollback: the versions the store runs again). */
  from: StoreVersions;
  /**
   * What the upgrade brought (succeeded) or tried (rolled_back; null parts when its install never
   * finished). Absent while rolling back.
   */
  to?: StoreVersions | null;
  /** The step that failed (rolling_back, rolled_back). */
  failedStep?: string | null;
  /** Why the upgrade failed, scrubbed of secrets by the API (rolling_back, rolled_back). */
  error?: string | null;
  at: string;
}

export interface Store {
  id: string;
  name: string;
  /** An engine's `name` (`GET /engines`). */
  engine: string;
  theme: string | null;
  status: StoreStatus;
  namespace: string;
  ownerId: string;
  /** Admins only. */
  ownerUsername?: string;
  urls: { storefront: string | null; admin: string | null };
  /** Single-store answers only. */
  adminCredentials?: Credentials;
  isCredentialOwner: boolean;
  failureReason: string | null;
  failedStep: string | null;
  retryCount: number;
  provisioningDurationMs: number | null;
  /** From creation to the first order (the verification order counts); single-store answers only. */
  timeToFirstOrderMs?: number | null;
  currentRun: CurrentRun | null;
  /** A credential rotation still running (absent otherwise): the new password works once it finishes. */
  rotation?: { runId: string; status: RunStatus } | null;
  /** The chart and app version the store's release runs (null parts: provisioned before versions were recorded). */
  versions: StoreVersions;
  /**
   * What `POST /stores/{id}/upgrade` would bring the store to; null when it runs that already,
   * its engine cannot be upgraded, or it is being deleted.
   */
  availableUpgrade: StoreVersions | null;
  lastUpgrade: LastUpgrade | null;
  /**
   * The backup the store was (or is being) restored from: at its creation (`restoreFrom`) or in
   * place (`POST /stores/{id}/restore`); null for a store never restored. Absent from older servers.
   */
  restoredFrom?: RestoredFrom | null;
  createdAt: string;
  updatedAt: string;
  readyAt: string | null;
  deletedAt: string | null;
}

export interface RestoredFrom {
  backupId: string;
  /** When that restore completed; null while it runs, or after it failed. */
  restoredAt: string | null;
}

export interface ProgressStep {
  number: number;
  name: string;
  status: StepStatus;
  attempt: number;
  maxAttempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  error: string | null;
  waitingFor: string | null;
}

export interface Progress {
  runId: string;
  workflow: string;
  version: number;
  status: RunStatus;
  percent: number;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  nextAttemptAt: string | null;
  steps: ProgressStep[];
}

export interface StoreRunRef {
  id: string;
  workflow: string;
  status: RunStatus;
  createdAt: string;
  finishedAt: string | null;
}

export interface StoreDetail extends Store {
  /** Place in line (1 = next) while the provisioning run waits for a free slot; absent otherwise. */
  queuePosition?: number;
  progress?: Progress;
  runs: StoreRunRef[];
}

/** `POST /stores/{id}/upgrade` (202). */
export interface UpgradeAnswer {
  message: string;
  store: Store;
  run: { id: string; workflow: string; status: RunStatus };
  from: StoreVersions;
  to: StoreVersions;
}

export interface StoreList {
  stores: Store[];
  total: number;
  limit: number;
  offset: number;
}

export interface TimelineEvent {
  id: string;
  source: "run" | "audit";
  at: string;
  kind: string;
  runId: string | null;
  workflow: string | null;
  step: string | null;
  attempt: number | null;
  actor: string | null;
  data: Record<string, unknown> | null;
}

export interface RunSummary {
  id: string;
  workflow: string;
  version: number;
  status: RunStatus;
  current_step: number;
  current_step_name: string | null;
  step_count: number;
  subject: string | null;
  tenant: string | null;
  request_id: string | null;
  error: string | null;
  next_run_at: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

export interface AttemptView {
  attempt: number;
  outcome: string;
  error: string | null;
  worker_id: string | null;
  started_at: string;
  finished_at: string;
  duration_ms: number;
}

export interface StepView {
  index: number;
  name: string;
  status: StepStatus;
  attempts: number;
  max_attempts: number;
  timeout_ms: number;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  error: string | null;
  waiting_for: string | null;
  history: AttemptView[];
}

export interface RunEvent {
  id: number;
  run_id: string;
  at: string;
  kind: string;
  step_index: number | null;
  step_name: string | null;
  attempt: number | null;
  data: Record<string, unknown> | null;
}

export interface RunDetail extends RunSummary {
  input: unknown;
  state: Record<string, unknown> | null;
  cancel_requested: boolean;
  lease_owner: string | null;
  lease_expires_at: string | null;
  deadline_at: string | null;
  progress: number;
  steps: StepView[];
  events: RunEvent[];
}

export interface WorkflowStep {
  index: number;
  name: string;
  maxAttempts: number;
  timeoutMs: number;
}

export interface Workflow {
  name: string;
  version: number;
  latest: boolean;
  contentHash: string;
  registeredAt: string;
  steps: WorkflowStep[];
}

export interface Schedule {
  name: string;
  cron: string;
  workflow: string;
  input: unknown;
  enabled: boolean;
  last_tick_at: string;
  last_run_id: string | null;
  next_tick_at: string | null;
}

export interface AuditEvent {
  id: number;
  at: string;
  category: string;
  action: string;
  actorId: string | null;
  actorEmail: string | null;
  ipAddress: string | null;
  subject: string | null;
  requestId: string | null;
  data: Record<string, unknown>;
}

export interface AuditList {
  events: AuditEvent[];
  total: number;
  limit: number;
  offset: number;
}

export interface HealthCheck {
  status: string;
  message?: string | null;
  latencyMs?: number;
  context?: string | null;
  server?: string | null;
  version?: string | null;
}

export interface Health {
  status: "healthy" | "degraded";
  timestamp: string;
  uptimeSeconds?: number;
  checks?: { database: HealthCheck; kubernetes: HealthCheck };
  runs?: { runnable: number; running: number; delayed: number };
  /** `storeflow up --simulated-cluster`: stores provision against a cluster simulated in-process. */
  simulatedCluster?: boolean;
  /** Whether anyone may register, or only people with an invitation. */
  registration?: "open" | "closed";
}

export interface Metrics {
  uptimeSeconds: number;
  memory: { rssBytes: number | null };
  runsByStatus: Partial<Record<RunStatus, number>>;
}

// ---------------------------------------------------------------------------------------------
// Fleet rollouts (operators): many stores upgraded to the chart this build ships, in waves.

/**
 * `queued`, `running` and `waiting` all mean in progress; `halted`: a wave failed more often
 * than allowed and later waves were never started (an operator may resume past it).
 */
export type RolloutStatus = "queued" | "running" | "waiting" | "succeeded" | "halted" | "failed" | "cancelled";

/** `accepted`: the wave failed too often, but an operator resumed past it. */
export type WaveStatus = "pending" | "running" | "succeeded" | "accepted" | "halted" | "cancelled";

export type RolloutOutcome = "pending" | "upgrading" | "upgraded" | "failed" | "skipped";

export interface RolloutStore {
  storeId: string;
  outcome: RolloutOutcome;
  /** The store's upgrade run, once started. */
  runId: string | null;
  /** Why the store was skipped, or why its upgrade failed (scrubbed of secrets). */
  error: string | null;
}

export interface RolloutWave {
  number: number;
  status: WaveStatus;
  stores: RolloutStore[];
}

export interface RolloutTotals {
  upgraded: number;
  failed: number;
  skipped: number;
  pending: number;
  upgrading: number;
}

export interface Rollout {
  id: string;
  status: RolloutStatus;
  target: StoreVersions;
  /** 0–1: the share of a wave's upgrades that may fail before the rollout halts. */
  maxFailureShare: number;
  /** Why it halted (or failed). */
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  totals: RolloutTotals;
  waves: RolloutWave[];
}

/** `POST /rollouts` (202), `POST /rollouts/{id}/resume|cancel` (202). */
export interface RolloutAnswer {
  message: string;
  rollout: Rollout;
}

// ---------------------------------------------------------------------------------------------
// Store backups: the database and uploaded files of a store, encrypted, in the platform's backup
// bucket. They outlive their store; restoring one creates a new store (`POST /stores` with
// `restoreFrom`), or replaces the data of the ready store it was taken of (`POST
// /stores/{id}/restore`).

/** `running` until every part and the manifest are stored; `failed` when the run ended without that. */
export type BackupStatus = "running" | "complete" | "failed";
export const BACKUP_STATUSES: BackupStatus[] = ["running", "complete", "failed"];

/** `manual`: "Back up now" (`POST /stores/{id}/backups`); `scheduled`: the store's backup schedule. */
export type BackupTrigger = "manual" | "scheduled";

export interface BackupPart {
  /** `database`, `uploads`. */
  name: string;
  /** Plaintext bytes. */
  size: number;
  /** SHA-256 of the stored (encrypted) object, hex. */
  sha256: string;
}

export interface Backup {
  id: string;
  storeId: string;
  /** The store's name when the backup was taken (the store may be deleted since). */
  storeName: string;
  ownerId: string;
  engine: string;
  status: BackupStatus;
  trigger: BackupTrigger | (string & {});
  runId: string | null;
  /** The step the backup's run is at while it runs (`dump-uploads`); null otherwise. */
  step: string | null;
  /**
   * While it runs: what its step waits for, or the error its last attempt retries after
   * (e.g. "this worker has no backup bucket: …"); null when all goes well.
   */
  waitingFor: string | null;
  /** Plaintext bytes of all parts, once complete. */
  sizeBytes: number | null;
  /** Bytes in the bucket (encrypted), once complete. */
  storedBytes: number | null;
  /** The store's chart and app version when it was backed up (from the manifest: once complete). */
  versions: StoreVersions | null;
  parts: BackupPart[];
  /** Why it failed (failed backups only). */
  error: string | null;
  createdAt: string;
  completedAt: string | null;
}

/** A store's backup schedule and the retention of its scheduled backups. */
export interface BackupPolicy {
  /** 5-field cron expression, UTC; null: no scheduled backups. */
  schedule: string | null;
  /** The newest scheduled backup of each of the last `keepDaily` days is kept (0–366). */
  keepDaily: number;
  /** …and of each of the last `keepWeekly` ISO weeks (0–520). */
  keepWeekly: number;
  /** When the next scheduled backup is due (null without a schedule). */
  nextAt: string | null;
}

/** `POST /stores/{id}/backups` (202). */
export interface BackupAnswer {
  requestId: string;
  message: string;
  backup: Backup;
}

/** `POST /stores/{id}/restore` (202): the store is `restoring`, its run `restore-in-place-<engine>`. */
export interface RestoreInPlaceAnswer {
  requestId?: string;
  message: string;
  store: Store;
  run: { id: string; workflow: string; status: RunStatus };
  backup: Backup;
}

/** `PUT /stores/{id}/backup-policy`. */
export interface BackupPolicyAnswer {
  message: string;
  policy: BackupPolicy;
}

/** `POST /stores` (202): a new store, or one restored from a backup (`run.workflow` `restore-<engine>`). */
export interface CreateStoreAnswer {
  requestId?: string;
  message: string;
  store: Store;
  run: { id: string; workflow: string | null; status: RunStatus };
}
