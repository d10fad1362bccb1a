// Store backups: the store page's Backups section ("Back up now", the store's backups, its
// backup schedule), how a backup's status looks, the form that restores a complete backup into a
// new store (also used by the Backups page), and the confirmation that restores one into the
// store it was taken of.

import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";

import { ApiError } from "../api/client";
import {
  useBackup,
  useBackupPolicy,
  useBackups,
  useEngines,
  useRestoreBackup,
  useRestoreInPlace,
  useSetBackupPolicy,
  useStartBackup,
  type BackupPolicyBody,
} from "../api/queries";
import type { Backup, BackupPolicy, Store } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import {
  BACKUP_STATUS_LOOK,
  backupAvailability,
  backupStepText,
  canRestoreInPlace,
  canSchedule,
  KEEP_LIMITS,
  parseKeep,
  partLabel,
  plainBackupError,
  restoredFromWords,
  restoredName,
  restoreIntoNewStore,
  retentionErrorWords,
  retentionProblems,
  scheduleText,
  triggerLabel,
  type KeepField,
} from "../lib/backups";
import { BACKUP_CRON_HINT, cronErrorWords, cronShapeProblem, formatUtc, normalizeCron } from "../lib/cron";
import { backupContents, findEngine, withEngineLabels } from "../lib/engines";
import { formatBytes, formatDateTime, formatDuration, formatRelative } from "../lib/format";
import { useNow } from "../lib/hooks";
import { newIdempotencyKey } from "../lib/idempotency";
import { isDeveloperText } from "../lib/plainText";
import { storeNameProblems, storePasswordProblems } from "../lib/storeRules";
import { asSentence } from "../lib/steps";
import { versionsText } from "../lib/upgrades";
import { ConfirmDialog } from "./Dialog";
import { IconArchive, IconRestore } from "./icons";
import { RawDetails } from "./Progress";
import { useToast } from "./Toaster";
import { ApiErrorAlert, Badge, Button, Card, Field, Input, LoadingBlock, ShortId, Skeleton } from "./ui";

export function BackupStatusBadge({ status }: { status: Backup["status"] }) {
  const look = BACKUP_STATUS_LOOK[status] ?? { label: status, tone: "gray" as const };
  return (
    <Badge tone={look.tone} dot pulse={look.pulse}>
      <span data-backup-status={status}>{look.label}</span>
    </Badge>
  );
}

/** When the backup was taken: "Dec 4, 04:19:31 PM" (the year too when it is not this one). */
function takenAt(backup: Backup): string {
  return formatDateTime(backup.createdAt);
}

/**
 * How a backup stands, in one line: what it does now, what it holds, or why it failed (the raw
 * error a click away; `openDetails` shows it at once, for operators).
 */
export function BackupState({ backup, openDetails, now }: { backup: Backup; openDetails: boolean; now: number }) {
  if (backup.status === "running") {
    const running = now - new Date(backup.createdAt).getTime();
    return (
      <p className="text-xs text-slate-700">
        <span data-testid="backup-step" title={backup.step ?? undefined}>
          {backupStepText(backup)}
        </span>
        {running >= 1000 ? <span className="text-slate-600"> running for {formatDuration(running)}</span> : null}
        {backup.waitingFor ? (
          <span className="block text-amber-800" data-testid="backup-waiting">
            Waiting: {backup.waitingFor}
          </span>
        ) : null}
      </p>
    );
  }
  if (backup.status === "failed") {
    return (
      <div className="text-xs text-rose-800">
        <p data-testid="backup-error">{plainBackupError(backup.error)}</p>
        <RawDetails raw={backup.error} open={openDetails} summary="Error details" />
      </div>
    );
  }
  const took =
    backup.completedAt !== null
      ? new Date(backup.completedAt).getTime() - new Date(backup.createdAt).getTime()
      : null;
  return (
    <p className="text-xs text-slate-700" data-testid="backup-holds">
      <span
        title={
          backup.storedBytes !== null ? `${formatBytes(backup.storedBytes)} stored, encrypted` : undefined
        }
        data-testid="backup-size"
      >
        {formatBytes(backup.sizeBytes)}
      </span>
      {backup.parts.length ? <span> ({backup.parts.map((p) => partLabel(p.name)).join(", ")})</span> : null}
      {took !== null && took >= 0 ? <span> · took {formatDuration(took)}</span> : null}
    </p>
  );
}

