// TanStack Query keys and hooks over the API. Keys start with the resource, so a mutation can
// invalidate everything about it at once.

import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { engineLabel } from "../lib/engines";
import { isRolloutInProgress } from "../lib/rollouts";
import { api } from "./client";
import type { components } from "./schema";
import type {
  AuditList,
  Backup,
  BackupAccepted,
  BackupAnswer,
  BackupList,
  BackupPolicyAnswer,
  EngineName,
  Fits,
  Health,
  Invitation,
  Metrics,
  Narrowed,
  QueryOf,
  ResetLink,
  Role,
  Rollout,
  RolloutAnswer,
  RolloutList,
  RunActionAnswer,
  RunAnswer,
  RunList,
  ScheduleActionAnswer,
  ScheduleChange,
  Store,
  StoreAccepted,
  StoreAnswer,
  StoreList,
  StoreStatus,
  StoreTimeline,
  UserChanged,
  UserList,
} from "./types";

type Schemas = components["schemas"];

export const keys = {
  stores: ["stores"] as const,
  storeList: (params: StoreListParams) => ["stores", "list", params] as const,
  storeCounts: ["stores", "counts"] as const,
  store: (id: string) => ["stores", "detail", id] as const,
  storeEvents: (id: string) => ["stores", "events", id] as const,
  storeDirectory: ["stores", "directory"] as const,
  runs: ["runs"] as const,
  runList: (params: RunListParams) => ["runs", "list", params] as const,
  run: (id: string) => ["runs", "detail", id] as const,
  workflows: ["workflows"] as const,
  engines: ["engines"] as const,
  rollouts: ["rollouts"] as const,
  backups: ["backups"] as const,
  backupList: (params: BackupListParams) => ["backups", "list", params] as const,
  backupPolicy: (storeId: string) => ["backups", "policy", storeId] as const,
  backup: (id: string) => ["backups", "detail", id] as const,
  rollout: (id: string) => ["rollouts", "detail", id] as const,
  schedules: ["schedules"] as const,
  audit: (params: AuditParams) => ["audit", params] as const,
  users: ["users"] as const,
  userList: (params: UserListParams) => ["users", "list", params] as const,
  invites: ["invites"] as const,
  health: ["health"] as const,
  metrics: ["metrics"] as const,
};

/** `GET /stores`'s query; the dashboard always asks for a page (`limit`, `offset`). */
export type StoreListParams = Narrowed<QueryOf<"get_api_v1_stores">, { limit: number; offset: number }>;

const ACTIVE: StoreStatus[] = ["requested", "provisioning", "upgrading", "restoring", "deleting"];

export function isActiveStatus(status: StoreStatus): boolean {
  return ACTIVE.includes(status);
}

export function useStoreList(params: StoreListParams) {
  return useQuery({
    queryKey: keys.storeList(params),
    queryFn: ({ signal }) => api<StoreList>("/stores", { query: { ...params }, signal }),
    placeholderData: keepPreviousData,
    // Stores in progress move on their own: follow them while any is on screen.
    refetchInterval: (query) => (query.state.data?.stores.some((s) => isActiveStatus(s.status)) ? 5000 : 30_000),
  });
}

export type StoreCounts = Record<StoreStatus | "all", number>;

/** Stores per status, from the list's `total` (one small request per status). */
export function useStoreCounts() {
  return useQuery({
    queryKey: keys.storeCounts,
    queryFn: async ({ signal }) => {
      const statuses: (StoreStatus | "all")[] = [
        "all",
        "requested",
        "provisioning",
        "ready",
        "upgrading",
        "restoring",
        "failed",
        "deleting",
      ];
      const totals = await Promise.all(
        statuses.map((status) =>
          api<StoreList>("/stores", {
            query: { status: status === "all" ? undefined : status, limit: 1 },
            signal,
          }).then((answer) => answer.total),
        ),
      );
      const counts = { deleted: 0 } as StoreCounts;
      statuses.forEach((status, i) => (counts[status] = totals[i]));
      return counts;
    },
    refetchInterval: 15_000,
  });
}

export function useStore(id: string, options: { live: boolean }) {
  return useQuery({
    queryKey: keys.store(id),
    queryFn: ({ signal }) => api<StoreAnswer>(`/stores/${id}`, { signal }).then((a) => a.store),
    // Live updates come from the event stream; without it, poll while something is moving.
    refetchInterval: (query) => {
      if (options.live) return false;
      const store = query.state.data;
      return store && (isActiveStatus(store.status) || store.rotation) ? 5000 : false;
    },
  });
}

