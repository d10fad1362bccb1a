import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import type { Order } from "../api/types";
import { CheckIcon } from "../components/Icons";
import { ErrorState, buttonPrimary, buttonSecondary, useDocumentTitle } from "../components/ui";
import { lineTotal } from "../lib/cart-state";
import { formatMoney } from "../lib/money";
import { useApp } from "../state/app";
import { useCart } from "../state/cart";
import { useCustomer } from "../state/customer";

const PAYMENT_STATUS: Record<string, string> = {
  not_paid: "Awaiting payment",
  awaiting: "Awaiting payment",
  captured: "Paid",
  partially_refunded: "Partially refunded",
  refunded: "Refunded",
  canceled: "Canceled",
  requires_action: "Action required",
};

function OrderDetails({ order }: { order: Order }) {
  const { regions } = useCart();
  const money = (amount: number | null | undefined) => formatMoney(amount, order.currency_code);
  const address = order.shipping_address;
  const country = regions.flatMap((r) => r.countries).find((c) => c.iso_2 === address?.country_code)?.display_name;
  const provider = order.payments?.[0]?.provider_id ?? "manual";
  return (
    <div className="mt-10 grid gap-8 lg:grid-cols-[1fr_20rem]">
      <section aria-labelledby="items-title" className="rounded-2xl border border-stone-200 bg-white p-6">
        <h2 id="items-title" className="text-lg font-semibold">
          Items
        </h2>
        <ul className="mt-4 divide-y divide-stone-200">
          {order.items.map((item) => (
            <li key={item.id} className="flex gap-4 py-4" data-testid="order-line">
              <div className="h-16 w-16 shrink-0 overflow-hidden rounded-xl bg-stone-100">
                {item.thumbnail && <img src={item.thumbnail} alt="" className="h-full w-full object-cover" />}
              </div>
              <div className="min-w-0 flex-1 text-sm">
                <p className="font-semibold">{item.title}</p>
                {item.description && <p className="text-stone-500">{item.description}</p>}
                <p className="text-stone-500">Qty {item.quantity}</p>
              </div>
              <p className="text-sm font-semibold tabular-nums">{money(lineTotal(item))}</p>
            </li>
          ))}
        </ul>
        <dl className="mt-4 space-y-2 border-t border-stone-200 pt-4 text-sm">
          <div className="flex justify-between">
            <dt className="text-stone-600">Subtotal</dt>
            <dd className="tabular-nums">{money(order.subtotal)}</dd>
          </div>
          <div className="flex justify-between">
            <dt className="text-stone-600">Delivery</dt>
            <dd className="tabular-nums">{money(order.shipping_total)}</dd>
          </div>
          <div className="flex justify-between">
            <dt className="text-stone-600">Taxes</dt>
            <dd className="tabular-nums">{money(order.tax_total ?? 0)}</dd>
          </div>
          {order.discount_total > 0 && (
            <div className="flex justify-between">
              <dt className="text-stone-600">Discount</dt>
              <dd className="tabular-nums">−{money(order.discount_total)}</dd>
            </div>
          )}
          <div className="flex justify-between border-t border-stone-200 pt-3 text-base font-semibold">
            <dt>Total</dt>
            <dd className="tabular-nums" data-testid="order-total">
              {money(order.total)}
            </dd>
          </div>
        </dl>
      </section>
      <div className="space-y-4">
        <section aria-labelledby="ship-title" className="rounded-2xl border border-stone-200 bg-white p-6 text-sm">
          <h2 id="ship-title" className="font-semibold">
            Delivery
          </h2>
          {address && (
            <address className="mt-2 not-italic text-stone-600">
              {address.first_name} {address.last_name}
              <br />
              {address.address_1}
              {address.address_2 && (
                <>
                  <br />
                  {address.address_2}
                </>
              )}
              <br />
              {address.postal_code} {address.city}
              <br />
              {country ?? address.country_code?.toUpperCase()}
            </address>
          )}
          {order.shipping_methods[0] && <p className="mt-2 text-stone-600">{order.shipping_methods[0].shipping_option?.name}</p>}
        </section>
        <section aria-labelledby="pay-title" className="rounded-2xl border border-stone-200 bg-white p-6 text-sm">
          <h2 id="pay-title" className="font-semibold">
            Payment
          </h2>
          <p className="mt-2 text-stone-600">{provider === "manual" ? "Manual payment" : provider}</p>
          <p className="text-stone-600">{PAYMENT_STATUS[order.payment_status] ?? order.payment_status}</p>
        </section>
      </div>
    </div>
  );
}

export function OrderConfirmationPage() {
  const { id = "" } = useParams();
  const { api } = useApp();
  const { customer } = useCustomer();
  const query = useQuery({ queryKey: ["order", id], queryFn: ({ signal }) => api.getOrder(id, signal), staleTime: 60_000 });
  useDocumentTitle(query.data ? `Order #${query.data.display_id}` : "Your order");

  if (query.isError) {
    return (
      <div className="px-4 py-20">
        <ErrorState error={query.error} onRetry={() => query.refetch()}>
          <Link to="/products" className={buttonSecondary}>
            Continue shopping
          </Link>
        </ErrorState>
      </div>
    );
  }
  if (query.isPending) {
    return (
      <div className="mx-auto max-w-5xl animate-pulse px-4 py-16" aria-busy="true">
        <div className="h-10 w-2/3 rounded bg-stone-200" />
        <div className="mt-8 h-64 rounded-2xl bg-stone-200" />
        <span className="sr-only" role="status">
          Loading your order…
        </span>
      </div>
    );
  }
  const order = query.data;
  return (
    <div className="mx-auto max-w-5xl px-4 py-12 sm:px-6 lg:px-8">
      <div className="flex flex-col items-start gap-4 sm:flex-row sm:items-center">
        <span className="grid h-14 w-14 place-items-center rounded-full bg-emerald-100 text-emerald-800">
          <CheckIcon size={28} />
        </span>
        <div>
          <p className="text-sm font-semibold uppercase tracking-wide text-emerald-800">Order confirmed</p>
          <h1 className="text-3xl font-bold tracking-tight" data-testid="order-heading">
            Thank you! Your order #{order.display_id} is placed.
          </h1>
          <p className="mt-1 text-stone-600">
            A confirmation is on its way to <strong className="font-semibold text-stone-900">{order.email}</strong>.
          </p>
        </div>
      </div>
      <OrderDetails order={order} />
      <div className="mt-10 flex flex-wrap gap-3">
        <Link to="/products" className={buttonPrimary}>
          Continue shopping
        </Link>
        {customer && (
          <Link to="/account" className={buttonSecondary}>
            View your orders
          </Link>
        )}
      </div>
    </div>
  );
}