/**
 * The "Restore into a new store" button of a complete backup; the accessible name says which
 * backup, since a list has one per backup.
 */
export function RestoreButton({
  backup,
  onRestore,
  compact = false,
}: {
  backup: Backup;
  onRestore: (backup: Backup) => void;
  /** "Restore" only (narrow screens; the accessible name still says it all). */
  compact?: boolean;
}) {
  // Offered when the backup's engine restores into a new store; disabled until the registry says.
  const offered = restoreIntoNewStore(findEngine(useEngines().data, backup.engine));
  if (offered === "no") return null;
  return (
    <Button
      size="sm"
      onClick={() => onRestore(backup)}
      disabled={offered === "pending"}
      icon={<IconRestore className="size-3.5" />}
      aria-label={`Restore into a new store: the backup of ${backup.storeName} taken ${takenAt(backup)}`}
      data-testid="restore-backup"
    >
      {compact ? "Restore" : "Restore into a new store"}
    </Button>
  );
}

/**
 * "Restore into this store" of a complete backup on its store's page: replaces the store's data
 * with the backup's, after a confirmation.
 */
export function RestoreInPlaceButton({ backup, onRestore }: { backup: Backup; onRestore: (backup: Backup) => void }) {
  return (
    <Button
      size="sm"
      variant="danger-outline"
      onClick={() => onRestore(backup)}
      icon={<IconRestore className="size-3.5" />}
      aria-label={`Restore into this store: the backup taken ${takenAt(backup)} replaces the store's current data`}
      data-testid="restore-in-place"
    >
      Restore into this store
    </Button>
  );
}

/** The id of a backup's row on its store's page (the "Restored from" line links to it). */
export function backupAnchor(backupId: string): string {
  return `backup-${backupId}`;
}

/** The store page's list shows this many backups, the newest; the Backups page has them all. */
const STORE_PAGE_BACKUPS = 10;

/** The store page's Backups section. */
/** Whether a backup holds uploaded files besides the database (WooCommerce's do; Medusa's have none). */
function hasUploads(backup: Backup): boolean {
  return backup.parts.length === 0 || backup.parts.some((part) => part.name === "uploads");
}

