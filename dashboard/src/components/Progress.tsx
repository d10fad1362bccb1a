// Live progress of a run: the bar, the step timeline and the live-connection indicator.

import { useState, type ReactNode } from "react";

import type { ProgressStep, RunStatus, StepStatus } from "../api/types";
import { formatClock, formatDuration, formatRelative, formatTime } from "../lib/format";
import {
  asSentence,
  isCurrentStep,
  isRollbackStep,
  plainStepError,
  rollbackStarted,
  stepLabel,
  stepSituation,
  tenantAdvice,
  type StepEvent,
} from "../lib/steps";
import type { StreamState } from "../lib/useEventStream";
import { StepMarker, stepStatusLabel } from "./status";
import { Badge, cx } from "./ui";

/**
 * What an operator can do about a step error (step errors carry no suggestion of their own). For
 * operators only: it names the platform's tools; tenants get `tenantAdvice`.
 */
export function stepErrorSuggestion(error: string, status: StepStatus): string {
  const text = error.toLowerCase();
  if (/imagepullbackoff|errimagepull|invalidimagename|crashloopbackoff|createcontainerconfigerror/.test(text)) {
    return "A container of the store cannot start. Look at its pods (kubectl -n <namespace> describe pods), fix the image or configuration in the chart, then retry: it resumes at this step.";
  }
  if (text.includes("still pending")) {
    return "The step waited longer than its time limit for what it needs (the Activity below says what it waited for). Once that is available, retry the store: it resumes at this step.";
  }
  if (
    text.includes("kubernetes api") ||
    text.includes("kube_client") ||
    text.includes("circuit open") ||
    text.includes("cluster")
  ) {
    return status === "failed" || status === "cancelled"
      ? "The platform could not reach its Kubernetes cluster. Once the cluster is reachable, retry the store: it resumes at this step."
      : "The platform cannot reach its Kubernetes cluster right now. Provisioning continues by itself once it can; nothing to do.";
  }
  if (text.includes("helm")) {
    return "Helm could not install or remove the store's chart. An operator can check the workers' helm and chart settings (storeflow doctor), then retry.";
  }
  if (text.includes("timed out") || text.includes("timeout") || text.includes("deadline")) {
    return "The step took longer than allowed. Retrying usually helps; if it keeps happening, an operator should look at the cluster's capacity.";
  }
  if (status === "failed") {
    return "Retry the store to resume at this step; steps that finished are not repeated. If it fails again, ask an operator to look at the run.";
  }
  return "The step is retried automatically.";
}

const BAR: Record<string, string> = {
  active: "bg-indigo-500",
  waiting: "bg-amber-500",
  succeeded: "bg-emerald-500",
  failed: "bg-rose-500",
  cancelled: "bg-slate-400",
};

export function ProgressBar({
  percent,
  status,
  label,
  tone: toneOverride,
}: {
  percent: number;
  status: RunStatus | null | undefined;
  label: string;
  /** Instead of the run status's colour (a failed upgrade that was rolled back: `waiting`, amber). */
  tone?: keyof typeof BAR;
}) {
  const tone =
    toneOverride ??
    (status === "succeeded"
      ? "succeeded"
      : status === "failed"
        ? "failed"
        : status === "cancelled"
          ? "cancelled"
          : status === "waiting"
            ? "waiting"
            : "active");
  const value = Math.max(0, Math.min(100, Math.round(percent)));
  return (
    <div
      className="h-2.5 w-full overflow-hidden rounded-full bg-slate-100"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={value}
      aria-valuetext={`${value}%`}
      data-testid="progress-bar"
    >
      <div
        className={cx("h-full rounded-full transition-[width] duration-700 ease-out", BAR[tone])}
        style={{ width: `${Math.max(value, value > 0 ? 2 : 0)}%` }}
      />
    </div>
  );
}

/** `lastEventId`: the newest event the stream delivered (on the element, so a reconnection can be
 * told apart from a first connection). */
export function LiveIndicator({ state, lastEventId }: { state: StreamState; lastEventId?: string }) {
  const look: Record<StreamState, { tone: "green" | "amber" | "gray" | "red"; text: string; pulse?: boolean }> = {
    idle: { tone: "gray", text: "Not live" },
    connecting: { tone: "gray", text: "Connecting…", pulse: true },
    open: { tone: "green", text: "Live", pulse: true },
    reconnecting: { tone: "amber", text: "Reconnecting…", pulse: true },
    closed: { tone: "gray", text: "Complete" },
    failed: { tone: "red", text: "Live updates unavailable" },
  };
  const { tone, text, pulse } = look[state];
  return (
    <span aria-live="polite" data-live={state} data-last-event={lastEventId || undefined}>
      <Badge tone={tone} dot pulse={pulse}>
        {text}
      </Badge>
    </span>
  );
}

