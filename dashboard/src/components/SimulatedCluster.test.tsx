import { screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import { useHealth } from "../api/queries";
import type { StoreDetail } from "../api/types";
import { LoginPage, RegisterPage } from "../pages/Auth";
import { StoreDetailPage } from "../pages/StoreDetail";
import { apiError, json, mockFetch, renderWithProviders, TENANT, type Handler } from "../test/render";
import { GuestOnly, RequireAuth } from "./Layout";

const TITLE = "Simulated cluster — nothing is really deployed";
const STORE_ID = "store-1a2b3c4d";

/** Says where the health query is, so a test can wait for it to settle before checking absence. */
function HealthProbe() {
  const health = useHealth();
  return <p data-testid="health-state">{health.status}</p>;
}

function AppRoutes() {
  return (
    <>
      <Routes>
        <Route
          path="/login"
          element={
            <GuestOnly>
              <LoginPage />
            </GuestOnly>
          }
        />
        <Route
          path="/register"
          element={
            <GuestOnly>
              <RegisterPage />
            </GuestOnly>
          }
        />
        <Route element={<RequireAuth />}>
          <Route path="/" element={<p>home</p>} />
          <Route path="/stores/:id" element={<StoreDetailPage />} />
        </Route>
      </Routes>
      <HealthProbe />
    </>
  );
}

function health(extra: Record<string, unknown>) {
  return json({ requestId: "req_test", status: "healthy", timestamp: "2026-01-01T00:00:00Z", ...extra });
}

const STORE: StoreDetail = {
  id: STORE_ID,
  name: "sim-shop",
  engine: "woocommerce",
  theme: "storefront",
  status: "ready",
  namespace: STORE_ID,
  ownerId: TENANT.id,
  urls: { storefront: "http://sim-shop.localhost/", admin: "http://sim-shop.localhost/wp-admin/" },
  adminCredentials: {
    username: "admin",
    email: "a@example.com",
    password: "secret-password",
    loginUrl: "http://sim-shop.localhost/wp-login.php",
  },
  isCredentialOwner: true,
  failureReason: null,
  failedStep: null,
  retryCount: 0,
  provisioningDurationMs: 4200,
  versions: { chart: "2.1.0", app: "2.1.0" },
  availableUpgrade: null,
  lastUpgrade: null,
  restoredFrom: null,
  currentRun: null,
  createdAt: "2026-01-01T00:00:00Z",
  updatedAt: "2026-01-01T00:00:05Z",
  readyAt: "2026-01-01T00:00:05Z",
  deletedAt: null,
  runs: [],
};

/** A signed-in tenant (when `signedIn`), health as given, and one ready store. */
function setup(healthAnswer: () => Response | Promise<Response>, { signedIn = false } = {}) {
  if (signedIn) setToken("good-token");
  const handler: Handler = (url) => {
    if (url.pathname === "/api/v1/health") return healthAnswer();
    if (url.pathname === "/api/v1/auth/me") return json({ user: TENANT });
    if (url.pathname === `/api/v1/stores/${STORE_ID}`) return json({ store: STORE });
    if (url.pathname === `/api/v1/stores/${STORE_ID}/events`) return json({ events: [] });
    return undefined;
  };
  return mockFetch(handler);
}

async function settled() {
  await waitFor(() => expect(screen.getByTestId("health-state").textContent).not.toBe("pending"));
}

afterEach(() => vi.unstubAllGlobals());

describe("simulated cluster banner", () => {
  it("shows on the sign-in page, from a health request sent without a token", async () => {
    const { calls } = setup(() => health({ simulatedCluster: true }));
    renderWithProviders(<AppRoutes />, { route: "/login" });
    const banner = await screen.findByTestId("simulated-cluster-banner");
    expect(screen.getByRole("status", { name: TITLE })).toBe(banner);
    expect(within(banner).getByText(/simulated inside storeflow, so their sites cannot be opened/)).toBeTruthy();
    expect(within(banner).getByText("docs/real-cluster.md")).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Sign in to storeflow" })).toBeTruthy();
    const healthCall = calls.find((c) => c.url.pathname === "/api/v1/health");
    expect((healthCall?.init.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it("shows on the registration page", async () => {
    setup(() => health({ simulatedCluster: true }));
    renderWithProviders(<AppRoutes />, { route: "/register" });
    expect(await screen.findByTestId("simulated-cluster-banner")).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Create your account" })).toBeTruthy();
  });

  it("shows in the signed-in layout", async () => {
    setup(() => health({ simulatedCluster: true }), { signedIn: true });
    renderWithProviders(<AppRoutes />, { route: "/" });
    expect(await screen.findByText("home")).toBeTruthy();
    const banner = await screen.findByTestId("simulated-cluster-banner");
    expect(within(banner).getByText(TITLE)).toBeTruthy();
    expect(screen.getByTestId("current-user").textContent).toBe(TENANT.username);
  });

  for (const [label, extra] of [
    ["false", { simulatedCluster: false }],
    ["missing", {}],
  ] as const) {
    it(`is absent on the sign-in page and in the layout when the field is ${label}`, async () => {
      setup(() => health(extra));
      const signedOut = renderWithProviders(<AppRoutes />, { route: "/login" });
      await settled();
      expect(screen.getByTestId("health-state").textContent).toBe("success");
      expect(screen.getByRole("heading", { name: "Sign in to storeflow" })).toBeTruthy();
      expect(screen.queryByTestId("simulated-cluster-banner")).toBeNull();
      signedOut.unmount();

      setup(() => health(extra), { signedIn: true });
      renderWithProviders(<AppRoutes />, { route: "/" });
      expect(await screen.findByText("home")).toBeTruthy();
      await settled();
      expect(screen.getByTestId("health-state").textContent).toBe("success");
      expect(screen.queryByTestId("simulated-cluster-banner")).toBeNull();
    });
  }

  it("is absent while health is loading and when it fails", async () => {
    setup(() => new Promise<Response>(() => undefined));
    const loading = renderWithProviders(<AppRoutes />, { route: "/login" });
    expect(await screen.findByRole("heading", { name: "Sign in to storeflow" })).toBeTruthy();
    expect(screen.getByTestId("health-state").textContent).toBe("pending");
    expect(screen.queryByTestId("simulated-cluster-banner")).toBeNull();
    loading.unmount();

    setup(() => apiError(500, "INTERNAL", "Something broke."));
    renderWithProviders(<AppRoutes />, { route: "/login" });
    await settled();
    expect(screen.getByTestId("health-state").textContent).toBe("error");
    expect(screen.queryByTestId("simulated-cluster-banner")).toBeNull();
  });
});

describe("store URLs with a simulated cluster", () => {
  it("keeps the links and notes that they cannot be reached", async () => {
    setup(() => health({ simulatedCluster: true }), { signedIn: true });
    renderWithProviders(<AppRoutes />, { route: `/stores/${STORE_ID}` });
    const storefront = await screen.findByRole("link", { name: /^http:\/\/sim-shop\.localhost\/$/ });
    expect(storefront.getAttribute("href")).toBe(STORE.urls.storefront);
    await waitFor(() => expect(screen.getAllByTestId("simulated-url-note")).toHaveLength(3));
    expect(screen.getAllByText("simulated: not reachable")).toHaveLength(3);
  });

  it("adds no note with a real cluster", async () => {
    setup(() => health({ simulatedCluster: false }), { signedIn: true });
    renderWithProviders(<AppRoutes />, { route: `/stores/${STORE_ID}` });
    expect(await screen.findByRole("link", { name: /^http:\/\/sim-shop\.localhost\/$/ })).toBeTruthy();
    await settled();
    expect(screen.queryByTestId("simulated-url-note")).toBeNull();
  });
});
