import { describe, expect, it } from "vitest";
import type { Product, ProductVariant } from "../api/types";
import {
  initialSelection,
  isSoldOut,
  maxOrderable,
  optionChoices,
  resolveVariant,
  selectionStatus,
  valueState,
} from "./variants";

// Size × Color where L/Forest does not exist and M/White is out of stock — the shape of the seeded tee.
function tee(): Pick<Product, "options" | "variants"> {
  const sizes = ["S", "M", "L"];
  const colors = ["Black", "White", "Forest"];
  const variants: ProductVariant[] = [];
  for (const size of sizes) {
    for (const color of colors) {
      if (size === "L" && color === "Forest") continue;
      variants.push({
        id: `v_${size}_${color}`,
        title: `${size} / ${color}`,
        inventory_quantity: size === "M" && color === "White" ? 0 : 7,
        manage_inventory: true,
        allow_backorder: false,
        options: [
          { option_id: "opt_size", value: size },
          { option_id: "opt_color", value: color },
        ],
      });
    }
  }
  // Medusa lists an option's values once per variant.
  return {
    options: [
      { id: "opt_size", title: "Size", values: variants.map((v) => v.options[0]) },
      { id: "opt_color", title: "Color", values: variants.map((v) => v.options[1]) },
    ],
    variants,
  };
}

describe("optionChoices", () => {
  it("de-duplicates values and keeps the merchant's order", () => {
    expect(optionChoices(tee())).toEqual([
      { id: "opt_size", title: "Size", values: ["S", "M", "L"] },
      { id: "opt_color", title: "Color", values: ["Black", "White", "Forest"] },
    ]);
  });
});

describe("resolveVariant", () => {
  it("finds the exact variant for a full selection", () => {
    expect(resolveVariant(tee(), { opt_size: "M", opt_color: "Forest" })?.id).toBe("v_M_Forest");
    expect(resolveVariant(tee(), { opt_size: "S", opt_color: "Black" })?.id).toBe("v_S_Black");
  });

  it("finds nothing while an option is unselected or for a combination that does not exist", () => {
    expect(resolveVariant(tee(), { opt_size: "M" })).toBeUndefined();
    expect(resolveVariant(tee(), { opt_size: "L", opt_color: "Forest" })).toBeUndefined();
  });
});

describe("valueState", () => {
  it("marks combinations that do not exist as unavailable", () => {
    expect(valueState(tee(), { opt_size: "L" }, "opt_color", "Forest")).toBe("unavailable");
    expect(valueState(tee(), { opt_color: "Forest" }, "opt_size", "L")).toBe("unavailable");
  });

  it("marks sold-out combinations as out of stock", () => {
    expect(valueState(tee(), { opt_size: "M" }, "opt_color", "White")).toBe("out_of_stock");
    expect(valueState(tee(), { opt_color: "White" }, "opt_size", "M")).toBe("out_of_stock");
  });

  it("considers only the other options: a value is available if any matching variant is in stock", () => {
    expect(valueState(tee(), {}, "opt_color", "White")).toBe("available");
    expect(valueState(tee(), {}, "opt_size", "L")).toBe("available");
    // Switching the size while M/White is selected: L/White exists and is in stock.
    expect(valueState(tee(), { opt_size: "M", opt_color: "White" }, "opt_size", "L")).toBe("available");
  });
});

describe("selectionStatus", () => {
  it("names the options still to choose", () => {
    expect(selectionStatus(tee(), { opt_color: "Black" })).toEqual({ kind: "incomplete", missing: ["Size"] });
  });

  it("reports unavailable, out of stock and ready with the stock limit", () => {
    expect(selectionStatus(tee(), { opt_size: "L", opt_color: "Forest" }).kind).toBe("unavailable");
    expect(selectionStatus(tee(), { opt_size: "M", opt_color: "White" }).kind).toBe("out_of_stock");
    const ready = selectionStatus(tee(), { opt_size: "L", opt_color: "White" });
    expect(ready.kind).toBe("ready");
    if (ready.kind === "ready") {
      expect(ready.variant.id).toBe("v_L_White");
      expect(ready.max).toBe(7);
    }
  });
});

describe("stock rules", () => {
  const base = { manage_inventory: true, allow_backorder: false, inventory_quantity: 0 };
  it("allows backorders and untracked stock", () => {
    expect(maxOrderable(base)).toBe(0);
    expect(maxOrderable({ ...base, allow_backorder: true })).toBe(Infinity);
    expect(maxOrderable({ ...base, manage_inventory: false })).toBe(Infinity);
    expect(maxOrderable({ ...base, inventory_quantity: 3 })).toBe(3);
  });

  it("calls a product sold out only when no variant is in stock", () => {
    expect(isSoldOut(tee())).toBe(false);
    const soldOut = tee();
    soldOut.variants = soldOut.variants.map((v) => ({ ...v, inventory_quantity: 0 }));
    expect(isSoldOut(soldOut)).toBe(true);
    expect(isSoldOut({ variants: [] })).toBe(false);
  });
});

describe("initialSelection", () => {
  it("selects nothing for a multi-option product", () => {
    expect(initialSelection(tee())).toEqual({});
  });

  it("selects a requested variant", () => {
    expect(initialSelection(tee(), "v_S_White")).toEqual({ opt_size: "S", opt_color: "White" });
    expect(initialSelection(tee(), "v_unknown")).toEqual({});
  });

  it("selects single-valued options and single-variant products", () => {
    const single = tee();
    single.variants = single.variants.filter((v) => v.id === "v_S_Black");
    expect(initialSelection(single)).toEqual({ opt_size: "S", opt_color: "Black" });
    const oneColor = tee();
    oneColor.variants = oneColor.variants.filter((v) => v.options[1].value === "Black");
    expect(initialSelection(oneColor)).toEqual({ opt_color: "Black" });
  });
});
