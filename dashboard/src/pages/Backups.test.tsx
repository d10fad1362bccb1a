import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import type { Backup, Store } from "../api/types";
import { COMPLETE, DELETED_STORE_ID, FAILED, OF_DELETED, RUNNING, STORE_ID } from "../test/backups";
import { json, mockFetch, renderWithProviders, TENANT, type Handler } from "../test/render";
import { store as storeOf } from "../test/rollouts";
import { BackupsPage } from "./Backups";

afterEach(() => vi.unstubAllGlobals());

/** The tenant's stores as the store list answers: deleted ones are left out. */
const LIVE: Store[] = [storeOf(0, { id: STORE_ID, name: "probe-shop", ownerId: TENANT.id })];

function renderBackups({
  backups = [RUNNING, COMPLETE, FAILED, OF_DELETED],
  stores = LIVE,
  route = "/backups",
  extra,
}: { backups?: Backup[]; stores?: Store[]; route?: string; extra?: Handler } = {}) {
  setToken("t");
  const mocked = mockFetch(...(extra ? [extra] : []), (url) => {
    if (url.pathname === "/api/v1/auth/me") return json({ user: TENANT });
    if (url.pathname === "/api/v1/stores") return json({ stores, total: stores.length, limit: 100, offset: 0 });
    if (url.pathname === "/api/v1/backups") {
      const status = url.searchParams.get("status");
      const store = url.searchParams.get("storeId");
      return json({
        backups: backups.filter((b) => (!status || b.status === status) && (!store || b.storeId === store)),
      });
    }
    return undefined;
  });
  renderWithProviders(
    <Routes>
      <Route path="/backups" element={<BackupsPage />} />
      <Route path="/stores/:id" element={<p>store page</p>} />
    </Routes>,
    { route },
  );
  return mocked;
}

const rowOf = (id: string) => document.querySelector(`[data-backup-row="${id}"]`) as HTMLElement;

