import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import type { Rollout, Store } from "../api/types";
import { RequireAdmin, RequireAuth } from "../components/Layout";
import { ADMIN, apiError, json, mockFetch, renderWithProviders, TENANT } from "../test/render";
import { HALTED_AT_CANARY, ROLLOUT_ID, RUNNING, store, SUCCEEDED } from "../test/rollouts";
import { RolloutsPage } from "./Rollouts";

afterEach(() => vi.unstubAllGlobals());

const RUNNING_ID = "01a24146-d12e-7143-ac2f-028b922c7e75";

interface Options {
  rollouts?: Rollout[];
  stores?: Store[];
  start?: (body: Record<string, unknown>) => Response;
  list?: () => Response;
}

function renderRollouts({ rollouts = [], stores = [store(0), store(1), store(2)], start, list }: Options = {}) {
  setToken("t");
  const mocked = mockFetch((url, init) => {
    if (url.pathname === "/api/v1/auth/me") return json({ user: ADMIN });
    if (url.pathname === "/api/v1/stores") return json({ stores, total: stores.length, limit: 100, offset: 0 });
    if (url.pathname === "/api/v1/rollouts" && (init.method ?? "GET") === "GET")
      return list ? list() : json({ rollouts });
    if (url.pathname === "/api/v1/rollouts" && init.method === "POST") {
      const body = JSON.parse(String(init.body));
      if (start) return start(body);
      return json({ message: "started", rollout: { ...RUNNING, id: RUNNING_ID } }, 202);
    }
    return undefined;
  });
  renderWithProviders(<RolloutsPage />, { route: "/rollouts" });
  return mocked;
}

const form = () => screen.getByTestId("start-rollout");

async function startWith({ waves, percent }: { waves?: string; percent?: string } = {}) {
  await screen.findByText("3 stores to upgrade now, in 2 waves: 1, then 2.");
  if (waves !== undefined) fireEvent.change(within(form()).getByLabelText("Wave sizes"), { target: { value: waves } });
  if (percent !== undefined)
    fireEvent.change(within(form()).getByLabelText("Maximum failure share"), { target: { value: percent } });
  fireEvent.click(within(form()).getByRole("button", { name: "Start rollout…" }));
}

