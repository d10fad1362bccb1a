import { describe, expect, it } from "vitest";
import { friendlyError, shouldRetry } from "../lib/errors";
import { ApiError, createRequest } from "./client";

type Call = { url: string; init: RequestInit };

function fakeFetch(status: number, body: string, calls: Call[] = []): typeof fetch {
  return (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(body, { status, headers: { "Content-Type": "application/json" } });
  }) as unknown as typeof fetch;
}

describe("createRequest", () => {
  it("sends JSON with the publishable key and the bearer token", async () => {
    const calls: Call[] = [];
    const request = createRequest({
      backendUrl: "https://api.test/",
      publishableKey: "pk_123",
      getToken: () => "tok",
      fetchImpl: fakeFetch(200, '{"cart":{"id":"cart_1"}}', calls),
    });
    const result = await request<{ cart: { id: string } }>("POST", "/store/carts", { body: { region_id: "reg_1" }, query: { a: 1, b: undefined } });
    expect(result.cart.id).toBe("cart_1");
    expect(calls[0].url).toBe("https://api.test/store/carts?a=1");
    const headers = calls[0].init.headers as Record<string, string>;
    expect(headers["x-publishable-api-key"]).toBe("pk_123");
    expect(headers.Authorization).toBe("Bearer tok");
    expect(headers["Content-Type"]).toBe("application/json");
    expect(calls[0].init.body).toBe('{"region_id":"reg_1"}');
    expect(calls[0].init.credentials).toBe("omit");
  });

  it("omits optional headers and uses the same origin by default", async () => {
    const calls: Call[] = [];
    const request = createRequest({ backendUrl: "", publishableKey: "", fetchImpl: fakeFetch(200, "{}", calls) });
    await request("GET", "/store/regions");
    expect(calls[0].url).toBe("/store/regions");
    const headers = calls[0].init.headers as Record<string, string>;
    expect(headers["x-publishable-api-key"]).toBeUndefined();
    expect(headers.Authorization).toBeUndefined();
  });

  it("turns Medusa's error body into an ApiError", async () => {
    const request = createRequest({
      backendUrl: "",
      publishableKey: "",
      fetchImpl: fakeFetch(400, '{"type":"invalid_data","message":"Shipping country must be in the cart region"}'),
    });
    const error = await request("POST", "/store/carts/cart_1").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).type).toBe("invalid_data");
    expect(friendlyError(error).message).toMatch(/can't deliver to that country/);
  });

  it("explains non-JSON errors (a proxy's 502 page) and network failures", async () => {
    const html = createRequest({ backendUrl: "", publishableKey: "", fetchImpl: fakeFetch(502, "<html>Bad Gateway</html>") });
    const badGateway = (await html("GET", "/store/regions").catch((e: unknown) => e)) as ApiError;
    expect(badGateway.status).toBe(502);
    expect(friendlyError(badGateway).title).toBe("The store is having trouble");
    expect(shouldRetry(0, badGateway)).toBe(true);

    const offline = createRequest({
      backendUrl: "",
      publishableKey: "",
      fetchImpl: (async () => {
        throw new TypeError("Failed to fetch");
      }) as unknown as typeof fetch,
    });
    const networkError = (await offline("GET", "/store/regions").catch((e: unknown) => e)) as ApiError;
    expect(networkError.isNetwork).toBe(true);
    expect(friendlyError(networkError).title).toBe("Can't reach the store");
  });

  it("does not retry client errors", () => {
    expect(shouldRetry(0, new ApiError("nope", 404))).toBe(false);
    expect(shouldRetry(0, new ApiError("slow", -1))).toBe(true);
    expect(shouldRetry(2, new ApiError("down", 503))).toBe(false);
  });
});