export function BackupsCard({ store, operator, now }: { store: Store; operator: boolean; now: number }) {
  const reasonId = useId();
  const toast = useToast();
  const backups = useBackups({ storeId: store.id, limit: STORE_PAGE_BACKUPS });
  const start = useStartBackup();
  const [restoring, setRestoring] = useState<Backup | null>(null);
  const [restoringInPlace, setRestoringInPlace] = useState<Backup | null>(null);
  const engine = findEngine(useEngines().data, store.engine);
  // Until the registry answers, "Back up now" waits disabled: no reason yet, it is not known.
  const availability = backupAvailability(store, engine);
  const blocked = availability.state === "blocked" ? availability.reason : null;
  const inPlace = canRestoreInPlace(store, engine);
  const list = backups.data ?? [];
  // A running backup says how long it has run: the page's own clock ticks slowly while the store is idle.
  const clock = useNow(1000, list.some((b) => b.status === "running"));

  const backUp = async () => {
    start.reset();
    try {
      const answer = await start.mutateAsync(store.id);
      toast.show(answer.message);
    } catch {
      // Shown in the section, from start.error.
    }
  };

  return (
    <Card
      id="backups"
      title="Backups"
      description={`Encrypted copies of ${backupContents(engine)}.`}
      actions={
        <Button
          variant="primary"
          size="sm"
          onClick={backUp}
          loading={start.isPending}
          disabled={availability.state !== "ready"}
          aria-describedby={blocked ? reasonId : undefined}
          icon={<IconArchive className="size-3.5" />}
          data-testid="back-up-now"
        >
          Back up now
        </Button>
      }
    >
      {blocked ? (
        <p id={reasonId} className="mb-3 text-sm text-slate-600" data-testid="backup-blocked">
          {blocked}
        </p>
      ) : null}
      {start.isError ? (
        <div
          className="mb-3"
          data-testid="backup-start-error"
          data-error-code={start.error instanceof ApiError ? start.error.code : "UNKNOWN"}
        >
          <ApiErrorAlert error={start.error} title="The backup did not start" />
        </div>
      ) : null}

      {backups.isPending ? (
        <LoadingBlock rows={2} label="Loading the store's backups" />
      ) : backups.isError ? (
        <ApiErrorAlert
          error={backups.error}
          title="The backups could not be loaded"
          onRetry={() => backups.refetch()}
        />
      ) : list.length === 0 ? (
        <p className="text-sm text-slate-600" data-testid="no-backups">
          No backups yet.
        </p>
      ) : (
        <>
          <ul
            className="-my-1 divide-y divide-slate-100"
            data-testid="store-backups"
            aria-label="The store's backups, newest first"
          >
            {list.map((backup) => (
              <li
                key={backup.id}
                id={backupAnchor(backup.id)}
                className="flex scroll-mt-4 flex-col gap-2 py-3 sm:flex-row sm:items-start sm:justify-between"
                data-backup={backup.id}
              >
                <div className="min-w-0 space-y-1">
                  <div className="flex flex-wrap items-center gap-x-2 gap-y-1">
                    <BackupStatusBadge status={backup.status} />
                    <time
                      className="text-sm font-medium text-slate-900"
                      dateTime={backup.createdAt}
                      title={formatRelative(backup.createdAt, now)}
                    >
                      {takenAt(backup)}
                    </time>
                    <span className="text-xs text-slate-600" data-testid="backup-trigger">
                      {triggerLabel(backup.trigger)}
                    </span>
                  </div>
                  <BackupState backup={backup} openDetails={operator} now={Math.max(now, clock)} />
                  {backup.versions && (backup.versions.chart || backup.versions.app) ? (
                    <p className="text-xs text-slate-600" data-testid="backup-versions">
                      {versionsText(backup.versions)}
                    </p>
                  ) : null}
                  {operator && backup.runId ? (
                    <p className="flex items-center gap-1 text-xs text-slate-600">
                      <Link to={`/runs/${backup.runId}`} className="text-indigo-700 hover:text-indigo-600">
                        Backup run
                      </Link>
                      <ShortId id={backup.runId} label="Copy the full run id" />
                    </p>
                  ) : null}
                </div>
                {backup.status === "complete" ? (
                  <div className="flex shrink-0 flex-wrap gap-2 sm:flex-col sm:items-end">
                    <RestoreButton backup={backup} onRestore={setRestoring} />
                    {inPlace && backup.engine === store.engine ? (
                      <RestoreInPlaceButton backup={backup} onRestore={setRestoringInPlace} />
                    ) : null}
                  </div>
                ) : null}
              </li>
            ))}
          </ul>
          {list.length >= STORE_PAGE_BACKUPS ? (
            <p className="mt-3 text-sm">
              <Link
                to={`/backups?store=${encodeURIComponent(store.id)}`}
                className="font-medium text-indigo-700 hover:text-indigo-600"
              >
                All backups of this store
              </Link>
            </p>
          ) : null}
        </>
      )}

      {canSchedule(store, engine) ? <BackupSchedule store={store} now={now} /> : null}
      <RestoreDialog backup={restoring} onClose={() => setRestoring(null)} />
      <RestoreInPlaceDialog store={store} backup={restoringInPlace} onClose={() => setRestoringInPlace(null)} />
    </Card>
  );
}

// ---------------------------------------------------------------------------------------------
// The schedule

/** When the next scheduled backup starts, in words. */
function NextBackup({ policy, store, now }: { policy: BackupPolicy; store: Store; now: number }) {
  if (!policy.schedule || !policy.nextAt) return null;
  const due = new Date(policy.nextAt).getTime() <= now;
  return (
    <p className="mt-1 text-sm text-slate-700">
      Next backup:{" "}
      <time
        dateTime={policy.nextAt}
        title={formatDateTime(policy.nextAt)}
        className="font-medium text-slate-900"
        data-testid="backup-next"
      >
        {formatUtc(policy.nextAt)}
      </time>{" "}
      {due
        ? store.status === "ready"
          ? "(due: it starts within a few minutes)"
          : "(due: it starts once the store is ready again)"
        : `(${formatRelative(policy.nextAt, now)})`}
    </p>
  );
}