describe("the rollouts page", () => {
  it("lists rollouts with their status, target, totals and where they stand", async () => {
    renderRollouts({ rollouts: [{ ...RUNNING, id: RUNNING_ID }, HALTED_AT_CANARY, { ...SUCCEEDED, id: "01a24146-0000-7000-8000-000000000001" }] });
    const halted = (await screen.findAllByText("Chart 2.3.0")).map((cell) => cell.closest("tr") as HTMLElement)[1];
    expect(halted.querySelector("[data-rollout-status]")?.textContent).toBe("Halted");
    expect(within(halted).getByTestId("rollout-waves").textContent).toBe("Halted at wave 1 of 2");
    expect(within(halted).getByTestId("rollout-totals").textContent).toBe("1 failed · 2 not started");
    expect(within(halted).getByRole("link", { name: "Chart 2.3.0" }).getAttribute("href")).toBe(`/rollouts/${ROLLOUT_ID}`);
    // The one in progress is announced above, with the way to it.
    expect(screen.getByTestId("running-rollout").textContent).toBe("Rolling out chart 2.3.0 (app 2.3.0): wave 1 of 2");
    expect(screen.getByRole("link", { name: "Watch it" }).getAttribute("href")).toBe(`/rollouts/${RUNNING_ID}`);
  });

  it("shows the target and how many stores would go, from the stores' available upgrade", async () => {
    renderRollouts({ stores: [store(0), store(1), store(2, { status: "failed" })] });
    await waitFor(() => expect(screen.getByTestId("rollout-target").textContent).toBe("chart 2.3.0 (app 2.3.0)"));
    await waitFor(() =>
      expect(screen.getByTestId("rollout-candidates").textContent).toBe("2 stores to upgrade now, in 2 waves: 1, then 1."),
    );
    // The engine choices are the registry's engines that can be upgraded.
    await within(form()).findByRole("option", { name: "MedusaJS only" });
    fireEvent.change(within(form()).getByLabelText("Engine"), { target: { value: "medusa" } });
    expect(screen.getByTestId("rollout-candidates").textContent).toBe("0 MedusaJS stores to upgrade now.");
  });

  it("confirms with the waves and that it halts by itself, then starts and opens the rollout", async () => {
    const { calls } = renderRollouts();
    await startWith({ waves: "1", percent: "20" });
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByText("Roll out chart 2.3.0 (app 2.3.0)?")).toBeTruthy();
    expect(within(dialog).getByTestId("rollout-plan-summary").textContent).toBe("3 stores are upgraded in 2 waves: 1, then 2.");
    expect(within(dialog).getAllByTestId("rollout-plan-wave").map((li) => li.textContent)).toEqual([
      "Wave 1 · 1 store · halts if its upgrade fails",
      "Wave 2 · 2 stores · halts if any upgrade fails",
    ]);
    expect(within(dialog).getByTestId("rollout-plan-halt").textContent).toContain(
      "It halts by itself when more than 20% of a wave's upgrades fail: later waves are not started",
    );
    fireEvent.click(within(dialog).getByRole("button", { name: "Start rollout" }));
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe(`/rollouts/${RUNNING_ID}`));
    const post = calls.find((c) => c.init.method === "POST");
    expect(JSON.parse(String(post?.init.body))).toEqual({ waves: [1], maxFailureShare: 0.2 });
    expect(await screen.findByText("Rollout of chart 2.3.0 (app 2.3.0) to 3 stores in 2 waves started.")).toBeTruthy();
  });

  it("sends the engine filter and a fractional share", async () => {
    const { calls } = renderRollouts();
    await startWith({ waves: "2 10", percent: "12.5" });
    fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Cancel" }));
    await within(form()).findByRole("option", { name: "WooCommerce only" });
    fireEvent.change(within(form()).getByLabelText("Engine"), { target: { value: "woocommerce" } });
    expect(screen.getByTestId("rollout-candidates").textContent).toBe("3 WooCommerce stores to upgrade now, in 2 waves: 2, then 1.");
    fireEvent.click(within(form()).getByRole("button", { name: "Start rollout…" }));
    expect((await screen.findByTestId("rollout-plan-summary")).textContent).toBe("3 WooCommerce stores are upgraded in 2 waves: 2, then 1.");
    fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Start rollout" }));
    await waitFor(() => expect(calls.some((c) => c.init.method === "POST")).toBe(true));
    const post = calls.find((c) => c.init.method === "POST");
    expect(JSON.parse(String(post?.init.body))).toEqual({ engine: "woocommerce", waves: [2, 10], maxFailureShare: 0.125 });
  });

  it("catches wrong fields before asking anything", async () => {
    const { calls } = renderRollouts();
    await startWith({ waves: "1, 0", percent: "150" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(screen.getByText("Each wave has at least 1 store.")).toBeTruthy();
    expect(screen.getByText("Give a percentage from 0 to 100.")).toBeTruthy();
    expect(calls.some((c) => c.init.method === "POST")).toBe(false);
  });

  it("a rollout already running: refused in the form, with a link to it", async () => {
    renderRollouts({
      start: () =>
        apiError(409, "ROLLOUT_IN_PROGRESS", `Rollout ${RUNNING_ID} is still running.`, {
          details: { rolloutId: RUNNING_ID },
          suggestion: "Wait for it to finish, or cancel it (POST /api/v1/rollouts/{id}/cancel).",
        }),
    });
    await startWith({ waves: "1" });
    fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Start rollout" }));
    const refusal = await screen.findByTestId("rollout-start-error");
    expect(refusal.textContent).toContain("Another rollout is still running: only one runs at a time.");
    expect(refusal.textContent).not.toContain("POST");
    expect(within(refusal).getByRole("link", { name: "See the running rollout" }).getAttribute("href")).toBe(
      `/rollouts/${RUNNING_ID}`,
    );
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(screen.getByTestId("location").textContent).toBe("/rollouts");
  });

  it("nothing to upgrade: refused in the form, naming the version the stores run", async () => {
    renderRollouts({
      start: () =>
        apiError(409, "NOTHING_TO_UPGRADE", "No ready store outside chart 2.2.0 (app 2.2.0) matches.", {
          suggestion: "Every matching store is on the target already, or not ready.",
        }),
    });
    await startWith();
    fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Start rollout" }));
    const refusal = await screen.findByTestId("rollout-start-error");
    expect(refusal.textContent).toContain(
      "Nothing to upgrade: every ready store that matches runs chart 2.2.0 (app 2.2.0) already.",
    );
    // Editing a field clears the stale refusal.
    fireEvent.change(within(form()).getByLabelText("Wave sizes"), { target: { value: "2" } });
    expect(screen.queryByTestId("rollout-start-error")).toBeNull();
  });

  it("the API's field problems show under their fields", async () => {
    renderRollouts({
      start: () =>
        apiError(400, "VALIDATION_ERROR", "The rollout request is not valid.", {
          details: [{ field: "engine", message: "one of woocommerce" }],
        }),
    });
    await startWith();
    fireEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Start rollout" }));
    expect(await screen.findByText("one of woocommerce")).toBeTruthy();
  });

  it("is for operators: a 403 from the API says so, without the form", async () => {
    renderRollouts({ list: () => apiError(403, "FORBIDDEN", "Access denied. Required role: admin.") });
    expect(await screen.findByText("Operators only")).toBeTruthy();
    expect(screen.getByText("This page is for the platform's administrators.")).toBeTruthy();
    expect(screen.queryByTestId("start-rollout")).toBeNull();
  });
});

