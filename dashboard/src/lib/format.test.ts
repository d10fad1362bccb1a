import { describe, expect, it } from "vitest";

import { formatAgo, formatDuration, formatRelative } from "./format";

describe("formatDuration", () => {
  it("reads naturally at every scale", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(3)).toBe("3 ms");
    expect(formatDuration(5400)).toBe("5.4 s");
    expect(formatDuration(42_000)).toBe("42 s");
    expect(formatDuration(332_000)).toBe("5 min 32 s");
    expect(formatDuration(3_600_000)).toBe("1 h");
    expect(formatDuration(3 * 86_400_000)).toBe("3 d 0 h");
  });
});

describe("formatRelative and formatAgo", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  it("says how long ago or how soon", () => {
    expect(formatRelative("2026-01-01T11:59:48Z", now)).toBe("12 s ago");
    expect(formatRelative("2026-01-01T12:05:00Z", now)).toBe("in 5 min");
    expect(formatRelative("2026-01-01T09:00:00Z", now)).toBe("3 h ago");
  });
  it("never puts the past in the future when clocks differ a little", () => {
    expect(formatAgo("2026-01-01T12:00:07Z", now)).toBe("just now");
    expect(formatAgo("2026-01-01T11:58:00Z", now)).toBe("2 min ago");
  });
});
