// The shopper's cart and region.
//
// Guarantees:
// - The cart id survives reloads (localStorage) and the cart is fetched again on start.
// - A stored cart that Medusa no longer knows, that was completed into an order, or whose region was
//   deleted is dropped silently; a new cart is created on the next add to cart (never just for
//   browsing).
// - Cart writes run one at a time, so quick clicks on + and − cannot race each other.
// - The region (and so the currency) is the cart's; without a cart, the shopper's saved choice or
//   the first region.

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import type { Cart, Region } from "../api/types";
import {
  REGION_ID_KEY,
  clearCartId,
  itemCount,
  judgeCart,
  pickRegion,
  readCartId,
  writeCartId,
} from "../lib/cart-state";
import { useApp } from "./app";

interface CartContextValue {
  regions: Region[];
  regionsLoading: boolean;
  regionsError: unknown;
  retryRegions(): void;
  region: Region | undefined;
  setRegion(regionId: string): Promise<void>;

  cart: Cart | null;
  cartLoading: boolean;
  /** Loading the stored cart failed for a reason other than "it is gone" (network, 5xx). */
  cartError: unknown;
  retryCart(): void;
  count: number;
  addItem(variantId: string, quantity: number): Promise<Cart>;
  updateItem(lineId: string, quantity: number): Promise<Cart>;
  removeItem(lineId: string): Promise<Cart>;
  /** Stores a cart returned by a checkout call. */
  replaceCart(cart: Cart): void;
  /** Forgets the cart after its order was placed. */
  forgetCart(): void;

  drawerOpen: boolean;
  openDrawer(): void;
  closeDrawer(): void;
}

const CartContext = createContext<CartContextValue | null>(null);

function isGoneCart(error: unknown): boolean {
  return (
    error instanceof ApiError &&
    (error.status === 404 || (error.status === 400 && /completed|not found/i.test(error.message)))
  );
}

