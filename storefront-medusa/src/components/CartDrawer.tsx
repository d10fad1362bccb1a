import { useEffect, useRef, useState } from "react";
import { Link, useLocation } from "react-router";
import type { LineItem } from "../api/types";
import { lineTotal } from "../lib/cart-state";
import { friendlyError } from "../lib/errors";
import { useCart } from "../state/cart";
import { useMoney } from "../state/money";
import { BagIcon, CloseIcon, TrashIcon } from "./Icons";
import { QuantityStepper } from "./QuantityStepper";
import { Alert, ErrorState, buttonPrimary, buttonSecondary } from "./ui";

function CartLine({ item, onError }: { item: LineItem; onError(message: string | null): void }) {
  const { updateItem, removeItem } = useCart();
  const { format } = useMoney();
  const [busy, setBusy] = useState(false);
  const handle = item.variant?.product?.handle;

  const run = async (work: () => Promise<unknown>) => {
    setBusy(true);
    onError(null);
    try {
      await work();
    } catch (error) {
      onError(friendlyError(error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className="flex gap-4 py-4" data-testid="cart-line" aria-busy={busy}>
      <div className="h-20 w-20 shrink-0 overflow-hidden rounded-xl bg-stone-100">
        {item.thumbnail && <img src={item.thumbnail} alt="" className="h-full w-full object-cover" />}
      </div>
      <div className="flex min-w-0 flex-1 flex-col">
        <div className="flex items-start justify-between gap-3">
          <div className="min-w-0">
            <p className="truncate text-sm font-semibold">
              {handle ? <Link to={`/products/${handle}`}>{item.title}</Link> : item.title}
            </p>
            {item.description && <p className="text-xs text-stone-500">{item.description}</p>}
            <p className="mt-0.5 text-xs text-stone-500">{format(item.unit_price)} each</p>
          </div>
          <p className="text-sm font-semibold tabular-nums" data-testid="line-total">
            {format(lineTotal(item))}
          </p>
        </div>
        <div className="mt-auto flex items-center justify-between pt-2">
          <QuantityStepper
            size="sm"
            value={item.quantity}
            disabled={busy}
            label={`Quantity of ${item.title}${item.description ? `, ${item.description}` : ""}`}
            onChange={(quantity) => run(() => updateItem(item.id, quantity))}
          />
          <button
            type="button"
            disabled={busy}
            onClick={() => run(() => removeItem(item.id))}
            className="inline-flex items-center gap-1 rounded-full px-2 py-1 text-xs font-medium text-stone-600 hover:bg-stone-100 hover:text-red-700 disabled:opacity-50"
          >
            <TrashIcon size={14} />
            Remove<span className="sr-only"> {item.title}</span>
          </button>
        </div>
      </div>
    </li>
  );
}

export function CartDrawer() {
  const { drawerOpen, closeDrawer, cart, cartLoading, cartError, retryCart, count } = useCart();
  const { format } = useMoney();
  const dialog = useRef<HTMLDialogElement>(null);
  const location = useLocation();
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (drawerOpen && !element.open) element.showModal();
    if (!drawerOpen && element.open) element.close();
  }, [drawerOpen]);

  // Navigating (e.g. to checkout) closes the drawer.
  useEffect(() => closeDrawer(), [location.pathname]);

  const items = cart?.items ?? [];
  return (
    <dialog
      ref={dialog}
      aria-labelledby="cart-title"
      onClose={closeDrawer}
      onClick={(e) => {
        if (e.target === e.currentTarget) closeDrawer();
      }}
      className="fixed inset-y-0 right-0 left-auto m-0 h-full max-h-none w-full max-w-md bg-white p-0 shadow-2xl backdrop:bg-stone-900/40 open:flex open:flex-col"
    >
      <div className="flex items-center justify-between border-b border-stone-200 px-5 py-4">
        <h2 id="cart-title" className="text-lg font-semibold">
          Your cart {count > 0 && <span className="text-stone-500">({count})</span>}
        </h2>
        <button
          type="button"
          onClick={closeDrawer}
          className="grid h-10 w-10 place-items-center rounded-full hover:bg-stone-100"
          aria-label="Close cart"
        >
          <CloseIcon />
        </button>
      </div>
      {cartLoading ? (
        <p className="p-6 text-sm text-stone-600">Loading your cart…</p>
      ) : cartError && !cart ? (
        <div className="p-5">
          <ErrorState error={cartError} onRetry={retryCart}>
            <button type="button" className={buttonSecondary} onClick={closeDrawer}>
              Close
            </button>
          </ErrorState>
        </div>
      ) : items.length === 0 ? (
        <div className="flex flex-1 flex-col items-center justify-center gap-4 px-6 text-center">
          <span className="grid h-14 w-14 place-items-center rounded-full bg-stone-100 text-stone-500">
            <BagIcon size={26} />
          </span>
          <p className="font-semibold">Your cart is empty</p>
          <p className="text-sm text-stone-600">Find something you like and it will show up here.</p>
          <Link to="/products" className={buttonPrimary} onClick={closeDrawer}>
            Start shopping
          </Link>
        </div>
      ) : (
        <>
          <div className="flex-1 overflow-y-auto px-5">
            {error && (
              <div className="pt-4">
                <Alert>{error}</Alert>
              </div>
            )}
            <ul className="divide-y divide-stone-200">
              {items
                .slice()
                .sort((a, b) => a.id.localeCompare(b.id))
                .map((item) => (
                  <CartLine key={item.id} item={item} onError={setError} />
                ))}
            </ul>
          </div>
          <div className="border-t border-stone-200 px-5 py-5">
            <div className="flex items-center justify-between text-base font-semibold">
              <span>Subtotal</span>
              <span data-testid="cart-subtotal" className="tabular-nums">
                {format(cart?.subtotal)}
              </span>
            </div>
            <p className="mt-1 text-xs text-stone-500">Shipping and taxes are calculated at checkout.</p>
            <div className="mt-4 grid gap-2">
              <Link to="/checkout" className={buttonPrimary}>
                Checkout
              </Link>
              <button type="button" onClick={closeDrawer} className={buttonSecondary}>
                Continue shopping
              </button>
            </div>
          </div>
        </>
      )}
    </dialog>
  );
}
