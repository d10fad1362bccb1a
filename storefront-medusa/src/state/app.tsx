// The runtime configuration and the Store API client, shared by every component.

import { createContext, useContext, useMemo, type ReactNode } from "react";
import { createRequest } from "../api/client";
import { createStoreApi, type StoreApi } from "../api/medusa";
import { browserStorage, type KeyValueStorage } from "../lib/cart-state";
import type { RuntimeConfig } from "../config/runtime";

export const CUSTOMER_TOKEN_KEY = "storeflow.customerToken";

interface AppContextValue {
  config: RuntimeConfig;
  api: StoreApi;
  storage: KeyValueStorage;
}

const AppContext = createContext<AppContextValue | null>(null);

export function AppProvider({ config, children }: { config: RuntimeConfig; children: ReactNode }) {
  const value = useMemo(() => {
    const storage = browserStorage();
    const request = createRequest({
      backendUrl: config.backendUrl,
      publishableKey: config.publishableKey,
      getToken: () => storage.getItem(CUSTOMER_TOKEN_KEY),
    });
    return { config, api: createStoreApi(request), storage };
  }, [config]);
  return <AppContext.Provider value={value}>{children}</AppContext.Provider>;
}

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error("useApp outside AppProvider");
  return value;
}
