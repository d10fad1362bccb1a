import { describe, expect, it } from "vitest";
import { formatMoney, priceRange, toMajorUnits, variantPrice } from "./money";

describe("formatMoney", () => {
  it("formats cents in the region's currency", () => {
    expect(formatMoney(2500, "eur", "en-US")).toBe("€25.00");
    expect(formatMoney(2899, "usd", "en-US")).toBe("$28.99");
    expect(formatMoney(2500, "EUR", "de-DE")).toBe("25,00\u00a0€");
    expect(formatMoney(123456, "gbp", "en-GB")).toBe("£1,234.56");
  });

  it("does not divide zero-decimal currencies", () => {
    expect(toMajorUnits(1500, "jpy")).toBe(1500);
    expect(formatMoney(1500, "jpy", "en-US")).toBe("¥1,500");
    expect(formatMoney(5000, "KRW", "en-US")).toBe("₩5,000");
  });

  it("shows zero as a price and a missing amount as a dash", () => {
    expect(formatMoney(0, "eur", "en-US")).toBe("€0.00");
    expect(formatMoney(null, "eur", "en-US")).toBe("—");
    expect(formatMoney(undefined, "eur", "en-US")).toBe("—");
    expect(formatMoney(Number.NaN, "eur", "en-US")).toBe("—");
  });

  it("keeps negative amounts (discounts) negative", () => {
    expect(formatMoney(-500, "usd", "en-US")).toBe("-$5.00");
  });

  it("falls back to the code for a currency Intl does not know", () => {
    expect(formatMoney(1234, "zzzz", "en-US")).toBe("12.34 ZZZZ");
  });
});

describe("variantPrice and priceRange", () => {
  const variants = [
    { calculated_price: 2500, prices: [{ currency_code: "eur", amount: 9999 }] },
    { calculated_price: null, prices: [{ currency_code: "usd", amount: 100 }, { currency_code: "eur", amount: 3100 }] },
    { prices: [{ currency_code: "usd", amount: 1 }] },
  ];

  it("prefers Medusa's calculated price, else the amount in the currency", () => {
    expect(variantPrice(variants[0], "eur")).toBe(2500);
    expect(variantPrice(variants[1], "EUR")).toBe(3100);
    expect(variantPrice(variants[2], "eur")).toBeNull();
  });

  it("spans the variants that have a price", () => {
    expect(priceRange(variants, "eur")).toEqual({ min: 2500, max: 3100 });
    expect(priceRange([{ prices: [] }], "eur")).toBeNull();
  });
});
