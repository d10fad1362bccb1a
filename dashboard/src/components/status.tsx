// How statuses look, in one place: stores, runs, steps, engines and themes.

import { useEngines } from "../api/queries";
import type { RunStatus, StepStatus, StoreStatus } from "../api/types";
import { engineLabel, engineTone } from "../lib/engines";
import { THEME_LABELS } from "../lib/format";
import { IconCheck, IconHourglass, IconSlash, IconX } from "./icons";
import { Badge, cx, Spinner, type Tone } from "./ui";

const STORE: Record<StoreStatus, { label: string; tone: Tone; pulse?: boolean }> = {
  requested: { label: "Requested", tone: "gray", pulse: true },
  provisioning: { label: "Provisioning", tone: "blue", pulse: true },
  ready: { label: "Ready", tone: "green" },
  upgrading: { label: "Upgrading", tone: "indigo", pulse: true },
  // Its data is being replaced by one of its backups: a tone of its own (the engine badges are
  // violet and teal beside it).
  restoring: { label: "Restoring", tone: "fuchsia", pulse: true },
  failed: { label: "Failed", tone: "red" },
  deleting: { label: "Deleting", tone: "amber", pulse: true },
  deleted: { label: "Deleted", tone: "gray" },
};

export function storeStatusLabel(status: StoreStatus): string {
  return STORE[status]?.label ?? status;
}

export function StoreStatusBadge({ status, title }: { status: StoreStatus; title?: string }) {
  const look = STORE[status] ?? { label: status, tone: "gray" as Tone };
  return (
    <Badge tone={look.tone} dot pulse={look.pulse} title={title} className="capitalize-none">
      <span data-status={status}>{look.label}</span>
    </Badge>
  );
}

const RUN: Record<RunStatus, { label: string; tone: Tone; pulse?: boolean }> = {
  queued: { label: "Queued", tone: "gray", pulse: true },
  running: { label: "Running", tone: "blue", pulse: true },
  waiting: { label: "Waiting", tone: "amber", pulse: true },
  succeeded: { label: "Succeeded", tone: "green" },
  failed: { label: "Failed", tone: "red" },
  cancelled: { label: "Cancelled", tone: "gray" },
};

export function RunStatusBadge({ status }: { status: RunStatus }) {
  const look = RUN[status] ?? { label: status, tone: "gray" as Tone };
  return (
    <Badge tone={look.tone} dot pulse={look.pulse}>
      <span data-run-status={status}>{look.label}</span>
    </Badge>
  );
}

export function isFinalRun(status: RunStatus | null | undefined): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}

const STEP: Record<StepStatus, { label: string; tone: Tone }> = {
  pending: { label: "Pending", tone: "gray" },
  queued: { label: "Queued", tone: "gray" },
  running: { label: "Running", tone: "blue" },
  retrying: { label: "Retrying", tone: "amber" },
  polling: { label: "Waiting", tone: "amber" },
  succeeded: { label: "Done", tone: "green" },
  failed: { label: "Failed", tone: "red" },
  cancelled: { label: "Cancelled", tone: "gray" },
  skipped: { label: "Skipped", tone: "gray" },
};

export function stepStatusLabel(status: StepStatus): string {
  return STEP[status]?.label ?? status;
}

export function StepStatusBadge({ status }: { status: StepStatus }) {
  const look = STEP[status] ?? { label: status, tone: "gray" as Tone };
  return <Badge tone={look.tone}>{look.label}</Badge>;
}

/** The round marker of a step in a timeline. */
export function StepMarker({ status }: { status: StepStatus }) {
  const base = "flex size-7 shrink-0 items-center justify-center rounded-full ring-4 ring-white";
  switch (status) {
    case "succeeded":
      return (
        <span className={cx(base, "bg-emerald-500 text-white")}>
          <IconCheck className="size-4" />
        </span>
      );
    case "failed":
      return (
        <span className={cx(base, "bg-rose-500 text-white")}>
          <IconX className="size-4" />
        </span>
      );
    case "running":
      return (
        <span className={cx(base, "bg-sky-100 text-sky-600")}>
          <Spinner className="size-4" />
        </span>
      );
    case "retrying":
      return (
        <span className={cx(base, "bg-amber-100 text-amber-700")}>
          <Spinner className="size-4" />
        </span>
      );
    case "polling":
      return (
        <span className={cx(base, "bg-amber-100 text-amber-700")}>
          <IconHourglass className="size-3.5" />
        </span>
      );
    case "cancelled":
      return (
        <span className={cx(base, "bg-slate-200 text-slate-500")}>
          <IconSlash className="size-4" />
        </span>
      );
    case "skipped":
      // Muted: neither done nor failed, only passed over.
      return (
        <span className={cx(base, "bg-white")} data-marker="skipped">
          <span className="h-0.5 w-3 rounded-full bg-slate-300" />
        </span>
      );
    case "queued":
      return (
        <span className={cx(base, "bg-white text-slate-500 ring-4 ring-white")}>
          <span className="size-3 animate-pulse rounded-full border-2 border-sky-400" />
        </span>
      );
    default:
      return (
        <span className={cx(base, "bg-white")}>
          <span className="size-3 rounded-full border-2 border-slate-300" />
        </span>
      );
  }
}

/** A store's engine by its label from the registry (`GET /engines`); by its name until that answers. */
export function EngineBadge({ engine }: { engine: string }) {
  const engines = useEngines().data;
  return <Badge tone={engineTone(engines, engine)}>{engineLabel(engines, engine)}</Badge>;
}

export function ThemeBadge({ theme }: { theme: string | null }) {
  if (!theme) return null;
  return <Badge tone="gray">{THEME_LABELS[theme] ?? theme} theme</Badge>;
}