export function useStoreTimeline(id: string, enabled = true) {
  return useQuery({
    queryKey: keys.storeEvents(id),
    queryFn: ({ signal }) =>
      api<StoreTimeline>(`/stores/${id}/events`, { query: { limit: 200 }, signal }).then((a) => a.events),
    enabled,
  });
}

/**
 * `POST /stores` for a new store: `engine` is an engine's `name` (`GET /engines`), always sent;
 * `theme` one of the engine's `themes`, left out for an engine without themes.
 */
export type CreateStoreBody = Narrowed<Schemas["CreateStore"], { engine: EngineName }>;

export function useCreateStore() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ body, idempotencyKey }: { body: CreateStoreBody; idempotencyKey: string }) =>
      api<StoreAccepted>("/stores", {
        method: "POST",
        body,
        headers: { "Idempotency-Key": idempotencyKey },
      }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.stores }),
  });
}

export function useStoreAction(action: "retry" | "delete") {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      api<StoreAccepted>(action === "retry" ? `/stores/${id}/retry` : `/stores/${id}`, {
        method: action === "retry" ? "POST" : "DELETE",
      }),
    onSuccess: (_answer, id) => {
      client.invalidateQueries({ queryKey: keys.stores });
      client.invalidateQueries({ queryKey: keys.store(id) });
      client.invalidateQueries({ queryKey: keys.runs });
    },
  });
}

/** `POST /stores/{id}/rotate-credentials`: the owner may choose the password; without one it is generated. */
export function useRotateCredentials() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, password }: { id: string; password?: string }) =>
      api<StoreAccepted>(`/stores/${id}/rotate-credentials`, {
        method: "POST",
        // No body at all for a generated password (the API's audit entry tells the two apart by it).
        body: password === undefined ? undefined : ({ password } satisfies Schemas["RotateBody"]),
      }),
    onSuccess: (_answer, { id }) => {
      client.invalidateQueries({ queryKey: keys.store(id) });
      client.invalidateQueries({ queryKey: keys.storeEvents(id) });
    },
  });
}

/**
 * `POST /stores/{id}/upgrade`: to the chart this build ships; `force` applies it (and verifies the
 * store) again when the store runs it already.
 */
export function useUpgradeStore() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, force }: { id: string; force?: boolean }) =>
      api<StoreAccepted>(`/stores/${id}/upgrade`, {
        method: "POST",
        body: force ? ({ force: true } satisfies Schemas["UpgradeBody"]) : undefined,
      }),
    onSuccess: (_answer, { id }) => {
      client.invalidateQueries({ queryKey: keys.stores });
      client.invalidateQueries({ queryKey: keys.store(id) });
      client.invalidateQueries({ queryKey: keys.storeEvents(id) });
      client.invalidateQueries({ queryKey: keys.runs });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Backups

/** While a backup runs, the lists that show it ask again every ~3 s. */
export const BACKUP_POLL_MS = 3000;

/** `GET /backups`'s query; `limit` 1–500, the API's default is 100. */
export type BackupListParams = QueryOf<"get_api_v1_backups">;

/**
 * How often a list of backups asks again: every ~3 s while one runs, else every 30 s (scheduled
 * ones start by themselves).
 */
export function backupPollInterval(backups: Backup[] | undefined): number {
  return backups?.some((b) => b.status === "running") ? BACKUP_POLL_MS : 30_000;
}

/**
 * `GET /backups`: newest first, the backups of deleted stores too. `keepPrevious` keeps the last
 * answer on screen while another filter loads (not for a store's own list: another store's
 * backups must never show on its page).
 */
export function useBackups(
  params: BackupListParams,
  { enabled = true, keepPrevious = false }: { enabled?: boolean; keepPrevious?: boolean } = {},
) {
  return useQuery({
    queryKey: keys.backupList(params),
    queryFn: async ({ signal }): Promise<Backup[]> =>
      (await api<BackupList>("/backups", { query: { ...params }, signal })).backups,
    enabled,
    placeholderData: keepPrevious ? keepPreviousData : undefined,
    refetchInterval: (query) => backupPollInterval(query.state.data),
  });
}

/** `POST /stores/{id}/backups`: backs a ready store up now. */
export function useStartBackup() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (storeId: string) => api<BackupAccepted>(`/stores/${storeId}/backups`, { method: "POST" }),
    onSuccess: (_answer, storeId) => {
      client.invalidateQueries({ queryKey: keys.backups });
      client.invalidateQueries({ queryKey: keys.storeEvents(storeId) });
    },
  });
}

