import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Component, useState, type ErrorInfo, type ReactNode } from "react";
import { BrowserRouter, Route, Routes } from "react-router";
import { Layout } from "./components/Layout";
import type { RuntimeConfig } from "./config/runtime";
import { shouldRetry } from "./lib/errors";
import { AccountPage, SignInPage, SignUpPage } from "./pages/Account";
import { CheckoutPage } from "./pages/Checkout";
import { CollectionPage, CollectionsPage } from "./pages/Collections";
import { HomePage } from "./pages/Home";
import { NotFoundPage } from "./pages/NotFound";
import { OrderConfirmationPage } from "./pages/OrderConfirmation";
import { ProductDetailPage } from "./pages/ProductDetail";
import { ProductsPage } from "./pages/Products";
import { AppProvider } from "./state/app";
import { CartProvider } from "./state/cart";
import { CustomerProvider } from "./state/customer";

/** Last line of defence: a rendering bug shows a way out instead of a blank page. */
class ErrorBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  state = { failed: false };

  static getDerivedStateFromError() {
    return { failed: true };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error("storefront render error", error, info.componentStack);
  }

  render() {
    if (!this.state.failed) return this.props.children;
    return (
      <div role="alert" className="mx-auto max-w-md px-6 py-24 text-center">
        <h1 className="text-2xl font-bold">Something went wrong</h1>
        <p className="mt-2 text-stone-600">This page hit an unexpected problem. Your cart is safe.</p>
        <div className="mt-6 flex justify-center gap-3">
          <button type="button" className="rounded-full bg-stone-900 px-6 py-3 text-sm font-semibold text-white" onClick={() => window.location.reload()}>
            Reload the page
          </button>
          <a href="/" className="rounded-full border border-stone-300 px-6 py-3 text-sm font-semibold">
            Home page
          </a>
        </div>
      </div>
    );
  }
}

export function App({ config }: { config: RuntimeConfig }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: { retry: shouldRetry, staleTime: 60_000, refetchOnWindowFocus: false },
          mutations: { retry: false },
        },
      }),
  );
  return (
    <ErrorBoundary>
      <QueryClientProvider client={queryClient}>
        <AppProvider config={config}>
          <CustomerProvider>
            <CartProvider>
              <BrowserRouter>
                <Routes>
                  <Route element={<Layout />}>
                    <Route index element={<HomePage />} />
                    <Route path="products" element={<ProductsPage />} />
                    <Route path="products/:handle" element={<ProductDetailPage />} />
                    <Route path="collections" element={<CollectionsPage />} />
                    <Route path="collections/:handle" element={<CollectionPage />} />
                    <Route path="checkout" element={<CheckoutPage />} />
                    <Route path="order/:id" element={<OrderConfirmationPage />} />
                    <Route path="account" element={<AccountPage />} />
                    <Route path="account/sign-in" element={<SignInPage />} />
                    <Route path="account/sign-up" element={<SignUpPage />} />
                    <Route path="*" element={<NotFoundPage />} />
                  </Route>
                </Routes>
              </BrowserRouter>
            </CartProvider>
          </CustomerProvider>
        </AppProvider>
      </QueryClientProvider>
    </ErrorBoundary>
  );
}
