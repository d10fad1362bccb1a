import { screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import type { Store } from "../api/types";
import { json, mockFetch, renderWithProviders, TENANT } from "../test/render";
import { StoresPage } from "./Stores";

afterEach(() => vi.unstubAllGlobals());

const base: Store = {
  id: "store-0b41a180",
  name: "upgrade-shop",
  engine: "woocommerce",
  theme: "storefront",
  status: "ready",
  namespace: "store-0b41a180",
  ownerId: TENANT.id,
  urls: { storefront: "http://upgrade-shop.localhost/", admin: "http://upgrade-shop.localhost/wp-admin/" },
  isCredentialOwner: true,
  failureReason: null,
  failedStep: null,
  retryCount: 0,
  provisioningDurationMs: 5700,
  currentRun: null,
  versions: { chart: "2.1.0", app: "2.1.0" },
  availableUpgrade: { chart: "2.2.0", app: "2.2.0" },
  lastUpgrade: null,
  restoredFrom: null,
  createdAt: "2026-12-04T13:07:48Z",
  updatedAt: "2026-12-04T13:07:55Z",
  readyAt: "2026-12-04T13:07:54Z",
  deletedAt: null,
};

function renderStores(stores: Store[]) {
  setToken("t");
  const mocked = mockFetch((url) => {
    if (url.pathname === "/api/v1/auth/me") return json({ user: TENANT });
    if (url.pathname === "/api/v1/stores") return json({ stores, total: stores.length, limit: 20, offset: 0 });
    return undefined;
  });
  renderWithProviders(<StoresPage />, { route: "/stores" });
  return mocked;
}

describe("the store list and upgrades", () => {
  it("marks a ready store that a newer chart is available for, and shows its chart", async () => {
    renderStores([base, { ...base, id: "store-0b41a181", name: "current-shop", availableUpgrade: null }]);
    const row = (await screen.findByText("upgrade-shop")).closest("tr") as HTMLElement;
    const marker = within(row).getByTestId("upgrade-marker");
    expect(marker.textContent).toBe("Upgrade available");
    expect(marker.getAttribute("title")).toBe("chart 2.2.0 (app 2.2.0) is available; the store runs chart 2.1.0 · app 2.1.0");
    expect(within(row).getByTestId("store-chart").textContent).toBe("Chart 2.1.0");
    const current = screen.getByText("current-shop").closest("tr") as HTMLElement;
    expect(within(current).queryByTestId("upgrade-marker")).toBeNull();
  });

  it("shows an upgrading store's status and step, and says when it rolls back", async () => {
    const run = {
      id: "01a2412b-2e51-77b6-80c3-b5269d4821b1",
      operation: "upgrade" as const,
      workflow: "upgrade-woocommerce",
      status: "waiting" as const,
      percent: 23,
      step: "wait-upgraded",
      stepNumber: 4,
      stepCount: 13,
      nextAttemptAt: null,
    };
    renderStores([
      { ...base, status: "upgrading", currentRun: run },
      {
        ...base,
        id: "store-0b41a182",
        name: "rolling-shop",
        status: "upgrading",
        currentRun: { ...run, step: "wait-rolled-back", stepNumber: 11 },
      },
    ]);
    const row = (await screen.findByText("upgrade-shop")).closest("tr") as HTMLElement;
    expect(within(row).getAllByText("Upgrading")[0].getAttribute("data-status")).toBe("upgrading");
    // Busy: no marker while it upgrades.
    expect(within(row).queryByTestId("upgrade-marker")).toBeNull();
    expect(row.textContent).toContain("Starting the new version");
    expect(row.textContent).not.toContain("Rolling back");
    const rolling = screen.getByText("rolling-shop").closest("tr") as HTMLElement;
    expect(rolling.textContent).toContain("Rolling back: Starting the previous version again");
  });

  it("offers the Upgrading status filter", async () => {
    renderStores([base]);
    expect(await screen.findByRole("button", { name: "Upgrading" })).toBeTruthy();
  });

  it("shows a restoring store's status and its restore's step, and offers the Restoring filter", async () => {
    const { calls } = renderStores([
      {
        ...base,
        status: "restoring",
        availableUpgrade: null,
        restoredFrom: { backupId: "01a241c0-1111-7000-8000-000000000002", restoredAt: null },
        currentRun: {
          id: "01a2420a-1b2c-7000-8000-00000000000b",
          operation: "restore",
          workflow: "restore-in-place-woocommerce",
          status: "running",
          percent: 40,
          step: "restore-database",
          stepNumber: 2,
          stepCount: 9,
          nextAttemptAt: null,
        },
      },
    ]);
    const row = (await screen.findByText("upgrade-shop")).closest("tr") as HTMLElement;
    expect(within(row).getByText("Restoring").getAttribute("data-status")).toBe("restoring");
    expect(row.textContent).toContain("Restoring the database");
    // Its progress, weighted like the store page's, not the time since the store was created.
    for (const bar of within(row).getAllByRole("progressbar")) expect(Number(bar.getAttribute("aria-valuenow"))).toBeGreaterThan(0);
    expect(row.textContent).not.toMatch(/Rolling back|\(2\/9\)/);
    screen.getByRole("button", { name: "Restoring" }).click();
    await vi.waitFor(() =>
      expect(calls.some((c) => c.url.pathname === "/api/v1/stores" && c.url.searchParams.get("status") === "restoring")).toBe(
        true,
      ),
    );
  });
});