type Draft = { schedule: string; keepDaily: string; keepWeekly: string };

function draftOf(policy: BackupPolicy): Draft {
  return {
    schedule: policy.schedule ?? "",
    keepDaily: String(policy.keepDaily),
    keepWeekly: String(policy.keepWeekly),
  };
}

/** The schedule form: a cron expression (5 fields, UTC), how many backups to keep, Save and Turn off. */
export function BackupSchedule({ store, now }: { store: Store; now: number }) {
  const ids = { schedule: useId(), keepDaily: useId(), keepWeekly: useId(), heading: useId() };
  const policy = useBackupPolicy(store.id);
  const setPolicy = useSetBackupPolicy();
  const toast = useToast();
  const [draft, setDraft] = useState<Draft>({ schedule: "", keepDaily: "7", keepWeekly: "4" });
  const [checked, setChecked] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // What the form was last filled from: a policy read again unchanged leaves the typing alone.
  const filledFrom = useRef<string | null>(null);

  useEffect(() => {
    if (!policy.data) return;
    const key = JSON.stringify(policy.data);
    if (filledFrom.current === key) return;
    filledFrom.current = key;
    setDraft(draftOf(policy.data));
  }, [policy.data]);

  const saved = policy.data;
  const typed = normalizeCron(draft.schedule);
  const local = {
    schedule: !typed
      ? ["Enter a schedule, such as “0 3 * * *”. To stop scheduled backups, use Turn off."]
      : [cronShapeProblem(typed)].filter((p): p is string => !!p),
    ...retentionProblems(draft.keepDaily, draft.keepWeekly, true),
  };
  const apiError = error instanceof ApiError ? error : null;
  const fromApi = (field: string, words: (message: string) => string) =>
    (apiError?.fieldProblems ?? [])
      .filter((p) => p.field === field && p.message)
      .map((p) => words(p.message as string));
  const errors = {
    schedule: [...(checked ? local.schedule : []), ...fromApi("schedule", (m) => cronErrorWords(m, draft.schedule))],
    keepDaily: [...(checked ? local.keepDaily : []), ...fromApi("keepDaily", retentionErrorWords)],
    keepWeekly: [...(checked ? local.keepWeekly : []), ...fromApi("keepWeekly", retentionErrorWords)],
  };
  // Field problems show at their fields; anything else (a refusal, a lost connection) under the form.
  const otherError = error && !(apiError && apiError.fieldProblems.length) ? error : null;

  const change = (field: keyof Draft, value: string) => {
    setDraft((d) => ({ ...d, [field]: value }));
    setError(null);
  };

  const send = async (body: BackupPolicyBody) => {
    setError(null);
    try {
      const answer = await setPolicy.mutateAsync({ storeId: store.id, body });
      setChecked(false);
      toast.show(answer.message);
    } catch (cause) {
      setError(cause);
    }
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setChecked(true);
    const first = (["schedule", "keepDaily", "keepWeekly"] as const).find((field) => local[field].length > 0);
    if (first) {
      document.getElementById(ids[first])?.focus();
      return;
    }
    const daily = parseKeep(draft.keepDaily, "keepDaily");
    const weekly = parseKeep(draft.keepWeekly, "keepWeekly");
    if (!daily.ok || !weekly.ok) return;
    await send({ schedule: typed, keepDaily: daily.value, keepWeekly: weekly.value });
  };

  const turnOff = async () => {
    if (!saved) return;
    setChecked(false);
    // The API replaces the whole policy: the retention saved stays as it is.
    await send({ schedule: null, keepDaily: saved.keepDaily, keepWeekly: saved.keepWeekly });
  };

  const keepField = (field: KeepField, label: string) => (
    <Field label={label} htmlFor={ids[field]} hint={`0 to ${KEEP_LIMITS[field]} backups`} errors={errors[field]}>
      <Input
        id={ids[field]}
        type="number"
        inputMode="numeric"
        min={0}
        max={KEEP_LIMITS[field]}
        step={1}
        value={draft[field]}
        onChange={(e) => change(field, e.target.value)}
        invalid={errors[field].length > 0}
        data-testid={`backup-${field}`}
      />
    </Field>
  );

  return (
    <section
      aria-labelledby={ids.heading}
      className="mt-5 border-t border-slate-100 pt-4"
      data-testid="backup-schedule"
    >
      <h3 id={ids.heading} className="text-sm font-semibold text-slate-900">
        Backup schedule
      </h3>
      {policy.isPending ? (
        <div className="mt-2 space-y-2" role="status" aria-label="Loading the backup schedule">
          <Skeleton className="h-4 w-2/3" />
          <Skeleton className="h-10 w-full" />
        </div>
      ) : policy.isError ? (
        <ApiErrorAlert
          className="mt-2"
          error={policy.error}
          title="The backup schedule could not be loaded"
          onRetry={() => policy.refetch()}
        />
      ) : (
        <>
          <div data-testid="backup-schedule-status" data-scheduled={saved?.schedule ? "on" : "off"}>
            {saved?.schedule ? (
              <>
                <p className="mt-1 text-sm text-slate-700">
                  Scheduled backups are on: {scheduleText(saved.schedule)}, keeping the newest of each of the last{" "}
                  {saved.keepDaily} day{saved.keepDaily === 1 ? "" : "s"} and {saved.keepWeekly} week
                  {saved.keepWeekly === 1 ? "" : "s"}.
                </p>
                <NextBackup policy={saved} store={store} now={now} />
              </>
            ) : (
              <p className="mt-1 text-sm text-slate-700">Scheduled backups are off.</p>
            )}
          </div>
          <form noValidate onSubmit={save} className="mt-3 space-y-3" data-testid="backup-schedule-form">
            <div className="grid gap-3 sm:grid-cols-[minmax(0,1fr)_8.5rem_8.5rem]">
              <Field label="Schedule (cron)" htmlFor={ids.schedule} hint={BACKUP_CRON_HINT} errors={errors.schedule}>
                <Input
                  id={ids.schedule}
                  value={draft.schedule}
                  onChange={(e) => change("schedule", e.target.value)}
                  invalid={errors.schedule.length > 0}
                  className="font-mono"
                  autoComplete="off"
                  autoCapitalize="none"
                  spellCheck={false}
                  maxLength={200}
                  data-testid="backup-cron"
                />
              </Field>
              {keepField("keepDaily", "Keep daily")}
              {keepField("keepWeekly", "Keep weekly")}
            </div>
            <p className="text-xs text-slate-600">
              Of the scheduled backups, the newest of each of the last days and weeks set here (UTC) are kept and the
              others deleted. Backups made with “Back up now” are not deleted this way, and no backup is deleted with
              the store.
            </p>
            {otherError ? <ApiErrorAlert error={otherError} title="The schedule was not saved" /> : null}
            <div className="flex flex-wrap gap-2">
              <Button
                type="submit"
                variant="primary"
                loading={setPolicy.isPending && setPolicy.variables?.body.schedule !== null}
              >
                Save
              </Button>
              {saved?.schedule ? (
                <Button
                  onClick={turnOff}
                  loading={setPolicy.isPending && setPolicy.variables?.body.schedule === null}
                  disabled={setPolicy.isPending}
                >
                  Turn off
                </Button>
              ) : null}
            </div>
          </form>
        </>
      )}
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// Restore

/**
 * Restores a complete backup into a new store: its name (a suggestion filled in) and, optionally,
 * its admin password; then the new store's page.
 */
export function RestoreDialog({ backup, onClose }: { backup: Backup | null; onClose: () => void }) {
  const ids = { name: useId(), password: useId() };
  const restore = useRestoreBackup();
  const navigate = useNavigate();
  const toast = useToast();
  const { user } = useAuth();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [passwordTouched, setPasswordTouched] = useState(false);
  const idempotency = useRef<{ fingerprint: string; key: string } | null>(null);
  const open = !!backup;

  useEffect(() => {
    if (!backup) return;
    setName(restoredName(backup.storeName));
    setPassword("");
    setPasswordTouched(false);
    idempotency.current = null;
    restore.reset();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [backup?.id]);

  const problems = { name: storeNameProblems(name), password: password ? storePasswordProblems(password) : [] };
  const apiError = restore.error instanceof ApiError ? restore.error : null;
  // The name comes filled in: its problems show at once (the confirmation stays disabled until it is fixed).
  const nameErrors = [...problems.name, ...(apiError?.messagesFor("name") ?? [])];
  const passwordErrors = [
    ...(passwordTouched ? problems.password : []),
    ...(apiError?.messagesFor("password") ?? []),
  ];
  const someoneElses = !!backup && !!user && backup.ownerId !== user.id;

  return (
    <ConfirmDialog
      open={open}
      title={backup ? `Restore ${backup.storeName} into a new store?` : "Restore into a new store?"}
      confirmLabel="Restore into a new store"
      blocked={problems.name.length > 0 || problems.password.length > 0}
      onConfirm={async () => {
        if (!backup) return;
        const body = { name: name.trim(), restoreFrom: backup.id, ...(password ? { password } : {}) };
        // The same request sent twice (a double click, a retry after a lost answer) restores once.
        const fingerprint = JSON.stringify(body);
        if (idempotency.current?.fingerprint !== fingerprint) {
          idempotency.current = { fingerprint, key: newIdempotencyKey() };
        }
        try {
          const answer = await restore.mutateAsync({ body, idempotencyKey: idempotency.current.key });
          toast.show(
            <>
              Store <strong>{answer.store.name}</strong> is being created from the backup of {backup.storeName}.
            </>,
          );
          navigate(`/stores/${answer.store.id}`);
        } catch (cause) {
          // A refused request needs a new key to be tried again.
          idempotency.current = null;
          throw cause;
        }
      }}
      onClose={onClose}
    >
      {backup ? (
        <>
          <p data-testid="restore-what">
            A new store is created and provisioned, then the backup taken {takenAt(backup)} —{" "}
            {hasUploads(backup) ? "its database and uploaded files" : "its database"} — is checked and put into it, and
            the shop moves to the new store's address. The store it was taken of is not touched.
          </p>
          {someoneElses ? (
            <p data-testid="restore-owner">The new store will be yours, not the owner of the backed-up store.</p>
          ) : null}
          <div className="space-y-3 pt-1">
            <Field
              label="New store's name"
              htmlFor={ids.name}
              hint="3–63 lowercase letters, digits and single hyphens."
              errors={nameErrors}
            >
              <Input
                id={ids.name}
                value={name}
                onChange={(e) => {
                  setName(e.target.value);
                  if (restore.isError) restore.reset();
                }}
                invalid={nameErrors.length > 0}
                autoComplete="off"
                autoCapitalize="none"
                spellCheck={false}
                maxLength={100}
                autoFocus
                data-testid="restore-name"
              />
            </Field>
            <Field
              label="Admin password"
              htmlFor={ids.password}
              optional
              hint="Leave blank and a strong one is generated. The backed-up store's admin password is replaced either way."
              errors={passwordErrors}
            >
              <Input
                id={ids.password}
                type="password"
                autoComplete="new-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                onBlur={() => password && setPasswordTouched(true)}
                invalid={passwordErrors.length > 0}
                data-testid="restore-password"
              />
            </Field>
          </div>
        </>
      ) : null}
    </ConfirmDialog>
  );
}

/** The id of the store page's progress card, which a started restore scrolls to. */
export const PROGRESS_ANCHOR = "store-progress";

/**
 * Restores a complete backup into the store it was taken of, replacing the store's data: says
 * what is lost and what stays, and asks for the store's name, exactly (the API checks it too).
 * Once accepted the store is `restoring`, and the page follows it like any other operation.
 */
export function RestoreInPlaceDialog({
  store,
  backup,
  onClose,
}: {
  store: Store;
  backup: Backup | null;
  onClose: () => void;
}) {
  const restore = useRestoreInPlace();
  const engines = useEngines().data;
  const toast = useToast();

  useEffect(() => {
    if (backup) restore.reset();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [backup?.id]);

  const apiError = restore.error instanceof ApiError ? restore.error : null;
  const confirmErrors = (apiError?.messagesFor("confirm") ?? []).map(asSentence);
  // The backup itself refused (another engine, say): in words, under the refusal.
  const backupErrors = (apiError?.messagesFor("backupId") ?? []).map((message) =>
    isDeveloperText(message)
      ? "This backup cannot be restored into this store."
      : asSentence(withEngineLabels(engines, message)),
  );

  return (
    <ConfirmDialog
      open={!!backup}
      title={backup ? `Restore ${store.name} to its backup of ${takenAt(backup)}?` : `Restore ${store.name}?`}
      confirmLabel="Replace the store's data"
      tone="danger"
      confirmText={store.name}
      confirmExact
      confirmErrors={confirmErrors}
      onConfirm={async () => {
        if (!backup) return;
        const answer = await restore.mutateAsync({ storeId: store.id, backupId: backup.id, confirm: store.name });
        toast.show(
          <>
            Restoring <strong>{answer.store.name}</strong> from its backup of {takenAt(backup)}.
          </>,
        );
        // The button that opened the dialog goes away with the store's readiness: once the dialog
        // has closed (and handed focus back), show where the restore stands.
        window.setTimeout(() => document.getElementById(PROGRESS_ANCHOR)?.scrollIntoView?.({ block: "start" }), 150);
      }}
      onClose={onClose}
      errorExtra={() =>
        backupErrors.length ? (
          <ul className="mt-2 space-y-0.5 text-xs text-rose-700" data-testid="restore-backup-errors">
            {backupErrors.map((message) => (
              <li key={message}>{message}</li>
            ))}
          </ul>
        ) : null
      }
    >
      {backup ? (
        <div className="space-y-2" data-testid="restore-in-place-what">
          <p>
            <strong className="font-semibold text-slate-900">
              The store's current data is replaced by the backup's.
            </strong>{" "}
            {hasUploads(backup) ? (
              <>
                Its database — products, orders, customers, pages and settings — and its uploaded files go back to how
                they were on {takenAt(backup)}. Orders, products and uploads added or changed since then are lost.
              </>
            ) : (
              <>
                Its database — products, orders, customers and settings — goes back to how it was on {takenAt(backup)}.
                Orders and products added or changed since then are lost.
              </>
            )}
          </p>
          <p>
            The store keeps its address and its current admin password. The backup is checked whole before anything is
            replaced, and the store is verified with a test order at the end; until then it shows as restoring.
          </p>
          <p className="text-slate-700">To keep today's data, back the store up first.</p>
        </div>
      ) : null}
    </ConfirmDialog>
  );
}

/**
 * The store page's line about the backup the store was (or is being) restored from: "Restored
 * from backup of Dec 3, 03:00 AM · Dec 4, 10:12 AM", with the backup linked: its row in the
 * Backups section when it is there, else the Backups page of its store. Nothing for a store never
 * restored.
 */
export function RestoredFromLine({ store }: { store: Store }) {
  const from = store.restoredFrom ?? null;
  const backup = useBackup(from?.backupId);
  // The Backups section's own list (the same query): whether the backup's row is on the page.
  const own = useBackups({ storeId: store.id, limit: STORE_PAGE_BACKUPS }, { enabled: !!from });
  const words = restoredFromWords(store, backup.data);
  if (!from || !words) return null;
  const known = backup.data;
  const onPage = !!known && known.storeId === store.id && !!own.data?.some((b) => b.id === known.id);
  const linkClass = "font-medium text-indigo-700 hover:text-indigo-600";
  const what = !known ? (
    words.backup
  ) : onPage ? (
    <a href={`#${backupAnchor(known.id)}`} className={linkClass} title={`Backup ${known.id}`}>
      {words.backup}
    </a>
  ) : (
    <Link to={`/backups?store=${encodeURIComponent(known.storeId)}`} className={linkClass} title={`Backup ${known.id}`}>
      {words.backup}
    </Link>
  );
  return (
    <span
      className="mt-1 flex items-center gap-1.5 text-sm text-slate-700"
      data-testid="restored-from"
      data-restore-state={words.state}
    >
      <IconRestore className="size-3.5 shrink-0 text-slate-500" />
      <span>
        {words.lead} {what}
        {words.tail}
        {words.at ? (
          <>
            {" · "}
            <time dateTime={words.at} title={formatRelative(words.at)}>
              {formatDateTime(words.at)}
            </time>
          </>
        ) : null}
      </span>
    </span>
  );
}
