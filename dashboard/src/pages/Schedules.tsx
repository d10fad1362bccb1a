// Cron schedules (operators): change when one fires (its cron expression, inline), enable or
// disable, run now, last and next fire.

import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";

import { ApiError } from "../api/client";
import { useScheduleAction, useSchedules } from "../api/queries";
import type { Schedule } from "../api/types";
import { ConfirmDialog } from "../components/Dialog";
import { IconCheck, IconClock, IconPencil, IconPlay } from "../components/icons";
import { useToast } from "../components/Toaster";
import {
  ApiErrorAlert,
  Button,
  Card,
  cx,
  EmptyState,
  Field,
  Input,
  LoadingBlock,
  Mono,
  PageHeader,
} from "../components/ui";
import { CRON_FORMAT_HINT, cronErrorWords, describeCron, formatUtc } from "../lib/cron";
import { formatAgo, formatDateTime, formatRelative, shortId } from "../lib/format";
import { useNow, useTitle } from "../lib/hooks";

/** Whether an error is the API refusing a cron expression (shown at the field, in words). */
function isCronRefusal(error: unknown): error is ApiError {
  return error instanceof ApiError && error.code === "VALIDATION_ERROR" && /cron expression/i.test(error.message);
}

/**
 * A schedule's cron expression, with a button that turns it into a small form. A refused
 * expression stays in the field, the API's reason beside it; once saved, the next fire shows.
 */
export function CronEditor({ schedule, now }: { schedule: Schedule; now: number }) {
  const action = useScheduleAction();
  const toast = useToast();
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(schedule.cron);
  const [error, setError] = useState<unknown>(null);
  const [empty, setEmpty] = useState(false);
  const [saved, setSaved] = useState<Schedule | null>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef(false);
  const inputId = `cron-${schedule.name}`;

  useEffect(() => {
    if (!editing && returnFocus.current) {
      returnFocus.current = false;
      editButton.current?.focus();
    }
  }, [editing]);

  const start = () => {
    setText(schedule.cron);
    setError(null);
    setEmpty(false);
    setSaved(null);
    setEditing(true);
  };
  const stop = () => {
    returnFocus.current = true;
    setEditing(false);
    setError(null);
  };
  const save = async (event: FormEvent) => {
    event.preventDefault();
    const cron = text.trim().replace(/\s+/g, " ");
    setError(null);
    if (!cron) {
      setEmpty(true);
      return;
    }
    setEmpty(false);
    try {
      const answer = await action.mutateAsync({ kind: "cron", name: schedule.name, cron });
      const updated = answer.schedule ?? { ...schedule, cron };
      setSaved(updated);
      toast.show(`${schedule.name} now fires at “${updated.cron}”.`);
      stop();
    } catch (cause) {
      setError(cause);
    }
  };

  const words = describeCron(schedule.cron);
  const fieldErrors = empty
    ? ["Enter a cron expression, such as “0 3 * * *”."]
    : isCronRefusal(error)
      ? [cronErrorWords(error.message, text)]
      : [];

  if (editing) {
    return (
      <form onSubmit={save} className="mt-2 max-w-xl space-y-2" data-cron-form={schedule.name} noValidate>
        <Field label={`When ${schedule.name} fires (cron, UTC)`} htmlFor={inputId} errors={fieldErrors}>
          <div className="flex flex-col gap-2 sm:flex-row">
            <Input
              id={inputId}
              value={text}
              onChange={(e) => setText(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === "Escape") {
                  e.preventDefault();
                  stop();
                }
              }}
              invalid={fieldErrors.length > 0}
              className="font-mono sm:max-w-56"
              autoComplete="off"
              spellCheck={false}
              autoFocus
            />
            <div className="flex gap-2">
              <Button type="submit" variant="primary" loading={action.isPending}>
                Save
              </Button>
              <Button onClick={stop} disabled={action.isPending}>
                Cancel
              </Button>
            </div>
          </div>
        </Field>
        {/* The format stays in view, also beside a refusal (the input points here while valid). */}
        <p id={`${inputId}-hint`} className="text-xs text-slate-600">
          {CRON_FORMAT_HINT}
        </p>
        {error && !isCronRefusal(error) ? <ApiErrorAlert error={error} /> : null}
      </form>
    );
  }

  return (
    <>
      <p className="mt-0.5 flex flex-wrap items-center gap-x-1 text-xs text-slate-600">
        <span data-testid="schedule-cron">
          <Mono className="text-xs">{schedule.cron}</Mono>
        </span>
        {words ? <span>({words})</span> : null}
        <span aria-hidden="true">·</span>
        <Link
          to={`/runs?workflow=${encodeURIComponent(schedule.workflow)}`}
          className="text-indigo-700 hover:text-indigo-600"
        >
          {schedule.workflow}
        </Link>
        <Button
          ref={editButton}
          size="sm"
          variant="ghost"
          className="-my-1 h-7 px-2 text-xs text-indigo-700"
          onClick={start}
          icon={<IconPencil className="size-3.5" />}
          aria-label={`Change when ${schedule.name} fires`}
        >
          Change
        </Button>
      </p>
      {saved ? (
        <p className="mt-1 flex items-center gap-1 text-xs text-emerald-800" role="status" data-testid="cron-saved">
          <IconCheck className="size-3.5 shrink-0" />
          {saved.enabled && saved.next_tick_at
            ? `Saved. Next fire ${formatUtc(saved.next_tick_at)} (${formatRelative(saved.next_tick_at, now)}).`
            : "Saved. It fires once the schedule is enabled."}
        </p>
      ) : null}
    </>
  );
}

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
        description="Workflows that run on a cron schedule: 5 fields (minute, hour, day of month, month, day of week), read in UTC. Ticks missed while a schedule is disabled, or before its expression changed, do not fire."
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
                  <th scope="col" className="hidden px-3 py-3 whitespace-nowrap md:table-cell">
                    Last fire
                  </th>
                  <th scope="col" className="hidden px-3 py-3 whitespace-nowrap sm:table-cell">
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
                      <CronEditor schedule={schedule} now={now} />
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
                        <>
                          <p
                            className="text-slate-700"
                            title={formatDateTime(schedule.next_tick_at)}
                            data-testid="next-fire"
                          >
                            {formatRelative(schedule.next_tick_at, now)}
                          </p>
                          <p className="text-xs whitespace-nowrap text-slate-600">{formatUtc(schedule.next_tick_at)}</p>
                        </>
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
