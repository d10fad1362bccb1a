// One run (operators): steps with attempt history and outputs, input, events; retry a failed
// step, cancel the run. Live over the run's event stream.

import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useParams } from "react-router";

import { ApiError } from "../api/client";
import { keys, useRun, useRunAction } from "../api/queries";
import type { ProgressStep, RunDetail, StepView } from "../api/types";
import { ConfirmDialog } from "../components/Dialog";
import { IconChevronLeft, IconRefresh, IconSearch, IconStop } from "../components/icons";
import { LiveIndicator, ProgressBar, StepTimeline } from "../components/Progress";
import { isFinalRun, RunStatusBadge } from "../components/status";
import { useToast } from "../components/Toaster";
import {
  Alert,
  ApiErrorAlert,
  Badge,
  Button,
  ButtonLink,
  Card,
  CopyButton,
  Details,
  EmptyState,
  JsonBlock,
  Mono,
  PageHeader,
  ShortId,
  Skeleton,
} from "../components/ui";
import { describeEvent } from "../lib/events";
import { formatDateTime, formatDuration, formatRelative, formatTime, humanize } from "../lib/format";
import { useCoalesced, useNow, useTitle } from "../lib/hooks";
import { isRollbackStep, rollbackStarted, stepLabel, weightedPercent } from "../lib/steps";
import { useEventStream } from "../lib/useEventStream";
import { SubjectLink } from "./Runs";

function toProgressStep(step: StepView): ProgressStep {
  return {
    number: step.index + 1,
    name: step.name,
    status: step.status,
    attempt: step.attempts,
    maxAttempts: step.max_attempts,
    startedAt: step.started_at,
    finishedAt: step.finished_at,
    durationMs: step.duration_ms,
    error: step.error,
    waitingFor: step.waiting_for,
  };
}

/**
 * Whether a failed step can be retried: the run failed there and nothing ran after it. A main
 * step whose failure the on-failure steps took over (an upgrade that was rolled back) cannot —
 * resuming it would upgrade a store that was rolled back; the store page starts a new upgrade.
 */
export function canRetryStep(run: Pick<RunDetail, "status" | "steps">, step: StepView): boolean {
  if (run.status !== "failed" || step.status !== "failed") return false;
  return run.steps.every((s) => s.index <= step.index || s.status === "pending" || s.status === "skipped");
}

