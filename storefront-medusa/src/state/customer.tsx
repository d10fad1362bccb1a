// The signed-in customer: a Store API bearer token (POST /store/auth/token) kept in localStorage.
// A bearer token works the same behind a same-origin proxy or across origins, with no cookie flags to
// get right; an expired or revoked token is dropped on the first 401.

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import type { Customer } from "../api/types";
import { CUSTOMER_TOKEN_KEY, useApp } from "./app";

interface CustomerContextValue {
  customer: Customer | null;
  loading: boolean;
  signIn(email: string, password: string): Promise<void>;
  signUp(input: { first_name: string; last_name: string; email: string; password: string }): Promise<void>;
  signOut(): void;
}

const CustomerContext = createContext<CustomerContextValue | null>(null);

export function CustomerProvider({ children }: { children: ReactNode }) {
  const { api, storage } = useApp();
  const queryClient = useQueryClient();
  const [token, setToken] = useState<string | null>(() => storage.getItem(CUSTOMER_TOKEN_KEY));

  const me = useQuery({
    queryKey: ["me", token],
    queryFn: ({ signal }) => api.me(signal),
    enabled: Boolean(token),
    staleTime: 5 * 60_000,
  });

  const signOut = useCallback(() => {
    storage.removeItem(CUSTOMER_TOKEN_KEY);
    setToken(null);
    queryClient.removeQueries({ queryKey: ["me"] });
    queryClient.removeQueries({ queryKey: ["my-orders"] });
  }, [queryClient, storage]);

  useEffect(() => {
    if (me.error instanceof ApiError && me.error.status === 401) signOut();
  }, [me.error, signOut]);

  const signIn = useCallback(
    async (email: string, password: string) => {
      const accessToken = await api.signIn(email, password);
      storage.setItem(CUSTOMER_TOKEN_KEY, accessToken);
      setToken(accessToken);
    },
    [api, storage],
  );

  const signUp = useCallback(
    async (input: { first_name: string; last_name: string; email: string; password: string }) => {
      await api.signUp(input);
      await signIn(input.email, input.password);
    },
    [api, signIn],
  );

  const value = useMemo<CustomerContextValue>(
    () => ({
      customer: token ? (me.data ?? null) : null,
      loading: Boolean(token) && me.isPending,
      signIn,
      signUp,
      signOut,
    }),
    [token, me.data, me.isPending, signIn, signUp, signOut],
  );
  return <CustomerContext.Provider value={value}>{children}</CustomerContext.Provider>;
}

export function useCustomer(): CustomerContextValue {
  const value = useContext(CustomerContext);
  if (!value) throw new Error("useCustomer outside CustomerProvider");
  return value;
}
