import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { getToken, setToken } from "../api/client";
import { GuestOnly, RequireAuth } from "../components/Layout";
import { apiError, json, mockFetch, renderWithProviders, TENANT } from "../test/render";
import { AccountPage } from "./Account";
import { LoginPage, RegisterPage, ResetPasswordPage, SignedInRegistration } from "./Auth";

afterEach(() => vi.unstubAllGlobals());

const TOKEN = "f11b283f18f9c08ed8add859e044c096df8ba52fbe1a0031c7bc6270b8ed7ff1";

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
      <Route
        path="/register"
        element={
          <GuestOnly signedIn={<SignedInRegistration />}>
            <RegisterPage />
          </GuestOnly>
        }
      />
      <Route path="/reset-password" element={<ResetPasswordPage />} />
      <Route element={<RequireAuth />}>
        <Route path="/" element={<p>home</p>} />
        <Route path="/account" element={<AccountPage />} />
      </Route>
    </Routes>
  );
}

function health(registration: "open" | "closed" | undefined) {
  return json({ status: "healthy", timestamp: "2026-12-04T10:00:00Z", registration });
}

function fill(label: string, value: string) {
  fireEvent.change(screen.getByLabelText(label), { target: { value } });
}

describe("registration", () => {
  it("says it is by invitation when registration is closed, instead of a form that would fail", async () => {
    const { calls } = mockFetch((url) => (url.pathname === "/api/v1/health" ? health("closed") : undefined));
    renderWithProviders(<AppRoutes />, { route: "/register" });
    await screen.findByRole("heading", { name: "Registration is by invitation" });
    expect(screen.getByTestId("invitation-only").textContent).toContain("Open the link from your invitation");
    expect(screen.queryByLabelText("Password")).toBeNull();
    expect(calls.some((c) => c.url.pathname === "/api/v1/auth/register")).toBe(false);
  });

  it("keeps the form while registration is open (and for servers that do not say)", async () => {
    mockFetch((url) => (url.pathname === "/api/v1/health" ? health(undefined) : undefined));
    renderWithProviders(<AppRoutes />, { route: "/register" });
    // While health answers, a spinner; then the form.
    expect(await screen.findByLabelText("Password")).toBeTruthy();
    expect(screen.getByRole("heading", { name: "Create your account" })).toBeTruthy();
  });

  it("registers from an invitation link with its token, also while closed", async () => {
    const { calls } = mockFetch((url, init) => {
      if (url.pathname === "/api/v1/health") return health("closed");
      if (url.pathname === "/api/v1/auth/register" && init.method === "POST") {
        return json({ user: { ...TENANT, email: "carol@example.com", username: "carol" }, token: "carol-token" }, 201);
      }
      return undefined;
    });
    renderWithProviders(<AppRoutes />, { route: `/register?invite=${TOKEN}` });
    await screen.findByRole("heading", { name: "Accept your invitation" });
    fill("E-mail", "carol@example.com");
    fill("Username", "carol");
    fill("Password", "correct-horse-9");
    fill("Confirm password", "correct-horse-9");
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/"));
    const body = JSON.parse(String(calls.find((c) => c.url.pathname === "/api/v1/auth/register")?.init.body));
    expect(body).toEqual({ email: "carol@example.com", username: "carol", password: "correct-horse-9", inviteToken: TOKEN });
    expect(getToken()).toBe("carol-token");
  });

  it("says why an invitation does not work", async () => {
    mockFetch((url, init) => {
      if (url.pathname === "/api/v1/health") return health("closed");
      if (url.pathname === "/api/v1/auth/register" && init.method === "POST") {
        return apiError(400, "INVALID_INVITATION", "This invitation is not valid: it was already used, has expired, or was mistyped.");
      }
      return undefined;
    });
    renderWithProviders(<AppRoutes />, { route: `/register?invite=${TOKEN}` });
    await screen.findByRole("heading", { name: "Accept your invitation" });
    fill("E-mail", "carol@example.com");
    fill("Username", "carol");
    fill("Password", "correct-horse-9");
    fill("Confirm password", "correct-horse-9");
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("This invitation link does not work");
    expect(alert.textContent).toContain("Ask your platform's administrators for a new one.");
  });

  it("tells someone signed in whose session it is before an invitation creates another account", async () => {
    setToken("t");
    mockFetch((url) => {
      if (url.pathname === "/api/v1/auth/me") return json({ user: TENANT });
      if (url.pathname === "/api/v1/health") return health("closed");
      return undefined;
    });
    renderWithProviders(<AppRoutes />, { route: `/register?invite=${TOKEN}` });
    await screen.findByText("You are signed in as alice");
    fireEvent.click(screen.getByRole("button", { name: "Sign out and continue" }));
    await screen.findByRole("heading", { name: "Accept your invitation" });
    expect(screen.getByTestId("location").textContent).toBe(`/register?invite=${TOKEN}`);
  });

  it("the sign-in page offers registration only while it is open", async () => {
    mockFetch((url) => (url.pathname === "/api/v1/health" ? health("closed") : undefined));
    renderWithProviders(<AppRoutes />, { route: "/login" });
    await screen.findByTestId("invitation-only");
    expect(screen.queryByRole("link", { name: "Create an account" })).toBeNull();
  });
});

