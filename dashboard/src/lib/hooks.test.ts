import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { useCoalesced, useDebounced } from "./hooks";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("useDebounced", () => {
  it("changes only once the value stopped changing", () => {
    const { result, rerender } = renderHook(({ value }) => useDebounced(value, 300), { initialProps: { value: "s" } });
    rerender({ value: "st" });
    act(() => vi.advanceTimersByTime(200));
    rerender({ value: "sto" });
    act(() => vi.advanceTimersByTime(200));
    expect(result.current).toBe("s");
    act(() => vi.advanceTimersByTime(100));
    expect(result.current).toBe("sto");
  });
});

describe("useCoalesced", () => {
  it("runs at once, then folds a burst into one trailing call", () => {
    const fn = vi.fn();
    const { result } = renderHook(() => useCoalesced(fn, 400));
    act(() => {
      for (let i = 0; i < 50; i++) result.current();
    });
    expect(fn).toHaveBeenCalledTimes(1);
    act(() => vi.advanceTimersByTime(400));
    expect(fn).toHaveBeenCalledTimes(2);
    act(() => vi.advanceTimersByTime(1000));
    expect(fn).toHaveBeenCalledTimes(2);
    act(() => result.current());
    expect(fn).toHaveBeenCalledTimes(3);
  });
});