function StepNotice({
  tone,
  title,
  children,
}: {
  tone: "amber" | "red" | "gray";
  title: ReactNode;
  children?: ReactNode;
}) {
  const tones = {
    amber: "border-amber-200 bg-amber-50 text-amber-900",
    red: "border-rose-200 bg-rose-50 text-rose-900",
    gray: "border-slate-200 bg-slate-50 text-slate-700",
  };
  return (
    <div className={cx("mt-2 rounded-lg border px-3 py-2 text-sm", tones[tone])}>
      <p className="font-medium">{title}</p>
      {children ? <div className="mt-1 space-y-1 text-[0.8125rem] break-words">{children}</div> : null}
    </div>
  );
}

/** The raw text behind plain words (a step's error, what it waits for), one click away. */
export function RawDetails({
  raw,
  code,
  summary = "Details",
  open = false,
  children,
}: {
  raw?: string | null;
  code?: string | null;
  summary?: string;
  /** Open from the start (administrators: operator detail is for them). */
  open?: boolean;
  children?: ReactNode;
}) {
  if (!raw && !code && !children) return null;
  return (
    <details className="mt-1" data-testid="raw-details" open={open || undefined}>
      <summary className="w-fit cursor-pointer rounded text-xs font-medium underline underline-offset-2 select-none">
        {summary}
      </summary>
      <div className="mt-1.5 space-y-1 text-xs">
        {raw ? (
          <p className="font-mono break-words" data-testid="raw-text">
            {raw}
          </p>
        ) : null}
        {code ? (
          <p>
            Step: <code className="font-mono">{code}</code>
          </p>
        ) : null}
        {children}
      </div>
    </details>
  );
}

type TimelineItem = { step: ProgressStep } | { gap: number; from: number; to: number };

const INTERESTING: StepStatus[] = ["running", "retrying", "polling", "queued", "failed", "cancelled"];

/** The line before an upgrade's on-failure steps, saying whether they run. */
function rollbackHeading(steps: ProgressStep[]): string {
  const rollback = steps.filter((s) => isRollbackStep(s.name));
  if (rollbackStarted(steps)) return "Automatic rollback: the upgrade failed";
  if (rollback.length && rollback.every((s) => s.status === "skipped")) return "Automatic rollback: not needed";
  return "Automatic rollback: only if a step above fails";
}

/**
 * The steps worth showing of a long workflow (the engine's selftest has 1000): the first and
 * last two, everything around the current step, and every step that is not plainly pending or
 * done; runs of the others fold into one line.
 */
export function foldSteps(steps: ProgressStep[], limit = 25): TimelineItem[] {
  if (steps.length <= limit) return steps.map((step) => ({ step }));
  const keep = new Set<number>([0, 1, steps.length - 2, steps.length - 1]);
  const current = steps.findIndex((s) => INTERESTING.includes(s.status));
  const anchor = current >= 0 ? current : steps.findIndex((s) => s.status === "pending");
  if (anchor >= 0) for (let i = anchor - 2; i <= anchor + 2; i++) if (i >= 0 && i < steps.length) keep.add(i);
  steps.forEach((s, i) => {
    if (INTERESTING.includes(s.status)) keep.add(i);
  });
  const items: TimelineItem[] = [];
  let gapStart = -1;
  steps.forEach((step, i) => {
    if (keep.has(i)) {
      if (gapStart >= 0) {
        items.push({ gap: i - gapStart, from: steps[gapStart].number, to: steps[i - 1].number });
        gapStart = -1;
      }
      items.push({ step });
    } else if (gapStart < 0) {
      gapStart = i;
    }
  });
  return items;
}

export interface TimelineProps {
  steps: ProgressStep[];
  /** The run's workflow: some steps read differently in one (`WORKFLOW_STEP_LABELS`). */
  workflow?: string | null;
  runStatus: RunStatus | null;
  nextAttemptAt: string | null;
  now: number;
  /** The run's events, to complete the current step's cause (`step_failed`, `retry_scheduled`, `pending`). */
  events?: StepEvent[];
  /** Operators: code names beside the labels, raw errors and operator advice in the open. */
  operator?: boolean;
  /** The page says why the run failed in its own notice: the failed step only marks where. */
  failureShownAbove?: boolean;
  /** Extra content under a step (run detail: attempts, output, retry). */
  extra?: (step: ProgressStep) => ReactNode;
}

