// Workflow runs (operators): filter by status, workflow and store; refreshes every few seconds.

import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router";

import { useRunList, useWorkflows } from "../api/queries";
import { RUN_STATUSES, type RunStatus, type RunSummary } from "../api/types";
import { IconActivity, IconSearch } from "../components/icons";
import { Pagination } from "../components/Pagination";
import { isFinalRun, RunStatusBadge } from "../components/status";
import {
  ApiErrorAlert,
  Badge,
  Button,
  Card,
  EmptyState,
  Input,
  LoadingBlock,
  Mono,
  PageHeader,
  Select,
  ShortId,
} from "../components/ui";
import { formatAgo, capitalize, formatDuration } from "../lib/format";
import { stepLabel } from "../lib/steps";
import { useDebounced, useNow, useTitle } from "../lib/hooks";
import { offsetOf, parsePage } from "../lib/pagination";
import { isStoreId } from "../lib/storeRules";

const LIMIT = 25;

export function runDuration(run: RunSummary, now: number): number | null {
  if (!run.started_at) return null;
  const end = run.finished_at ? new Date(run.finished_at).getTime() : now;
  return end - new Date(run.started_at).getTime();
}

/** A store id links to its store; a run id (operators only) to its run. */
export function SubjectLink({ subject, runs = false }: { subject: string | null; runs?: boolean }) {
  if (!subject) return <span className="text-slate-600">—</span>;
  const to = isStoreId(subject)
    ? `/stores/${subject}`
    : runs && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(subject)
      ? `/runs/${subject}`
      : null;
  if (to) {
    return (
      <Link to={to} className="font-mono text-[0.8125rem] break-all text-indigo-700 hover:text-indigo-600">
        {subject}
      </Link>
    );
  }
  return <Mono className="break-all">{subject}</Mono>;
}

