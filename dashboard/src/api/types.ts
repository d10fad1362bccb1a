// The API's JSON shapes, from the server's OpenAPI contract: `./schema.d.ts` is generated from
// dashboard/openapi.json (`npm run api-types`; schema.test.ts fails when it is stale), and the
// types here are its `components["schemas"]` under the names the dashboard uses. Store routes use
// camelCase; the engine's run, step, event and schedule views are snake_case.
//
// Where the contract lists the values, they come from it: `RunStatus`, `StepStatus`, `Role`,
// `StoreStatus`, `BackupStatus`, the engines' names, a store's current operation and run status,
// rotation and store-run statuses, rollout, wave and wave-store statuses, a backup's trigger,
// health's status and registration, a timeline event's source.
//
// Hand-written here, and only here, what the contract does not express, each applied with
// `Narrowed` (which only compiles while the hand-written type fits the contract's):
// - shapes the contract leaves untyped (`unknown`: a store's `lastUpgrade` and its outcome, a
//   backup's `versions`, a rollout's `target` and `maxFailureShare`, the `data` of events, a run's
//   `state`), written as the server builds them;
// - the keys of `Metrics.runsByStatus` (the contract says any string).

import type { components, operations } from "./schema";

type Schemas = components["schemas"];

/**
 * `T` with the properties of `N` in place of its own. Each must fit the contract's (be assignable
 * to `T`'s property of that name), and `N` may name no property `T` lacks: a narrowing, never a
 * different shape.
 */
export type Narrowed<T, N extends { [K in keyof N]: K extends keyof T ? T[K] : never }> = Omit<T, keyof N> & N;

/** `T`, checked to fit the contract's `Contract` (a narrower request body, say). */
export type Fits<Contract, T extends Contract> = T;

/**
 * The members of a union read alike: every property any of them has, each optional, with the
 * types the members give it (`"unavailable" in x` is not needed to read `x.unavailable`).
 */
export type AnyOf<U> = {
  [K in U extends unknown ? keyof U : never]?: U extends unknown ? (K extends keyof U ? U[K] : never) : never;
};

/** An operation's query parameters (all of them optional in the contract). */
export type QueryOf<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;

/** A JSON object the contract leaves untyped (`data` of events, a run's `state`). */
type JsonObject = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Accounts

export type Role = Schemas["Role"];

export type User = Schemas["User"];

/** A row of the admins' user list (`GET /users`); `storeCount`: stores that are not deleted. */
export type UserAccount = Schemas["UserListRow"];

export type UserList = Schemas["UserList"];

/** `PATCH /users/{id}`. */
export type UserChanged = Schemas["UserChanged"];

/** An invitation not used yet and not expired (`GET /invites`; the link itself is shown once). */
export type Invite = Schemas["OpenInvite"];

/** `POST /invites` (201): the one-time `/register?invite=…` link. */
export type Invitation = Schemas["Invitation"];

/** `POST /users/{id}/password-reset` (201): the one-time `/reset-password?token=…` link. */
export type ResetLink = Schemas["ResetLink"];

/** A one-time link, as `POST /invites` and `POST /users/{id}/password-reset` answer it. */
export type OneTimeLinkAnswer = Invitation | ResetLink;

/** `POST /auth/login`, `POST /auth/register` (201). */
export type SignedIn = Schemas["SignedIn"];
/** `GET /auth/me`. */
export type Me = Schemas["Me"];
/** `POST /auth/logout-all`. */
export type SignedOut = Schemas["SignedOut"];
/** `POST /auth/password-reset`: signed in (`user`, `token`) unless the account is disabled. */
export type PasswordReset = Schemas["PasswordReset"];
/** `PATCH /auth/password`: earlier tokens are revoked, `token` carries on. */
export type PasswordChanged = Schemas["PasswordChanged"];

export type LoginBody = Schemas["LoginBody"];
export type RegisterBody = Schemas["RegisterBody"];
export type ResetBody = Schemas["ResetBody"];
export type PasswordBody = Schemas["PasswordBody"];

/** The API's error answer, `{requestId, error: {code, message, suggestion?, …}}`. */
export type ErrorEnvelope = Schemas["ErrorEnvelope"];

// ---------------------------------------------------------------------------------------------
// Stores

/**
 * `upgrading`: a day-2 upgrade (or its automatic rollback) runs; the store is `ready` again
 * afterwards. `restoring`: its data is being replaced by one of its backups (`POST
 * /stores/{id}/restore`); the store is `ready` again afterwards, or `failed` at the restore's step
 * (a retry resumes the restore).
 */
export type StoreStatus = Schemas["StoreStatus"];
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
 * it (`woocommerce`, `medusa`), its label, its themes (`defaultTheme` null for an engine without
 * themes) and what the platform can do with its stores. The registry does not change while the
 * server runs.
 */
export type Engine = Schemas["EngineOffer"];

/** The name of an engine of this server build's registry: the contract lists them. */
export type EngineName = Engine["name"];

