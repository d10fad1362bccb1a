import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import type { Invite, UserAccount } from "../api/types";
import { ADMIN, apiError, json, mockFetch, renderWithProviders } from "../test/render";
import { UsersPage } from "./Users";

afterEach(() => vi.unstubAllGlobals());

const ME: UserAccount = { ...ADMIN, isActive: true, lastLoginAt: "2026-12-04T09:00:00Z", storeCount: 0 };
const ALICE: UserAccount = {
  id: "01a24075-90aa-75ee-8dfe-1e2514dbcff2",
  email: "alice@example.com",
  username: "alice",
  role: "tenant",
  isActive: true,
  createdAt: "2026-12-04T09:49:36Z",
  lastLoginAt: null,
  storeCount: 2,
};
const OTHER_ADMIN: UserAccount = { ...ALICE, id: "01a24075-90aa-75ee-8dfe-1e2514dbcff3", email: "bo@example.com", username: "bo", role: "admin" };
const TOKEN = "530126b038be0fbbc18de528279f845a36113148cc0641fc1a42fded305c1844";

interface Options {
  users?: UserAccount[];
  invites?: Invite[];
  patch?: (id: string, body: Record<string, unknown>) => Response;
}

function renderUsers({ users = [ALICE, ME], invites = [], patch }: Options = {}) {
  setToken("t");
  const mocked = mockFetch((url, init) => {
    if (url.pathname === "/api/v1/auth/me") return json({ user: ADMIN });
    if (url.pathname === "/api/v1/health") return json({ status: "healthy", timestamp: "2026-12-04T10:00:00Z" });
    if (url.pathname === "/api/v1/users" && (init.method ?? "GET") === "GET") {
      const q = url.searchParams.get("q") ?? "";
      const found = users.filter((u) => u.email.includes(q) || u.username.includes(q));
      return json({ users: found, total: found.length, limit: 20, offset: 0 });
    }
    const change = /^\/api\/v1\/users\/([^/]+)$/.exec(url.pathname);
    if (change && init.method === "PATCH") {
      const body = JSON.parse(String(init.body));
      if (patch) return patch(change[1], body);
      const user = users.find((u) => u.id === change[1])!;
      return json({ user: { ...user, ...body }, sessionsRevoked: true });
    }
    if (/^\/api\/v1\/users\/[^/]+\/password-reset$/.test(url.pathname) && init.method === "POST") {
      return json(
        {
          resetPath: `/reset-password?token=${TOKEN}`,
          expiresAt: "2026-12-05T09:49:36Z",
          message: "The password no longer works and every session has ended.",
        },
        201,
      );
    }
    if (url.pathname === "/api/v1/invites" && init.method === "POST") {
      const body = JSON.parse(String(init.body));
      if (body.email === "alice@example.com") {
        return apiError(409, "USER_EXISTS", "An account with this e-mail already exists.", {
          suggestion: "Find it in the user list; reset its password if it is locked out.",
        });
      }
      return json(
        { invitePath: `/register?invite=${TOKEN}`, email: body.email, role: body.role, expiresAt: "2026-12-11T09:49:36Z", message: "" },
        201,
      );
    }
    if (url.pathname === "/api/v1/invites") return json({ invites });
    return undefined;
  });
  renderWithProviders(<UsersPage />, { route: "/users" });
  return mocked;
}

const row = async (email: string) => (await screen.findByText(email)).closest("tr") as HTMLElement;

