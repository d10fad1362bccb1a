// Cron expressions of the schedules and of stores' backup schedules (5 fields, UTC), in words
// people read at a glance, and the API's refusal of one turned into a sentence for the field that
// holds it.

/** The format, said once beside the field. */
export const CRON_FORMAT_HINT =
  "5 fields, in UTC: minute (0–59), hour (0–23), day of month (1–31), month (1–12), day of week (0–6, 0 is Sunday). " +
  "“*” means every; “*/15” every 15th. Example: “0 3 * * *” is every day at 03:00 UTC.";

/** The short hint beside a store's backup schedule field. */
export const BACKUP_CRON_HINT = "5 fields, UTC, e.g. 0 3 * * *";

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

function number(field: string, max: number): number | null {
  if (!/^\d{1,2}$/.test(field)) return null;
  const n = Number(field);
  return n <= max ? n : null;
}

function step(field: string): number | null {
  const match = /^\*\/(\d{1,2})$/.exec(field);
  return match && Number(match[1]) > 0 ? Number(match[1]) : null;
}

const two = (n: number) => String(n).padStart(2, "0");

/**
 * Common 5-field expressions in words ("every day at 03:40 UTC", "every 15 minutes"); null for
 * anything else (the expression itself is shown then).
 */
export function describeCron(expression: string): string | null {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return null;
  const [minute, hour, day, month, weekday] = fields;
  if (month !== "*") return null;
  const m = number(minute, 59);
  const h = number(hour, 23);
  if (day === "*" && weekday === "*") {
    if (minute === "*" && hour === "*") return "every minute";
    const everyMinutes = step(minute);
    if (everyMinutes && hour === "*") return everyMinutes === 1 ? "every minute" : `every ${everyMinutes} minutes`;
    if (m !== null && hour === "*") return m === 0 ? "every hour, on the hour" : `every hour at minute ${m}`;
    const everyHours = step(hour);
    if (m !== null && everyHours) {
      return everyHours === 1 ? `every hour at minute ${m}` : `every ${everyHours} hours at minute ${m}`;
    }
    if (m !== null && h !== null) return `every day at ${two(h)}:${two(m)} UTC`;
    return null;
  }
  if (m === null || h === null) return null;
  const d = number(weekday, 7);
  if (day === "*" && d !== null) return `every ${DAYS[d]} at ${two(h)}:${two(m)} UTC`;
  const dom = number(day, 31);
  if (weekday === "*" && dom !== null && dom >= 1) return `on day ${dom} of every month at ${two(h)}:${two(m)} UTC`;
  return null;
}

const FIELD_SYNTAX =
  "Each field is a number, “*”, a range such as “1-5”, a list such as “1,15” or a step such as “*/15”.";

function fieldCountWords(count: number): string {
  return `It has ${count} field${count === 1 ? "" : "s"}; a schedule needs 5: minute, hour, day of month, month and day of week.`;
}

/** An expression in one line, its fields one space apart. */
export function normalizeCron(text: string): string {
  return text.trim().replace(/\s+/g, " ");
}

/**
 * An expression without 5 fields, in words, before anything is sent ("“* * *” is not a valid
 * schedule. It has 3 fields; …"); null when it has 5 (or is empty: the form says that itself).
 * The numbers within the fields are the API's to check.
 */
export function cronShapeProblem(text: string): string | null {
  const expression = normalizeCron(text);
  if (!expression) return null;
  const count = expression.split(" ").length;
  return count === 5 ? null : `“${expression}” is not a valid schedule. ${fieldCountWords(count)}`;
}

/**
 * The API's refusal of a cron expression ("invalid cron expression `* * *`: expected 5 fields
 * (min hour day month weekday) or 6-7 with seconds first, got 3", or the backup policy's "use 5
 * fields: minute hour day-of-month month day-of-week (UTC), e.g. "0 3 * * *""), as a sentence
 * that names the expression as typed. The parser's echo of its internal form and its caret line
 * are left out: they show a seconds field the person never typed.
 */
export function cronErrorWords(message: string, typed: string): string {
  const match = /^invalid cron expression `([^`]*)`:\s*([\s\S]*)$/i.exec(message.trim());
  const expression = match ? match[1] : normalizeCron(typed);
  const reason = match ? match[2] : message;
  const count = /expected 5 fields.*got (\d+)/i.exec(reason);
  let why: string;
  if (count) {
    why = fieldCountWords(Number(count[1]));
  } else if (/^use 5 fields\b/i.test(reason.trim())) {
    why = fieldCountWords(expression ? expression.split(/\s+/).length : 0);
  } else {
    const echo = `0 ${expression}`.replace(/\s+/g, " ");
    const lines = reason
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line && !/^\^+$/.test(line) && line.replace(/\s+/g, " ") !== echo);
    why = lines.at(-1) ?? "";
    // A sentence ends once: "(0-23)" gets its full stop, "('61' specified.)" has one.
    if (why && !/[.!?]\)?$/.test(why)) why += ".";
    if (why) why = why[0].toUpperCase() + why.slice(1);
    // The parser said nothing but its own form of the expression: say what a field may hold.
    else why = FIELD_SYNTAX;
  }
  const what = expression ? `“${expression}” is not a valid schedule.` : "Enter a schedule.";
  return why ? `${what} ${why}` : what;
}

const utc = new Intl.DateTimeFormat("en-US", {
  timeZone: "UTC",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/** A time in UTC, the zone cron expressions are read in: "Dec 5, 04:15 UTC". */
export function formatUtc(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "—" : `${utc.format(date)} UTC`;
}