describe("the Backups page", () => {
  it("lists every backup, newest first, each linked to its store while the store exists", async () => {
    renderBackups();
    await waitFor(() => expect(document.querySelectorAll("[data-backup-row]")).toHaveLength(4));
    const running = rowOf(RUNNING.id);
    expect(within(running).getByRole("link", { name: "probe-shop" }).getAttribute("href")).toBe(`/stores/${STORE_ID}`);
    expect(running.querySelector("[data-backup-status]")?.textContent).toBe("Running");
    expect(within(running).getByTestId("backup-step").textContent).toBe("Saving the database…");
    expect(within(running).queryAllByTestId("restore-backup")).toHaveLength(0);

    expect(within(rowOf(FAILED.id)).getByTestId("backup-error").textContent).toBe(
      "The platform's backup storage could not be reached.",
    );
    expect(within(rowOf(COMPLETE.id)).getByTestId("backup-versions").textContent).toBe("Chart 2.1.0 · app 2.1.0");

    // A deleted store: its name without a link, said deleted; its backup restorable.
    const deleted = rowOf(OF_DELETED.id);
    await within(deleted).findByTestId("backup-store-deleted");
    expect(within(deleted).queryByRole("link")).toBeNull();
    expect(within(deleted).getByTestId("backup-store").textContent).toBe("old-shop");
    expect(within(deleted).getByText(DELETED_STORE_ID)).toBeTruthy();
    expect(within(deleted).getAllByRole("button", { name: /^Restore into a new store: the backup of old-shop/ })).toHaveLength(2);
    expect(screen.getByTestId("backups-count").textContent).toBe("4 backups.");
  });

  it("links a store it cannot place yet rather than calling it deleted", async () => {
    // The store list is still loading, or the backup's store is past the 500 it reads.
    renderBackups({ stores: [], extra: (url) => (url.pathname === "/api/v1/stores" ? new Promise(() => undefined) : undefined) });
    await waitFor(() => expect(document.querySelectorAll("[data-backup-row]")).toHaveLength(4));
    expect(within(rowOf(OF_DELETED.id)).getByRole("link", { name: "old-shop" })).toBeTruthy();
    expect(within(rowOf(OF_DELETED.id)).queryByTestId("backup-store-deleted")).toBeNull();
  });

  it("filters by status in the address, and says when nothing matches", async () => {
    const { calls } = renderBackups({ backups: [RUNNING, FAILED] });
    await waitFor(() => expect(document.querySelectorAll("[data-backup-row]")).toHaveLength(2));
    const filters = screen.getByRole("group", { name: "Filter by status" });
    fireEvent.click(within(filters).getByRole("button", { name: "Failed" }));
    await waitFor(() => expect(document.querySelectorAll("[data-backup-row]")).toHaveLength(1));
    expect(screen.getByTestId("location").textContent).toBe("/backups?status=failed");
    expect(within(filters).getByRole("button", { name: "Failed" }).getAttribute("aria-pressed")).toBe("true");
    expect(calls.some((c) => c.url.pathname === "/api/v1/backups" && c.url.searchParams.get("status") === "failed")).toBe(
      true,
    );
    fireEvent.click(within(filters).getByRole("button", { name: "Complete" }));
    await screen.findByText("No backups match");
    expect(screen.getByText("No complete backups.")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Clear filters" }));
    await waitFor(() => expect(document.querySelectorAll("[data-backup-row]")).toHaveLength(2));
  });

  it("shows one store's backups when a store's page sends here, with a way back to all", async () => {
    const { calls } = renderBackups({ route: `/backups?store=${STORE_ID}` });
    await waitFor(() => expect(document.querySelectorAll("[data-backup-row]")).toHaveLength(3));
    expect(calls.find((c) => c.url.pathname === "/api/v1/backups")?.url.searchParams.get("storeId")).toBe(STORE_ID);
    fireEvent.click(screen.getByRole("button", { name: "Show the backups of every store, not only probe-shop" }));
    await waitFor(() => expect(document.querySelectorAll("[data-backup-row]")).toHaveLength(4));
  });

  it("says how to get backups when there are none", async () => {
    renderBackups({ backups: [] });
    await screen.findByText("No backups yet");
    expect(screen.getByText("Back a store up from its page, or give it a backup schedule there.")).toBeTruthy();
  });

  it("restores a deleted store's backup into a new store", async () => {
    const { calls } = renderBackups({
      extra: (url, init) =>
        url.pathname === "/api/v1/stores" && init.method === "POST"
          ? json(
              {
                message: "Store creation initiated. Provisioning and the restore of the backup are in progress.",
                store: storeOf(1, { id: "store-77777777", name: "old-shop-restored", status: "requested" }),
                run: { id: "01a241dc-0000-7000-8000-00000000000a", workflow: "restore-woocommerce", status: "queued" },
              },
              202,
            )
          : undefined,
    });
    const restore = await waitFor(() => {
      const row = rowOf(OF_DELETED.id);
      expect(row).not.toBeNull();
      const button = within(row).getAllByRole("button", { name: /^Restore into a new store/ })[0] as HTMLButtonElement;
      // Enabled once the engine registry says the backup's engine restores into a new store.
      expect(button.disabled).toBe(false);
      return button;
    });
    fireEvent.click(restore);
    const dialog = await screen.findByRole("dialog");
    expect((within(dialog).getByLabelText("New store's name") as HTMLInputElement).value).toBe("old-shop-restored");
    fireEvent.click(within(dialog).getByRole("button", { name: "Restore into a new store" }));
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/stores/store-77777777"));
    const post = calls.find((c) => c.url.pathname === "/api/v1/stores" && c.init.method === "POST")!;
    expect(JSON.parse(String(post.init.body))).toEqual({ name: "old-shop-restored", restoreFrom: OF_DELETED.id });
  });
});