type StepStateProps = Omit<TimelineProps, "steps" | "extra"> & {
  step: ProgressStep;
  /** The run's on-failure steps took over from this failed step (an upgrade rolling back). */
  rolledBack?: boolean;
};

/** Under the current or failed step: why it retries, waits or stopped, in plain words. */
function StepState({
  step,
  runStatus,
  nextAttemptAt,
  now,
  events,
  operator,
  failureShownAbove,
  rolledBack = false,
}: StepStateProps) {
  const isCurrent = isCurrentStep(step.status);
  const next = isCurrent && nextAttemptAt ? nextAttemptAt : null;
  const situation = isCurrent ? stepSituation(step, { nextAttemptAt: next, events }) : null;
  if (situation) {
    const waiting = situation.kind === "waiting";
    return (
      <StepNotice
        tone="amber"
        title={
          <span data-testid={waiting ? "waiting-state" : "retry-state"} data-situation={situation.kind}>
            {situation.text}
          </span>
        }
      >
        {situation.next ? (
          <p>
            {waiting ? "Next check" : "Next attempt"} {formatRelative(situation.next, now)}.
            {waiting ? " Waiting does not use up attempts." : ""}
          </p>
        ) : null}
        {operator ? (
          <>
            {situation.raw ? <p className="font-mono text-xs">{situation.raw}</p> : null}
            {!waiting && situation.raw ? <p>{stepErrorSuggestion(situation.raw, step.status)}</p> : null}
          </>
        ) : (
          <>
            <p>{waiting ? "Nothing to do: provisioning carries on by itself." : tenantAdvice(situation.raw, step.status)}</p>
            <RawDetails raw={situation.raw} code={step.name} />
          </>
        )}
      </StepNotice>
    );
  }
  if (step.status === "failed" && rolledBack) {
    // Nothing to retry here: the on-failure steps roll the store back to what it ran before.
    if (failureShownAbove) {
      return (
        <p className="mt-1 text-xs font-medium text-rose-800" data-testid="step-stopped">
          Failed here — the automatic rollback below took over; see above for why.
        </p>
      );
    }
    return (
      <StepNotice tone="red" title={asSentence(`Failed: ${plainStepError(step.error)}`)}>
        <p data-testid="step-suggestion">
          The steps of the automatic rollback below take the store back to its previous version.
        </p>
        {operator ? (
          step.error ? <p className="font-mono text-xs">{step.error}</p> : null
        ) : (
          <RawDetails raw={step.error} code={step.name} />
        )}
      </StepNotice>
    );
  }
  if (step.status === "failed" || step.status === "cancelled") {
    if (failureShownAbove) {
      return (
        <p className="mt-1 text-xs font-medium text-rose-800" data-testid="step-stopped">
          Stopped here — see above for why and what to do.
        </p>
      );
    }
  }
  if (step.status === "failed") {
    return (
      <StepNotice tone="red" title={asSentence(`Failed: ${plainStepError(step.error)}`)}>
        {operator ? (
          <>
            {step.error ? <p className="font-mono text-xs">{step.error}</p> : null}
            {step.error ? <p data-testid="step-suggestion">{stepErrorSuggestion(step.error, step.status)}</p> : null}
          </>
        ) : (
          <>
            <p data-testid="step-suggestion">{tenantAdvice(step.error, step.status)}</p>
            <RawDetails raw={step.error} code={step.name} />
          </>
        )}
      </StepNotice>
    );
  }
  if (step.status === "cancelled") {
    return (
      <StepNotice tone="gray" title={runStatus === "cancelled" ? "Cancelled with the run" : "Cancelled"}>
        {operator && step.error ? <p className="font-mono text-xs">Last error: {step.error}</p> : null}
      </StepNotice>
    );
  }
  if (step.status === "queued" && next) {
    return (
      <p className="mt-1 text-xs text-slate-600">
        Starts {formatRelative(next, now)} ({formatClock(next)}).
      </p>
    );
  }
  return null;
}

