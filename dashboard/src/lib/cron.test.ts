import { describe, expect, it } from "vitest";

import { cronErrorWords, describeCron, formatUtc } from "./cron";

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

describe("formatUtc", () => {
  it("writes times in UTC, whatever the local zone", () => {
    expect(formatUtc("2026-12-05T04:15:00Z")).toBe("Dec 5, 04:15 UTC");
    expect(formatUtc(null)).toBe("—");
    expect(formatUtc("not a date")).toBe("—");
  });
});