describe("the Users page", () => {
  it("lists accounts with role, status and stores, and offers nothing on your own", async () => {
    renderUsers();
    const alice = await row("alice@example.com");
    expect(within(alice).getAllByText("Tenant").length).toBeGreaterThan(0);
    expect(within(alice).getAllByText("Active").length).toBeGreaterThan(0);
    expect(within(alice).getByRole("link", { name: "2 stores" }).getAttribute("href")).toBe(`/stores?owner=${ALICE.id}`);
    expect(within(alice).getAllByRole("button", { name: "Disable: alice" }).length).toBeGreaterThan(0);
    const mine = await row(ADMIN.email);
    expect(within(mine).getByText("You")).toBeTruthy();
    expect(within(mine).queryAllByRole("button")).toHaveLength(0);
    expect(within(mine).getAllByText(/You cannot disable or demote yourself/).length).toBeGreaterThan(0);
  });

  it("searches by e-mail or username through the API", async () => {
    const { calls } = renderUsers();
    await row("alice@example.com");
    fireEvent.change(screen.getByLabelText("Search users by e-mail or username"), { target: { value: "ali" } });
    await waitFor(() => expect(screen.queryByText(ADMIN.email)).toBeNull());
    expect(calls.some((c) => c.url.pathname === "/api/v1/users" && c.url.searchParams.get("q") === "ali")).toBe(true);
  });

  it("disables after a confirmation that says tokens are revoked and stores keep running", async () => {
    const { calls } = renderUsers();
    const alice = await row("alice@example.com");
    fireEvent.click(within(alice).getAllByRole("button", { name: "Disable: alice" })[0]);
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain("their sign-in tokens are revoked");
    expect(dialog.textContent).toContain("Their stores keep running (2 stores)");
    fireEvent.click(within(dialog).getByRole("button", { name: "Disable account" }));
    await screen.findByText("alice is disabled; their sessions have ended.");
    const patch = calls.find((c) => c.init.method === "PATCH");
    expect(patch?.url.pathname).toBe(`/api/v1/users/${ALICE.id}`);
    expect(JSON.parse(String(patch?.init.body))).toEqual({ isActive: false });
  });

  it("shows the API's refusal in the dialog (the last administrator)", async () => {
    renderUsers({
      users: [OTHER_ADMIN, ME],
      patch: () =>
        apiError(409, "LAST_ADMIN", "This is the last active operator: nobody could run the platform without it.", {
          suggestion: "Promote another account to admin first.",
        }),
    });
    const bo = await row("bo@example.com");
    fireEvent.click(within(bo).getAllByRole("button", { name: "Make tenant: bo" })[0]);
    const dialog = await screen.findByRole("dialog");
    fireEvent.click(within(dialog).getByRole("button", { name: "Make tenant" }));
    const alert = await within(dialog).findByRole("alert");
    expect(alert.textContent).toContain("This is the last active operator: nobody could run the platform without it.");
    expect(alert.textContent).toContain("Promote another account to admin first.");
  });

  it("promotes with a role change", async () => {
    const { calls } = renderUsers();
    const alice = await row("alice@example.com");
    fireEvent.click(within(alice).getAllByRole("button", { name: "Make admin: alice" })[0]);
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain("signed out everywhere");
    fireEvent.click(within(dialog).getByRole("button", { name: "Make administrator" }));
    await screen.findByText("alice is an administrator now.");
    expect(JSON.parse(String(calls.find((c) => c.init.method === "PATCH")?.init.body))).toEqual({ role: "admin" });
  });

  it("shows a forced reset's link once, whole, with a copy button, until dismissed", async () => {
    renderUsers();
    const alice = await row("alice@example.com");
    fireEvent.click(within(alice).getAllByRole("button", { name: "Reset password: alice" })[0]);
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain("shown only once");
    fireEvent.click(within(dialog).getByRole("button", { name: "Reset password" }));
    const panel = await screen.findByTestId("one-time-link");
    expect((within(panel).getByTestId("one-time-link-value") as HTMLInputElement).value).toBe(
      `${window.location.origin}/reset-password?token=${TOKEN}`,
    );
    expect(within(panel).getByTestId("shown-once").textContent).toMatch(/^Shown only once: copy it now\. It works once, until /);
    expect(within(panel).getByRole("button", { name: "Copy the link" })).toBeTruthy();
    fireEvent.click(within(panel).getByRole("button", { name: "Done, I copied it" }));
    expect(screen.queryByTestId("one-time-link")).toBeNull();
  });
});

describe("invitations", () => {
  it("creates one and shows its link once; lists the pending ones", async () => {
    const { calls } = renderUsers({
      invites: [
        { email: "dan@example.com", role: "admin", createdAt: "2026-12-04T09:00:00Z", expiresAt: "2026-12-11T09:00:00Z", invitedBy: "admin@example.com" },
      ],
    });
    const pending = await screen.findByTestId("invites");
    expect(pending.textContent).toContain("dan@example.com");
    expect(pending.textContent).toContain("Administrator · invited by admin@example.com");

    fireEvent.change(screen.getByLabelText("E-mail"), { target: { value: "not-an-address" } });
    fireEvent.click(screen.getByRole("button", { name: "Create invitation" }));
    await screen.findByText("Enter a valid e-mail address.");
    expect(calls.some((c) => c.url.pathname === "/api/v1/invites" && c.init.method === "POST")).toBe(false);

    fireEvent.change(screen.getByLabelText("E-mail"), { target: { value: "carol@example.com" } });
    fireEvent.change(screen.getByLabelText("Role"), { target: { value: "admin" } });
    fireEvent.click(screen.getByRole("button", { name: "Create invitation" }));
    const panel = await screen.findByTestId("one-time-link");
    expect(panel.textContent).toContain("Invitation for carol@example.com");
    expect(panel.textContent).toContain("as an administrator");
    expect((within(panel).getByTestId("one-time-link-value") as HTMLInputElement).value).toBe(
      `${window.location.origin}/register?invite=${TOKEN}`,
    );
    const post = calls.find((c) => c.url.pathname === "/api/v1/invites" && c.init.method === "POST");
    expect(JSON.parse(String(post?.init.body))).toEqual({ email: "carol@example.com", role: "admin" });
  });

  it("says an address already has an account", async () => {
    renderUsers();
    await screen.findByTestId("no-invites");
    fireEvent.change(screen.getByLabelText("E-mail"), { target: { value: "alice@example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Create invitation" }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("An account with this e-mail already exists.");
    expect(screen.queryByTestId("one-time-link")).toBeNull();
  });
});
