// Runtime branding: the store's name, its Medusa URL and publishable key come from /config.json,
// written when the container starts, so one image serves every store.

export interface RuntimeConfig {
  storeName: string;
  /** Empty means "same origin": the storefront's own server proxies /store to Medusa. */
  backendUrl: string;
  publishableKey: string;
}

export type ConfigResult = { ok: true; config: RuntimeConfig } | { ok: false; problem: string };

export function parseRuntimeConfig(raw: unknown): ConfigResult {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, problem: "config.json is not a JSON object." };
  }
  const data = raw as Record<string, unknown>;
  const storeName = typeof data.storeName === "string" ? data.storeName.trim().slice(0, 80) : "";
  if (!storeName) return { ok: false, problem: "config.json has no storeName." };

  const backendUrl = data.backendUrl === undefined || data.backendUrl === null ? "" : data.backendUrl;
  if (typeof backendUrl !== "string") return { ok: false, problem: "backendUrl must be a string." };
  if (backendUrl !== "" && !/^https?:\/\/[^\s/]+(\/[^\s]*)?$/i.test(backendUrl)) {
    return { ok: false, problem: `backendUrl "${backendUrl}" is not an http(s) URL.` };
  }

  const publishableKey = data.publishableKey === undefined || data.publishableKey === null ? "" : data.publishableKey;
  if (typeof publishableKey !== "string") return { ok: false, problem: "publishableKey must be a string." };
  if (publishableKey !== "" && !/^pk_[A-Za-z0-9]+$/.test(publishableKey)) {
    return { ok: false, problem: "publishableKey must look like pk_…" };
  }

  return { ok: true, config: { storeName, backendUrl: backendUrl.replace(/\/+$/, ""), publishableKey } };
}

export async function loadRuntimeConfig(fetchImpl: typeof fetch = fetch): Promise<ConfigResult> {
  let response: Response;
  try {
    response = await fetchImpl("/config.json", { cache: "no-store", headers: { Accept: "application/json" } });
  } catch {
    return { ok: false, problem: "The store's configuration could not be loaded (network error)." };
  }
  if (!response.ok) return { ok: false, problem: `The store's configuration is missing (HTTP ${response.status}).` };
  try {
    return parseRuntimeConfig(await response.json());
  } catch {
    return { ok: false, problem: "config.json is not valid JSON." };
  }
}
