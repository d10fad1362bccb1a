// Prices come from Medusa as integers in the currency's smallest unit. Medusa v1 stores
// zero-decimal currencies (JPY, KRW, ...) without the ×100 factor, so they are not divided.

const ZERO_DECIMAL_CURRENCIES = new Set([
  "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
]);

export function isZeroDecimal(currencyCode: string): boolean {
  return ZERO_DECIMAL_CURRENCIES.has(currencyCode.toLowerCase());
}

/** Converts Medusa's integer amount into the currency's major unit (2500 EUR → 25). */
export function toMajorUnits(amount: number, currencyCode: string): number {
  return isZeroDecimal(currencyCode) ? amount : amount / 100;
}

const formatters = new Map<string, Intl.NumberFormat>();

function formatterFor(currencyCode: string, locale: string | undefined): Intl.NumberFormat {
  const key = `${locale ?? ""}|${currencyCode}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.NumberFormat(locale, {
      style: "currency",
      currency: currencyCode.toUpperCase(),
      currencyDisplay: "narrowSymbol",
    });
    formatters.set(key, formatter);
  }
  return formatter;
}

/**
 * Formats an amount in the region's currency: formatMoney(2500, "eur", "en-US") → "€25.00".
 * A missing amount yields "—" rather than a misleading "0".
 */
export function formatMoney(amount: number | null | undefined, currencyCode: string, locale?: string): string {
  if (amount === null || amount === undefined || Number.isNaN(amount)) return "—";
  try {
    return formatterFor(currencyCode, locale).format(toMajorUnits(amount, currencyCode));
  } catch {
    // An unknown currency code: show the number with the code rather than failing the page.
    const major = toMajorUnits(amount, currencyCode);
    return `${major.toFixed(isZeroDecimal(currencyCode) ? 0 : 2)} ${currencyCode.toUpperCase()}`;
  }
}

/** The price of a variant in the current region: calculated_price when Medusa computed one, else the matching money amount. */
export function variantPrice(
  variant: { calculated_price?: number | null; prices?: { currency_code: string; amount: number }[] },
  currencyCode: string,
): number | null {
  if (typeof variant.calculated_price === "number") return variant.calculated_price;
  const match = variant.prices?.find((p) => p.currency_code.toLowerCase() === currencyCode.toLowerCase());
  return match ? match.amount : null;
}

/** The lowest and highest variant price; null when no variant has a price in this currency. */
export function priceRange(
  variants: { calculated_price?: number | null; prices?: { currency_code: string; amount: number }[] }[],
  currencyCode: string,
): { min: number; max: number } | null {
  let min = Infinity;
  let max = -Infinity;
  for (const variant of variants) {
    const price = variantPrice(variant, currencyCode);
    if (price === null) continue;
    min = Math.min(min, price);
    max = Math.max(max, price);
  }
  return min === Infinity ? null : { min, max };
}
