import { describe, expect, it } from "vitest";

import type { UserAccount } from "../api/types";
import { absoluteLink, roleLabel, storeCountLabel, userActions } from "./accounts";

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

describe("userActions", () => {
  it("offers disable, promote and reset for an active tenant", () => {
    expect(userActions(ALICE, { id: "someone-else" })).toEqual(["disable", "promote", "reset"]);
  });

  it("offers enable for a disabled account and demote for an admin", () => {
    expect(userActions({ ...ALICE, isActive: false, role: "admin" }, { id: "someone-else" })).toEqual([
      "enable",
      "demote",
      "reset",
    ]);
  });

  it("offers nothing on your own account (the API refuses disabling or demoting yourself)", () => {
    expect(userActions({ ...ALICE, role: "admin" }, { id: ALICE.id })).toEqual([]);
  });
});

describe("one-time links and labels", () => {
  it("turns the API's paths into links on this origin", () => {
    expect(absoluteLink("/reset-password?token=ab12", "https://storeflow.example.com")).toBe(
      "https://storeflow.example.com/reset-password?token=ab12",
    );
    expect(absoluteLink("/register?invite=cd34", "http://127.0.0.1:3001")).toBe(
      "http://127.0.0.1:3001/register?invite=cd34",
    );
  });

  it("says roles and store counts in words", () => {
    expect(roleLabel("admin")).toBe("Administrator");
    expect(roleLabel("tenant")).toBe("Tenant");
    expect(storeCountLabel(0)).toBe("No stores");
    expect(storeCountLabel(1)).toBe("1 store");
    expect(storeCountLabel(3)).toBe("3 stores");
  });
});