export function StepTimeline({
  steps,
  workflow,
  runStatus,
  nextAttemptAt,
  now,
  events,
  operator = false,
  failureShownAbove = false,
  extra,
}: TimelineProps) {
  const [expanded, setExpanded] = useState(false);
  const items = expanded ? steps.map((step) => ({ step })) : foldSteps(steps);
  const folded = items.length < steps.length;
  const compensating = rollbackStarted(steps);
  const firstRollback = steps.find((s) => isRollbackStep(s.name))?.number;
  return (
    <>
      <ol className="relative" aria-label="Steps">
        {items.map((item, i) => {
          const last = i === items.length - 1;
          if ("gap" in item) {
            return (
              <li key={`gap-${item.from}`} className="relative flex gap-4 pb-5">
                <span
                  className="absolute top-7 left-3.5 -ml-px h-[calc(100%-1.75rem)] w-0.5 bg-slate-200"
                  aria-hidden="true"
                />
                <span className="flex size-7 shrink-0 items-center justify-center rounded-full bg-white text-slate-500 ring-4 ring-white">
                  ⋮
                </span>
                <p className="pt-1 text-xs text-slate-600">
                  Steps {item.from}–{item.to} ({item.gap} steps) folded
                </p>
              </li>
            );
          }
          const step = item.step;
          const elapsed =
            step.durationMs ??
            (step.startedAt && (step.status === "running" || step.status === "retrying" || step.status === "polling")
              ? now - new Date(step.startedAt).getTime()
              : null);
          const isCurrent = isCurrentStep(step.status);
          const muted = step.status === "pending" || step.status === "skipped";
          const heading =
            step.number === firstRollback ? (
              <li
                key="rollback-heading"
                className="relative mb-3 flex items-center gap-3 border-t border-dashed border-slate-200 pt-3 text-xs font-medium text-slate-600"
                data-testid="rollback-heading"
              >
                {rollbackHeading(steps)}
              </li>
            ) : null;
          return [
            heading,
            <li
              key={step.number}
              className="relative flex gap-4 pb-5 last:pb-0"
              data-step={step.name}
              data-step-status={step.status}
              aria-current={isCurrent ? "step" : undefined}
            >
              {!last ? (
                <span
                  className={cx(
                    "absolute top-7 left-3.5 -ml-px h-[calc(100%-1.75rem)] w-0.5",
                    step.status === "succeeded" ? "bg-emerald-200" : "bg-slate-200",
                  )}
                  aria-hidden="true"
                />
              ) : null}
              <StepMarker status={step.status} />
              <div className="min-w-0 flex-1 pt-0.5">
                <div className="flex flex-wrap items-baseline justify-between gap-x-3 gap-y-1">
                  <p className="text-sm">
                    <span
                      className={cx("font-medium", muted ? "text-slate-600" : "text-slate-900")}
                      title={`Step ${step.number}: ${step.name}`}
                      data-testid="step-label"
                    >
                      {stepLabel(step.name, workflow)}
                    </span>
                    {operator ? (
                      <code className="ml-2 font-mono text-xs text-slate-600" data-testid="step-code">
                        {step.name}
                      </code>
                    ) : null}
                    <span className="sr-only"> — {stepStatusLabel(step.status)}</span>
                  </p>
                  <p className="text-xs text-slate-600 tabular-nums">
                    {elapsed !== null ? formatDuration(elapsed) : muted ? "" : "—"}
                  </p>
                </div>
                <p className="mt-0.5 flex flex-wrap gap-x-2 text-xs text-slate-600">
                  <span aria-hidden="true">{stepStatusLabel(step.status)}</span>
                  {step.attempt > 0 ? (
                    <>
                      <span aria-hidden="true">·</span>
                      <span data-testid="step-attempt">
                        Attempt {step.attempt} of {step.maxAttempts}
                      </span>
                    </>
                  ) : null}
                  {step.finishedAt && step.status === "succeeded" ? (
                    <>
                      <span aria-hidden="true">·</span>
                      <span>finished {formatTime(step.finishedAt)}</span>
                    </>
                  ) : step.startedAt && isCurrent ? (
                    <>
                      <span aria-hidden="true">·</span>
                      <span>started {formatTime(step.startedAt)}</span>
                    </>
                  ) : null}
                </p>
                <StepState
                  step={step}
                  runStatus={runStatus}
                  nextAttemptAt={nextAttemptAt}
                  now={now}
                  events={events}
                  operator={operator}
                  failureShownAbove={failureShownAbove}
                  rolledBack={compensating && !isRollbackStep(step.name)}
                />
                {extra ? extra(step) : null}
              </div>
            </li>,
          ];
        })}
      </ol>
      {folded || expanded ? (
        <button
          type="button"
          onClick={() => setExpanded((e) => !e)}
          className="mt-4 rounded text-sm font-medium text-indigo-700 hover:text-indigo-600"
        >
          {expanded ? "Fold the steps" : `Show all ${steps.length} steps`}
        </button>
      ) : null}
    </>
  );
}
