// Cron schedules (operators): enable or disable, run now, last and next fire.

import { useState } from "react";
import { Link } from "react-router";

import { useScheduleAction, useSchedules } from "../api/queries";
import type { Schedule } from "../api/types";
import { ConfirmDialog } from "../components/Dialog";
import { IconClock, IconPlay } from "../components/icons";
import { useToast } from "../components/Toaster";
import { ApiErrorAlert, Button, Card, cx, EmptyState, LoadingBlock, Mono, PageHeader } from "../components/ui";
import { formatAgo, formatDateTime, formatRelative, shortId } from "../lib/format";
import { useNow, useTitle } from "../lib/hooks";

function Switch({
  checked,
  onChange,
  label,
  busy,
}: {
  checked: boolean;
  onChange: (v: boolean) => void;
  label: string;
  busy: boolean;
}) {
  return (
    <button
      type="button"
      role="switch"
      aria-checked={checked}
      aria-label={label}
      disabled={busy}
      onClick={() => onChange(!checked)}
      className={cx(
        "relative inline-flex h-6 w-11 shrink-0 items-center rounded-full transition-colors focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:opacity-60",
        checked ? "bg-indigo-600" : "bg-slate-300",
      )}
    >
      <span
        aria-hidden="true"
        className={cx(
          "inline-block size-5 rounded-full bg-white shadow transition-transform",
          checked ? "translate-x-5.5" : "translate-x-0.5",
        )}
      />
    </button>
  );
}

export function SchedulesPage() {
  useTitle("Schedules");
  const schedules = useSchedules();
  const action = useScheduleAction();
  const toast = useToast();
  const now = useNow(5000);
  const [runNow, setRunNow] = useState<Schedule | null>(null);
  const [error, setError] = useState<unknown>(null);

  const toggle = async (schedule: Schedule, enabled: boolean) => {
    setError(null);
    try {
      await action.mutateAsync({ kind: "toggle", name: schedule.name, enabled });
      toast.show(`${schedule.name} ${enabled ? "enabled" : "disabled"}.`);
    } catch (cause) {
      setError(cause);
    }
  };

  return (
    <>
      <PageHeader
        title="Schedules"
        description="Workflows that run on a cron schedule. Ticks missed while a schedule is disabled do not fire."
      />
      {error ? <ApiErrorAlert error={error} className="mb-4" /> : null}
      <Card bodyClassName="p-0">
        {schedules.isPending ? (
          <div className="p-5">
            <LoadingBlock rows={4} />
          </div>
        ) : schedules.isError ? (
          <div className="p-5">
            <ApiErrorAlert error={schedules.error} onRetry={() => schedules.refetch()} />
          </div>
        ) : schedules.data.length === 0 ? (
          <EmptyState icon={<IconClock className="size-5" />} title="No schedules">
            Schedules are created with <Mono>storeflow schedules set</Mono> and show up here.
          </EmptyState>
        ) : (
          <div className="overflow-x-auto">
            <table className="min-w-full text-sm">
              <caption className="sr-only">Schedules</caption>
              <thead className="border-b border-slate-200 bg-slate-50/80 text-left text-xs font-medium tracking-wide text-slate-600 uppercase">
                <tr>
                  <th scope="col" className="px-5 py-3">
                    Schedule
                  </th>
                  <th scope="col" className="px-3 py-3">
                    Enabled
                  </th>
                  <th scope="col" className="hidden px-3 py-3 md:table-cell">
                    Last fire
                  </th>
                  <th scope="col" className="hidden px-3 py-3 sm:table-cell">
                    Next fire
                  </th>
                  <th scope="col" className="px-5 py-3 text-right">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {schedules.data.map((schedule) => (
                  <tr key={schedule.name} data-schedule={schedule.name}>
                    <td className="px-5 py-3">
                      <p className="font-medium text-slate-900">{schedule.name}</p>
                      <p className="mt-0.5 text-xs text-slate-600">
                        <Mono className="text-xs">{schedule.cron}</Mono> ·{" "}
                        <Link
                          to={`/runs?workflow=${encodeURIComponent(schedule.workflow)}`}
                          className="text-indigo-700 hover:text-indigo-600"
                        >
                          {schedule.workflow}
                        </Link>
                      </p>
                    </td>
                    <td className="px-3 py-3">
                      <Switch
                        checked={schedule.enabled}
                        onChange={(enabled) => toggle(schedule, enabled)}
                        label={`${schedule.name} enabled`}
                        busy={action.isPending}
                      />
                    </td>
                    <td className="hidden px-3 py-3 md:table-cell">
                      <p className="text-slate-700" title={formatDateTime(schedule.last_tick_at)}>
                        {formatAgo(schedule.last_tick_at, now)}
                      </p>
                      {schedule.last_run_id ? (
                        <Link
                          to={`/runs/${schedule.last_run_id}`}
                          className="font-mono text-xs text-indigo-700 hover:text-indigo-600"
                          title={schedule.last_run_id}
                        >
                          run {shortId(schedule.last_run_id)}
                        </Link>
                      ) : null}
                    </td>
                    <td className="hidden px-3 py-3 sm:table-cell">
                      {schedule.enabled && schedule.next_tick_at ? (
                        <span className="text-slate-700" title={formatDateTime(schedule.next_tick_at)}>
                          {formatRelative(schedule.next_tick_at, now)}
                        </span>
                      ) : (
                        <span className="text-slate-600">{schedule.enabled ? "—" : "Disabled"}</span>
                      )}
                    </td>
                    <td className="px-5 py-3 text-right">
                      <Button size="sm" onClick={() => setRunNow(schedule)} icon={<IconPlay className="size-3.5" />}>
                        Run now
                      </Button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <ConfirmDialog
        open={!!runNow}
        title={runNow ? `Run ${runNow.name} now?` : "Run now?"}
        confirmLabel="Run now"
        onConfirm={async () => {
          if (!runNow) return;
          const answer = await action.mutateAsync({ kind: "run", name: runNow.name });
          toast.show(
            <>
              {runNow.workflow} started.{" "}
              {answer.run ? (
                <Link to={`/runs/${answer.run.run_id}`} className="underline">
                  Open the run
                </Link>
              ) : null}
            </>,
          );
        }}
        onClose={() => setRunNow(null)}
      >
        <p>Starts a run of {runNow?.workflow} right away, outside the schedule. The schedule itself is unchanged.</p>
      </ConfirmDialog>
    </>
  );
}
