import { describe, expect, it } from "vitest";

import { BACKUP_CRON_HINT, cronErrorWords, cronShapeProblem, describeCron, formatUtc, normalizeCron } from "./cron";

describe("describeCron", () => {
  it("reads the common expressions in words", () => {
    expect(describeCron("40 3 * * *")).toBe("every day at 03:40 UTC");
    expect(describeCron("*/15 * * * *")).toBe("every 15 minutes");
    expect(describeCron("17 * * * *")).toBe("every hour at minute 17");
    expect(describeCron("0 * * * *")).toBe("every hour, on the hour");
    expect(describeCron("0 */6 * * *")).toBe("every 6 hours at minute 0");
    expect(describeCron("* * * * *")).toBe("every minute");
    expect(describeCron("30 2 * * 1")).toBe("every Monday at 02:30 UTC");
    expect(describeCron("30 2 * * 0")).toBe("every Sunday at 02:30 UTC");
    expect(describeCron("0 4 1 * *")).toBe("on day 1 of every month at 04:00 UTC");
  });

  it("says nothing rather than something wrong", () => {
    for (const expression of ["0 3 * 1 *", "0 3 * * 1-5", "0 0 3 * * *", "61 3 * * *", "0 24 * * *", "* * *", ""]) {
      expect(describeCron(expression), expression).toBeNull();
    }
  });
});

describe("cronErrorWords", () => {
  it("counts the fields of an expression with too few", () => {
    // As the API answered `PATCH /schedules/prune-history {"cron": "* * *"}`.
    const message =
      "invalid cron expression `* * *`: expected 5 fields (min hour day month weekday) or 6-7 with seconds first, got 3";
    expect(cronErrorWords(message, "* * *")).toBe(
      "“* * *” is not a valid schedule. It has 3 fields; a schedule needs 5: minute, hour, day of month, month and day of week.",
    );
  });

  it("leaves out the parser's echo of a seconds field nobody typed", () => {
    // As the API answered `{"cron": "0 61 * * *"}`: the parser's own form, a caret, the reason.
    const message = "invalid cron expression `0 61 * * *`: 0 0 61 * * *\n    ^\nHours must be less than 23. ('61' specified.)";
    const words = cronErrorWords(message, "0 61 * * *");
    expect(words).toBe("“0 61 * * *” is not a valid schedule. Hours must be less than 23. ('61' specified.)");
    expect(words).not.toContain("0 0 61");
    expect(words).not.toContain("^");
  });

  it("names what was typed when the message has another shape", () => {
    expect(cronErrorWords("something odd", "1 2 3")).toBe("“1 2 3” is not a valid schedule. Something odd.");
  });
});

describe("backup schedules", () => {
  it("catches an expression without 5 fields before it is sent", () => {
    expect(cronShapeProblem("* * *")).toBe(
      "“* * *” is not a valid schedule. It has 3 fields; a schedule needs 5: minute, hour, day of month, month and day of week.",
    );
    expect(cronShapeProblem(" 0  0 3 * * * ")).toBe(
      "“0 0 3 * * *” is not a valid schedule. It has 6 fields; a schedule needs 5: minute, hour, day of month, month and day of week.",
    );
    expect(cronShapeProblem("0")).toMatch(/It has 1 field;/);
    // Five fields: the numbers are the API's to check; empty: the form asks for one itself.
    expect(cronShapeProblem("0 25 * * *")).toBeNull();
    expect(cronShapeProblem("   ")).toBeNull();
    expect(normalizeCron("  15   4 * *  * ")).toBe("15 4 * * *");
  });

  it("words the backup policy's refusals, as the API answered them", () => {
    // `PUT /stores/{id}/backup-policy` with `{"schedule": "0 3 * *"}`.
    expect(cronErrorWords('use 5 fields: minute hour day-of-month month day-of-week (UTC), e.g. "0 3 * * *"', "0 3 * *")).toBe(
      "“0 3 * *” is not a valid schedule. It has 4 fields; a schedule needs 5: minute, hour, day of month, month and day of week.",
    );
    // …`{"schedule": "0 25 * * *"}` and `"0 3 * * 9"`: the range, in the person's terms.
    expect(cronErrorWords("invalid cron expression `0 25 * * *`: hour 25 is out of range (0-23)", "0 25 * * *")).toBe(
      "“0 25 * * *” is not a valid schedule. Hour 25 is out of range (0-23).",
    );
    expect(
      cronErrorWords("invalid cron expression `0 3 * * 9`: day of the week 9 is out of range (0-7)", "0 3 * * 9"),
    ).toBe("“0 3 * * 9” is not a valid schedule. Day of the week 9 is out of range (0-7).");
    // …`{"schedule": "a b c d e"}`: the parser says nothing but its own form of it.
    expect(cronErrorWords("invalid cron expression `a b c d e`: 0 a b c d e", "a b c d e")).toBe(
      "“a b c d e” is not a valid schedule. Each field is a number, “*”, a range such as “1-5”, a list such as “1,15” or a step such as “*/15”.",
    );
  });

  it("keeps the hint beside the field short", () => {
    expect(BACKUP_CRON_HINT).toBe("5 fields, UTC, e.g. 0 3 * * *");
  });
});

describe("formatUtc", () => {
  it("writes times in UTC, whatever the local zone", () => {
    expect(formatUtc("2026-12-05T04:15:00Z")).toBe("Dec 5, 04:15 UTC");
    expect(formatUtc(null)).toBe("—");
    expect(formatUtc("not a date")).toBe("—");
  });
});
