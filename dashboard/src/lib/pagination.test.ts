import { describe, expect, it } from "vitest";

import { offsetOf, pageInfo, pageItems, parsePage } from "./pagination";

describe("pageInfo", () => {
  it("describes a page of a longer list", () => {
    expect(pageInfo(143, 20, 40)).toEqual({
      page: 3,
      pageCount: 8,
      from: 41,
      to: 60,
      total: 143,
      hasPrevious: true,
      hasNext: true,
    });
  });

  it("handles the last, partial page and an empty list", () => {
    expect(pageInfo(143, 20, 140)).toMatchObject({ page: 8, from: 141, to: 143, hasNext: false });
    expect(pageInfo(0, 20, 0)).toMatchObject({
      page: 1,
      pageCount: 1,
      from: 0,
      to: 0,
      hasPrevious: false,
      hasNext: false,
    });
  });

  it("goes well past 100 rows (no cap)", () => {
    expect(pageInfo(1000, 100, 900)).toMatchObject({ page: 10, pageCount: 10, from: 901, to: 1000 });
    expect(offsetOf(10, 100)).toBe(900);
  });
});

describe("pageItems", () => {
  it("shows first, last and neighbours with gaps", () => {
    expect(pageItems(1, 1)).toEqual([1]);
    expect(pageItems(1, 5)).toEqual([1, 2, "gap", 5]);
    expect(pageItems(5, 10)).toEqual([1, "gap", 4, 5, 6, "gap", 10]);
    expect(pageItems(3, 10)).toEqual([1, 2, 3, 4, "gap", 10]);
    // A gap of exactly one page shows the page instead.
    expect(pageItems(4, 10)).toEqual([1, 2, 3, 4, 5, "gap", 10]);
  });
});

describe("parsePage", () => {
  it("reads positive integers only", () => {
    expect(parsePage("3")).toBe(3);
    for (const bad of [null, "", "0", "-1", "2.5", "x"]) expect(parsePage(bad)).toBe(1);
  });
});