export type RunStatus = Schemas["RunStatus"];
export const RUN_STATUSES: RunStatus[] = ["queued", "running", "waiting", "succeeded", "failed", "cancelled"];

/**
 * `skipped`: not run — an on-failure (compensation) step of a run whose main steps all
 * succeeded, or a main step left out because an earlier one failed and the on-failure steps took
 * over.
 */
export type StepStatus = Schemas["StepStatus"];

/**
 * What a store's current run does (`currentRun.operation`): `provision`, `teardown`, `upgrade`,
 * or `restore` (a backup restored into the store itself).
 */
export type StoreOperation = NonNullable<Schemas["CurrentRun"]["operation"]>;

/** A store's current run; `status` a run's status. */
export type CurrentRun = Schemas["CurrentRun"];

/** A store's admin login: in clear for the owner, masked for anyone else, or why it cannot be read. */
export type Credentials = Schemas["CredentialsView"];

/** A store chart release: the chart's `version` and its `appVersion`. */
export type StoreVersions = Schemas["Versions"];

/**
 * The outcome of a store's last upgrade. `rolling_back` while the failed upgrade's automatic
 * rollback runs (the store is still `upgrading`); `rolled_back` once the release runs `from`
 * again and the store was verified again by a test order (the store is `ready`). Hand-written:
 * the contract leaves `lastUpgrade` untyped (its description names these values).
 */
export type UpgradeOutcome = "succeeded" | "rolling_back" | "rolled_back";

/** A store's `lastUpgrade`, as the server writes it (the contract leaves it untyped). */
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

/** The narrowings a store has in every answer (list rows, single-store answers). */
type StoreNarrowings = {
  /** Untyped in the contract. */
  lastUpgrade: LastUpgrade | null;
};

export type Store = Narrowed<Schemas["Store"], StoreNarrowings>;

/**
 * The backup the store was (or is being) restored from: at its creation (`restoreFrom`) or in
 * place (`POST /stores/{id}/restore`); `restoredAt` null while that restore runs, or after it failed.
 */
export type RestoredFrom = Schemas["RestoredFrom"];

export type ProgressStep = Schemas["StepProgress"];

export type Progress = Schemas["ProgressView"];

/** A run of a store (`runs` of a single-store answer). */
export type StoreRunRef = Schemas["StoreRun"];

/**
 * A single-store answer (`GET /stores/{id}`): `queuePosition` (1 = next) while the provisioning
 * run waits for a free slot, its run's `progress`, and its `runs`.
 */
export type StoreDetail = Narrowed<Schemas["StoreAnswerStore"], StoreNarrowings>;

/** `GET /stores/{id}`. */
export type StoreAnswer = Narrowed<Schemas["StoreAnswer"], { store: StoreDetail }>;

export type StoreList = Narrowed<Schemas["StoreListAnswer"], { stores: Store[] }>;

/**
 * A store operation accepted (202): `POST /stores` (a new store, or one restored from a backup:
 * `run.workflow` `restore-<engine>`), retry, delete, `rotate-credentials`, `upgrade` (with `from`
 * and `to`), `restore` (in place, with the `backup`; the store is `restoring`).
 */
export type StoreAccepted = Narrowed<Schemas["StoreAccepted"], { store: Store; backup?: Backup | null }>;

/** An event of a store's timeline; `source`: `run` (its runs' events) or `audit`. */
export type TimelineEvent = Narrowed<
  Schemas["TimelineEvent"],
  {
    /** Untyped in the contract. */
    data: JsonObject | null;
  }
>;

export type StoreTimeline = Narrowed<Schemas["StoreTimeline"], { events: TimelineEvent[] }>;

// ---------------------------------------------------------------------------------------------
// Runs, workflows, schedules

export type RunSummary = Schemas["RunSummary"];

export type RunList = Schemas["RunList"];

export type AttemptView = Schemas["AttemptView"];

export type StepView = Schemas["StepView"];

export type RunEvent = Narrowed<
  Schemas["RunEvent"],
  {
    /** Untyped in the contract. */
    data: JsonObject | null;
  }
>;

export type RunDetail = Narrowed<
  Schemas["RunDetail"],
  {
    /** Untyped in the contract. */
    state: JsonObject | null;
    events: RunEvent[];
  }
>;

export type RunAnswer = Narrowed<Schemas["RunAnswer"], { run: RunDetail }>;

/** `POST /runs/{id}/cancel` (the run's status after the request) or `…/steps/{n}/retry` (what happens now). */
export type RunActionAnswer = AnyOf<Schemas["CancelAccepted"] | Schemas["StepRetryAccepted"]>;

export type WorkflowStep = Schemas["WorkflowStep"];

export type Workflow = Schemas["WorkflowVersion"];

export type Schedule = Schemas["Schedule"];

export type ScheduleChange = Schemas["ScheduleChange"];

