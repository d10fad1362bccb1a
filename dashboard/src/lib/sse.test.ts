import { describe, expect, it, vi } from "vitest";

import { ApiError, setToken } from "../api/client";
import { openEventStream, SseParser } from "./sse";

describe("SseParser", () => {
  it("dispatches events with their name, data and id", () => {
    const parser = new SseParser();
    const events = parser.feed('id: 7\nevent: step_started\ndata: {"a":1}\n\n');
    expect(events).toEqual([{ id: "7", event: "step_started", data: '{"a":1}' }]);
    expect(parser.lastEventId).toBe("7");
  });

  it("reassembles events split anywhere across chunks", () => {
    const text = "id: 1\nevent: queued\ndata: first\n\nid: 2\nevent: started\ndata: second\n\n";
    for (let cut = 1; cut < text.length; cut++) {
      const parser = new SseParser();
      const events = [...parser.feed(text.slice(0, cut)), ...parser.feed(text.slice(cut))];
      expect(events.map((e) => [e.id, e.event, e.data])).toEqual([
        ["1", "queued", "first"],
        ["2", "started", "second"],
      ]);
    }
  });

  it("accepts CRLF, CR and LF line ends, even a CRLF split between chunks", () => {
    const parser = new SseParser();
    const events = [
      ...parser.feed("data: a\r"),
      ...parser.feed("\n\r\ndata: b\rdata: c\r\r"),
      ...parser.feed("data: d\n\n"),
    ];
    expect(events.map((e) => e.data)).toEqual(["a", "b\nc", "d"]);
  });

  it("joins data lines, ignores comments and unknown fields, defaults the name to message", () => {
    const parser = new SseParser();
    const events = parser.feed(": keep-alive\nfoo: bar\ndata: one\ndata:two\ndata\n\n");
    expect(events).toEqual([{ id: "", event: "message", data: "one\ntwo\n" }]);
  });

  it("keeps the last id for later events and ignores ids with NUL", () => {
    const parser = new SseParser();
    const events = parser.feed("id: 5\ndata: x\n\ndata: y\n\nid: bad\0id\ndata: z\n\n");
    expect(events.map((e) => e.id)).toEqual(["5", "5", "5"]);
  });

  it("does not dispatch an event without data, but remembers its id", () => {
    const parser = new SseParser();
    expect(parser.feed("id: 9\nevent: ping\n\n")).toEqual([]);
    expect(parser.lastEventId).toBe("9");
  });

  it("reads retry advice and keeps an unterminated event for the next chunk", () => {
    const parser = new SseParser();
    expect(parser.feed("retry: 2500\ndata: partial")).toEqual([]);
    expect(parser.retry).toBe(2500);
    expect(parser.feed("\n\n")).toEqual([{ id: "", event: "message", data: "partial" }]);
    parser.feed("retry: soon\n");
    expect(parser.retry).toBe(2500);
  });
});

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

describe("openEventStream", () => {
  it("sends the token and Last-Event-ID and reads events until the server ends", async () => {
    const fetchImpl = vi.fn(
      async () =>
        new Response(streamOf(["id: 3\nevent: step_", "succeeded\ndata: {}\n\n: ping\n\n"]), {
          status: 200,
          headers: { "content-type": "text/event-stream" },
        }),
    );
    const events: string[] = [];
    const opened = vi.fn();
    const end = await openEventStream("/api/v1/stores/store-00000001/events/stream", {
      token: "t0k",
      lastEventId: "2",
      signal: new AbortController().signal,
      onOpen: opened,
      onEvent: (e) => events.push(`${e.id}:${e.event}`),
      fetchImpl: fetchImpl as unknown as typeof fetch,
    });
    expect(end).toBe("ended");
    expect(opened).toHaveBeenCalledOnce();
    expect(events).toEqual(["3:step_succeeded"]);
    const init = (fetchImpl.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect(init.headers).toMatchObject({ Authorization: "Bearer t0k", "Last-Event-ID": "2" });
  });

  it("answers no-content for 204 and throws the API's error otherwise", async () => {
    const signal = new AbortController().signal;
    const noContent = vi.fn(async () => new Response(null, { status: 204 }));
    await expect(
      openEventStream("/x", {
        token: null,
        signal,
        onEvent: () => undefined,
        fetchImpl: noContent as unknown as typeof fetch,
      }),
    ).resolves.toBe("no-content");

    const notFound = vi.fn(
      async () =>
        new Response(
          JSON.stringify({
            requestId: "req_1",
            error: { code: "STORE_NOT_FOUND", message: "Store x was not found.", retryable: false },
          }),
          {
            status: 404,
            headers: { "content-type": "application/json" },
          },
        ),
    );
    const error = await openEventStream("/x", {
      token: null,
      signal,
      onEvent: () => undefined,
      fetchImpl: notFound as unknown as typeof fetch,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe("STORE_NOT_FOUND");
    expect((error as ApiError).requestId).toBe("req_1");
  });

  it("reports an expired token to the session listeners", async () => {
    const { onSessionExpired } = await import("../api/client");
    setToken("old");
    const listener = vi.fn();
    const stop = onSessionExpired(listener);
    const unauthorized = vi.fn(
      async () =>
        new Response(JSON.stringify({ error: { code: "UNAUTHORIZED", message: "Invalid or expired token." } }), {
          status: 401,
        }),
    );
    await openEventStream("/x", {
      token: "old",
      signal: new AbortController().signal,
      onEvent: () => undefined,
      fetchImpl: unauthorized as unknown as typeof fetch,
    }).catch(() => undefined);
    stop();
    expect(listener).toHaveBeenCalledOnce();
  });
});
