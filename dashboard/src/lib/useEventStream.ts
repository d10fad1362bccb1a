// Keeps an authenticated event stream open: reconnects by itself with backoff (or the server's
// `retry:` advice), resumes after the last event it saw with `Last-Event-ID`, stops for good on
// 204 (nothing more will come) or on a client error (unknown store, expired session).

import { useEffect, useRef, useState } from "react";

import { ApiError, getToken } from "../api/client";
import { openEventStream, type OpenStream, type SseMessage } from "./sse";

export type StreamState = "idle" | "connecting" | "open" | "reconnecting" | "closed" | "failed";

export interface EventStreamOptions {
  enabled?: boolean;
  onEvent: (event: SseMessage) => void;
  /** Called each time a connection opens (the first and every reconnection). */
  onOpen?: (reconnected: boolean) => void;
  /** For tests: how a connection is made and how the hook waits between attempts. */
  connect?: OpenStream;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Backoff: min(base * 2^(n-1), max) plus up to 20% jitter; n counts failures in a row. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface EventStreamStatus {
  state: StreamState;
  /** The id of the last event received (sent as Last-Event-ID on reconnection). */
  lastEventId: string;
  /** The error that ended the stream ("failed"), or the last connection error. */
  error: ApiError | null;
  /** Connections opened after the first one. */
  reconnects: number;
}

export function backoffDelay(failures: number, base: number, max: number, random = Math.random): number {
  const exponential = Math.min(base * 2 ** Math.max(0, failures - 1), max);
  return Math.round(exponential * (1 + 0.2 * random()));
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      window.removeEventListener("online", done);
      resolve();
    }
    signal.addEventListener("abort", done);
    // Coming back online is worth an immediate attempt.
    window.addEventListener("online", done);
  });

/** Errors after which reconnecting cannot help. */
function isFinal(error: ApiError): boolean {
  return error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429;
}

export function useEventStream(url: string | null, options: EventStreamOptions): EventStreamStatus {
  const { enabled = true } = options;
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const [status, setStatus] = useState<EventStreamStatus>({
    state: "idle",
    lastEventId: "",
    error: null,
    reconnects: 0,
  });

  useEffect(() => {
    if (!url || !enabled) {
      setStatus((s) => ({ ...s, state: "idle" }));
      return;
    }
    const controller = new AbortController();
    const signal = controller.signal;
    const connect = optionsRef.current.connect ?? openEventStream;
    const sleep = optionsRef.current.sleep ?? defaultSleep;
    const base = optionsRef.current.baseDelayMs ?? 1000;
    const max = optionsRef.current.maxDelayMs ?? 15_000;
    let lastEventId = "";
    let serverRetry: number | null = null;

    const update = (patch: Partial<EventStreamStatus>) => {
      if (!signal.aborted) setStatus((s) => ({ ...s, ...patch }));
    };

    (async () => {
      let failures = 0;
      let opened = 0;
      update({ state: "connecting", error: null, lastEventId: "", reconnects: 0 });
      while (!signal.aborted) {
        // One controller per connection: going offline drops it at once (the stream is dead
        // anyway; waiting for the idle timeout would only delay the reconnection).
        const connection = new AbortController();
        const drop = () => connection.abort();
        signal.addEventListener("abort", drop);
        window.addEventListener("offline", drop);
        try {
          const end = await connect(url, {
            token: getToken(),
            lastEventId: lastEventId || undefined,
            signal: connection.signal,
            onOpen: () => {
              failures = 0;
              opened++;
              update({ state: "open", error: null, reconnects: Math.max(0, opened - 1) });
              optionsRef.current.onOpen?.(opened > 1);
            },
            onEvent: (event) => {
              if (event.id) lastEventId = event.id;
              update({ lastEventId });
              optionsRef.current.onEvent(event);
            },
            onRetry: (ms) => {
              serverRetry = ms;
            },
          });
          if (signal.aborted) return;
          if (end === "no-content") {
            update({ state: "closed" });
            return;
          }
          // The server ended a healthy stream (its lifetime limit, a restart): come back soon.
        } catch (cause) {
          if (signal.aborted) return;
          const error =
            cause instanceof ApiError
              ? cause
              : new ApiError({ status: 0, code: "NETWORK_ERROR", message: String(cause), retryable: true });
          if (isFinal(error)) {
            update({ state: "failed", error });
            return;
          }
          failures++;
          update({ error });
        } finally {
          signal.removeEventListener("abort", drop);
          window.removeEventListener("offline", drop);
        }
        update({ state: "reconnecting" });
        // Offline, wait for the network to come back (the sleep ends on "online").
        const offline = typeof navigator !== "undefined" && navigator.onLine === false;
        const delay = offline ? max : (serverRetry ?? backoffDelay(Math.max(1, failures), base, max));
        await sleep(delay, signal);
      }
    })();

    return () => controller.abort();
  }, [url, enabled]);

  return status;
}
