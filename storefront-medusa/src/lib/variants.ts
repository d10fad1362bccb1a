// Variant resolution for products with several options (Size × Color, ...). Medusa v1 returns each
// option's values once per variant, so values are de-duplicated here, keeping their first order.

import type { Product, ProductVariant } from "../api/types";

/** Option id → chosen value. */
export type Selection = Record<string, string>;

export type ValueState = "available" | "out_of_stock" | "unavailable";

export interface OptionChoices {
  id: string;
  title: string;
  values: string[];
}

export function optionChoices(product: Pick<Product, "options" | "variants">): OptionChoices[] {
  return product.options.map((option) => {
    const seen = new Set<string>();
    // Values come from the variants that exist, in the variants' order (variant_rank, the
    // merchant's order); a value left on the option without a variant cannot be bought.
    for (const variant of product.variants) {
      const value = variant.options.find((o) => o.option_id === option.id)?.value;
      if (value !== undefined) seen.add(value);
    }
    return { id: option.id, title: option.title, values: [...seen] };
  });
}

export function variantValue(variant: ProductVariant, optionId: string): string | undefined {
  return variant.options.find((o) => o.option_id === optionId)?.value;
}

function matches(variant: ProductVariant, selection: Selection): boolean {
  return Object.entries(selection).every(([optionId, value]) => variantValue(variant, optionId) === value);
}

/** The exact variant for a complete selection; undefined while an option is unselected or the combination does not exist. */
export function resolveVariant(product: Pick<Product, "options" | "variants">, selection: Selection): ProductVariant | undefined {
  if (!product.options.every((o) => selection[o.id] !== undefined)) return undefined;
  return product.variants.find((v) => matches(v, selection));
}

export function isInStock(variant: Pick<ProductVariant, "manage_inventory" | "allow_backorder" | "inventory_quantity">): boolean {
  return !variant.manage_inventory || variant.allow_backorder || variant.inventory_quantity > 0;
}

/** How many of this variant one order may take (Infinity when stock is not tracked). */
export function maxOrderable(variant: Pick<ProductVariant, "manage_inventory" | "allow_backorder" | "inventory_quantity">): number {
  if (!variant.manage_inventory || variant.allow_backorder) return Infinity;
  return Math.max(0, variant.inventory_quantity);
}

/**
 * The state of choosing `value` for `optionId`, given the other options already chosen:
 * unavailable when no variant has that combination, out_of_stock when every such variant is sold out.
 */
export function valueState(
  product: Pick<Product, "options" | "variants">,
  selection: Selection,
  optionId: string,
  value: string,
): ValueState {
  const others: Selection = { ...selection, [optionId]: value };
  const candidates = product.variants.filter((v) => matches(v, others));
  if (candidates.length === 0) return "unavailable";
  return candidates.some(isInStock) ? "available" : "out_of_stock";
}

/**
 * Starting selection: options with a single value are chosen; a product with one variant is chosen
 * whole; a requested variant (e.g. from a cart line) is chosen when it exists.
 */
export function initialSelection(product: Pick<Product, "options" | "variants">, variantId?: string | null): Selection {
  const requested = variantId ? product.variants.find((v) => v.id === variantId) : undefined;
  const base = requested ?? (product.variants.length === 1 ? product.variants[0] : undefined);
  const selection: Selection = {};
  if (base) {
    for (const option of product.options) {
      const value = variantValue(base, option.id);
      if (value !== undefined) selection[option.id] = value;
    }
    return selection;
  }
  for (const choice of optionChoices(product)) {
    if (choice.values.length === 1) selection[choice.id] = choice.values[0];
  }
  return selection;
}

export type SelectionStatus =
  | { kind: "incomplete"; missing: string[] }
  | { kind: "unavailable" }
  | { kind: "out_of_stock"; variant: ProductVariant }
  | { kind: "ready"; variant: ProductVariant; max: number };

/** What the buy box shows for the current selection. */
export function selectionStatus(product: Pick<Product, "options" | "variants">, selection: Selection): SelectionStatus {
  const missing = product.options.filter((o) => selection[o.id] === undefined).map((o) => o.title);
  if (missing.length > 0) return { kind: "incomplete", missing };
  const variant = resolveVariant(product, selection);
  if (!variant) return { kind: "unavailable" };
  if (!isInStock(variant)) return { kind: "out_of_stock", variant };
  return { kind: "ready", variant, max: maxOrderable(variant) };
}

/** True when every variant is sold out (a "Sold out" badge on cards). */
export function isSoldOut(product: Pick<Product, "variants">): boolean {
  return product.variants.length > 0 && !product.variants.some(isInStock);
}