describe("the Rollouts menu entry and route", () => {
  function renderShell(user: typeof ADMIN | typeof TENANT) {
    setToken("t");
    const mocked = mockFetch((url) => {
      if (url.pathname === "/api/v1/auth/me") return json({ user });
      if (url.pathname === "/api/v1/health") return json({ status: "healthy", timestamp: "2026-12-04T10:00:00Z" });
      if (url.pathname === "/api/v1/stores") return json({ stores: [], total: 0, limit: 100, offset: 0 });
      if (url.pathname === "/api/v1/rollouts") return json({ rollouts: [] });
      return undefined;
    });
    renderWithProviders(
      <Routes>
        <Route element={<RequireAuth />}>
          <Route
            path="/rollouts"
            element={
              <RequireAdmin>
                <RolloutsPage />
              </RequireAdmin>
            }
          />
        </Route>
      </Routes>,
      { route: "/rollouts" },
    );
    return mocked;
  }

  it("operators find Rollouts right after Runs", async () => {
    renderShell(ADMIN);
    await screen.findByText("No rollouts yet");
    const nav = screen.getByRole("navigation", { name: "Main" });
    const links = within(nav).getAllByRole("link").map((a) => a.textContent);
    expect(links[links.indexOf("Runs") + 1]).toBe("Rollouts");
    expect(within(nav).getByRole("link", { name: "Rollouts" }).getAttribute("href")).toBe("/rollouts");
  });

  it("tenants have no such entry, and the page tells them it is for operators without asking the API", async () => {
    const { calls } = renderShell(TENANT);
    expect(await screen.findByText("Operators only")).toBeTruthy();
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).queryByRole("link", { name: "Rollouts" })).toBeNull();
    expect(calls.some((c) => c.url.pathname === "/api/v1/rollouts")).toBe(false);
  });
});
