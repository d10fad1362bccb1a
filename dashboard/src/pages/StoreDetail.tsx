// One store: live provisioning progress over the store's event stream, URLs, credentials (and
// changing the admin password), retry and delete, its backups (and their schedule), its runs and
// its timeline.

import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import { Link, useParams } from "react-router";

import { ApiError } from "../api/client";
import { isActiveStatus, keys, useRotateCredentials, useStore, useStoreAction, useStoreTimeline } from "../api/queries";
import type { AnyOf, Credentials, ProgressStep, StoreDetail, StoreOperation, TimelineEvent } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { BackupsCard, PROGRESS_ANCHOR, RestoredFromLine } from "../components/Backups";
import { ConfirmDialog } from "../components/Dialog";
import {
  IconArrowUp,
  IconChevronLeft,
  IconExternal,
  IconEye,
  IconEyeOff,
  IconKey,
  IconRefresh,
  IconSearch,
  IconTrash,
} from "../components/icons";
import { LiveIndicator, ProgressBar, RawDetails, StepTimeline, stepErrorSuggestion } from "../components/Progress";
import { SimulatedUrlNote } from "../components/SimulatedCluster";
import { EngineBadge, isFinalRun, RunStatusBadge, StoreStatusBadge, ThemeBadge } from "../components/status";
import { useToast } from "../components/Toaster";
import { UpgradeDialog, UpgradeNoticeAlert, VersionCard } from "../components/Upgrade";
import {
  Alert,
  ApiErrorAlert,
  Button,
  ButtonLink,
  Card,
  CopyButton,
  cx,
  Details,
  EmptyState,
  Field,
  Input,
  LoadingBlock,
  Mono,
  PageHeader,
  ShortId,
  Skeleton,
  Spinner,
} from "../components/ui";
import { errorWords } from "../lib/errorWords";
import { groupEvents, workflowLabel } from "../lib/events";
import { formatAgo, formatDateTime, formatDuration, formatRelative, formatTime } from "../lib/format";
import {
  asSentence,
  countedSteps,
  isCurrentStep,
  isRollbackStep,
  plainStepError,
  queueWords,
  rollbackStarted,
  runPercent,
  stepLabel,
  weightedPercent,
} from "../lib/steps";
import { canOfferUpgrade, chartText, upgradeLabel, upgradeNotice } from "../lib/upgrades";
import { useCoalesced, useNow, useTitle } from "../lib/hooks";
import { isStoreId, storePasswordProblems } from "../lib/storeRules";
import { useEventStream } from "../lib/useEventStream";

/** What the store's current run does, as the page names it. */
function operationTitle(operation: StoreOperation | null | undefined): string {
  if (operation === "teardown") return "Deletion";
  if (operation === "upgrade") return "Upgrade";
  if (operation === "restore") return "Restore";
  return "Provisioning";
}

/** What stopped at `step`: an upgrade's automatic rollback, or the store's current operation. */
function stoppedWhat(store: StoreDetail, step: string | null | undefined): string {
  return store.currentRun?.operation === "upgrade" && step && isRollbackStep(step)
    ? "The rollback"
    : operationTitle(store.currentRun?.operation);
}