/** `PATCH /schedules/{name}` (the schedule) or `POST /schedules/{name}/run` (the run enqueued). */
export type ScheduleActionAnswer = AnyOf<Schemas["ScheduleAnswer"] | Schemas["ScheduleRunAccepted"]>;

// ---------------------------------------------------------------------------------------------
// Audit, health, metrics

export type AuditEvent = Narrowed<
  Schemas["AuditRow"],
  {
    /** Untyped in the contract. */
    data: JsonObject;
  }
>;

export type AuditList = Narrowed<Schemas["AuditPage"], { events: AuditEvent[] }>;

/** The database's or the cluster's check, read alike. */
export type HealthCheck = AnyOf<Schemas["DatabaseCheck"] | Schemas["KubernetesCheck"]>;

/** `GET /health`. */
export type Health = Schemas["Health"];

/** `degraded`: the database is down, or a worker's circuit is open. */
export type HealthStatus = Health["status"];

/** Whether anyone may register (`open`), or only people with an invitation (`closed`). */
export type Registration = Health["registration"];

export type Metrics = Narrowed<
  Schemas["ProcessFigures"],
  {
    /** Keyed by run status. Hand-written: the contract says any string. */
    runsByStatus: Partial<Record<RunStatus, number>>;
  }
>;

// ---------------------------------------------------------------------------------------------
// Fleet rollouts (operators): many stores upgraded to the chart this build ships, in waves.

/**
 * A run's status, or `halted`. `queued`, `running` and `waiting` all mean in progress; `halted`:
 * a wave failed more often than allowed and later waves were never started (an operator may
 * resume past it).
 */
export type RolloutStatus = Schemas["Rollout"]["status"];

/** `accepted`: the wave failed too often, but an operator resumed past it. */
export type WaveStatus = Schemas["Wave"]["status"];

/** What became of a store of a wave: `pending`, `upgrading`, `upgraded`, `failed`, `skipped`. */
export type RolloutOutcome = Schemas["WaveStore"]["outcome"];

/**
 * A store of a wave: its upgrade run once started; `error`: why the store was skipped, or why its
 * upgrade failed (scrubbed of secrets).
 */
export type RolloutStore = Schemas["WaveStore"];

export type RolloutWave = Schemas["Wave"];

export type RolloutTotals = Schemas["RolloutTotals"];

export type Rollout = Narrowed<
  Schemas["Rollout"],
  {
    /** Untyped in the contract. */
    target: StoreVersions;
    /** 0–1: the share of a wave's upgrades that may fail before the rollout halts. Untyped in the contract. */
    maxFailureShare: number;
  }
>;

/**
 * `GET /rollouts/{id}`; `POST /rollouts` (202), `POST /rollouts/{id}/resume|cancel` (202) with
 * the `message` of what was done.
 */
export type RolloutAnswer = Narrowed<Schemas["RolloutAnswer"], { rollout: Rollout }>;

export type RolloutList = Narrowed<Schemas["RolloutList"], { rollouts: Rollout[] }>;

// ---------------------------------------------------------------------------------------------
// Store backups: the database and uploaded files of a store, encrypted, in the platform's backup
// bucket. They outlive their store; restoring one creates a new store (`POST /stores` with
// `restoreFrom`), or replaces the data of the ready store it was taken of (`POST
// /stores/{id}/restore`).

/** `running` until every part and the manifest are stored; `failed` when the run ended without that. */
export type BackupStatus = Schemas["Backup"]["status"];
export const BACKUP_STATUSES: BackupStatus[] = ["running", "complete", "failed"];

/** `manual`: "Back up now" (`POST /stores/{id}/backups`); `scheduled`: the store's backup schedule. */
export type BackupTrigger = Schemas["Backup"]["trigger"];

/** `database`, `uploads`: plaintext `size`, SHA-256 of the stored (encrypted) object, hex. */
export type BackupPart = Schemas["BackupPart"];

export type Backup = Narrowed<
  Schemas["Backup"],
  {
    /**
     * The store's chart and app version when it was backed up (from the manifest: once complete).
     * Untyped in the contract.
     */
    versions: StoreVersions | null;
  }
>;

/** `GET /backups`. */
export type BackupList = Narrowed<Schemas["BackupList"], { backups: Backup[] }>;

/** `GET /backups/{id}`. */
export type BackupAnswer = Narrowed<Schemas["BackupAnswer"], { backup: Backup }>;

/** `POST /stores/{id}/backups` (202). */
export type BackupAccepted = Narrowed<Schemas["BackupAccepted"], { backup: Backup }>;

/**
 * A store's backup schedule (5-field cron, UTC; null: no scheduled backups) and the retention of
 * its scheduled backups: the newest of each of the last `keepDaily` days and `keepWeekly` ISO
 * weeks; `nextAt` null without a schedule.
 */
export type BackupPolicy = Schemas["Policy"];

/** `GET` and `PUT /stores/{id}/backup-policy` (after a change, with its `message`). */
export type BackupPolicyAnswer = Schemas["PolicyAnswer"];
