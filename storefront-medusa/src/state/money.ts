import { useCallback } from "react";
import { formatMoney } from "../lib/money";
import { useCart } from "./cart";

/** Formats amounts in the current region's currency. */
export function useMoney(): { currency: string; format(amount: number | null | undefined, currency?: string): string } {
  const { region } = useCart();
  const currency = region?.currency_code ?? "usd";
  const format = useCallback(
    (amount: number | null | undefined, override?: string) => formatMoney(amount, override ?? currency, undefined),
    [currency],
  );
  return { currency, format };
}