function ProgressCard({
  store,
  live,
  now,
  events,
  operator,
}: {
  store: StoreDetail;
  live: ReturnType<typeof useEventStream>;
  now: number;
  events: TimelineEvent[] | undefined;
  operator: boolean;
}) {
  const progress = store.progress;
  const run = store.currentRun;
  const title = operationTitle(run?.operation);
  const upgrade = run?.operation === "upgrade";
  // An upgrade whose on-failure steps rolled the store back: the run failed, the store is fine.
  const rolledBack =
    upgrade &&
    !!progress &&
    store.lastUpgrade?.status === "rolled_back" &&
    store.lastUpgrade.runId === progress.runId &&
    progress.status === "failed";
  // Weighted by the steps' typical durations (lib/steps.ts), not by their count.
  const percent = rolledBack
    ? 100
    : progress
      ? weightedPercent({ steps: progress.steps, workflow: progress.workflow, runStatus: progress.status, now })
      : runPercent(run);
  // "Step 3 of 8" counts the run's way: no skipped steps, no rollback steps that have not started.
  const counted = progress ? countedSteps(progress.steps) : [];
  const current = counted.find((s) => isCurrentStep(s.status));
  const position = (step: ProgressStep) => counted.indexOf(step) + 1;
  // The last one: when an upgrade's rollback stopped, the rollback's step (the upgrade's failed
  // step is behind it).
  const failedStep = [...counted].reverse().find((s) => s.status === "failed" || s.status === "cancelled");
  const stepCount = progress ? counted.length : (run?.stepCount ?? 0);
  const rollingBack = !!progress && rollbackStarted(progress.steps) && !isFinalRun(progress.status);
  // This run's events, to complete the current step's cause.
  const runEvents = events?.filter((e) => e.runId === progress?.runId);
  const started = progress?.startedAt ?? store.createdAt;
  const finished = progress?.finishedAt;
  const elapsed = (finished ? new Date(finished).getTime() : now) - new Date(started).getTime();
  // The page says why an upgrade failed in its own notice (rolling back, rolled back).
  const notice = upgradeNotice(store);
  const reasonAbove =
    store.status === "failed" || notice?.kind === "rolling_back" || (notice?.kind === "rolled_back" && rolledBack);

  let summary: string;
  if (!progress) summary = "No run yet.";
  else if (progress.status === "succeeded")
    summary =
      run?.operation === "teardown"
        ? "The store's resources are removed."
        : upgrade
          ? "The store is upgraded and verified with a test order."
          : run?.operation === "restore"
            ? "The store's data is restored from the backup and verified with a test order."
            : "The store is provisioned.";
  else if (rolledBack) summary = "The upgrade failed; the store was rolled back and verified again.";
  else if (progress.status === "failed" || progress.status === "cancelled")
    summary = failedStep
      ? `${upgrade && isRollbackStep(failedStep.name) ? "Rollback stopped" : "Stopped"} at step ` +
        `${position(failedStep)} of ${stepCount}: ${stepLabel(failedStep.name, progress.workflow)}`
      : progress.status === "failed"
        ? "Stopped before the end."
        : "Cancelled.";
  else if (progress.status === "queued" && !progress.startedAt)
    summary = queueWords(run, store.queuePosition) ?? "Queued: waiting for a worker to pick it up.";
  else if (current) {
    const where = `${position(current)} of ${stepCount}: ${stepLabel(current.name, progress?.workflow)}`;
    summary = rollingBack ? `Rolling back: step ${where}` : `Step ${where}`;
  }
  else summary = "In progress.";

  return (
    <Card
      id={PROGRESS_ANCHOR}
      className="scroll-mt-4"
      title={title}
      description={
        progress && (workflowLabel(progress.workflow) !== title || operator) ? (
          <span title={`${progress.workflow} v${progress.version}`}>
            {workflowLabel(progress.workflow) !== title ? workflowLabel(progress.workflow) : null}
            {operator ? `${workflowLabel(progress.workflow) !== title ? " · " : ""}${progress.workflow} v${progress.version}` : ""}
          </span>
        ) : undefined
      }
      actions={<LiveIndicator state={live.state} lastEventId={live.lastEventId} />}
    >
      <div className="space-y-2" data-testid="progress">
        <div className="flex items-baseline justify-between gap-3">
          <p className="text-sm font-medium text-slate-900" data-testid="progress-summary">
            {summary}
          </p>
          <p
            className="text-2xl font-semibold tracking-tight text-slate-900 tabular-nums"
            data-testid="progress-percent"
          >
            {percent}%
          </p>
        </div>
        <ProgressBar
          // A new run starts from its own 0 %, not animating back from the last run's 100 %.
          key={progress?.runId ?? run?.id}
          percent={percent}
          status={progress?.status ?? run?.status}
          label={`${title} progress`}
          // Amber while and after an upgrade rolls back: the store is not broken, the upgrade is undone.
          tone={rolledBack || rollingBack ? "waiting" : undefined}
        />
        <p className="flex flex-wrap gap-x-3 text-xs text-slate-600">
          {progress ? <RunStatusBadge status={progress.status} /> : null}
          <span className="self-center">
            {finished ? `Took ${formatDuration(elapsed)}` : `Running for ${formatDuration(elapsed)}`}
          </span>
          {progress?.nextAttemptAt && !finished ? (
            <span className="self-center">· next activity {formatRelative(progress.nextAttemptAt, now)}</span>
          ) : null}
        </p>
      </div>
      {live.state === "failed" && live.error ? (
        <Alert tone="warning" className="mt-4">
          Live updates stopped: {errorWords(live.error).title} The page still refreshes every few seconds.
        </Alert>
      ) : null}
      {progress ? (
        <div className="mt-6">
          <StepTimeline
            steps={progress.steps}
            workflow={progress.workflow}
            runStatus={progress.status}
            nextAttemptAt={progress.nextAttemptAt}
            now={now}
            events={runEvents}
            operator={operator}
            failureShownAbove={reasonAbove}
          />
        </div>
      ) : null}
    </Card>
  );
}

