import { act, renderHook, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import { ApiError } from "../api/client";
import type { OpenStream, OpenStreamOptions } from "./sse";
import { backoffDelay, useEventStream } from "./useEventStream";

/** A connection that stays open until its signal aborts it (like fetch). */
function openUntilAborted(options: OpenStreamOptions): Promise<"ended"> {
  options.onOpen?.();
  return new Promise((_resolve, reject) => {
    options.signal.addEventListener("abort", () =>
      reject(new ApiError({ status: 0, code: "NETWORK_ERROR", message: "aborted" })),
    );
  });
}

/** A scripted server: each connection runs the next script. */
function scripted(scripts: ((options: OpenStreamOptions) => Promise<"ended" | "no-content">)[]) {
  const calls: OpenStreamOptions[] = [];
  const connect: OpenStream = (_url, options) => {
    calls.push(options);
    const script = scripts.shift();
    if (!script) return openUntilAborted(options);
    return script(options);
  };
  return { connect, calls };
}

const noSleep = vi.fn(async () => undefined);

describe("useEventStream", () => {
  it("delivers events, then reconnects after a drop with Last-Event-ID of the last event", async () => {
    const { connect, calls } = scripted([
      async (o) => {
        o.onOpen?.();
        o.onEvent({ id: "1", event: "queued", data: "{}" });
        o.onEvent({ id: "2", event: "step_started", data: "{}" });
        throw new ApiError({ status: 0, code: "NETWORK_ERROR", message: "connection reset" });
      },
      async (o) => {
        o.onEvent({ id: "3", event: "step_succeeded", data: "{}" });
        return openUntilAborted(o);
      },
    ]);
    const onEvent = vi.fn();
    const onOpen = vi.fn();
    const { result } = renderHook(() =>
      useEventStream("/api/v1/stores/store-00000001/events/stream", { onEvent, onOpen, connect, sleep: noSleep }),
    );
    await waitFor(() => expect(onEvent).toHaveBeenCalledTimes(3));
    expect(calls).toHaveLength(2);
    expect(calls[0].lastEventId).toBeUndefined();
    expect(calls[1].lastEventId).toBe("2");
    expect(onOpen.mock.calls).toEqual([[false], [true]]);
    await waitFor(() => expect(result.current.state).toBe("open"));
    expect(result.current.lastEventId).toBe("3");
    expect(result.current.reconnects).toBe(1);
  });

  it("backs off longer after each failure in a row, and starts over once connected", async () => {
    const down = async () => {
      throw new ApiError({ status: 503, code: "SERVICE_UNAVAILABLE", message: "down" });
    };
    const { connect } = scripted([
      down,
      down,
      down,
      async (o) => {
        o.onOpen?.();
        return "ended";
      },
      down,
    ]);
    const sleep = vi.fn(async () => undefined);
    renderHook(() =>
      useEventStream("/s", { onEvent: () => undefined, connect, sleep, baseDelayMs: 100, maxDelayMs: 1000 }),
    );
    await waitFor(() => expect(sleep).toHaveBeenCalledTimes(5));
    const delays = sleep.mock.calls.map((call) => (call as unknown as [number])[0]);
    expect(delays[0]).toBeGreaterThanOrEqual(100);
    expect(delays[0]).toBeLessThanOrEqual(120);
    expect(delays[1]).toBeGreaterThanOrEqual(200);
    expect(delays[2]).toBeGreaterThanOrEqual(400);
    // After a good connection the count of failures starts again.
    expect(delays[3]).toBeLessThanOrEqual(120);
    expect(delays[4]).toBeLessThanOrEqual(120);
  });

  it("stops for good on 204 and on client errors", async () => {
    const done = scripted([async () => "no-content"]);
    const a = renderHook(() =>
      useEventStream("/a", { onEvent: () => undefined, connect: done.connect, sleep: noSleep }),
    );
    await waitFor(() => expect(a.result.current.state).toBe("closed"));

    const missing = scripted([
      async () => {
        throw new ApiError({ status: 404, code: "STORE_NOT_FOUND", message: "Store x was not found." });
      },
    ]);
    const b = renderHook(() =>
      useEventStream("/b", { onEvent: () => undefined, connect: missing.connect, sleep: noSleep }),
    );
    await waitFor(() => expect(b.result.current.state).toBe("failed"));
    expect(b.result.current.error?.code).toBe("STORE_NOT_FOUND");
    await act(async () => undefined);
    expect(missing.calls).toHaveLength(1);
  });

  it("follows the server's retry advice", async () => {
    const { connect } = scripted([
      async (o) => {
        o.onOpen?.();
        o.onRetry?.(4321);
        return "ended";
      },
    ]);
    const sleep = vi.fn(async () => undefined);
    renderHook(() => useEventStream("/r", { onEvent: () => undefined, connect, sleep }));
    await waitFor(() => expect(sleep).toHaveBeenCalled());
    expect((sleep.mock.calls[0] as unknown as [number])[0]).toBe(4321);
  });

  it("aborts the connection when unmounted or disabled", async () => {
    const { connect, calls } = scripted([]);
    const { rerender, unmount } = renderHook(
      ({ enabled }) => useEventStream("/u", { onEvent: () => undefined, connect, enabled }),
      {
        initialProps: { enabled: true },
      },
    );
    await waitFor(() => expect(calls).toHaveLength(1));
    rerender({ enabled: false });
    expect(calls[0].signal.aborted).toBe(true);
    unmount();
  });

  it("drops the connection when the browser goes offline and resumes when it is back", async () => {
    const { connect, calls } = scripted([
      async (o) => {
        o.onEvent({ id: "41", event: "pending", data: "{}" });
        return openUntilAborted(o);
      },
    ]);
    let online = true;
    vi.spyOn(navigator, "onLine", "get").mockImplementation(() => online);
    let wake: () => void = () => undefined;
    const sleep = vi.fn(
      (_ms: number, signal: AbortSignal) =>
        new Promise<void>((resolve) => {
          wake = resolve;
          signal.addEventListener("abort", () => resolve());
        }),
    );
    const { result } = renderHook(() =>
      useEventStream("/o", { onEvent: () => undefined, connect, sleep, maxDelayMs: 9999 }),
    );
    await waitFor(() => expect(result.current.state).toBe("open"));
    online = false;
    act(() => {
      window.dispatchEvent(new Event("offline"));
    });
    await waitFor(() => expect(result.current.state).toBe("reconnecting"));
    expect(calls[0].signal.aborted).toBe(true);
    // Offline, it waits for the network (the longest delay) rather than hammering.
    expect((sleep.mock.calls[0] as unknown as [number])[0]).toBe(9999);
    online = true;
    await act(async () => wake());
    await waitFor(() => expect(result.current.state).toBe("open"));
    expect(calls).toHaveLength(2);
    expect(calls[1].lastEventId).toBe("41");
  });

  it("computes capped exponential backoff with at most 20% jitter", () => {
    expect(backoffDelay(1, 1000, 15000, () => 0)).toBe(1000);
    expect(backoffDelay(3, 1000, 15000, () => 0)).toBe(4000);
    expect(backoffDelay(10, 1000, 15000, () => 0)).toBe(15000);
    expect(backoffDelay(10, 1000, 15000, () => 1)).toBe(18000);
  });
});
