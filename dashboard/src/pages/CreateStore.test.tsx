import { fireEvent, screen, waitFor } from "@testing-library/react";
import { Route, Routes } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";

import { setToken } from "../api/client";
import { apiError, ENGINES, json, mockFetch, renderWithProviders, TENANT, type Handler } from "../test/render";
import { CreateStorePage } from "./CreateStore";

afterEach(() => vi.unstubAllGlobals());

function setup(
  create: (body: Record<string, unknown>, headers: Record<string, string>) => Response,
  engines?: Handler,
) {
  setToken("t");
  return mockFetch(...(engines ? [engines] : []), (url, init) => {
    if (url.pathname === "/api/v1/auth/me") return json({ user: TENANT });
    if (url.pathname === "/api/v1/stores" && init.method === "POST") {
      return create(JSON.parse(String(init.body)), init.headers as Record<string, string>);
    }
    return undefined;
  });
}

function renderPage() {
  return renderWithProviders(
    <Routes>
      <Route path="/stores/new" element={<CreateStorePage />} />
      <Route path="/stores/:id" element={<p>store page</p>} />
    </Routes>,
    { route: "/stores/new" },
  );
}

describe("CreateStorePage", () => {
  it("shows the API's rules for a bad name before sending anything", async () => {
    const { calls } = setup(() => json({}));
    renderPage();
    const name = await screen.findByLabelText("Name");
    fireEvent.change(name, { target: { value: "Bad_Name" } });
    fireEvent.click(screen.getByRole("button", { name: "Create store" }));
    expect(
      await screen.findByText(
        "Store name must be lowercase letters, digits and single hyphens, not starting or ending with a hyphen.",
      ),
    ).toBeTruthy();
    fireEvent.change(name, { target: { value: "admin" } });
    expect(screen.getByText("This store name is reserved; choose another.")).toBeTruthy();
    expect(name.getAttribute("aria-invalid")).toBe("true");
    expect(calls.filter((c) => c.init.method === "POST")).toHaveLength(0);
  });

  it("shows the API's error as it comes, with its suggestion and a link to the existing store", async () => {
    setup(() =>
      apiError(409, "STORE_NAME_TAKEN", "A store named 'spring-shop' already exists (status: provisioning).", {
        suggestion: "Use a different name, or delete the existing store first.",
        details: { storeId: "store-1a2b3c4d", status: "provisioning" },
      }),
    );
    renderPage();
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "spring-shop" } });
    fireEvent.click(screen.getByRole("button", { name: "Create store" }));
    expect(await screen.findByText("A store named 'spring-shop' already exists (status: provisioning).")).toBeTruthy();
    expect(screen.getByText("Use a different name, or delete the existing store first.")).toBeTruthy();
    expect(screen.getByRole("link", { name: "Open the existing store" }).getAttribute("href")).toBe(
      "/stores/store-1a2b3c4d",
    );
  });

  it("shows field errors of a validation answer under their field", async () => {
    setup(() =>
      apiError(400, "VALIDATION_ERROR", "Password must be 8 to 128 characters.", {
        details: [{ field: "password", message: "Password must be 8 to 128 characters." }],
      }),
    );
    renderPage();
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "spring-shop" } });
    fireEvent.click(screen.getByRole("button", { name: "Create store" }));
    await waitFor(() =>
      expect(document.querySelector('[data-field-errors="store-password"]')?.textContent).toContain(
        "Password must be 8 to 128 characters.",
      ),
    );
  });

  it("sends name, engine, theme and an Idempotency-Key, then opens the new store", async () => {
    const sent: { body: Record<string, unknown>; key: string }[] = [];
    setup((body, headers) => {
      sent.push({ body, key: headers["Idempotency-Key"] });
      return json(
        {
          message: "Store creation initiated.",
          store: { id: "store-0a0b0c0d", name: "spring-shop" },
          run: { id: "r" },
        },
        202,
      );
    });
    renderPage();
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "spring-shop" } });
    fireEvent.click(screen.getByLabelText(/Astra/));
    fireEvent.click(screen.getByRole("button", { name: "Create store" }));
    await waitFor(() => expect(screen.getByTestId("location").textContent).toBe("/stores/store-0a0b0c0d"));
    expect(sent).toHaveLength(1);
    expect(sent[0].body).toEqual({ name: "spring-shop", engine: "woocommerce", theme: "astra" });
    expect(sent[0].key).toMatch(/^[0-9a-f-]{32,36}$/);
  });

  it("sends no theme for MedusaJS", async () => {
    const sent: Record<string, unknown>[] = [];
    setup((body) => {
      sent.push(body);
      return json({ store: { id: "store-0a0b0c0e", name: "headless" } }, 202);
    });
    renderPage();
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "headless" } });
    fireEvent.click(screen.getByLabelText(/MedusaJS/));
    expect(screen.queryByText("Theme")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Create store" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]).toEqual({ name: "headless", engine: "medusa" });
  });

  it("offers the engines and themes of the server's registry, its default theme chosen", async () => {
    const sent: Record<string, unknown>[] = [];
    const registry = [
      { ...ENGINES[0], themes: ["storefront", "astra", "kadence"], defaultTheme: "astra" },
      ENGINES[1],
      { ...ENGINES[1], name: "saleor", label: "Saleor", themes: ["classic"], defaultTheme: "classic" },
    ];
    setup(
      (body) => {
        sent.push(body);
        return json({ store: { id: "store-0a0b0c0f", name: "new-shop" } }, 202);
      },
      (url) => (url.pathname === "/api/v1/engines" ? json({ engines: registry }) : undefined),
    );
    renderPage();
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "new-shop" } });
    const engines = [...document.querySelectorAll<HTMLInputElement>('input[name="engine"]')];
    expect(engines.map((e) => e.value)).toEqual(["woocommerce", "medusa", "saleor"]);
    expect(engines[0].checked).toBe(true);
    const themes = () => [...document.querySelectorAll<HTMLInputElement>('input[name="theme"]')];
    expect(themes().map((t) => t.value)).toEqual(["storefront", "astra", "kadence"]);
    expect((screen.getByLabelText(/Astra/) as HTMLInputElement).checked).toBe(true);
    // An engine this dashboard has no words for still gets its card, by the registry's label.
    fireEvent.click(screen.getByLabelText(/Saleor/));
    expect(themes().map((t) => t.value)).toEqual(["classic"]);
    expect((screen.getByLabelText(/Classic/) as HTMLInputElement).checked).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: "Create store" }));
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]).toEqual({ name: "new-shop", engine: "saleor", theme: "classic" });
  });

  it("says so when the engines cannot be loaded, and offers to try again", async () => {
    setup(
      () => json({}),
      (url) =>
        url.pathname === "/api/v1/engines" ? apiError(500, "INTERNAL_ERROR", "Something failed.") : undefined,
    );
    renderPage();
    expect(await screen.findByText("The engines could not be loaded")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Create store" })).toBeNull();
  });
});
