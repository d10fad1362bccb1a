// Renders the app (or a part of it) with its providers, a memory router and a scripted fetch.

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, useLocation } from "react-router";
import { vi } from "vitest";

import { AuthProvider } from "../auth/AuthContext";
import { Toaster } from "../components/Toaster";

export type Handler = (url: URL, init: RequestInit) => Response | Promise<Response> | undefined;

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

export function apiError(status: number, code: string, message: string, extra: Record<string, unknown> = {}): Response {
  return json({ requestId: "req_test", error: { code, message, retryable: false, ...extra } }, status);
}

/** `GET /api/v1/engines` as the server build answers it (the engine registry). */
export const ENGINES = [
  {
    name: "woocommerce",
    label: "WooCommerce",
    themes: ["storefront", "astra"],
    defaultTheme: "storefront",
    upgrades: true,
    backups: true,
    backupContents: "the store's database and uploaded files",
    restoreIntoNewStore: true,
    restoreInPlace: true,
  },
  {
    name: "medusa",
    label: "MedusaJS",
    themes: [],
    defaultTheme: null,
    upgrades: true,
    backups: true,
    backupContents: "the store's database (a MedusaJS store keeps its images as links there)",
    restoreIntoNewStore: true,
    restoreInPlace: true,
  },
];

/** Answers `GET /api/v1/engines` with `ENGINES`, unless a test's own handler answered it first. */
const enginesHandler: Handler = (url, init) =>
  url.pathname === "/api/v1/engines" && (init.method ?? "GET") === "GET" ? json({ engines: ENGINES }) : undefined;

/**
 * Replaces fetch: the first handler that answers wins, then the engine registry (`ENGINES`);
 * anything else is a 404.
 */
export function mockFetch(...handlers: Handler[]) {
  const calls: { url: URL; init: RequestInit }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), "http://localhost");
    calls.push({ url, init });
    for (const handler of [...handlers, enginesHandler]) {
      const answer = await handler(url, init);
      if (answer) return answer;
    }
    return apiError(404, "NOT_FOUND", `no handler for ${url.pathname}`);
  });
  vi.stubGlobal("fetch", fetchMock);
  return { fetchMock, calls };
}

/** Shows where the router is, for assertions. */
export function LocationProbe() {
  const location = useLocation();
  return <div data-testid="location">{location.pathname + location.search}</div>;
}

export function renderWithProviders(ui: ReactElement, { route = "/" }: { route?: string } = {}) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[route]}>
        <Toaster>
          <AuthProvider>
            {ui}
            <LocationProbe />
          </AuthProvider>
        </Toaster>
      </MemoryRouter>
    </QueryClientProvider>,
  );
}

export const ADMIN = {
  id: "01a21c52-bc79-701c-afd7-acd811c4bd87",
  email: "admin@example.com",
  username: "admin",
  role: "admin" as const,
  createdAt: "2026-01-01T00:00:00Z",
};

export const TENANT = {
  ...ADMIN,
  id: "01a21c52-0000-701c-afd7-acd811c4bd88",
  email: "a@example.com",
  username: "alice",
  role: "tenant" as const,
};