export function RunsPage() {
  useTitle("Runs");
  const [params, setParams] = useSearchParams();
  const status = (RUN_STATUSES as string[]).includes(params.get("status") ?? "")
    ? (params.get("status") as RunStatus)
    : undefined;
  const workflow = params.get("workflow") ?? undefined;
  const subject = params.get("subject") ?? "";
  const page = parsePage(params.get("page"));
  const [subjectInput, setSubjectInput] = useState(subject);
  const debouncedSubject = useDebounced(subjectInput.trim(), 400);
  useEffect(() => setSubjectInput(subject), [subject]);

  const update = (changes: Record<string, string | undefined>, resetPage = true) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes)) {
          if (!value) next.delete(key);
          else next.set(key, value);
        }
        if (resetPage) next.delete("page");
        return next;
      },
      { replace: true },
    );
  useEffect(() => {
    if (debouncedSubject !== subject) update({ subject: debouncedSubject || undefined });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debouncedSubject]);

  const workflows = useWorkflows();
  const names = [...new Set((workflows.data ?? []).map((w) => w.name))];
  const list = useRunList({
    status,
    workflow,
    subject: subject || undefined,
    limit: LIMIT,
    offset: offsetOf(page, LIMIT),
  });
  const now = useNow(1000);
  const runs = list.data?.runs ?? [];

  return (
    <>
      <PageHeader
        title="Runs"
        description="Every workflow run of the platform: provisioning, teardown and scheduled jobs."
        badges={
          <span className="text-xs text-slate-600" aria-live="off">
            {list.dataUpdatedAt ? `updated ${formatAgo(new Date(list.dataUpdatedAt).toISOString(), now)}` : null}
          </span>
        }
      />
      <div className="mb-4 grid gap-3 sm:grid-cols-3 lg:max-w-3xl">
        <div>
          <label htmlFor="run-status" className="mb-1 block text-xs font-medium text-slate-600">
            Status
          </label>
          <Select id="run-status" value={status ?? ""} onChange={(e) => update({ status: e.target.value })}>
            <option value="">Any status</option>
            {RUN_STATUSES.map((s) => (
              <option key={s} value={s}>
                {capitalize(s)}
              </option>
            ))}
          </Select>
        </div>
        <div>
          <label htmlFor="run-workflow" className="mb-1 block text-xs font-medium text-slate-600">
            Workflow
          </label>
          <Select id="run-workflow" value={workflow ?? ""} onChange={(e) => update({ workflow: e.target.value })}>
            <option value="">Any workflow</option>
            {names.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </Select>
        </div>
        <div>
          <label htmlFor="run-subject" className="mb-1 block text-xs font-medium text-slate-600">
            Store or subject
          </label>
          <div className="relative">
            <IconSearch className="pointer-events-none absolute top-1/2 left-3 size-4 -translate-y-1/2 text-slate-500" />
            <Input
              id="run-subject"
              type="search"
              placeholder="store-1a2b3c4d"
              value={subjectInput}
              onChange={(e) => setSubjectInput(e.target.value)}
              className="pl-9 font-mono"
              spellCheck={false}
            />
          </div>
        </div>
      </div>

      <Card bodyClassName="p-0">
        {list.isPending ? (
          <div className="p-5">
            <LoadingBlock rows={6} label="Loading runs" />
          </div>
        ) : list.isError ? (
          <div className="p-5">
            <ApiErrorAlert error={list.error} onRetry={() => list.refetch()} />
          </div>
        ) : runs.length === 0 && page === 1 ? (
          <EmptyState
            icon={<IconActivity className="size-5" />}
            title={status || workflow || subject ? "No runs match" : "No runs yet"}
            action={
              status || workflow || subject ? (
                <Button onClick={() => setParams(new URLSearchParams(), { replace: true })}>Clear filters</Button>
              ) : null
            }
          >
            Runs appear here as soon as a store is created or a schedule fires.
          </EmptyState>
        ) : (
          <>
            <div className="overflow-x-auto">
              <table className="min-w-full text-sm">
                <caption className="sr-only">Workflow runs</caption>
                <thead className="border-b border-slate-200 bg-slate-50/80 text-left text-xs font-medium tracking-wide text-slate-600 uppercase">
                  <tr>
                    <th scope="col" className="px-5 py-3">
                      Run
                    </th>
                    <th scope="col" className="px-3 py-3">
                      Status
                    </th>
                    <th scope="col" className="hidden px-3 py-3 md:table-cell">
                      Subject
                    </th>
                    <th scope="col" className="hidden px-3 py-3 sm:table-cell">
                      Step
                    </th>
                    <th scope="col" className="hidden px-3 py-3 lg:table-cell">
                      Duration
                    </th>
                    <th scope="col" className="hidden px-5 py-3 text-right lg:table-cell">
                      Created
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {runs.map((run) => (
                    <tr key={run.id} className="hover:bg-slate-50/70" data-run-row={run.id}>
                      <td className="px-5 py-3">
                        <Link to={`/runs/${run.id}`} className="font-medium text-slate-900 hover:text-indigo-700">
                          {run.workflow}
                        </Link>
                        <div className="mt-0.5 flex items-center gap-2 text-xs text-slate-600">
                          <ShortId id={run.id} label="Copy the full run id" />
                          <Badge tone="gray">v{run.version}</Badge>
                        </div>
                      </td>
                      <td className="px-3 py-3">
                        <RunStatusBadge status={run.status} />
                      </td>
                      <td className="hidden px-3 py-3 md:table-cell">
                        <SubjectLink subject={run.subject} />
                      </td>
                      <td className="hidden px-3 py-3 sm:table-cell">
                        {isFinalRun(run.status) && run.status === "succeeded" ? (
                          <span className="text-slate-600">All {run.step_count} steps</span>
                        ) : (
                          <span className="text-slate-700" title={run.current_step_name ?? undefined}>
                            {run.current_step_name ? stepLabel(run.current_step_name, run.workflow) : "—"}{" "}
                            <span className="text-xs text-slate-600">
                              ({Math.min(run.current_step + 1, run.step_count)}/{run.step_count})
                            </span>
                          </span>
                        )}
                      </td>
                      <td className="hidden px-3 py-3 text-slate-600 tabular-nums lg:table-cell">
                        {formatDuration(runDuration(run, now))}
                      </td>
                      <td className="hidden px-5 py-3 text-right whitespace-nowrap text-slate-600 lg:table-cell">
                        <time dateTime={run.created_at}>{formatAgo(run.created_at, now)}</time>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pagination
              total={list.data?.total ?? 0}
              limit={LIMIT}
              offset={offsetOf(page, LIMIT)}
              noun="runs"
              onPage={(p) => update({ page: p > 1 ? String(p) : undefined }, false)}
            />
          </>
        )}
      </Card>
    </>
  );
}