/**
 * A failed store, said once: what stopped, in plain words, and the one thing to do about it
 * (Retry). The raw error and the step's code name are one click away ("Details"); the advice
 * about the platform's tools only for administrators.
 */
export function FailureCard({
  store,
  onRetry,
  retrying,
  operator,
}: {
  store: StoreDetail;
  onRetry: () => void;
  retrying: boolean;
  operator: boolean;
}) {
  // An upgrade whose rollback stopped: its last failed step is the rollback's, not the upgrade's.
  const failedStep = [...(store.progress?.steps ?? [])]
    .reverse()
    .find((s) => s.status === "failed" || s.status === "cancelled");
  const upgrade = store.currentRun?.operation === "upgrade" ? store.lastUpgrade : null;
  const restore = store.currentRun?.operation === "restore";
  const stepName = store.failedStep ?? failedStep?.name ?? null;
  const what = stoppedWhat(store, stepName);
  const raw = store.failureReason ?? store.progress?.error ?? failedStep?.error ?? null;
  return (
    <Alert
      tone="danger"
      role="alert"
      title={
        <span data-testid="failure-title">
          {stepName ? `${what} stopped at “${stepLabel(stepName, store.currentRun?.workflow)}”` : `${what} stopped`}
        </span>
      }
      action={
        <Button
          variant="danger"
          onClick={onRetry}
          loading={retrying}
          icon={<IconRefresh className="size-4" />}
          data-testid="retry-store"
        >
          Retry
        </Button>
      }
    >
      <p data-testid="failure-reason">{asSentence(plainStepError(raw))}</p>
      {upgrade?.status === "rolling_back" ? (
        <p className="mt-1" data-testid="upgrade-rollback-stopped">
          The upgrade had failed at “{stepLabel(upgrade.failedStep)}” ({plainStepError(upgrade.error)}), and rolling
          the store back to {chartText(upgrade.from)} did not finish.
        </p>
      ) : null}
      {restore ? (
        <p className="mt-1" data-testid="restore-stopped">
          {stepName === "verify-backup"
            ? "The backup is checked before anything is replaced, so the store's data is still as it was."
            : "The store's data may be partly replaced by the backup's until the restore finishes."}
        </p>
      ) : null}
      <p className="mt-1">
        {restore
          ? store.progress?.status === "cancelled"
            ? "Retry starts the restore again from its beginning: the backup is checked, then put in place of the store's data."
            : "Retry resumes the restore at its failed step; the steps that finished are not repeated."
          : "Retry carries on from that step; the steps that finished are not repeated."}{" "}
        If it stops again, contact your platform's administrators.
        {store.retryCount > 0 ? ` Retried ${store.retryCount} time${store.retryCount > 1 ? "s" : ""} so far.` : ""}
      </p>
      <RawDetails raw={raw} code={stepName} open={operator}>
        {operator && raw ? <p data-testid="operator-advice">{stepErrorSuggestion(raw, "failed")}</p> : null}
      </RawDetails>
    </Alert>
  );
}

/** What Retry does for a failed store, as its confirmation says it. */
function retryText(store: StoreDetail): string {
  const resumes = store.progress?.status === "failed" && !!store.failedStep;
  if (store.currentRun?.operation === "restore") {
    return resumes
      ? `The restore resumes at its failed step, “${stepLabel(store.failedStep, store.currentRun.workflow)}”; the steps that finished are not repeated.`
      : "The restore starts again from its beginning: the backup is checked, then put in place of the store's data.";
  }
  return resumes
    ? `${stoppedWhat(store, store.failedStep)} carries on from “${stepLabel(store.failedStep)}”; the steps that finished are not repeated.`
    : "A new run starts from the first step; work already done is recognised, not repeated.";
}

