// Where the cart lives between visits, and when a stored cart must be replaced.

import type { Cart, Region } from "../api/types";

export const CART_ID_KEY = "storeflow.cartId";
export const REGION_ID_KEY = "storeflow.regionId";

export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** localStorage when usable (private modes and disabled storage throw), else an in-memory stand-in. */
export function browserStorage(): KeyValueStorage {
  try {
    const probe = "storeflow.probe";
    window.localStorage.setItem(probe, "1");
    window.localStorage.removeItem(probe);
    return window.localStorage;
  } catch {
    return memoryStorage();
  }
}

export function memoryStorage(): KeyValueStorage {
  const values = new Map<string, string>();
  return {
    getItem: (key) => values.get(key) ?? null,
    setItem: (key, value) => void values.set(key, value),
    removeItem: (key) => void values.delete(key),
  };
}

const CART_ID_PATTERN = /^cart_[A-Za-z0-9]+$/;

/** The stored cart id, or null when absent or not shaped like a Medusa cart id (then it is removed). */
export function readCartId(storage: KeyValueStorage): string | null {
  const value = storage.getItem(CART_ID_KEY);
  if (value === null) return null;
  if (!CART_ID_PATTERN.test(value)) {
    storage.removeItem(CART_ID_KEY);
    return null;
  }
  return value;
}

export function writeCartId(storage: KeyValueStorage, cartId: string): void {
  storage.setItem(CART_ID_KEY, cartId);
}

export function clearCartId(storage: KeyValueStorage): void {
  storage.removeItem(CART_ID_KEY);
}

export type CartVerdict = { usable: true } | { usable: false; reason: "completed" | "unknown_region" | "missing" };

/**
 * Whether a stored cart can keep serving the shopper. A completed cart (its order was placed) or a
 * cart whose region no longer exists is replaced silently by a new one.
 */
export function judgeCart(cart: Cart | null | undefined, regions: Pick<Region, "id">[]): CartVerdict {
  if (!cart) return { usable: false, reason: "missing" };
  if (cart.completed_at) return { usable: false, reason: "completed" };
  if (regions.length > 0 && !regions.some((r) => r.id === cart.region_id)) return { usable: false, reason: "unknown_region" };
  return { usable: true };
}

/** Number of units in the cart (the badge on the cart button). */
export function itemCount(cart: Pick<Cart, "items"> | null | undefined): number {
  return cart?.items.reduce((sum, item) => sum + item.quantity, 0) ?? 0;
}

/** The region prices are shown in: the cart's, else the shopper's saved choice, else the first. */
export function pickRegion<R extends Pick<Region, "id">>(
  regions: R[],
  cartRegionId: string | null | undefined,
  savedRegionId: string | null | undefined,
): R | undefined {
  return (
    regions.find((r) => r.id === cartRegionId) ?? regions.find((r) => r.id === savedRegionId) ?? regions[0]
  );
}

/** Quantity the shopper may set: at least 1, at most the stock limit and a sane ceiling. */
export function clampQuantity(quantity: number, max: number = Infinity): number {
  if (!Number.isFinite(quantity)) return 1;
  const ceiling = Math.min(max, 99);
  return Math.max(1, Math.min(Math.floor(quantity), ceiling));
}

/** A line's total; Medusa's computed total when present, else unit price × quantity. */
export function lineTotal(item: { unit_price: number; quantity: number; subtotal?: number; total?: number }): number {
  if (typeof item.subtotal === "number") return item.subtotal;
  return item.unit_price * item.quantity;
}

export type CheckoutStep = "address" | "delivery" | "payment";

/** The furthest checkout step the cart's saved state allows, so a reload resumes where the shopper was. */
export function resumeStep(cart: Pick<Cart, "email" | "shipping_address" | "shipping_methods">): CheckoutStep {
  const hasAddress = Boolean(cart.email && cart.shipping_address?.country_code && cart.shipping_address.address_1);
  if (!hasAddress) return "address";
  if (cart.shipping_methods.length === 0) return "delivery";
  return "payment";
}