describe("the reset-password page", () => {
  it("sets the new password with the link's token and signs in", async () => {
    const { calls } = mockFetch((url, init) => {
      if (url.pathname === "/api/v1/health") return health("open");
      if (url.pathname === "/api/v1/auth/password-reset" && init.method === "POST") {
        return json({ message: "Password set; you are signed in.", user: TENANT, token: "fresh" });
      }
      return undefined;
    });
    renderWithProviders(<AppRoutes />, { route: `/reset-password?token=${TOKEN}` });
    fill("New password", "short");
    fireEvent.click(screen.getByRole("button", { name: "Set password and sign in" }));
    await screen.findByText("Password must be at least 8 characters.");
    fill("New password", "a-fresh-horse-11");
    fill("Confirm new password", "a-fresh-horse-11");
    fireEvent.click(screen.getByRole("button", { name: "Set password and sign in" }));
    await screen.findByText("home");
    const body = JSON.parse(String(calls.find((c) => c.url.pathname === "/api/v1/auth/password-reset")?.init.body));
    expect(body).toEqual({ token: TOKEN, newPassword: "a-fresh-horse-11" });
    expect(getToken()).toBe("fresh");
  });

  it("says so when the account is disabled (no session then)", async () => {
    mockFetch((url, init) => {
      if (url.pathname === "/api/v1/auth/password-reset" && init.method === "POST") {
        return json({ message: "Password set. The account is disabled: ask an operator to enable it before signing in." });
      }
      return undefined;
    });
    renderWithProviders(<AppRoutes />, { route: `/reset-password?token=${TOKEN}` });
    fill("New password", "a-fresh-horse-11");
    fill("Confirm new password", "a-fresh-horse-11");
    fireEvent.click(screen.getByRole("button", { name: "Set password and sign in" }));
    await screen.findByText("Your account is disabled");
    expect(getToken()).toBeNull();
  });

  it("explains a used or expired link, and a link without its token", async () => {
    mockFetch((url) =>
      url.pathname === "/api/v1/auth/password-reset"
        ? apiError(400, "INVALID_RESET_LINK", "This password-reset link is not valid: it was already used, has expired, or was mistyped.")
        : undefined,
    );
    renderWithProviders(<AppRoutes />, { route: `/reset-password?token=${TOKEN}` });
    fill("New password", "a-fresh-horse-11");
    fill("Confirm new password", "a-fresh-horse-11");
    fireEvent.click(screen.getByRole("button", { name: "Set password and sign in" }));
    expect((await screen.findByRole("alert")).textContent).toContain("This password-reset link does not work");
  });

  it("says a link without its token is incomplete", async () => {
    mockFetch();
    renderWithProviders(<AppRoutes />, { route: "/reset-password" });
    expect((await screen.findByRole("alert")).textContent).toContain("This link is incomplete");
  });
});

describe("signing out everywhere", () => {
  it("ends every session, this one too, and says so on the sign-in page", async () => {
    setToken("t");
    const { calls } = mockFetch((url, init) => {
      if (url.pathname === "/api/v1/auth/me") return json({ user: TENANT });
      if (url.pathname === "/api/v1/health") return health("open");
      if (url.pathname === "/api/v1/auth/logout-all" && init.method === "POST") {
        return json({ message: "Signed out everywhere: every token of this account, this one included, no longer works." });
      }
      return undefined;
    });
    renderWithProviders(<AppRoutes />, { route: "/account" });
    fireEvent.click(await screen.findByRole("button", { name: "Sign out everywhere" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain("including this one");
    fireEvent.click(within(dialog).getByRole("button", { name: "Sign out everywhere" }));
    await screen.findByText("You are signed out everywhere");
    expect(screen.getByTestId("location").textContent).toBe("/login?reason=signed-out-everywhere");
    expect(getToken()).toBeNull();
    expect(calls.filter((c) => c.url.pathname === "/api/v1/auth/logout-all")).toHaveLength(1);
  });
});
