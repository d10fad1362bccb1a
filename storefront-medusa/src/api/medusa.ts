// Every Medusa Store API v1 call the storefront makes, in one place.

import type { Request } from "./client";
import type {
  Address,
  Cart,
  CompleteCartResponse,
  Customer,
  Order,
  Product,
  ProductCategory,
  ProductCollection,
  Region,
  ShippingOption,
} from "./types";

export interface ProductList {
  products: Product[];
  count: number;
  offset: number;
  limit: number;
}

export interface AddressInput {
  email: string;
  shipping_address: Address;
  billing_address: Address;
}

export function createStoreApi(request: Request) {
  return {
    listRegions: (signal?: AbortSignal) =>
      request<{ regions: Region[] }>("GET", "/store/regions", { signal }).then((r) => r.regions),

    listProducts: (query: URLSearchParams, signal?: AbortSignal) =>
      request<ProductList>("GET", "/store/products", { query, signal }),

    /** Medusa v1 retrieves single products by id only, so a handle is looked up through the list route. */
    productByHandle: async (handle: string, regionId: string | undefined, signal?: AbortSignal) => {
      const query = new URLSearchParams({ handle, limit: "1" });
      if (regionId) query.set("region_id", regionId);
      const result = await request<ProductList>("GET", "/store/products", { query, signal });
      return result.products.find((p) => p.handle === handle) ?? null;
    },

    listCollections: (signal?: AbortSignal) =>
      request<{ collections: ProductCollection[] }>("GET", "/store/collections", { query: { limit: 100 }, signal }).then(
        (r) => r.collections,
      ),

    listCategories: (signal?: AbortSignal) =>
      request<{ product_categories: ProductCategory[] }>("GET", "/store/product-categories", {
        query: { limit: 100 },
        signal,
      }).then((r) => r.product_categories),

    createCart: (regionId: string) =>
      request<{ cart: Cart }>("POST", "/store/carts", { body: { region_id: regionId } }).then((r) => r.cart),

    getCart: (cartId: string, signal?: AbortSignal) =>
      request<{ cart: Cart }>("GET", `/store/carts/${encodeURIComponent(cartId)}`, { signal }).then((r) => r.cart),

    updateCart: (cartId: string, body: Partial<AddressInput> & { region_id?: string }) =>
      request<{ cart: Cart }>("POST", `/store/carts/${encodeURIComponent(cartId)}`, { body }).then((r) => r.cart),

    addLineItem: (cartId: string, variantId: string, quantity: number) =>
      request<{ cart: Cart }>("POST", `/store/carts/${encodeURIComponent(cartId)}/line-items`, {
        body: { variant_id: variantId, quantity },
      }).then((r) => r.cart),

    updateLineItem: (cartId: string, lineId: string, quantity: number) =>
      request<{ cart: Cart }>(
        "POST",
        `/store/carts/${encodeURIComponent(cartId)}/line-items/${encodeURIComponent(lineId)}`,
        { body: { quantity } },
      ).then((r) => r.cart),

    removeLineItem: (cartId: string, lineId: string) =>
      request<{ cart: Cart }>(
        "DELETE",
        `/store/carts/${encodeURIComponent(cartId)}/line-items/${encodeURIComponent(lineId)}`,
      ).then((r) => r.cart),

    /** The options valid for this cart (its region, items and address): v1's cart-specific route. */
    listCartShippingOptions: (cartId: string, signal?: AbortSignal) =>
      request<{ shipping_options: ShippingOption[] }>("GET", `/store/shipping-options/${encodeURIComponent(cartId)}`, {
        signal,
      }).then((r) => r.shipping_options),

    addShippingMethod: (cartId: string, optionId: string) =>
      request<{ cart: Cart }>("POST", `/store/carts/${encodeURIComponent(cartId)}/shipping-methods`, {
        body: { option_id: optionId },
      }).then((r) => r.cart),

    createPaymentSessions: (cartId: string) =>
      request<{ cart: Cart }>("POST", `/store/carts/${encodeURIComponent(cartId)}/payment-sessions`).then((r) => r.cart),

    selectPaymentSession: (cartId: string, providerId: string) =>
      request<{ cart: Cart }>("POST", `/store/carts/${encodeURIComponent(cartId)}/payment-session`, {
        body: { provider_id: providerId },
      }).then((r) => r.cart),

    completeCart: (cartId: string) =>
      request<CompleteCartResponse>("POST", `/store/carts/${encodeURIComponent(cartId)}/complete`),

    getOrder: (orderId: string, signal?: AbortSignal) =>
      request<{ order: Order }>("GET", `/store/orders/${encodeURIComponent(orderId)}`, { signal }).then((r) => r.order),

    signIn: (email: string, password: string) =>
      request<{ access_token: string }>("POST", "/store/auth/token", { body: { email, password } }).then(
        (r) => r.access_token,
      ),

    signUp: (input: { first_name: string; last_name: string; email: string; password: string }) =>
      request<{ customer: Customer }>("POST", "/store/customers", { body: input }).then((r) => r.customer),

    me: (signal?: AbortSignal) =>
      request<{ customer: Customer }>("GET", "/store/customers/me", { signal }).then((r) => r.customer),

    myOrders: (signal?: AbortSignal) =>
      request<{ orders: Order[]; count: number }>("GET", "/store/customers/me/orders", {
        query: { limit: 50, offset: 0 },
        signal,
      }),
  };
}

export type StoreApi = ReturnType<typeof createStoreApi>;
