// `Idempotency-Key` values for requests that create something (a store, a restore): the same
// request sent twice (a double click, a retry after a lost answer) creates it once.

export function newIdempotencyKey(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
