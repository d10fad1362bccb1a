// Accounts as the Users page shows them: which changes an admin may make to whom, and the
// one-time links (invitations, password resets) the API answers with as paths.

import type { Role, UserAccount } from "../api/types";

/** The link a one-time path (`/register?invite=…`, `/reset-password?token=…`) is reached at. */
export function absoluteLink(path: string, origin: string = window.location.origin): string {
  return new URL(path, origin).toString();
}

export type UserActionKind = "disable" | "enable" | "promote" | "demote" | "reset";

/**
 * What an admin can do to `user`. Their own account cannot be disabled or demoted (the API
 * refuses it), and resetting one's own password belongs on the Account page.
 */
export function userActions(user: UserAccount, me: { id: string } | null): UserActionKind[] {
  if (me && user.id === me.id) return [];
  return [user.isActive ? "disable" : "enable", user.role === "admin" ? "demote" : "promote", "reset"];
}

export function roleLabel(role: Role): string {
  return role === "admin" ? "Administrator" : "Tenant";
}

/** "3 stores", "1 store", "No stores". */
export function storeCountLabel(count: number): string {
  if (count === 0) return "No stores";
  return `${count} store${count === 1 ? "" : "s"}`;
}
