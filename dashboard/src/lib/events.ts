// Words for run and audit events (the store timeline, run events, the audit log): plain step
// labels and plain details; the raw error or waiting reason is kept apart (`raw`) for the places
// that show operator detail.

import { describeCron } from "./cron";
import { capitalize, formatClock, formatDateTime, humanize } from "./format";
import { asSentence, plainStepError, plainWaiting, stepLabel } from "./steps";

export interface EventText {
  title: string;
  /** Plain words. */
  detail?: string;
  /** The raw text behind the detail (a step's error, what it waits for), for operators. */
  raw?: string;
  tone: "gray" | "blue" | "green" | "red" | "amber";
}

interface EventLike {
  kind: string;
  step?: string | null;
  /** The run's workflow (run events): some steps read differently in one. */
  workflow?: string | null;
  attempt?: number | null;
  data?: Record<string, unknown> | null;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value ? value : undefined;
}

export const WORKFLOW_LABELS: Record<string, string> = {
  "provision-woocommerce": "WooCommerce provisioning",
  "provision-medusa": "MedusaJS provisioning",
  "teardown-store": "Deletion",
  "rotate-credentials": "Admin password change",
  "upgrade-woocommerce": "WooCommerce upgrade",
  "upgrade-medusa": "MedusaJS upgrade",
  "backup-woocommerce": "WooCommerce backup",
  "restore-woocommerce": "WooCommerce restore from a backup",
  "restore-in-place-woocommerce": "WooCommerce restore of a backup into the store",
  "backup-medusa": "MedusaJS backup",
  "restore-medusa": "MedusaJS restore from a backup",
  "restore-in-place-medusa": "MedusaJS restore of a backup into the store",
  "scheduled-backups": "Scheduled backups",
};

export function workflowLabel(name: string | null | undefined): string {
  if (!name) return "Run";
  return WORKFLOW_LABELS[name] ?? humanize(name);
}

/** "chart 2.2.0" from an audit entry's `{chart, app}`. */
function chartOf(value: unknown): string | undefined {
  const chart = value && typeof value === "object" ? str((value as { chart?: unknown }).chart) : undefined;
  return chart ? `chart ${chart}` : undefined;
}

function quoted(step: string | null | undefined, workflow?: string | null): string {
  return step ? `“${stepLabel(step, workflow)}”` : "a step";
}