export function useBackupPolicy(storeId: string, { enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({
    queryKey: keys.backupPolicy(storeId),
    queryFn: ({ signal }) =>
      api<BackupPolicyAnswer>(`/stores/${storeId}/backup-policy`, { signal }).then((a) => a.policy),
    enabled,
  });
}

/** `schedule`: 5-field cron (UTC); null turns scheduled backups off. Every field is always sent. */
export type BackupPolicyBody = Narrowed<
  Schemas["BackupPolicyBody"],
  { schedule: string | null; keepDaily: number; keepWeekly: number }
>;

/**
 * `PUT /stores/{id}/backup-policy`. The API replaces the whole policy (a left-out `keepDaily` is
 * 7 again), so every field is always sent, also to turn the schedule off.
 */
export function useSetBackupPolicy() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ storeId, body }: { storeId: string; body: BackupPolicyBody }) =>
      api<BackupPolicyAnswer>(`/stores/${storeId}/backup-policy`, { method: "PUT", body }),
    onSuccess: (answer, { storeId }) => {
      client.setQueryData(keys.backupPolicy(storeId), answer.policy);
      client.invalidateQueries({ queryKey: keys.storeEvents(storeId) });
    },
  });
}

/** `POST /stores` with `restoreFrom`, a complete backup's id (the engine comes from it); `name`: the new store's. */
export type RestoreIntoNewStoreBody = Narrowed<Schemas["CreateStore"], { restoreFrom: string }>;

/** `POST /stores` with `restoreFrom`: a new store, provisioned with the backup's data. */
export function useRestoreBackup() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ body, idempotencyKey }: { body: RestoreIntoNewStoreBody; idempotencyKey: string }) =>
      api<StoreAccepted>("/stores", { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey } }),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: keys.stores });
      client.invalidateQueries({ queryKey: keys.runs });
    },
  });
}

/** `GET /backups/{id}`: one backup (a complete one does not change, so it is not asked again). */
export function useBackup(id: string | null | undefined) {
  return useQuery({
    queryKey: keys.backup(id ?? ""),
    queryFn: ({ signal }) => api<BackupAnswer>(`/backups/${id}`, { signal }).then((a) => a.backup),
    enabled: !!id,
    staleTime: 5 * 60_000,
  });
}

/**
 * `POST /stores/{id}/restore`: replaces a ready store's data with one of its complete backups;
 * `confirm` is the store's name, exactly. The store is `restoring` from then on.
 */
export function useRestoreInPlace() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ storeId, backupId, confirm }: { storeId: string } & Schemas["RestoreBody"]) =>
      api<StoreAccepted>(`/stores/${storeId}/restore`, {
        method: "POST",
        body: { backupId, confirm } satisfies Schemas["RestoreBody"],
      }),
    onSuccess: (_answer, { storeId }) => {
      client.invalidateQueries({ queryKey: keys.stores });
      client.invalidateQueries({ queryKey: keys.store(storeId) });
      client.invalidateQueries({ queryKey: keys.storeEvents(storeId) });
      client.invalidateQueries({ queryKey: keys.backups });
      client.invalidateQueries({ queryKey: keys.runs });
    },
  });
}

/** `GET /runs`'s query; the dashboard always asks for a page (`limit`, `offset`). */
export type RunListParams = Narrowed<QueryOf<"get_api_v1_runs">, { limit: number; offset: number }>;

export function useRunList(params: RunListParams) {
  return useQuery({
    queryKey: keys.runList(params),
    queryFn: ({ signal }) =>
      api<RunList>("/runs", {
        query: { ...params },
        signal,
      }),
    placeholderData: keepPreviousData,
    refetchInterval: 3000,
  });
}

export function useRun(id: string, options: { live: boolean }) {
  return useQuery({
    queryKey: keys.run(id),
    queryFn: ({ signal }) => api<RunAnswer>(`/runs/${id}`, { signal }).then((a) => a.run),
    refetchInterval: (query) => {
      if (options.live) return false;
      const status = query.state.data?.status;
      return status && !["succeeded", "failed", "cancelled"].includes(status) ? 5000 : false;
    },
  });
}

