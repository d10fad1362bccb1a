import { describe, expect, it } from "vitest";
import type { Cart } from "../api/types";
import {
  CART_ID_KEY,
  clampQuantity,
  clearCartId,
  itemCount,
  judgeCart,
  lineTotal,
  memoryStorage,
  pickRegion,
  readCartId,
  resumeStep,
  writeCartId,
} from "./cart-state";

function cart(overrides: Partial<Cart> = {}): Cart {
  return {
    id: "cart_01ABC",
    region_id: "reg_eu",
    items: [],
    shipping_methods: [],
    payment_sessions: [],
    ...overrides,
  };
}

describe("cart id storage", () => {
  it("round-trips a cart id", () => {
    const storage = memoryStorage();
    expect(readCartId(storage)).toBeNull();
    writeCartId(storage, "cart_01HXYZ");
    expect(readCartId(storage)).toBe("cart_01HXYZ");
    clearCartId(storage);
    expect(readCartId(storage)).toBeNull();
  });

  it("drops a stored value that is not a cart id", () => {
    const storage = memoryStorage();
    storage.setItem(CART_ID_KEY, "../../admin");
    expect(readCartId(storage)).toBeNull();
    expect(storage.getItem(CART_ID_KEY)).toBeNull();
  });
});

describe("judgeCart", () => {
  const regions = [{ id: "reg_eu" }, { id: "reg_us" }];

  it("keeps an open cart in a known region", () => {
    expect(judgeCart(cart(), regions)).toEqual({ usable: true });
  });

  it("replaces a completed cart, a cart in a deleted region and a missing cart", () => {
    expect(judgeCart(cart({ completed_at: "2026-01-01T00:00:00Z" }), regions)).toEqual({ usable: false, reason: "completed" });
    expect(judgeCart(cart({ region_id: "reg_gone" }), regions)).toEqual({ usable: false, reason: "unknown_region" });
    expect(judgeCart(null, regions)).toEqual({ usable: false, reason: "missing" });
  });
});

describe("cart figures", () => {
  const items = [
    { id: "a", title: "Tee", quantity: 2, unit_price: 2500 },
    { id: "b", title: "Mug", quantity: 3, unit_price: 1800, subtotal: 5400 },
  ];

  it("counts units, not lines", () => {
    expect(itemCount(cart({ items }))).toBe(5);
    expect(itemCount(null)).toBe(0);
  });

  it("uses Medusa's line subtotal when present", () => {
    expect(lineTotal(items[0])).toBe(5000);
    expect(lineTotal(items[1])).toBe(5400);
  });

  it("clamps quantities to 1..stock (and 99)", () => {
    expect(clampQuantity(0)).toBe(1);
    expect(clampQuantity(-4)).toBe(1);
    expect(clampQuantity(5, 3)).toBe(3);
    expect(clampQuantity(2.7)).toBe(2);
    expect(clampQuantity(1000)).toBe(99);
    expect(clampQuantity(Number.NaN)).toBe(1);
  });
});

describe("pickRegion", () => {
  const regions = [{ id: "reg_eu" }, { id: "reg_us" }];
  it("prefers the cart's region, then the saved one, then the first", () => {
    expect(pickRegion(regions, "reg_us", "reg_eu")?.id).toBe("reg_us");
    expect(pickRegion(regions, null, "reg_us")?.id).toBe("reg_us");
    expect(pickRegion(regions, "reg_gone", "reg_gone")?.id).toBe("reg_eu");
    expect(pickRegion([], null, null)).toBeUndefined();
  });
});

describe("resumeStep", () => {
  it("resumes checkout at the first step the cart has not completed", () => {
    expect(resumeStep(cart())).toBe("address");
    const withAddress = cart({ email: "a@b.co", shipping_address: { address_1: "1 Main", country_code: "de" } });
    expect(resumeStep(withAddress)).toBe("delivery");
    expect(resumeStep({ ...withAddress, shipping_methods: [{ id: "sm", shipping_option_id: "so", price: 495 }] })).toBe("payment");
  });
});
