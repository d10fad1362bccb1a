// Words for run and audit events (the store timeline, run events, the audit log).

import { humanize } from "./format";

export interface EventText {
  title: string;
  detail?: string;
  tone: "gray" | "blue" | "green" | "red" | "amber";
}

interface EventLike {
  kind: string;
  step?: string | null;
  attempt?: number | null;
  data?: Record<string, unknown> | null;
}

/** Ends `text` with a full stop, so another sentence can follow. */
function sentence(text: string | undefined): string | undefined {
  if (!text) return text;
  return /[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value ? value : undefined;
}

export function describeEvent(event: EventLike): EventText {
  const data = event.data ?? {};
  const step = event.step ? `${event.step}` : "step";
  const attempt = event.attempt ? ` (attempt ${event.attempt})` : "";
  switch (event.kind) {
    case "queued":
      return { title: `Run queued${str(data.workflow) ? `: ${data.workflow}` : ""}`, tone: "gray" };
    case "started":
      return { title: "Run started", tone: "blue" };
    case "step_started":
      return { title: `Started ${step}${attempt}`, tone: "blue" };
    case "step_succeeded":
      return { title: `${step} succeeded`, tone: "green" };
    case "step_failed":
      return {
        title: `${step} failed${attempt}`,
        detail: [sentence(str(data.error)), data.will_retry === true ? "It will be retried." : undefined]
          .filter(Boolean)
          .join(" "),
        tone: data.will_retry === true ? "amber" : "red",
      };
    case "retry_scheduled":
      return { title: `Retry of ${step} scheduled${attempt}`, tone: "amber" };
    case "pending":
      return { title: `${step} is waiting`, detail: str(data.waiting_for), tone: "amber" };
    case "step_retry_requested":
      return { title: `Retry of ${step} requested`, detail: str(data.by), tone: "blue" };
    case "cancel_requested":
      return { title: "Cancellation requested", detail: str(data.by), tone: "amber" };
    case "cancelled":
      return { title: "Run cancelled", detail: str(data.by), tone: "gray" };
    case "released":
      return { title: "Run released by its worker", tone: "gray" };
    case "rescued":
      return { title: "Run taken over after a lost worker", tone: "amber" };
    case "finished": {
      const status = str(data.status) ?? "done";
      return {
        title: `Run finished: ${status}`,
        detail: str(data.error),
        tone: status === "succeeded" ? "green" : status === "failed" ? "red" : "gray",
      };
    }
    // Audit actions about stores.
    case "store_created":
      return {
        title: "Store created",
        detail: [str(data.engine), str(data.theme) ? `${data.theme} theme` : undefined].filter(Boolean).join(", "),
        tone: "blue",
      };
    case "status_changed":
      return {
        title: `Status: ${str(data.from) ?? "?"} → ${str(data.to) ?? "?"}`,
        detail: str(data.step) && str(data.to) === "failed" ? `at ${data.step}` : undefined,
        tone: data.to === "ready" ? "green" : data.to === "failed" ? "red" : "gray",
      };
    case "store_retry_requested":
      return {
        title: "Retry requested",
        detail: str(data.resumeAt)
          ? `resumes at ${data.resumeAt}`
          : data.restarted
            ? "the run starts again"
            : undefined,
        tone: "blue",
      };
    case "store_delete_requested":
      return { title: "Deletion requested", tone: "amber" };
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