/** A store address: a link while the store serves it, plain text once it is deleted or being deleted. */
export function LinkRow({
  label,
  href,
  missing,
  gone,
}: {
  label: string;
  href: string | null;
  missing?: string;
  /** Why the address leads nowhere any more (the store is deleted or being deleted). */
  gone?: string;
}) {
  return (
    <div className="py-2 first:pt-0 last:pb-0" data-url-row={label}>
      <p className="text-xs font-medium text-slate-600">{label}</p>
      {href && gone ? (
        <>
          <p className="mt-0.5 text-sm break-all text-slate-600" data-testid="url-text">
            {href}
          </p>
          <p className="mt-0.5 text-xs text-slate-600">{gone}</p>
        </>
      ) : href ? (
        <>
          <div className="mt-0.5 flex items-center gap-1">
            <a
              href={href}
              target="_blank"
              rel="noreferrer noopener"
              className="inline-flex min-w-0 items-center gap-1 text-sm font-medium break-all text-indigo-700 hover:text-indigo-600"
            >
              {href}
              <IconExternal className="size-3.5 shrink-0" />
            </a>
            <CopyButton value={href} label={`Copy ${label.toLowerCase()}`} />
          </div>
          <SimulatedUrlNote className="mt-1" />
        </>
      ) : (
        <p className="mt-0.5 text-sm text-slate-600">{missing ?? "Available once the store is ready"}</p>
      )}
    </div>
  );
}

/** Why a store's addresses no longer lead anywhere, or nothing while they do. */
function goneReason(status: StoreDetail["status"]): string | undefined {
  if (status === "deleted") return "No longer online: the store is deleted.";
  if (status === "deleting") return "Going offline: the store is being deleted.";
  return undefined;
}

/** The latest password change of the store, from its runs (newest first). */
function latestRotation(store: StoreDetail) {
  return store.runs.find((run) => run.workflow === "rotate-credentials");
}

/**
 * While a password change runs, and once it ended: the new password works only after the change
 * is applied, the previous one until then.
 */
function RotationNotice({ store, startedRunId }: { store: StoreDetail; startedRunId: string | null }) {
  // The change started from this page is followed by its run id: a rotation can finish before
  // the page ever sees `store.rotation` set, and must still be reported as done.
  const started = startedRunId ? store.runs.find((run) => run.id === startedRunId) : undefined;
  const startedFinished = !!started && ["succeeded", "failed", "cancelled"].includes(started.status);
  const running = !!store.rotation || (!!startedRunId && !startedFinished);
  const wasRunning = useRef(running);
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    if (wasRunning.current && !running) setEnded(true);
    if (running) setEnded(false);
    wasRunning.current = running;
  }, [running]);
  const owner = store.isCredentialOwner;
  if (running) {
    return (
      <div
        role="status"
        data-testid="rotation-status"
        className="mb-4 flex gap-3 rounded-lg bg-sky-50 p-3.5 text-sm text-sky-900 ring-1 ring-sky-200 ring-inset"
      >
        <Spinner className="mt-0.5 size-4 shrink-0" />
        <div className="min-w-0">
          <p className="font-medium">Changing the admin password…</p>
          <p className="mt-1">
            {owner
              ? "The password below is the new one: it works once the change finishes, usually within a minute. Until then the previous password still works."
              : "The new password works once the change finishes, usually within a minute. Until then the previous one still works."}
          </p>
        </div>
      </div>
    );
  }
  if (!ended && !startedFinished) return null;
  const last = started ?? latestRotation(store);
  if (last && (last.status === "failed" || last.status === "cancelled")) {
    return (
      <Alert tone="warning" role="status" className="mb-4" title="The admin password could not be changed">
        The previous password may still be the one that works. Try again, or ask your platform's administrators.
      </Alert>
    );
  }
  return (
    <Alert tone="success" role="status" className="mb-4" title="The new admin password works now">
      <span data-testid="rotation-done">The previous one no longer does.</span>
    </Alert>
  );
}

