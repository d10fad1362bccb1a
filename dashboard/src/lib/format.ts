// Durations, dates and labels, written the same way on every page.

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = ms / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const totalSeconds = Math.round(seconds);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) {
    const rest = totalSeconds % 60;
    return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    const rest = minutes % 60;
    return rest ? `${hours} h ${rest} min` : `${hours} h`;
  }
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const dateTimeThisYear = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  return date.getFullYear() === new Date().getFullYear() ? dateTimeThisYear.format(date) : dateTime.format(date);
}

const clock = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

/** A wall-clock time as HH:MM:SS (24 hours, local time): "next attempt at 14:03:27". */
export function formatClock(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "—" : clock.format(date);
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "—" : timeOnly.format(date);
}

/** Like formatRelative, for things that already happened: a clock a little ahead of ours
 * (the server's, or a `now` that ticks only every few seconds) still reads as the past. */
export function formatAgo(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "—";
  const at = new Date(iso).getTime();
  if (Number.isNaN(at)) return "—";
  if (at - now > -1500) return "just now";
  return formatRelative(iso, now);
}

/** "12 s ago", "in 5 min", "just now". */
export function formatRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return "—";
  const at = new Date(iso).getTime();
  if (Number.isNaN(at)) return "—";
  const delta = at - now;
  const seconds = Math.abs(delta) / 1000;
  if (seconds < 1.5) return delta >= 0 ? "now" : "just now";
  let text: string;
  if (seconds < 60) text = `${Math.round(seconds)} s`;
  else if (seconds < 3600) text = `${Math.round(seconds / 60)} min`;
  else if (seconds < 48 * 3600) text = `${Math.round(seconds / 3600)} h`;
  else text = `${Math.round(seconds / 86400)} d`;
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(id: string | null | undefined): id is string {
  return !!id && UUID.test(id);
}

/**
 * A short form of a UUID: its last 8 hex digits. Run and user ids are time-ordered UUIDs (v7),
 * whose first 8 digits are the top of a millisecond timestamp — the same for everything created
 * within about a minute — while the last ones are random, so two runs of the same minute still
 * differ. Anything that is not a UUID (store ids, `store-1a2b3c4d`) is already short: kept whole.
 */
export function shortId(id: string | null | undefined): string {
  if (!id) return "—";
  return isUuid(id) ? id.slice(-8).toLowerCase() : id;
}

export const THEME_LABELS: Record<string, string> = {
  storefront: "Storefront",
  astra: "Astra",
};

export function capitalize(text: string): string {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** `step_retry_requested` → "Step retry requested". */
export function humanize(text: string): string {
  return capitalize(text.replace(/[_-]+/g, " ").trim());
}

const BYTE_UNITS = ["KB", "MB", "GB", "TB"];

/**
 * A size for people: "512 B", "12.3 MB", "1.5 GB", "240 GB" (units of 1024, as file managers
 * show them; one decimal below 100, none above, no trailing ".0"). "—" when unknown.
 */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return "—";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let unit = 0;
  // Rounded first, so 1023.96 KB reads "1 MB", not "1024 KB".
  while (unit < BYTE_UNITS.length - 1 && Number(value.toFixed(value < 100 ? 1 : 0)) >= 1024) {
    value /= 1024;
    unit++;
  }
  const text = value.toFixed(value < 100 ? 1 : 0).replace(/\.0$/, "");
  return `${text} ${BYTE_UNITS[unit]}`;
}
