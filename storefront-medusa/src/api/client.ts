// A small fetch wrapper for the Medusa Store API v1: JSON in and out, the publishable key and the
// customer's bearer token as headers, a timeout, and one error type with the HTTP status and
// Medusa's own message, so every page can say what went wrong and offer a way forward.

export class ApiError extends Error {
  /** HTTP status; 0 when the server could not be reached, -1 on timeout. */
  readonly status: number;
  /** Medusa's error `type` (invalid_data, not_found, not_allowed, ...) when it sent one. */
  readonly type: string | undefined;

  constructor(message: string, status: number, type?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = type;
  }

  get isNetwork(): boolean {
    return this.status <= 0;
  }
}

export interface ClientOptions {
  backendUrl: string;
  publishableKey: string;
  getToken?: () => string | null;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

export interface RequestOptions {
  query?: URLSearchParams | Record<string, string | number | undefined>;
  body?: unknown;
  signal?: AbortSignal;
}

export type Request = <T>(method: "GET" | "POST" | "DELETE", path: string, options?: RequestOptions) => Promise<T>;

function toSearch(query: RequestOptions["query"]): string {
  if (!query) return "";
  const params =
    query instanceof URLSearchParams
      ? query
      : new URLSearchParams(
          Object.entries(query)
            .filter(([, v]) => v !== undefined && v !== "")
            .map(([k, v]) => [k, String(v)]),
        );
  const text = params.toString();
  return text ? `?${text}` : "";
}

function combineSignals(signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => Boolean(s));
  if (present.length <= 1) return present[0];
  return AbortSignal.any(present);
}

export function createRequest(options: ClientOptions): Request {
  const base = options.backendUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 20_000;
  const fetchImpl = options.fetchImpl ?? ((input, init) => fetch(input, init));

  return async function request<T>(method: "GET" | "POST" | "DELETE", path: string, { query, body, signal }: RequestOptions = {}) {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (options.publishableKey) headers["x-publishable-api-key"] = options.publishableKey;
    const token = options.getToken?.();
    if (token) headers.Authorization = `Bearer ${token}`;

    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await fetchImpl(`${base}${path}${toSearch(query)}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // Customers authenticate with a bearer token, so no cookie is needed or sent.
        credentials: "omit",
        signal: combineSignals([signal, timeout]),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      if (timeout.aborted) throw new ApiError("The store took too long to answer.", -1);
      throw new ApiError("The store could not be reached.", 0);
    }

    const text = await response.text().catch(() => "");
    let payload: unknown = undefined;
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = undefined;
      }
    }
    if (!response.ok) {
      const data = (payload ?? {}) as { message?: unknown; type?: unknown };
      const message =
        typeof data.message === "string" && data.message
          ? data.message
          : `The store answered with an error (HTTP ${response.status}).`;
      throw new ApiError(message, response.status, typeof data.type === "string" ? data.type : undefined);
    }
    if (payload === undefined && text) {
      throw new ApiError("The store sent a response this page cannot read.", response.status);
    }
    return payload as T;
  };
}
