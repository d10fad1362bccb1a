import { fireEvent, screen, waitFor } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { getToken, setToken } from "../api/client";
import { useStoreList } from "../api/queries";
import { GuestOnly, RequireAuth } from "../components/Layout";
import { LoginPage } from "../pages/Auth";
import { apiError, json, mockFetch, renderWithProviders, TENANT } from "../test/render";
import { loginPath, safeNext } from "./AuthContext";

function StoresProbe() {
  const list = useStoreList({ limit: 20, offset: 0 });
  return <p>{list.isSuccess ? `stores: ${list.data.total}` : "loading stores"}</p>;
}

function AppRoutes() {
  return (
    <Routes>
      <Route
        path="/login"
        element={
          <GuestOnly>
            <LoginPage />
          </GuestOnly>
        }
      />
      <Route element={<RequireAuth />}>
        <Route path="/stores" element={<StoresProbe />} />
        <Route path="/" element={<p>home</p>} />
      </Route>
    </Routes>
  );
}

afterEach(() => vi.unstubAllGlobals());

describe("safeNext and loginPath", () => {
  it("only goes back to paths of this app", () => {
    expect(safeNext("/stores/store-1a2b3c4d?x=1")).toBe("/stores/store-1a2b3c4d?x=1");
    for (const bad of [null, "", "https://evil.example", "//evil.example", "/\\evil", "/login?next=/x", "stores"]) {
      expect(safeNext(bad), String(bad)).toBe("/");
    }
    expect(loginPath("/stores?status=ready", "expired")).toBe("/login?next=%2Fstores%3Fstatus%3Dready&reason=expired");
    expect(loginPath("/")).toBe("/login");
  });
});

describe("authentication redirects", () => {
  it("sends an anonymous visitor to sign in, then back where they were going", async () => {
    mockFetch((url, init) => {
      if (url.pathname === "/api/v1/auth/login" && init.method === "POST") {
        return json({ user: TENANT, token: "fresh-token" });
      }
      if (url.pathname === "/api/v1/stores") return json({ stores: [], total: 0, limit: 20, offset: 0 });
      return undefined;
    });
    renderWithProviders(<AppRoutes />, { route: "/stores?status=ready" });
    await waitFor(() =>
      expect(screen.getByTestId("location").textContent).toBe("/login?next=%2Fstores%3Fstatus%3Dready"),
    );
    fireEvent.change(screen.getByLabelText("E-mail"), { target: { value: "a@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "password123" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/stores?status=ready"));
    expect(await screen.findByText("stores: 0")).toBeTruthy();
    expect(getToken()).toBe("fresh-token");
  });

  it("turns a 401 on any call into a sign-in that returns to the page", async () => {
    setToken("expired-token");
    let meCalls = 0;
    mockFetch((url, init) => {
      const auth = (init.headers as Record<string, string> | undefined)?.Authorization;
      if (url.pathname === "/api/v1/auth/me") {
        meCalls++;
        return json({ user: TENANT });
      }
      if (url.pathname === "/api/v1/stores") {
        return auth === "Bearer expired-token"
          ? apiError(401, "UNAUTHORIZED", "Invalid or expired token.")
          : json({ stores: [], total: 3, limit: 20, offset: 0 });
      }
      if (url.pathname === "/api/v1/auth/login") return json({ user: TENANT, token: "new-token" });
      return undefined;
    });
    renderWithProviders(<AppRoutes />, { route: "/stores" });
    await waitFor(() =>
      expect(screen.getByTestId("location").textContent).toBe("/login?next=%2Fstores&reason=expired"),
    );
    expect(meCalls).toBe(1);
    expect(getToken()).toBeNull();
    expect(screen.getByText("Your session has expired")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("E-mail"), { target: { value: "a@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "password123" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("stores: 3")).toBeTruthy();
    expect(screen.getByTestId("location").textContent).toBe("/stores");
  });

  it("says the session expired when the stored token is refused at start", async () => {
    setToken("revoked-token");
    mockFetch((url) =>
      url.pathname === "/api/v1/auth/me" ? apiError(401, "UNAUTHORIZED", "Invalid or expired token.") : undefined,
    );
    renderWithProviders(<AppRoutes />, { route: "/stores?page=2" });
    await waitFor(() =>
      expect(screen.getByTestId("location").textContent).toBe("/login?next=%2Fstores%3Fpage%3D2&reason=expired"),
    );
    expect(getToken()).toBeNull();
  });

  it("signing out goes to a plain sign-in page", async () => {
    setToken("good-token");
    mockFetch((url) => (url.pathname === "/api/v1/auth/me" ? json({ user: TENANT }) : undefined));
    renderWithProviders(<AppRoutes />, { route: "/" });
    fireEvent.click(await screen.findByRole("button", { name: "Sign out" }));
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/login"));
    expect(getToken()).toBeNull();
  });

  it("does not sign out on a wrong password (a 401 that is not about the token), and says so in plain words", async () => {
    // The API's answer, as it comes: its suggestion is a hint for API clients.
    mockFetch((url) =>
      url.pathname === "/api/v1/auth/login"
        ? apiError(401, "INVALID_CREDENTIALS", "Invalid email or password.", {
            suggestion: "Log in again to get a fresh token, then send it as `Authorization: Bearer <token>`.",
          })
        : undefined,
    );
    renderWithProviders(<AppRoutes />, { route: "/login" });
    fireEvent.change(screen.getByLabelText("E-mail"), { target: { value: "a@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "wrong-password" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Wrong e-mail or password.");
    expect(alert.textContent).not.toMatch(/[`]|Bearer|Authorization|token/);
    // The request id stays, for support.
    expect(screen.getByTestId("error-request-id").textContent).toContain("req_test");
    expect(screen.getByTestId("location").textContent).toBe("/login");
  });

  it("words an empty sign-in without the API's field names in backticks", async () => {
    mockFetch((url) =>
      url.pathname === "/api/v1/auth/login"
        ? apiError(400, "VALIDATION_ERROR", "`email` must be a valid e-mail address.", {
            suggestion: "Check the request parameters and try again.",
            details: [{ field: "email", message: "`email` must be a valid e-mail address." }],
          })
        : undefined,
    );
    renderWithProviders(<AppRoutes />, { route: "/login" });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await waitFor(() =>
      expect(document.querySelector('[data-field-errors="email"]')?.textContent).toContain(
        "Enter a valid e-mail address.",
      ),
    );
    expect(document.body.textContent).not.toContain("`");
  });
});
