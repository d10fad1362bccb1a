import { describe, expect, it } from "vitest";

import { formatAgo, formatBytes, formatClock, formatDuration, formatRelative, shortId } from "./format";

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

describe("shortId", () => {
  it("tells apart runs created in the same minute (UUID v7: the time is in front)", () => {
    // Two runs of the same second: same first 8 digits, different last 8.
    const a = "01a23fb5-6651-746d-9af9-011cad5c704d";
    const b = "01a23fb5-6652-7b21-8c3e-5f90de12a9b7";
    expect(a.slice(0, 8)).toBe(b.slice(0, 8));
    expect(shortId(a)).toBe("ad5c704d");
    expect(shortId(b)).toBe("de12a9b7");
    expect(shortId(a)).not.toBe(shortId(b));
  });

  it("keeps ids that are not UUIDs whole", () => {
    expect(shortId("store-1a2b3c4d")).toBe("store-1a2b3c4d");
    expect(shortId(null)).toBe("—");
  });
});

describe("formatClock", () => {
  it("is HH:MM:SS on a 24-hour clock", () => {
    expect(formatClock("2026-01-01T15:04:05Z")).toMatch(/^\d{2}:\d{2}:05$/);
    expect(formatClock(null)).toBe("—");
  });
});

describe("formatBytes", () => {
  it("writes sizes the way file managers do", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1024)).toBe("1 KB");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(48_512_331)).toBe("46.3 MB");
    expect(formatBytes(150 * 1024 * 1024)).toBe("150 MB");
    expect(formatBytes(2_200_000_000)).toBe("2 GB");
    expect(formatBytes(5.5 * 1024 ** 4)).toBe("5.5 TB");
  });

  it("moves up a unit rather than showing 1024 of one", () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe("1 MB");
    expect(formatBytes(1024 ** 3 - 1)).toBe("1 GB");
  });

  it("says nothing about an unknown size", () => {
    expect(formatBytes(null)).toBe("—");
    expect(formatBytes(undefined)).toBe("—");
    expect(formatBytes(Number.NaN)).toBe("—");
    expect(formatBytes(-1)).toBe("—");
  });
});
