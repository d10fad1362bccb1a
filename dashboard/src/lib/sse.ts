// Server-Sent Events over fetch: EventSource cannot send `Authorization`, so the dashboard reads
// the stream itself. `SseParser` follows the HTML standard's event-stream interpretation
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
// any of CRLF, LF or CR ends a line, even when split across chunks; `:` lines are comments;
// `data` lines join with "\n"; an `id` persists until changed; `retry` sets the reconnection time.

import { ApiError, errorFromResponse, networkError, reportUnauthorized } from "../api/client";

export interface SseMessage {
  /** The last event id seen on the stream when this event was dispatched ("" if none). */
  id: string;
  /** The event name (`message` when the stream did not name it). */
  event: string;
  data: string;
}

export class SseParser {
  private buffer = "";
  private skipLeadingLf = false;
  private data: string[] = [];
  private hasData = false;
  private eventType = "";
  /** The stream's last event id (what `Last-Event-ID` must carry on reconnection). */
  lastEventId = "";
  /** The reconnection time the server asked for, in milliseconds. */
  retry: number | null = null;

  /** Feeds decoded text; returns the events completed by it, in order. */
  feed(chunk: string): SseMessage[] {
    const events: SseMessage[] = [];
    let text = this.buffer + chunk;
    if (this.skipLeadingLf && text.length > 0) {
      if (text[0] === "\n") text = text.slice(1);
      this.skipLeadingLf = false;
    }
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c !== "\n" && c !== "\r") continue;
      this.line(text.slice(start, i), events);
      if (c === "\r") {
        if (i + 1 < text.length) {
          if (text[i + 1] === "\n") i++;
        } else {
          // A CR at the end of this chunk: an LF opening the next one belongs to it.
          this.skipLeadingLf = true;
        }
      }
      start = i + 1;
    }
    this.buffer = text.slice(start);
    return events;
  }

  private line(line: string, events: SseMessage[]): void {
    if (line === "") {
      this.dispatch(events);
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
    }
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data.push(value);
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        // Unknown fields are ignored.
        break;
    }
  }

  private dispatch(events: SseMessage[]): void {
    if (this.hasData) {
      events.push({ id: this.lastEventId, event: this.eventType || "message", data: this.data.join("\n") });
    }
    this.data = [];
    this.hasData = false;
    this.eventType = "";
  }
}

export type StreamEnd = "ended" | "no-content";

export interface OpenStreamOptions {
  token: string | null;
  lastEventId?: string;
  signal: AbortSignal;
  /** The answer's head arrived with 200: the stream is live. */
  onOpen?: () => void;
  onEvent: (event: SseMessage) => void;
  /** The server's `retry:` advice, in milliseconds. */
  onRetry?: (ms: number) => void;
  /** Abort when nothing (not even a keep-alive comment) arrived for this long. */
  idleTimeoutMs?: number;
  fetchImpl?: typeof fetch;
}

export type OpenStream = (url: string, options: OpenStreamOptions) => Promise<StreamEnd>;

/**
 * Reads one connection of an event stream until the server closes it ("ended"), answers 204
 * ("no-content": nothing more will come, do not reconnect), or fails (throws ApiError).
 */
export const openEventStream: OpenStream = async (url, options) => {
  const headers: Record<string, string> = { Accept: "text/event-stream" };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.lastEventId) headers["Last-Event-ID"] = options.lastEventId;
  const idle = new AbortController();
  const onAbort = () => idle.abort();
  options.signal.addEventListener("abort", onAbort);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idleTimeout = options.idleTimeoutMs ?? 45_000;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => idle.abort(), idleTimeout);
  };
  try {
    arm();
    let response: Response;
    try {
      response = await (options.fetchImpl ?? fetch)(url, {
        headers,
        signal: idle.signal,
        cache: "no-store",
      });
    } catch (cause) {
      throw networkError(cause);
    }
    if (response.status === 204) return "no-content";
    if (!response.ok) {
      const error = await errorFromResponse(response);
      reportUnauthorized(error, options.token);
      throw error;
    }
    if (!response.body) throw networkError(new Error("the event stream has no body"));
    options.onOpen?.();
    const parser = new SseParser();
    if (options.lastEventId) parser.lastEventId = options.lastEventId;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let retry: number | null = null;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return "ended";
        arm();
        for (const event of parser.feed(value)) options.onEvent(event);
        if (parser.retry !== null && parser.retry !== retry) {
          retry = parser.retry;
          options.onRetry?.(retry);
        }
      }
    } catch (cause) {
      if (cause instanceof ApiError) throw cause;
      throw networkError(cause);
    } finally {
      reader.cancel().catch(() => undefined);
    }
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onAbort);
  }
};