function StepExtra({ run, step, onRetry }: { run: RunDetail; step: StepView; onRetry: (step: StepView) => void }) {
  const output = run.state?.[step.name];
  const canRetry = canRetryStep(run, step);
  if (!step.history.length && output === undefined && !canRetry) return null;
  return (
    <div className="mt-2 space-y-2">
      {canRetry ? (
        <Button size="sm" variant="primary" onClick={() => onRetry(step)} icon={<IconRefresh className="size-3.5" />}>
          Retry this step
        </Button>
      ) : null}
      {step.history.length || output !== undefined ? (
        <details className="group rounded-lg border border-slate-200 bg-white">
          <summary className="cursor-pointer rounded-lg px-3 py-1.5 text-xs font-medium text-slate-600 select-none hover:bg-slate-50">
            {[
              step.history.length ? `${step.history.length} attempt${step.history.length > 1 ? "s" : ""}` : null,
              output !== undefined ? "output" : null,
              `timeout ${formatDuration(step.timeout_ms)}`,
            ]
              .filter(Boolean)
              .join(" · ")}
          </summary>
          {step.history.length ? (
            <div className="overflow-x-auto border-t border-slate-100">
              <table className="min-w-full text-xs">
                <caption className="sr-only">Attempts of {step.name}</caption>
                <thead className="text-left text-slate-600">
                  <tr>
                    <th scope="col" className="px-3 py-1.5 font-medium">
                      #
                    </th>
                    <th scope="col" className="px-3 py-1.5 font-medium">
                      Outcome
                    </th>
                    <th scope="col" className="px-3 py-1.5 font-medium">
                      Started
                    </th>
                    <th scope="col" className="px-3 py-1.5 font-medium">
                      Took
                    </th>
                    <th scope="col" className="px-3 py-1.5 font-medium">
                      Error
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {step.history.map((attempt) => (
                    <tr key={attempt.attempt}>
                      <td className="px-3 py-1.5 tabular-nums">{attempt.attempt}</td>
                      <td className="px-3 py-1.5">
                        <Badge
                          tone={
                            attempt.outcome === "succeeded"
                              ? "green"
                              : attempt.outcome === "failed" || attempt.outcome === "timed_out"
                                ? "red"
                                : "gray"
                          }
                        >
                          {humanize(attempt.outcome)}
                        </Badge>
                      </td>
                      <td className="px-3 py-1.5 whitespace-nowrap">{formatTime(attempt.started_at)}</td>
                      <td className="px-3 py-1.5 tabular-nums">{formatDuration(attempt.duration_ms)}</td>
                      <td className="max-w-md px-3 py-1.5 font-mono break-words text-slate-600">
                        {attempt.error ?? "—"}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
          {output !== undefined ? (
            <div className="border-t border-slate-100 p-2">
              <p className="mb-1.5 px-1 text-xs font-medium text-slate-600">Output</p>
              <JsonBlock value={output} label={`Output of ${step.name}`} />
            </div>
          ) : null}
        </details>
      ) : null}
    </div>
  );
}

export function RunDetailPage() {
  const { id = "" } = useParams();
  const toast = useToast();
  const queryClient = useQueryClient();
  const action = useRunAction();
  const [confirm, setConfirm] = useState<{ kind: "cancel" } | { kind: "retry"; step: StepView } | null>(null);
  const refresh = useCoalesced(() => {
    queryClient.invalidateQueries({ queryKey: keys.run(id), exact: true }, { cancelRefetch: true });
  }, 400);
  const validId = /^[0-9a-f-]{36}$/i.test(id);
  const live = useEventStream(validId ? `/api/v1/runs/${id}/events/stream` : null, {
    onEvent: refresh,
    onOpen: (reconnected) => {
      if (reconnected) refresh();
    },
  });
  // The run stream ends after the run's `finished` event; a retried step reopens the run.
  const query = useRun(id, { live: live.state === "open" });
  const run = query.data;
  useTitle(run ? `Run ${run.workflow}` : "Run");
  const now = useNow(run && isFinalRun(run.status) ? 15_000 : 1000);

  if (!validId) {
    return (
      <EmptyState icon={<IconSearch className="size-5" />} title="Run not found">
        “{id}” is not a run id.
      </EmptyState>
    );
  }
  if (query.isPending) {
    return (
      <div className="space-y-6" role="status" aria-label="Loading the run">
        <Skeleton className="h-8 w-72" />
        <Skeleton className="h-96" />
      </div>
    );
  }
  if (query.isError) {
    if (query.error instanceof ApiError && query.error.status === 404) {
      return (
        <EmptyState
          icon={<IconSearch className="size-5" />}
          title="Run not found"
          action={<ButtonLink to="/runs">All runs</ButtonLink>}
        >
          There is no run {id}.
        </EmptyState>
      );
    }
    return <ApiErrorAlert error={query.error} title="The run could not be loaded" onRetry={() => query.refetch()} />;
  }
  const r = query.data;
  const final = isFinalRun(r.status);
  const progressSteps = r.steps.map(toProgressStep);
  const stepEvents = r.events.map((e) => ({ kind: e.kind, step: e.step_name, at: e.at, data: e.data }));
  // Weighted by the steps' typical durations (lib/steps.ts), like the store page.
  const percent = weightedPercent({ steps: progressSteps, workflow: r.workflow, runStatus: r.status, now });
  const started = r.started_at ? new Date(r.started_at).getTime() : null;
  const took = started ? (r.finished_at ? new Date(r.finished_at).getTime() : now) - started : null;
  // An upgrade's on-failure steps: whether they took over, and whether all of them finished.
  const rollback = progressSteps.filter((s) => isRollbackStep(s.name));
  const rolledBack =
    rollbackStarted(progressSteps) && rollback.length > 0 && rollback.every((s) => s.status === "succeeded");

  const doConfirm = async () => {
    if (!confirm) return;
    if (confirm.kind === "cancel") {
      const answer = await action.mutateAsync({ kind: "cancel", runId: r.id });
      toast.show(`Run ${answer.status === "cancelled" ? "cancelled" : "cancellation requested"}.`);
    } else {
      const answer = await action.mutateAsync({ kind: "retry-step", runId: r.id, step: confirm.step.index + 1 });
      toast.show(answer.message ?? "The step will be retried.");
    }
    refresh();
  };

  return (
    <>
      <PageHeader
        back={
          <ButtonLink to="/runs" variant="ghost" size="sm" icon={<IconChevronLeft />} className="-ml-2">
            Runs
          </ButtonLink>
        }
        title={r.workflow}
        badges={
          <>
            <RunStatusBadge status={r.status} />
            <Badge tone="gray">v{r.version}</Badge>
          </>
        }
        description={
          <span className="flex flex-wrap items-center gap-x-2">
            <Mono>{r.id}</Mono>
            <CopyButton value={r.id} label="Copy the run id" />
            {r.subject ? (
              <>
                <span aria-hidden="true">·</span>
                <SubjectLink subject={r.subject} />
              </>
            ) : null}
          </span>
        }
        actions={
          !final ? (
            <Button
              variant="danger-outline"
              onClick={() => setConfirm({ kind: "cancel" })}
              icon={<IconStop />}
              disabled={r.cancel_requested}
            >
              {r.cancel_requested ? "Cancelling…" : "Cancel run"}
            </Button>
          ) : null
        }
      />

      <div className="grid gap-6 lg:grid-cols-3">
        <div className="min-w-0 space-y-6 lg:col-span-2">
          {r.error ? (
            <Alert tone={rolledBack ? "warning" : "danger"} title="Run error">
              {rolledBack ? (
                <p className="mb-1" data-testid="run-rolled-back">
                  The on-failure steps ran: the release was rolled back and the store verified again. Nothing to retry
                  here; start a new upgrade from the store once the cause is fixed.
                </p>
              ) : null}
              <span className="font-mono text-xs">{r.error}</span>
            </Alert>
          ) : null}
          <Card
            title="Steps"
            actions={
              <LiveIndicator
                state={final && live.state !== "open" ? "closed" : live.state}
                lastEventId={live.lastEventId}
              />
            }
          >
            <div className="mb-6 space-y-2">
              <div className="flex items-baseline justify-between text-sm">
                <span className="font-medium text-slate-900">
                  {final
                    ? `${humanize(r.status)}${took !== null ? ` after ${formatDuration(took)}` : ""}`
                    : `Step ${Math.min(r.current_step + 1, r.step_count)} of ${r.step_count}${r.current_step_name ? `: ${stepLabel(r.current_step_name, r.workflow)}` : ""}`}
                </span>
                <span className="text-lg font-semibold text-slate-900 tabular-nums" data-testid="progress-percent">
                  {rolledBack ? 100 : percent}%
                </span>
              </div>
              <ProgressBar
                percent={rolledBack ? 100 : percent}
                status={r.status}
                label="Run progress"
                tone={rolledBack ? "waiting" : undefined}
              />
            </div>
            <StepTimeline
              steps={progressSteps}
              workflow={r.workflow}
              runStatus={r.status}
              nextAttemptAt={!final && new Date(r.next_run_at).getTime() > now ? r.next_run_at : null}
              now={now}
              events={stepEvents}
              operator
              extra={(step) => (
                <StepExtra
                  run={r}
                  step={r.steps[step.number - 1]}
                  onRetry={(s) => setConfirm({ kind: "retry", step: s })}
                />
              )}
            />
          </Card>

          <Card title="Events" description={`${r.events.length} events, oldest first.`} bodyClassName="p-0">
            <ol className="max-h-[32rem] divide-y divide-slate-100 overflow-y-auto" data-testid="run-events">
              {r.events.map((event) => {
                const text = describeEvent({ ...event, step: event.step_name });
                return (
                  <li key={event.id} className="px-5 py-2.5 text-sm">
                    <div className="flex flex-wrap items-baseline justify-between gap-x-3">
                      <p className="font-medium text-slate-800">
                        <span className="mr-2 font-mono text-xs text-slate-600">#{event.id}</span>
                        {text.title}
                      </p>
                      <time
                        className="text-xs text-slate-600 tabular-nums"
                        dateTime={event.at}
                        title={formatDateTime(event.at)}
                      >
                        {formatTime(event.at)}
                      </time>
                    </div>
                    {text.detail ? <p className="mt-0.5 text-xs break-words text-slate-600">{text.detail}</p> : null}
                    {text.raw ? (
                      <p className="mt-0.5 font-mono text-xs break-words text-slate-600">{text.raw}</p>
                    ) : null}
                  </li>
                );
              })}
            </ol>
          </Card>
        </div>

        <div className="min-w-0 space-y-6">
          <Card title="Run">
            <Details
              items={[
                { label: "Created", value: formatDateTime(r.created_at) },
                { label: "Started", value: formatDateTime(r.started_at) },
                { label: "Finished", value: formatDateTime(r.finished_at), hidden: !r.finished_at },
                { label: "Duration", value: formatDuration(took) },
                {
                  label: "Next activity",
                  value: formatRelative(r.next_run_at, now),
                  hidden: final || new Date(r.next_run_at).getTime() < now,
                },
                { label: "Deadline", value: formatDateTime(r.deadline_at), hidden: !r.deadline_at || final },
                { label: "Tenant", value: <Mono>{r.tenant}</Mono>, hidden: !r.tenant },
                { label: "Request", value: <Mono>{r.request_id}</Mono>, hidden: !r.request_id },
                {
                  label: "Worker",
                  value: r.lease_owner ? <ShortId id={r.lease_owner} label="Copy the worker id" /> : null,
                  hidden: !r.lease_owner,
                },
                { label: "Cancel requested", value: "Yes", hidden: !r.cancel_requested },
              ]}
            />
          </Card>
          <Card title="Input" description="As the API shows it: secrets are redacted.">
            <JsonBlock value={r.input} label="Run input" />
          </Card>
        </div>
      </div>

      <ConfirmDialog
        open={confirm?.kind === "cancel"}
        title="Cancel this run?"
        confirmLabel="Cancel run"
        tone="danger"
        onConfirm={doConfirm}
        onClose={() => setConfirm(null)}
      >
        <p>
          The run stops at its current step{r.subject ? " and its store is marked failed" : ""}. The store's owner can
          retry it afterwards.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm?.kind === "retry"}
        title={confirm?.kind === "retry" ? `Retry “${stepLabel(confirm.step.name, r.workflow)}”?` : "Retry step?"}
        confirmLabel="Retry step"
        onConfirm={doConfirm}
        onClose={() => setConfirm(null)}
      >
        <p>The run resumes from this step with a fresh attempt budget; finished steps are not repeated.</p>
      </ConfirmDialog>
    </>
  );
}