export function CartProvider({ children }: { children: ReactNode }) {
  const { api, storage } = useApp();
  const queryClient = useQueryClient();
  const [cartId, setCartId] = useState<string | null>(() => readCartId(storage));
  const [savedRegionId, setSavedRegionId] = useState<string | null>(() => storage.getItem(REGION_ID_KEY));
  const [drawerOpen, setDrawerOpen] = useState(false);
  const queue = useRef<Promise<unknown>>(Promise.resolve());

  const regionsQuery = useQuery({
    queryKey: ["regions"],
    queryFn: ({ signal }) => api.listRegions(signal),
    staleTime: 10 * 60_000,
  });
  const regions = useMemo(() => regionsQuery.data ?? [], [regionsQuery.data]);
  const refetchRegions = regionsQuery.refetch;

  const cartQuery = useQuery({
    queryKey: ["cart", cartId],
    enabled: Boolean(cartId),
    queryFn: async ({ signal }) => {
      try {
        return await api.getCart(cartId as string, signal);
      } catch (error) {
        if (isGoneCart(error)) return null;
        throw error;
      }
    },
    staleTime: 30_000,
  });

  const refetchCart = cartQuery.refetch;

  const forgetCart = useCallback(() => {
    clearCartId(storage);
    setCartId(null);
  }, [storage]);

  // Replace an unusable stored cart silently.
  useEffect(() => {
    if (!cartId || cartQuery.isPending || cartQuery.isError) return;
    const verdict = judgeCart(cartQuery.data, regionsQuery.isSuccess ? regions : []);
    if (!verdict.usable) forgetCart();
  }, [cartId, cartQuery.isPending, cartQuery.isError, cartQuery.data, regions, regionsQuery.isSuccess, forgetCart]);

  const cart = cartId && cartQuery.data && judgeCart(cartQuery.data, regions).usable ? cartQuery.data : null;
  const region = pickRegion(regions, cart?.region_id, savedRegionId);

  const replaceCart = useCallback(
    (next: Cart) => {
      writeCartId(storage, next.id);
      queryClient.setQueryData(["cart", next.id], next);
      setCartId(next.id);
    },
    [queryClient, storage],
  );

  /** Runs cart writes one after another. */
  const serialize = useCallback(<T,>(work: () => Promise<T>): Promise<T> => {
    const run = queue.current.then(work, work);
    queue.current = run.catch(() => undefined);
    return run;
  }, []);

  const latestCart = useRef<Cart | null>(null);
  latestCart.current = cart;
  const latestRegion = useRef<Region | undefined>(undefined);
  latestRegion.current = region;

  const createCart = useCallback(async () => {
    const target = latestRegion.current ?? (await queryClient.fetchQuery({ queryKey: ["regions"], queryFn: () => api.listRegions() }))[0];
    if (!target) throw new ApiError("This store has no region to sell in yet.", 409);
    const created = await api.createCart(target.id);
    replaceCart(created);
    latestCart.current = created;
    return created;
  }, [api, queryClient, replaceCart]);

  const addItem = useCallback(
    (variantId: string, quantity: number) =>
      serialize(async () => {
        let current = latestCart.current ?? (await createCart());
        let updated: Cart;
        try {
          updated = await api.addLineItem(current.id, variantId, quantity);
        } catch (error) {
          if (!isGoneCart(error)) throw error;
          forgetCart();
          current = await createCart();
          updated = await api.addLineItem(current.id, variantId, quantity);
        }
        replaceCart(updated);
        latestCart.current = updated;
        return updated;
      }),
    [api, createCart, forgetCart, replaceCart, serialize],
  );

  const withCart = useCallback(
    (change: (cartId: string) => Promise<Cart>) =>
      serialize(async () => {
        const current = latestCart.current;
        if (!current) throw new ApiError("Your cart has expired. Please add the items again.", 404);
        try {
          const updated = await change(current.id);
          replaceCart(updated);
          latestCart.current = updated;
          return updated;
        } catch (error) {
          if (isGoneCart(error)) {
            forgetCart();
            throw new ApiError("Your cart has expired. Please add the items again.", 404);
          }
          throw error;
        }
      }),
    [forgetCart, replaceCart, serialize],
  );

  const updateItem = useCallback(
    (lineId: string, quantity: number) => withCart((id) => api.updateLineItem(id, lineId, quantity)),
    [api, withCart],
  );
  const removeItem = useCallback((lineId: string) => withCart((id) => api.removeLineItem(id, lineId)), [api, withCart]);

  const setRegion = useCallback(
    async (regionId: string) => {
      storage.setItem(REGION_ID_KEY, regionId);
      setSavedRegionId(regionId);
      if (latestCart.current && latestCart.current.region_id !== regionId) {
        await withCart((id) => api.updateCart(id, { region_id: regionId }));
      }
    },
    [api, storage, withCart],
  );

  const value = useMemo<CartContextValue>(
    () => ({
      regions,
      regionsLoading: regionsQuery.isPending,
      regionsError: regionsQuery.error,
      retryRegions: () => void refetchRegions(),
      region,
      setRegion,
      cart,
      cartLoading: Boolean(cartId) && cartQuery.isPending,
      cartError: cartId ? cartQuery.error : null,
      retryCart: () => void refetchCart(),
      count: itemCount(cart),
      addItem,
      updateItem,
      removeItem,
      replaceCart,
      forgetCart,
      drawerOpen,
      openDrawer: () => setDrawerOpen(true),
      closeDrawer: () => setDrawerOpen(false),
    }),
    [regions, regionsQuery.isPending, regionsQuery.error, refetchRegions, region, setRegion, cart, cartId, cartQuery.isPending, cartQuery.error, refetchCart, addItem, updateItem, removeItem, replaceCart, forgetCart, drawerOpen],
  );

  return <CartContext.Provider value={value}>{children}</CartContext.Provider>;
}

export function useCart(): CartContextValue {
  const value = useContext(CartContext);
  if (!value) throw new Error("useCart outside CartProvider");
  return value;
}
