import { describe, expect, it } from "vitest";
import { loadRuntimeConfig, parseRuntimeConfig } from "./runtime";

describe("parseRuntimeConfig", () => {
  it("accepts the contract's shape", () => {
    expect(parseRuntimeConfig({ storeName: " Acme ", backendUrl: "", publishableKey: "pk_01ABC" })).toEqual({
      ok: true,
      config: { storeName: "Acme", backendUrl: "", publishableKey: "pk_01ABC" },
    });
    expect(parseRuntimeConfig({ storeName: "Acme", backendUrl: "https://api.acme.test/", publishableKey: "" })).toEqual({
      ok: true,
      config: { storeName: "Acme", backendUrl: "https://api.acme.test", publishableKey: "" },
    });
  });

  it("rejects what would break the shop", () => {
    expect(parseRuntimeConfig(null).ok).toBe(false);
    expect(parseRuntimeConfig([]).ok).toBe(false);
    expect(parseRuntimeConfig({ storeName: "" }).ok).toBe(false);
    expect(parseRuntimeConfig({ storeName: "A", backendUrl: "javascript:alert(1)" }).ok).toBe(false);
    expect(parseRuntimeConfig({ storeName: "A", publishableKey: "secret key" }).ok).toBe(false);
  });
});

describe("loadRuntimeConfig", () => {
  const respond = (status: number, body: string) => async () => new Response(body, { status });

  it("loads /config.json", async () => {
    const result = await loadRuntimeConfig(respond(200, '{"storeName":"Acme","backendUrl":"","publishableKey":""}'));
    expect(result).toEqual({ ok: true, config: { storeName: "Acme", backendUrl: "", publishableKey: "" } });
  });

  it("explains a missing or broken file", async () => {
    expect(await loadRuntimeConfig(respond(404, "nope"))).toEqual({ ok: false, problem: "The store's configuration is missing (HTTP 404)." });
    expect((await loadRuntimeConfig(respond(200, "{oops"))).ok).toBe(false);
    const offline = await loadRuntimeConfig(async () => {
      throw new TypeError("Failed to fetch");
    });
    expect(offline.ok).toBe(false);
  });
});