export function useRunAction() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (action: { kind: "cancel"; runId: string } | { kind: "retry-step"; runId: string; step: number }) =>
      action.kind === "cancel"
        ? api<RunActionAnswer>(`/runs/${action.runId}/cancel`, { method: "POST" })
        : api<RunActionAnswer>(`/runs/${action.runId}/steps/${action.step}/retry`, { method: "POST" }),
    onSuccess: (_answer, action) => {
      client.invalidateQueries({ queryKey: keys.run(action.runId) });
      client.invalidateQueries({ queryKey: keys.runs });
      client.invalidateQueries({ queryKey: keys.stores });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Fleet rollouts (operators)

/** While a rollout moves, its page follows it every ~2 s; a finished one is not asked again. */
export const ROLLOUT_POLL_MS = 2000;

export function useRollouts() {
  return useQuery({
    queryKey: keys.rollouts,
    queryFn: ({ signal }) => api<RolloutList>("/rollouts", { signal }).then((a) => a.rollouts),
    refetchInterval: (query) =>
      query.state.data?.some((r) => isRolloutInProgress(r.status)) ? ROLLOUT_POLL_MS : 15_000,
  });
}

/** How often a rollout's page asks again: every ~2 s while it is in progress, never once finished. */
export function rolloutPollInterval(status: Rollout["status"] | null | undefined): number | false {
  return isRolloutInProgress(status) ? ROLLOUT_POLL_MS : false;
}

export function useRollout(id: string) {
  return useQuery({
    queryKey: keys.rollout(id),
    queryFn: ({ signal }) => api<RolloutAnswer>(`/rollouts/${id}`, { signal }).then((a) => a.rollout),
    refetchInterval: (query) => rolloutPollInterval(query.state.data?.status),
  });
}

/** `waves`: 1–7 sizes of at least 1, the stores left over form one more wave; `maxFailureShare` 0–1. */
export type StartRolloutBody = Schemas["CreateRollout"];

export function useStartRollout() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: StartRolloutBody) => api<RolloutAnswer>("/rollouts", { method: "POST", body }),
    onSuccess: (answer) => {
      client.setQueryData(keys.rollout(answer.rollout.id), answer.rollout);
      client.invalidateQueries({ queryKey: keys.rollouts });
      client.invalidateQueries({ queryKey: keys.stores });
      client.invalidateQueries({ queryKey: keys.runs });
    },
  });
}

export function useRolloutAction() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, action }: { id: string; action: "resume" | "cancel" }) =>
      api<RolloutAnswer>(`/rollouts/${id}/${action}`, { method: "POST" }),
    onSuccess: (answer, { id }) => {
      if (answer?.rollout) client.setQueryData(keys.rollout(id), answer.rollout);
      client.invalidateQueries({ queryKey: keys.rollouts });
      client.invalidateQueries({ queryKey: keys.stores });
      client.invalidateQueries({ queryKey: keys.runs });
    },
  });
}

/** The most stores the directory reads (5 pages of the list's largest page). */
const DIRECTORY_PAGES = 5;
const DIRECTORY_PAGE = 100;

export interface StoreDirectory {
  stores: Store[];
  /** All the platform's stores (more than `stores` holds when it has over 500). */
  total: number;
}

/**
 * Every store (up to 500), for pages about many of them at once: a rollout's store names, and
 * which stores a new rollout would upgrade.
 */
export function useStoreDirectory({ refetchInterval = 30_000 }: { refetchInterval?: number | false } = {}) {
  return useQuery({
    queryKey: keys.storeDirectory,
    queryFn: async ({ signal }): Promise<StoreDirectory> => {
      const stores: Store[] = [];
      let total = 0;
      for (let page = 0; page < DIRECTORY_PAGES; page++) {
        const answer = await api<StoreList>("/stores", {
          query: { limit: DIRECTORY_PAGE, offset: page * DIRECTORY_PAGE },
          signal,
        });
        stores.push(...answer.stores);
        total = answer.total;
        if (stores.length >= total || answer.stores.length < DIRECTORY_PAGE) break;
      }
      return { stores, total };
    },
    refetchInterval,
  });
}

/**
 * `GET /engines`: the server build's engine registry (names, labels, themes, what each can do).
 * It does not change while the server runs, so it is read once.
 */
