// The one way the dashboard talks to the API: same origin, bearer token from localStorage, the
// API's error envelope turned into `ApiError`, and an expired or revoked token (401 on a call
// that carried one) announced once to whoever listens (the auth provider sends the user to sign
// in and back).

import { plainFieldMessage } from "../lib/plainText";

export const API_BASE = "/api/v1";
const TOKEN_KEY = "storeflow.token";

export interface FieldProblem {
  field: string;
  message?: string;
}

/** An error answer of the API (or a network failure, status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly suggestion?: string;
  readonly retryable: boolean;
  readonly details?: unknown;
  readonly retryAfterSeconds?: number;
  readonly requestId?: string;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    suggestion?: string;
    retryable?: boolean;
    details?: unknown;
    retryAfterSeconds?: number;
    requestId?: string;
  }) {
    super(init.message);
    this.name = "ApiError";
    this.status = init.status;
    this.code = init.code;
    this.suggestion = init.suggestion;
    this.retryable = init.retryable ?? false;
    this.details = init.details;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.requestId = init.requestId;
  }

  /** The `{field, message}` problems of a validation answer (empty for other errors). */
  get fieldProblems(): FieldProblem[] {
    if (!Array.isArray(this.details)) return [];
    return this.details.filter(
      (d): d is FieldProblem => typeof d === "object" && d !== null && typeof (d as FieldProblem).field === "string",
    );
  }

  /** Problems of one field, by message, in plain words (no backticked field names). */
  messagesFor(field: string): string[] {
    return this.fieldProblems
      .filter((p) => p.field === field && p.message)
      .map((p) => plainFieldMessage(p.message as string));
  }
}

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError;
}

// ---------------------------------------------------------------------------------------------
// The session token

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  localStorage.removeItem(TOKEN_KEY);
}

type Listener = (error: ApiError) => void;
const unauthorizedListeners = new Set<Listener>();

/** Called when a request that carried a token is refused as unauthenticated. */
export function onSessionExpired(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** Announces an expired session (also used by the event stream, which has its own fetch). */
export function reportUnauthorized(error: ApiError, sentToken: string | null): void {
  // Only a token problem ends the session: a wrong current password is a 401 too.
  if (error.status !== 401 || error.code !== "UNAUTHORIZED" || !sentToken) return;
  // A token replaced meanwhile (sign-in in another tab, password change) is not expired; one
  // already cleared (another tab saw the same expiry) still is.
  const current = getToken();
  if (current !== null && current !== sentToken) return;
  for (const listener of [...unauthorizedListeners]) listener(error);
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  query?: Record<string, string | number | boolean | null | undefined>;
  /** Non-2xx statuses whose JSON body is an answer, not an error (health's 503). */
  answerStatuses?: number[];
}

/** `path` with the defined, non-empty query values appended. */
export function withQuery(path: string, query?: RequestOptions["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Turns a non-2xx answer into an ApiError (whatever its body is). */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy's page, an empty body.
  }
  const envelope = (body ?? {}) as {
    requestId?: string;
    error?: {
      code?: string;
      message?: string;
      suggestion?: string;
      retryable?: boolean;
      details?: unknown;
      retryAfterSeconds?: number;
    };
  };
  const error = envelope.error;
  return new ApiError({
    status: response.status,
    code: error?.code ?? `HTTP_${response.status}`,
    message: error?.message ?? `The server answered ${response.status} ${response.statusText}`.trim() + ".",
    suggestion: error?.suggestion,
    retryable: error?.retryable ?? response.status >= 500,
    details: error?.details,
    retryAfterSeconds: error?.retryAfterSeconds,
    requestId: envelope.requestId ?? response.headers.get("x-request-id") ?? undefined,
  });
}

export function networkError(cause: unknown): ApiError {
  return new ApiError({
    status: 0,
    code: "NETWORK_ERROR",
    message: "The server cannot be reached.",
    suggestion: "Check your connection; the request is retried when you try again.",
    retryable: true,
    details: cause instanceof Error ? cause.message : undefined,
  });
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const token = getToken();
  const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(API_BASE + withQuery(path, options.query), {
      method: options.method ?? "GET",
      headers,
      body,
      signal: options.signal,
      cache: "no-store",
    });
  } catch (cause) {
    if (options.signal?.aborted) throw cause;
    throw networkError(cause);
  }
  if (!response.ok && !options.answerStatuses?.includes(response.status)) {
    const error = await errorFromResponse(response);
    reportUnauthorized(error, token);
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}