/** Confirms a password change; the owner may choose the new password, anyone else gets a generated one. */
function RotateDialog({
  store,
  open,
  onClose,
  onStarted,
}: {
  store: StoreDetail;
  open: boolean;
  onClose: () => void;
  onStarted: (runId: string | null) => void;
}) {
  const rotate = useRotateCredentials();
  const toast = useToast();
  const owner = store.isCredentialOwner;
  const [mode, setMode] = useState<"generate" | "choose">("generate");
  const [password, setPassword] = useState("");
  const [touched, setTouched] = useState(false);
  const groupId = useId();
  useEffect(() => {
    if (open) {
      setMode("generate");
      setPassword("");
      setTouched(false);
      rotate.reset();
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open]);
  const choosing = owner && mode === "choose";
  const problems = choosing ? (password ? storePasswordProblems(password) : ["Enter the new password."]) : [];
  const apiProblems = rotate.error instanceof ApiError ? rotate.error.messagesFor("password") : [];
  const shown = [...(touched ? problems : []), ...apiProblems];
  return (
    <ConfirmDialog
      open={open}
      title={`Change the admin password of ${store.name}?`}
      confirmLabel="Change password"
      blocked={problems.length > 0}
      onConfirm={async () => {
        const answer = await rotate.mutateAsync({ id: store.id, password: choosing ? password : undefined });
        onStarted(answer.run.id);
        toast.show("Changing the admin password…");
      }}
      onClose={onClose}
    >
      <p>
        The store's admin user gets a new password. The store keeps running; until the change finishes, the current
        password still works.
      </p>
      {owner ? (
        <fieldset className="space-y-2 pt-1" aria-describedby={`${groupId}-note`}>
          <legend className="text-sm font-medium text-slate-800">New password</legend>
          <label className="flex items-center gap-2 text-slate-700">
            <input
              type="radio"
              name="rotate-mode"
              className="size-4 accent-indigo-600"
              checked={mode === "generate"}
              onChange={() => setMode("generate")}
            />
            Generate a strong one
          </label>
          <label className="flex items-center gap-2 text-slate-700">
            <input
              type="radio"
              name="rotate-mode"
              className="size-4 accent-indigo-600"
              checked={mode === "choose"}
              onChange={() => setMode("choose")}
            />
            Choose it myself
          </label>
          {choosing ? (
            <div className="pt-1">
              <Field label="New admin password" htmlFor="rotate-password" hint="8 to 128 characters." errors={shown}>
                <Input
                  id="rotate-password"
                  type="password"
                  autoComplete="new-password"
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                  onBlur={() => setTouched(true)}
                  invalid={shown.length > 0}
                  autoFocus
                />
              </Field>
            </div>
          ) : null}
          <p id={`${groupId}-note`} className="text-xs text-slate-600">
            The new password shows in this card once you confirm.
          </p>
        </fieldset>
      ) : (
        <p>
          A new password is generated. Only the store's owner{store.ownerUsername ? ` (${store.ownerUsername})` : ""} can
          see it.
        </p>
      )}
    </ConfirmDialog>
  );
}

function CredentialsCard({ store }: { store: StoreDetail }) {
  const [revealed, setRevealed] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [startedRunId, setStartedRunId] = useState<string | null>(null);
  // Either form of the contract's union, read alike (`unavailable` or the login's fields).
  const credentials: AnyOf<Credentials> | null | undefined = store.adminCredentials;
  const owner = store.isCredentialOwner;
  const canRotate = store.status === "ready" && !!credentials && !credentials.unavailable && !store.rotation;
  return (
    <Card
      title="Admin credentials"
      description={owner ? "Visible only to you, the store's owner." : "Masked: only the store's owner sees them."}
    >
      <RotationNotice store={store} startedRunId={startedRunId} />
      {!credentials ? (
        <p className="text-sm text-slate-600">No credentials for this store.</p>
      ) : credentials.unavailable ? (
        <Alert tone="warning">{credentials.unavailable}</Alert>
      ) : (
        <dl className="space-y-3 text-sm" data-testid="credentials" data-owner={owner}>
          <div>
            <dt className="text-xs font-medium text-slate-600">Username</dt>
            <dd className="mt-0.5 flex items-center gap-1 font-mono text-slate-900">
              {credentials.username}
              {owner && credentials.username ? <CopyButton value={credentials.username} label="Copy username" /> : null}
            </dd>
          </div>
          <div>
            <dt className="text-xs font-medium text-slate-600">E-mail</dt>
            <dd className="mt-0.5 font-mono break-all text-slate-900" data-testid="credential-email">
              {credentials.email}
            </dd>
          </div>
          <div>
            <dt className="text-xs font-medium text-slate-600">Password</dt>
            <dd className="mt-0.5 flex items-center gap-1">
              <span className="font-mono break-all text-slate-900" data-testid="credential-password">
                {owner ? (revealed ? credentials.password : "••••••••••••") : credentials.password}
              </span>
              {owner && credentials.password ? (
                <>
                  <Button
                    size="sm"
                    variant="ghost"
                    className="px-2"
                    onClick={() => setRevealed((r) => !r)}
                    aria-pressed={revealed}
                    aria-label={revealed ? "Hide password" : "Reveal password"}
                    icon={revealed ? <IconEyeOff className="size-3.5" /> : <IconEye className="size-3.5" />}
                  />
                  <CopyButton value={credentials.password} label="Copy password" />
                </>
              ) : null}
            </dd>
          </div>
          {credentials.loginUrl && goneReason(store.status) ? (
            <div>
              <dt className="text-xs font-medium text-slate-600">Sign in at</dt>
              <dd className="mt-0.5 text-sm break-all text-slate-600" data-testid="url-text">
                {credentials.loginUrl}
              </dd>
            </div>
          ) : credentials.loginUrl ? (
            <div>
              <dt className="text-xs font-medium text-slate-600">Sign in at</dt>
              <dd className="mt-0.5 flex flex-wrap items-center gap-x-2 gap-y-1">
                <a
                  href={credentials.loginUrl}
                  target="_blank"
                  rel="noreferrer noopener"
                  className="min-w-0 text-sm font-medium break-all text-indigo-700 hover:text-indigo-600"
                >
                  {credentials.loginUrl}
                </a>
                <SimulatedUrlNote />
              </dd>
            </div>
          ) : null}
        </dl>
      )}
      {canRotate ? (
        <div className="mt-4 border-t border-slate-100 pt-4">
          <Button size="sm" onClick={() => setRotating(true)} icon={<IconKey className="size-3.5" />}>
            Change admin password
          </Button>
        </div>
      ) : null}
      <RotateDialog
        store={store}
        open={rotating}
        onClose={() => setRotating(false)}
        onStarted={(runId) => setStartedRunId(runId)}
      />
    </Card>
  );
}

const DOT: Record<string, string> = {
  gray: "bg-slate-300",
  blue: "bg-sky-500",
  green: "bg-emerald-500",
  red: "bg-rose-500",
  amber: "bg-amber-500",
};

function ActivityCard({
  storeId,
  events,
  loading,
  error,
  onRetry,
  operator,
}: {
  storeId: string;
  events: TimelineEvent[] | undefined;
  loading: boolean;
  error: unknown;
  onRetry: () => void;
  /** Administrators also see the raw text behind an event's plain words. */
  operator: boolean;
}) {
  const [all, setAll] = useState(false);
  const now = useNow(10_000);
  const groups = groupEvents(events ? [...events].reverse() : []);
  const shown = all ? groups : groups.slice(0, 12);
  return (
    <Card
      title="Activity"
      description="Run events and audit entries of this store, newest first."
      id={`activity-${storeId}`}
    >
      {loading ? (
        <LoadingBlock rows={4} />
      ) : error ? (
        <ApiErrorAlert error={error} onRetry={onRetry} />
      ) : groups.length === 0 ? (
        <p className="text-sm text-slate-600">Nothing happened yet.</p>
      ) : (
        <>
          <ol className="space-y-3" data-testid="activity">
            {shown.map(({ event, text, count, since }) => (
              <li key={event.id} className="flex gap-3 text-sm">
                <span className={cx("mt-1.5 size-2 shrink-0 rounded-full", DOT[text.tone])} aria-hidden="true" />
                <div className="min-w-0 flex-1">
                  <div className="flex flex-wrap items-baseline justify-between gap-x-3">
                    <p className="font-medium text-slate-800" data-kind={event.kind}>
                      {text.title}
                      {count > 1 ? (
                        <span
                          className="ml-2 rounded-full bg-slate-100 px-1.5 py-0.5 text-xs font-medium text-slate-600"
                          title={`${count} times since ${formatDateTime(since)}`}
                        >
                          ×{count}
                        </span>
                      ) : null}
                    </p>
                    <time className="text-xs text-slate-600" dateTime={event.at} title={formatDateTime(event.at)}>
                      {formatAgo(event.at, now)}
                    </time>
                  </div>
                  {text.detail ? <p className="mt-0.5 text-xs break-words text-slate-600">{text.detail}</p> : null}
                  {operator && text.raw ? (
                    <p className="mt-0.5 font-mono text-xs break-words text-slate-600" data-testid="event-raw">
                      {text.raw}
                    </p>
                  ) : null}
                  {event.actor && event.source === "audit" ? (
                    <p className="mt-0.5 text-xs text-slate-600">by {event.actor}</p>
                  ) : null}
                </div>
              </li>
            ))}
          </ol>
          {groups.length > 12 ? (
            <Button size="sm" variant="ghost" className="mt-3" onClick={() => setAll((a) => !a)}>
              {all ? "Show fewer" : `Show all ${groups.length}`}
            </Button>
          ) : null}
        </>
      )}
    </Card>
  );
}

function NotFound({ id }: { id: string }) {
  return (
    <EmptyState
      icon={<IconSearch className="size-5" />}
      title="Store not found"
      action={
        <ButtonLink to="/stores" variant="primary">
          Back to your stores
        </ButtonLink>
      }
    >
      <span data-testid="store-not-found">
        There is no store <span className="font-mono">{id}</span> that you can see. It may not exist, or it belongs to
        someone else.
      </span>
    </EmptyState>
  );
}

export function StoreDetailPage() {
  const { id = "" } = useParams();
  const validId = isStoreId(id);
  const { isAdmin } = useAuth();
  const toast = useToast();
  const queryClient = useQueryClient();
  const [confirm, setConfirm] = useState<"retry" | "delete" | "upgrade" | null>(null);
  // Set once the platform refused this person an upgrade (tenants, unless the platform allows it).
  const [upgradeRefused, setUpgradeRefused] = useState(false);
  const retry = useStoreAction("retry");
  const remove = useStoreAction("delete");

  // Every event means the store moved: refetch it (and its timeline), at most a few times a second.
  // A fetch already in flight may have been answered before this event's change committed, so it
  // is replaced by a new one rather than reused (reusing it left the page one step behind).
  const refresh = useCoalesced(() => {
    queryClient.invalidateQueries({ queryKey: keys.store(id), exact: true }, { cancelRefetch: true });
    queryClient.invalidateQueries({ queryKey: keys.storeEvents(id), exact: true }, { cancelRefetch: true });
  }, 400);
  const live = useEventStream(validId ? `/api/v1/stores/${id}/events/stream` : null, {
    onEvent: refresh,
    // After a reconnection, catch up with whatever the missed seconds changed.
    onOpen: (reconnected) => {
      if (reconnected) refresh();
    },
  });
  const query = useStore(id, { live: live.state === "open" });
  const timeline = useStoreTimeline(id, validId && query.isSuccess);
  const store = query.data;
  useTitle(store ? store.name : "Store");
  const active = !!store && (isActiveStatus(store.status) || !isFinalRun(store.progress?.status));
  const now = useNow(active ? 1000 : 15_000);

  if (!validId) return <NotFound id={id} />;
  if (query.isPending) {
    return (
      <div role="status" aria-label="Loading the store" className="space-y-6">
        <Skeleton className="h-8 w-64" />
        <div className="grid gap-6 lg:grid-cols-3">
          <Skeleton className="h-80 lg:col-span-2" />
          <Skeleton className="h-80" />
        </div>
      </div>
    );
  }
  if (query.isError) {
    const error = query.error;
    if (error instanceof ApiError && (error.status === 404 || error.status === 400)) return <NotFound id={id} />;
    return <ApiErrorAlert error={error} title="The store could not be loaded" onRetry={() => query.refetch()} />;
  }
  const s = query.data;

  const doRetry = async () => {
    const answer = await retry.mutateAsync(s.id);
    toast.show(answer.message);
  };
  const doDelete = async () => {
    const answer = await remove.mutateAsync(s.id);
    toast.show(answer.message);
  };
  const canDelete = s.status === "ready" || s.status === "failed";
  const gone = goneReason(s.status);

  return (
    <>
      <PageHeader
        back={
          <ButtonLink to="/stores" variant="ghost" size="sm" icon={<IconChevronLeft />} className="-ml-2">
            Stores
          </ButtonLink>
        }
        title={s.name}
        badges={<StoreStatusBadge status={s.status} />}
        description={
          <>
            <span className="flex flex-wrap items-center gap-x-2 gap-y-1">
              <Mono>{s.id}</Mono>
              <span aria-hidden="true">·</span>
              <EngineBadge engine={s.engine} />
              <ThemeBadge theme={s.theme} />
              <span aria-hidden="true">·</span>
              <span>created {formatAgo(s.createdAt, now)}</span>
              {isAdmin && s.ownerUsername ? (
                <>
                  <span aria-hidden="true">·</span>
                  <span>owner {s.ownerUsername}</span>
                </>
              ) : null}
            </span>
            <RestoredFromLine store={s} />
          </>
        }
        actions={
          // A failed store's one Retry is in its failure notice, beside the reason.
          <>
            {canOfferUpgrade(s) && s.availableUpgrade && !upgradeRefused ? (
              <Button
                variant="primary"
                onClick={() => setConfirm("upgrade")}
                icon={<IconArrowUp />}
                data-testid="upgrade-store"
              >
                {upgradeLabel(s.availableUpgrade)}
              </Button>
            ) : null}
            {canDelete ? (
              <Button variant="danger-outline" onClick={() => setConfirm("delete")} icon={<IconTrash />}>
                Delete
              </Button>
            ) : null}
          </>
        }
      />

      <div className="grid gap-6 lg:grid-cols-3">
        <div className="min-w-0 space-y-6 lg:col-span-2">
          {s.status === "failed" ? (
            <FailureCard
              store={s}
              onRetry={() => setConfirm("retry")}
              retrying={retry.isPending}
              operator={isAdmin}
            />
          ) : null}
          <UpgradeNoticeAlert store={s} operator={isAdmin} />
          {s.status === "deleted" ? (
            <Alert tone="info" title="This store is deleted">
              Its namespace and everything in it were removed {formatAgo(s.deletedAt, now)}.
            </Alert>
          ) : null}
          <ProgressCard store={s} live={live} now={now} events={timeline.data} operator={isAdmin} />
          <BackupsCard store={s} operator={isAdmin} now={now} />
          <ActivityCard
            storeId={s.id}
            events={timeline.data}
            loading={timeline.isPending}
            error={timeline.error}
            onRetry={() => timeline.refetch()}
            operator={isAdmin}
          />
        </div>

        <div className="min-w-0 space-y-6">
          <Card title="Access">
            <div className="divide-y divide-slate-100">
              <LinkRow label="Storefront" href={s.urls.storefront} gone={gone} />
              <LinkRow
                label="Admin"
                href={s.urls.admin}
                gone={gone}
                missing={
                  s.engine === "medusa"
                    ? "Not offered here: the Medusa admin signs in only over HTTPS, and this platform serves stores over plain HTTP. Ask an operator to enable HTTPS for stores."
                    : undefined
                }
              />
            </div>
          </Card>
          <CredentialsCard store={s} />
          {s.status !== "deleted" ? <VersionCard store={s} now={now} refused={upgradeRefused} /> : null}
          <Card title="Details">
            <Details
              items={[
                { label: "Namespace", value: <Mono>{s.namespace}</Mono> },
                { label: "Owner", value: s.ownerUsername, hidden: !isAdmin || !s.ownerUsername },
                { label: "Created", value: formatDateTime(s.createdAt) },
                { label: "Ready", value: formatDateTime(s.readyAt), hidden: !s.readyAt },
                {
                  label: "Ready in",
                  value: <span data-testid="ready-in">{formatDuration(s.provisioningDurationMs)}</span>,
                  hidden: typeof s.provisioningDurationMs !== "number",
                },
                {
                  label: "First order",
                  value: (
                    <span
                      data-testid="first-order"
                      title="The test order placed while the store was provisioned counts as its first order."
                    >
                      {formatDuration(s.timeToFirstOrderMs)} after creation
                    </span>
                  ),
                  hidden: typeof s.timeToFirstOrderMs !== "number",
                },
                { label: "Updated", value: formatDateTime(s.updatedAt) },
                { label: "Retries", value: s.retryCount },
                { label: "Deleted", value: formatDateTime(s.deletedAt), hidden: !s.deletedAt },
              ]}
            />
          </Card>
          {s.runs.length ? (
            <Card title="Runs" bodyClassName="px-0 py-1">
              <ul className="divide-y divide-slate-100">
                {s.runs.map((run) => (
                  <li key={run.id} className="flex items-center justify-between gap-3 px-5 py-2.5 text-sm">
                    <div className="min-w-0">
                      {isAdmin ? (
                        <Link to={`/runs/${run.id}`} className="font-medium text-indigo-700 hover:text-indigo-600">
                          {workflowLabel(run.workflow)}
                        </Link>
                      ) : (
                        <span className="font-medium text-slate-800">{workflowLabel(run.workflow)}</span>
                      )}
                      <p className="flex flex-wrap items-center gap-x-1 text-xs text-slate-600" data-testid="run-ref">
                        <ShortId id={run.id} label="Copy the full run id" />
                        <span aria-hidden="true">·</span>
                        <span className="whitespace-nowrap">{formatTime(run.createdAt)}</span>
                      </p>
                    </div>
                    <RunStatusBadge status={run.status} />
                  </li>
                ))}
              </ul>
            </Card>
          ) : null}
        </div>
      </div>

      <ConfirmDialog
        open={confirm === "retry"}
        title={`Retry ${s.name}?`}
        confirmLabel="Retry"
        onConfirm={doRetry}
        onClose={() => setConfirm(null)}
      >
        <p data-testid="retry-what">{retryText(s)}</p>
      </ConfirmDialog>
      <UpgradeDialog
        store={s}
        open={confirm === "upgrade"}
        operator={isAdmin}
        onClose={() => setConfirm(null)}
        onRefused={() => setUpgradeRefused(true)}
      />
      <ConfirmDialog
        open={confirm === "delete"}
        title={`Delete ${s.name}?`}
        confirmLabel="Delete store"
        tone="danger"
        confirmText={s.name}
        onConfirm={doDelete}
        onClose={() => setConfirm(null)}
      >
        <p>The store's namespace, its database and all its data are removed. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}