export function useEngines() {
  return useQuery({
    queryKey: keys.engines,
    queryFn: ({ signal }) => api<Schemas["EngineList"]>("/engines", { signal }).then((a) => a.engines),
    staleTime: Infinity,
    gcTime: Infinity,
    // A failed read is asked again on "Try again" (or focus), not by every part of the page that
    // mounts with it: an error alert naming an engine reads the registry too.
    retryOnMount: false,
  });
}

export function useWorkflows() {
  return useQuery({
    queryKey: keys.workflows,
    queryFn: ({ signal }) => api<Schemas["WorkflowList"]>("/workflows", { signal }).then((a) => a.workflows),
    staleTime: 60_000,
  });
}

export function useSchedules() {
  return useQuery({
    queryKey: keys.schedules,
    queryFn: ({ signal }) => api<Schemas["ScheduleList"]>("/schedules", { signal }).then((a) => a.schedules),
    refetchInterval: 15_000,
  });
}

export type ScheduleAction =
  | { kind: "toggle"; name: string; enabled: boolean }
  | { kind: "cron"; name: string; cron: string }
  | { kind: "run"; name: string };

export function useScheduleAction() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (action: ScheduleAction) =>
      action.kind === "run"
        ? api<ScheduleActionAnswer>(`/schedules/${encodeURIComponent(action.name)}/run`, { method: "POST" })
        : api<ScheduleActionAnswer>(`/schedules/${encodeURIComponent(action.name)}`, {
            method: "PATCH",
            body: (action.kind === "toggle"
              ? { enabled: action.enabled }
              : { cron: action.cron }) satisfies ScheduleChange,
          }),
    onSuccess: () => {
      client.invalidateQueries({ queryKey: keys.schedules });
      client.invalidateQueries({ queryKey: keys.runs });
    },
  });
}

/** `GET /audit`'s query; the dashboard always asks for a page (`limit`, `offset`). */
export type AuditParams = Narrowed<QueryOf<"get_api_v1_audit">, { limit: number; offset: number }>;

export function useAudit(params: AuditParams) {
  return useQuery({
    queryKey: keys.audit(params),
    queryFn: ({ signal }) => api<AuditList>("/audit", { query: { ...params }, signal }),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
}

/** `GET /users`'s query; the dashboard always asks for a page (`limit`, `offset`). */
export type UserListParams = Narrowed<QueryOf<"get_api_v1_users">, { limit: number; offset: number }>;

export function useUserList(params: UserListParams) {
  return useQuery({
    queryKey: keys.userList(params),
    queryFn: ({ signal }) => api<UserList>("/users", { query: { ...params }, signal }),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  });
}

/** `PATCH /users/{id}`: one change at a time. */
export type UserChange = Fits<Schemas["UserChange"], { isActive: boolean } | { role: Role }>;

export function useChangeUser() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, change }: { id: string; change: UserChange }) =>
      api<UserChanged>(`/users/${id}`, { method: "PATCH", body: change }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.users }),
  });
}

/** The user's password stops working and every session ends; the answer's link is shown once. */
export function useForcePasswordReset() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api<ResetLink>(`/users/${id}/password-reset`, { method: "POST" }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.users }),
  });
}

export function useInvites() {
  return useQuery({
    queryKey: keys.invites,
    queryFn: ({ signal }) => api<Schemas["InviteList"]>("/invites", { signal }).then((a) => a.invites),
    refetchInterval: 30_000,
  });
}

export function useCreateInvite() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: Narrowed<Schemas["InviteBody"], { role: Role }>) =>
      api<Invitation>("/invites", { method: "POST", body }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.invites }),
  });
}

/** Public: answers without a session too (the simulated-cluster banner asks on the sign-in pages). */
export function useHealth() {
  return useQuery({
    queryKey: keys.health,
    queryFn: ({ signal }) => api<Health>("/health", { signal, answerStatuses: [503] }),
    refetchInterval: 30_000,
    // A degraded platform answers 503 with the same body; show it rather than an error.
    retry: false,
  });
}

export function useMetrics(enabled: boolean) {
  return useQuery({
    queryKey: keys.metrics,
    queryFn: ({ signal }) => api<Metrics>("/metrics/json", { signal }),
    enabled,
    refetchInterval: 15_000,
  });
}

/** An engine's label, by its name: its name until the registry answers (`useEngines`). */
export function useEngineLabel(): (name: string) => string {
  const engines = useEngines().data;
  return (name) => engineLabel(engines, name);
}
