// Live progress of a run: the bar, the step timeline and the live-connection indicator.

import { useState, type ReactNode } from "react";

import type { ProgressStep, RunStatus, StepStatus } from "../api/types";
import { formatDuration, formatRelative, formatTime } from "../lib/format";
import type { StreamState } from "../lib/useEventStream";
import { StepMarker, stepStatusLabel } from "./status";
import { Badge, cx } from "./ui";

/** What to do about a step error, in plain words (step errors carry no suggestion of their own). */
export function stepErrorSuggestion(error: string, status: StepStatus): string {
  const text = error.toLowerCase();
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

export function waitingHeadline(waitingFor: string | null): string {
  const text = (waitingFor ?? "").toLowerCase();
  if (text.includes("kubernetes") || text.includes("cluster") || text.includes("circuit"))
    return "Waiting for the cluster";
  if (text.includes("helm")) return "Waiting for helm";
  if (text.includes("ready") || text.includes("pod")) return "Waiting for the store to start";
  return "Waiting";
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
}: {
  percent: number;
  status: RunStatus | null | undefined;
  label: string;
}) {
  const tone =
    status === "succeeded"
      ? "succeeded"
      : status === "failed"
        ? "failed"
        : status === "cancelled"
          ? "cancelled"
          : status === "waiting"
            ? "waiting"
            : "active";
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

export function LiveIndicator({ state }: { state: StreamState }) {
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
    <span aria-live="polite" data-live={state}>
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
      {children ? <div className="mt-1 space-y-1 text-[0.8125rem] break-words opacity-90">{children}</div> : null}
    </div>
  );
}

type TimelineItem = { step: ProgressStep } | { gap: number; from: number; to: number };

const INTERESTING: StepStatus[] = ["running", "retrying", "polling", "queued", "failed", "cancelled"];

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
  runStatus: RunStatus | null;
  nextAttemptAt: string | null;
  now: number;
  /** Extra content under a step (run detail: attempts, output, retry). */
  extra?: (step: ProgressStep) => ReactNode;
}

export function StepTimeline({ steps, runStatus, nextAttemptAt, now, extra }: TimelineProps) {
  const [expanded, setExpanded] = useState(false);
  const items = expanded ? steps.map((step) => ({ step })) : foldSteps(steps);
  const folded = items.length < steps.length;
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
                <span className="flex size-7 shrink-0 items-center justify-center rounded-full bg-white text-slate-400 ring-4 ring-white">
                  ⋮
                </span>
                <p className="pt-1 text-xs text-slate-500">
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
          const isCurrent = ["running", "retrying", "polling", "queued"].includes(step.status);
          const next = isCurrent && nextAttemptAt ? nextAttemptAt : null;
          return (
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
                      className={cx("font-medium", step.status === "pending" ? "text-slate-500" : "text-slate-900")}
                    >
                      {step.name}
                    </span>
                    <span className="sr-only"> — {stepStatusLabel(step.status)}</span>
                  </p>
                  <p className="text-xs text-slate-500 tabular-nums">
                    {elapsed !== null ? formatDuration(elapsed) : step.status === "pending" ? "" : "—"}
                  </p>
                </div>
                <p className="mt-0.5 flex flex-wrap gap-x-2 text-xs text-slate-500">
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

                {step.status === "polling" ? (
                  <StepNotice
                    tone="amber"
                    title={<span data-testid="waiting-state">{waitingHeadline(step.waitingFor)}</span>}
                  >
                    {step.waitingFor ? <p>{step.waitingFor}</p> : null}
                    {next ? (
                      <p>
                        Next check {formatRelative(next, now)} ({formatTime(next)}). Waiting does not use up attempts.
                      </p>
                    ) : null}
                  </StepNotice>
                ) : step.status === "retrying" ? (
                  <StepNotice tone="amber" title={`Attempt ${Math.max(1, step.attempt - 1)} failed; retrying`}>
                    {step.error ? <p className="font-mono text-xs">{step.error}</p> : null}
                    {next ? (
                      <p>
                        Next attempt {formatRelative(next, now)} ({formatTime(next)}).
                      </p>
                    ) : null}
                    {step.error ? <p>{stepErrorSuggestion(step.error, step.status)}</p> : null}
                  </StepNotice>
                ) : step.status === "failed" && step.error ? (
                  <StepNotice tone="red" title="Failed">
                    <p className="font-mono text-xs">{step.error}</p>
                    <p data-testid="step-suggestion">{stepErrorSuggestion(step.error, step.status)}</p>
                  </StepNotice>
                ) : step.status === "cancelled" ? (
                  <StepNotice tone="gray" title={runStatus === "cancelled" ? "Cancelled with the run" : "Cancelled"}>
                    {step.error ? <p className="font-mono text-xs">Last error: {step.error}</p> : null}
                  </StepNotice>
                ) : step.status === "queued" && next ? (
                  <p className="mt-1 text-xs text-slate-500">Starts {formatRelative(next, now)}.</p>
                ) : null}
                {extra ? extra(step) : null}
              </div>
            </li>
          );
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