export function describeEvent(event: EventLike): EventText {
  const data = event.data ?? {};
  const step = quoted(event.step, event.workflow);
  const attempt = event.attempt && event.attempt > 1 ? ` (attempt ${event.attempt})` : "";
  switch (event.kind) {
    case "queued":
      return { title: `Queued: ${workflowLabel(str(data.workflow))}`, tone: "gray" };
    case "started":
      return { title: "Started", tone: "blue" };
    case "step_started":
      return { title: `Started ${step}${attempt}`, tone: "blue" };
    case "step_succeeded":
      return { title: `Done: ${step}`, tone: "green" };
    case "step_failed": {
      const error = str(data.error);
      if (data.will_retry === true) {
        return {
          title: `${step} failed${event.attempt ? ` (attempt ${event.attempt})` : ""}; retrying`,
          detail: asSentence(plainStepError(error)),
          raw: error,
          tone: "amber",
        };
      }
      // The store page says why once, in its failure notice; here the event only marks where.
      return { title: `Stopped at ${step}`, raw: error, tone: "red" };
    }
    case "retry_scheduled": {
      const at = str(data.at);
      return { title: `Next attempt of ${step}${at ? ` at ${formatClock(at)}` : " scheduled"}`, tone: "amber" };
    }
    case "pending": {
      const waiting = str(data.waiting_for);
      return { title: `Waiting at ${step}`, detail: asSentence(plainWaiting(waiting)), raw: waiting, tone: "amber" };
    }
    // A step failed for good and the run's on-failure steps take over (an upgrade's rollback).
    case "compensating":
      return {
        title: "Automatic rollback started",
        detail: event.step ? `after ${step} failed` : undefined,
        tone: "amber",
      };
    case "compensated":
      return { title: "Automatic rollback finished", tone: "amber" };
    case "step_retry_requested":
      return { title: `Retry of ${step} requested`, detail: str(data.by), tone: "blue" };
    case "cancel_requested":
      return { title: "Cancellation requested", detail: str(data.by), tone: "amber" };
    case "cancelled":
      return { title: "Cancelled", detail: str(data.by), tone: "gray" };
    case "released":
      return { title: "Handed back by its worker", tone: "gray" };
    case "rescued":
      return { title: "Taken over after a worker was lost", tone: "amber" };
    case "finished": {
      const status = str(data.status) ?? "done";
      // A failed upgrade whose on-failure steps ran: the run failed, the store was rolled back.
      if (status === "failed" && /on-failure steps ran:.*mark-rolled-back/.test(str(data.error) ?? "")) {
        return { title: "Stopped; the upgrade was rolled back", raw: str(data.error), tone: "amber" };
      }
      return {
        title: status === "succeeded" ? "Finished" : status === "failed" ? "Stopped" : `Finished: ${status}`,
        raw: str(data.error),
        tone: status === "succeeded" ? "green" : status === "failed" ? "red" : "gray",
      };
    }
    // Audit actions about stores.
    case "store_created":
      return {
        title: str(data.restoreFrom) ? "Store created from a backup" : "Store created",
        detail: [str(data.engine), str(data.theme) ? `${data.theme} theme` : undefined].filter(Boolean).join(", "),
        tone: "blue",
      };
    case "store_backup_requested":
      return { title: "Backup requested", tone: "blue" };
    case "store_restore_requested": {
      const taken = str(data.backupCreatedAt);
      return {
        title: "Restore from a backup requested",
        detail: taken ? `the backup of ${formatDateTime(taken)} replaces the store's data` : undefined,
        tone: "blue",
      };
    }
    case "store_backup_policy_changed": {
      const schedule = str(data.schedule);
      const daily = typeof data.keepDaily === "number" ? data.keepDaily : undefined;
      const weekly = typeof data.keepWeekly === "number" ? data.keepWeekly : undefined;
      return {
        title: schedule ? "Backup schedule set" : "Scheduled backups turned off",
        detail: schedule
          ? [
              describeCron(schedule) ?? `“${schedule}” (UTC)`,
              daily !== undefined && weekly !== undefined ? `keeps ${daily} daily and ${weekly} weekly` : undefined,
            ]
              .filter(Boolean)
              .join("; ")
          : undefined,
        tone: "blue",
      };
    }
    case "status_changed":
      return {
        title: `Status: ${capitalize(str(data.from) ?? "?")} → ${capitalize(str(data.to) ?? "?")}`,
        detail: str(data.step) && str(data.to) === "failed" ? `at ${quoted(str(data.step))}` : undefined,
        tone: data.to === "ready" ? "green" : data.to === "failed" ? "red" : "gray",
      };
    case "store_retry_requested":
      return {
        title: "Retry requested",
        detail: str(data.resumeAt)
          ? `carries on from ${quoted(str(data.resumeAt))}`
          : data.restarted
            ? "the run starts again"
            : undefined,
        tone: "blue",
      };
    case "store_upgrade_requested": {
      const to = chartOf(data.to);
      const from = chartOf(data.from);
      return {
        title:
          data.force === true
            ? `Upgrade requested: ${to ?? "the chart"} applied again`
            : `Upgrade to ${to ?? "a new chart"} requested`,
        detail: from && data.force !== true ? `from ${from}` : undefined,
        tone: "blue",
      };
    }
    case "store_delete_requested":
      return { title: "Deletion requested", tone: "amber" };
    case "credentials_rotation_requested":
      return { title: "Admin password change requested", tone: "blue" };
    case "credentials_rotated":
      return { title: "New admin password in place", tone: "green" };
    default:
      return { title: humanize(event.kind), tone: "gray" };
  }
}

export interface EventGroup<E> {
  /** The newest event of the group (events arrive newest first). */
  event: E;
  text: EventText;
  count: number;
  /** The oldest event's time. */
  since: string;
}

/**
 * Folds runs of consecutive events that read the same (a step polling every 30 s says the same
 * thing each time) into one entry with a count. `events` are newest first.
 */
export function groupEvents<E extends EventLike & { at: string }>(events: E[]): EventGroup<E>[] {
  const groups: EventGroup<E>[] = [];
  for (const event of events) {
    const text = describeEvent(event);
    const last = groups[groups.length - 1];
    if (last && last.text.title === text.title && last.text.detail === text.detail && last.event.kind === event.kind) {
      last.count++;
      last.since = event.at;
    } else {
      groups.push({ event, text, count: 1, since: event.at });
    }
  }
  return groups;
}
