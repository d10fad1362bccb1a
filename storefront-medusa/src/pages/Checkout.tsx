// Checkout in three steps against the Store API v1:
//   1. contact and address  → POST /store/carts/{id} {email, shipping_address, billing_address}
//   2. delivery             → GET /store/shipping-options/{id}, POST /store/carts/{id}/shipping-methods
//   3. payment, place order → POST .../payment-sessions, .../payment-session {provider_id}, .../complete

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link, useNavigate } from "react-router";
import type { Address, Cart, Region } from "../api/types";
import { CheckIcon, LockIcon } from "../components/Icons";
import { Alert, EmptyState, ErrorState, SelectField, Spinner, TextField, buttonPrimary, buttonSecondary, useDocumentTitle } from "../components/ui";
import { lineTotal, resumeStep, type CheckoutStep } from "../lib/cart-state";
import { validateAddress, type AddressFields } from "../lib/checkout";
import { friendlyError } from "../lib/errors";
import { useApp } from "../state/app";
import { useCart } from "../state/cart";
import { useCustomer } from "../state/customer";
import { useMoney } from "../state/money";

const STEPS: { id: CheckoutStep; title: string }[] = [
  { id: "address", title: "Contact & address" },
  { id: "delivery", title: "Delivery" },
  { id: "payment", title: "Payment" },
];

const PROVIDER_LABELS: Record<string, { title: string; text: string }> = {
  manual: {
    title: "Manual payment",
    text: "Pay by bank transfer or on delivery. You'll receive the payment details with your order confirmation.",
  },
};

function providerLabel(id: string) {
  return PROVIDER_LABELS[id] ?? { title: id.replace(/[-_]/g, " ").replace(/^\w/, (c) => c.toUpperCase()), text: "" };
}

function formatAddress(address: Address | null | undefined, regions: Region[]): string {
  if (!address) return "";
  const country = regions.flatMap((r) => r.countries).find((c) => c.iso_2 === address.country_code)?.display_name;
  return [
    [address.first_name, address.last_name].filter(Boolean).join(" "),
    address.address_1,
    address.address_2,
    [address.postal_code, address.city].filter(Boolean).join(" "),
    address.province,
    country ?? address.country_code?.toUpperCase(),
  ]
    .filter(Boolean)
    .join(", ");
}

// ---------------------------------------------------------------------------------------------
// Step 1

function AddressStep({ cart, onDone }: { cart: Cart; onDone(): void }) {
  const { api } = useApp();
  const { regions, replaceCart, setRegion } = useCart();
  const { customer } = useCustomer();
  const region = regions.find((r) => r.id === cart.region_id);
  const regionCountries = region?.countries ?? [];
  const otherCountries = regions
    .filter((r) => r.id !== cart.region_id)
    .flatMap((r) => r.countries.map((c) => ({ ...c, region: r })))
    .sort((a, b) => a.display_name.localeCompare(b.display_name));
  const saved = cart.shipping_address;
  const [fields, setFields] = useState<AddressFields>(() => ({
    email: cart.email ?? customer?.email ?? "",
    first_name: saved?.first_name ?? customer?.first_name ?? "",
    last_name: saved?.last_name ?? customer?.last_name ?? "",
    address_1: saved?.address_1 ?? "",
    address_2: saved?.address_2 ?? "",
    city: saved?.city ?? "",
    postal_code: saved?.postal_code ?? "",
    province: saved?.province ?? "",
    country_code:
      saved?.country_code && regionCountries.some((c) => c.iso_2 === saved.country_code)
        ? saved.country_code
        : regionCountries.length === 1
          ? regionCountries[0].iso_2
          : "",
    phone: saved?.phone ?? "",
  }));
  const [errors, setErrors] = useState<Partial<Record<keyof AddressFields, string>>>({});
  const [submitError, setSubmitError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const outside = fields.country_code ? otherCountries.find((c) => c.iso_2 === fields.country_code) : undefined;

  const set = (name: keyof AddressFields) => (event: { target: { value: string } }) => {
    setFields((current) => ({ ...current, [name]: event.target.value }));
    setErrors((current) => ({ ...current, [name]: undefined }));
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSubmitError(null);
    const found = validateAddress(fields);
    if (outside) {
      found.country_code = `We can't deliver to ${outside.display_name} from the ${region?.name ?? "current"} region. Choose one of the countries of ${region?.name ?? "this region"}, or switch region.`;
    }
    setErrors(found);
    if (Object.keys(found).length > 0) {
      const first = Object.keys(found)[0];
      document.querySelector<HTMLElement>(`[name="${first}"]`)?.focus();
      return;
    }
    const address: Address = {
      first_name: fields.first_name.trim(),
      last_name: fields.last_name.trim(),
      address_1: fields.address_1.trim(),
      address_2: fields.address_2.trim() || null,
      city: fields.city.trim(),
      postal_code: fields.postal_code.trim(),
      province: fields.province.trim() || null,
      country_code: fields.country_code,
      phone: fields.phone.trim() || null,
    };
    setSaving(true);
    try {
      const updated = await api.updateCart(cart.id, {
        email: fields.email.trim(),
        shipping_address: address,
        billing_address: address,
      });
      replaceCart(updated);
      onDone();
    } catch (error) {
      setSubmitError(friendlyError(error).message);
    } finally {
      setSaving(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate aria-label="Contact and address" className="space-y-5">
      <TextField label="Email" name="email" type="email" autoComplete="email" required value={fields.email} onChange={set("email")} error={errors.email} hint="We'll send your order confirmation here." />
      <div className="grid gap-5 sm:grid-cols-2">
        <TextField label="First name" name="first_name" autoComplete="given-name" required value={fields.first_name} onChange={set("first_name")} error={errors.first_name} />
        <TextField label="Last name" name="last_name" autoComplete="family-name" required value={fields.last_name} onChange={set("last_name")} error={errors.last_name} />
      </div>
      <TextField label="Street address" name="address_1" autoComplete="address-line1" required value={fields.address_1} onChange={set("address_1")} error={errors.address_1} />
      <TextField label="Apartment, suite, etc." name="address_2" autoComplete="address-line2" optional value={fields.address_2} onChange={set("address_2")} />
      <div className="grid gap-5 sm:grid-cols-2">
        <TextField label="Postal code" name="postal_code" autoComplete="postal-code" required value={fields.postal_code} onChange={set("postal_code")} error={errors.postal_code} />
        <TextField label="City" name="city" autoComplete="address-level2" required value={fields.city} onChange={set("city")} error={errors.city} />
      </div>
      <div className="grid gap-5 sm:grid-cols-2">
        <SelectField label="Country" name="country_code" autoComplete="country" required value={fields.country_code} onChange={set("country_code")} error={errors.country_code}>
          <option value="">Choose a country</option>
          <optgroup label={`We deliver to (${region?.name ?? "this region"})`}>
            {regionCountries
              .slice()
              .sort((a, b) => a.display_name.localeCompare(b.display_name))
              .map((c) => (
                <option key={c.iso_2} value={c.iso_2}>
                  {c.display_name}
                </option>
              ))}
          </optgroup>
          {otherCountries.length > 0 && (
            <optgroup label="Other regions (switch region first)">
              {otherCountries.map((c) => (
                <option key={c.iso_2} value={c.iso_2}>
                  {c.display_name}
                </option>
              ))}
            </optgroup>
          )}
        </SelectField>
        <TextField label="State / province" name="province" autoComplete="address-level1" optional value={fields.province} onChange={set("province")} />
      </div>
      {outside && (
        <Alert tone="info">
          <p>
            {outside.display_name} is served by our {outside.region.name} region, with prices in {outside.region.currency_code.toUpperCase()}. Your cart
            is in the {region?.name} region.
          </p>
          <button
            type="button"
            className="mt-2 font-semibold underline underline-offset-4"
            onClick={async () => {
              try {
                await setRegion(outside.region.id);
              } catch (error) {
                setSubmitError(friendlyError(error).message);
              }
            }}
          >
            Switch to {outside.region.name} ({outside.region.currency_code.toUpperCase()})
          </button>
        </Alert>
      )}
      <TextField label="Phone" name="phone" type="tel" autoComplete="tel" optional value={fields.phone} onChange={set("phone")} hint="In case the courier needs to reach you." />
      {submitError && <Alert>{submitError}</Alert>}
      <button type="submit" className={`${buttonPrimary} w-full sm:w-auto`} disabled={saving}>
        {saving ? "Saving…" : "Continue to delivery"}
      </button>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// Step 2

function DeliveryStep({ cart, onDone }: { cart: Cart; onDone(): void }) {
  const { api } = useApp();
  const { replaceCart } = useCart();
  const { format } = useMoney();
  const addressKey = `${cart.shipping_address?.country_code}-${cart.shipping_address?.postal_code}-${cart.items.length}`;
  const options = useQuery({
    queryKey: ["shipping-options", cart.id, addressKey],
    queryFn: ({ signal }) => api.listCartShippingOptions(cart.id, signal),
  });
  const current = cart.shipping_methods[0]?.shipping_option_id;
  const [chosen, setChosen] = useState<string | null>(current ?? null);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!chosen && options.data?.length) setChosen(options.data[0].id);
  }, [chosen, options.data]);

  if (options.isError) return <ErrorState error={options.error} onRetry={() => options.refetch()} />;
  if (options.isPending) return <Spinner label="Finding delivery options" />;
  if (options.data.length === 0) {
    return <Alert>There is no delivery option for this address. Change the address, or contact the store for help.</Alert>;
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!chosen) {
      setError("Choose a delivery option.");
      return;
    }
    setSaving(true);
    setError(null);
    try {
      let updated = await api.addShippingMethod(cart.id, chosen);
      updated = await api.createPaymentSessions(cart.id);
      const manual = updated.payment_sessions.find((s) => s.provider_id === "manual");
      const only = updated.payment_sessions.length === 1 ? updated.payment_sessions[0] : undefined;
      const preferred = manual ?? only;
      if (preferred && !updated.payment_session) updated = await api.selectPaymentSession(cart.id, preferred.provider_id);
      replaceCart(updated);
      onDone();
    } catch (err) {
      setError(friendlyError(err).message);
    } finally {
      setSaving(false);
    }
  };

  return (
    <form onSubmit={submit} aria-label="Delivery">
      <fieldset>
        <legend className="sr-only">Delivery option</legend>
        <div className="space-y-3">
          {options.data.map((option) => (
            <label
              key={option.id}
              className={`flex cursor-pointer items-center justify-between gap-4 rounded-xl border p-4 transition has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-stone-900 ${
                chosen === option.id ? "border-stone-900 bg-stone-50 ring-1 ring-stone-900" : "border-stone-300 bg-white hover:border-stone-500"
              }`}
            >
              <span className="flex items-center gap-3">
                <input type="radio" name="shipping_option" value={option.id} checked={chosen === option.id} onChange={() => setChosen(option.id)} className="h-4 w-4 accent-stone-900" />
                <span className="text-sm font-medium">{option.name}</span>
              </span>
              <span className="text-sm font-semibold tabular-nums">{option.amount === 0 ? "Free" : format(option.amount)}</span>
            </label>
          ))}
        </div>
      </fieldset>
      {error && (
        <div className="mt-4">
          <Alert>{error}</Alert>
        </div>
      )}
      <button type="submit" className={`${buttonPrimary} mt-6 w-full sm:w-auto`} disabled={saving}>
        {saving ? "Saving…" : "Continue to payment"}
      </button>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// Step 3

function PaymentStep({ cart }: { cart: Cart }) {
  const { api } = useApp();
  const { replaceCart, forgetCart } = useCart();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const sessions = cart.payment_sessions;
  const [provider, setProvider] = useState<string | null>(cart.payment_session?.provider_id ?? sessions[0]?.provider_id ?? null);
  const [placing, setPlacing] = useState(false);
  const [preparing, setPreparing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const prepared = useRef(false);

  const preparePayment = useCallback(() => {
    setPreparing(true);
    setError(null);
    api
      .createPaymentSessions(cart.id)
      .then((updated) => {
        replaceCart(updated);
        setProvider((p) => p ?? updated.payment_sessions[0]?.provider_id ?? null);
      })
      .catch((err) => setError(friendlyError(err).message))
      .finally(() => setPreparing(false));
  }, [api, cart.id, replaceCart]);

  // A cart resumed at this step may have no payment sessions yet: prepare them once; after a
  // failure the shopper retries with the button.
  useEffect(() => {
    if (sessions.length > 0 || prepared.current) return;
    prepared.current = true;
    preparePayment();
  }, [sessions.length, preparePayment]);

  const placeOrder = async (event: FormEvent) => {
    event.preventDefault();
    if (!provider) {
      setError("Choose a payment method.");
      return;
    }
    setPlacing(true);
    setError(null);
    try {
      if (cart.payment_session?.provider_id !== provider) {
        replaceCart(await api.selectPaymentSession(cart.id, provider));
      }
      const result = await api.completeCart(cart.id);
      if (result.type === "order") {
        // The confirmation page loads the order with all its relations (delivery method included).
        queryClient.removeQueries({ queryKey: ["my-orders"] });
        forgetCart();
        navigate(`/order/${encodeURIComponent(result.data.id)}`, { replace: true });
        return;
      }
      if (result.type === "cart") replaceCart(result.data);
      setError("The payment was not accepted, so no order was placed. Check the details and try again.");
    } catch (err) {
      setError(friendlyError(err).message);
    } finally {
      setPlacing(false);
    }
  };

  if (sessions.length === 0) {
    if (preparing || !error) return <Spinner label="Preparing payment" />;
    return (
      <div className="space-y-4">
        <Alert>{error}</Alert>
        <button type="button" className={buttonSecondary} onClick={preparePayment}>
          Try again
        </button>
      </div>
    );
  }

  return (
    <form onSubmit={placeOrder} aria-label="Payment">
      <fieldset>
        <legend className="sr-only">Payment method</legend>
        <div className="space-y-3">
          {sessions.map((session) => {
            const label = providerLabel(session.provider_id);
            return (
              <label
                key={session.id}
                className={`flex cursor-pointer gap-3 rounded-xl border p-4 has-[:focus-visible]:outline-2 has-[:focus-visible]:outline-offset-2 has-[:focus-visible]:outline-stone-900 ${
                  provider === session.provider_id ? "border-stone-900 bg-stone-50 ring-1 ring-stone-900" : "border-stone-300 bg-white"
                }`}
              >
                <input type="radio" name="payment_provider" value={session.provider_id} checked={provider === session.provider_id} onChange={() => setProvider(session.provider_id)} className="mt-0.5 h-4 w-4 accent-stone-900" />
                <span>
                  <span className="block text-sm font-medium">{label.title}</span>
                  {label.text && <span className="mt-1 block text-sm text-stone-600">{label.text}</span>}
                </span>
              </label>
            );
          })}
        </div>
      </fieldset>
      {error && (
        <div className="mt-4">
          <Alert>{error}</Alert>
        </div>
      )}
      <button type="submit" className={`${buttonPrimary} mt-6 w-full`} disabled={placing}>
        <LockIcon size={18} />
        {placing ? "Placing your order…" : "Place order"}
      </button>
      <p className="mt-3 text-center text-xs text-stone-500">By placing your order you agree to pay the total shown.</p>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// Page

function StepSection({
  index,
  step,
  active,
  done,
  summary,
  onEdit,
  children,
}: {
  index: number;
  step: { id: CheckoutStep; title: string };
  active: boolean;
  done: boolean;
  summary?: ReactNode;
  onEdit?: () => void;
  children?: ReactNode;
}) {
  return (
    <section
      aria-labelledby={`step-${step.id}`}
      aria-current={active ? "step" : undefined}
      className={`rounded-2xl border bg-white p-5 sm:p-6 ${active ? "border-stone-900 shadow-sm" : "border-stone-200"}`}
    >
      <div className="flex items-center justify-between gap-4">
        <h2 id={`step-${step.id}`} className={`flex items-center gap-3 text-lg font-semibold ${!active && !done ? "text-stone-400" : ""}`}>
          <span
            className={`grid h-7 w-7 place-items-center rounded-full text-sm ${done ? "bg-emerald-700 text-white" : active ? "bg-stone-900 text-white" : "bg-stone-200 text-stone-500"}`}
            aria-hidden="true"
          >
            {done ? <CheckIcon size={16} /> : index + 1}
          </span>
          {step.title}
          {done && <span className="sr-only">(completed)</span>}
        </h2>
        {done && onEdit && !active && (
          <button type="button" onClick={onEdit} className="text-sm font-medium underline underline-offset-4">
            Change<span className="sr-only"> {step.title.toLowerCase()}</span>
          </button>
        )}
      </div>
      {done && !active && summary && <div className="mt-3 pl-10 text-sm text-stone-600">{summary}</div>}
      {active && <div className="mt-6">{children}</div>}
    </section>
  );
}

function OrderSummary({ cart }: { cart: Cart }) {
  const { format } = useMoney();
  return (
    <aside aria-labelledby="summary-title" className="rounded-2xl border border-stone-200 bg-white p-5 sm:p-6 lg:sticky lg:top-24">
      <h2 id="summary-title" className="text-lg font-semibold">
        Order summary
      </h2>
      <ul className="mt-4 divide-y divide-stone-200">
        {cart.items.map((item) => (
          <li key={item.id} className="flex gap-3 py-3">
            <div className="relative h-14 w-14 shrink-0 overflow-hidden rounded-lg bg-stone-100">
              {item.thumbnail && <img src={item.thumbnail} alt="" className="h-full w-full object-cover" />}
              <span className="absolute -right-1 -top-1 grid h-5 min-w-5 place-items-center rounded-full bg-stone-700 px-1 text-[11px] font-bold text-white">
                {item.quantity}
              </span>
            </div>
            <div className="min-w-0 flex-1 text-sm">
              <p className="truncate font-medium">{item.title}</p>
              {item.description && <p className="text-xs text-stone-500">{item.description}</p>}
              <p className="text-xs text-stone-500">Qty {item.quantity}</p>
            </div>
            <p className="text-sm font-medium tabular-nums">{format(lineTotal(item))}</p>
          </li>
        ))}
      </ul>
      <dl className="mt-4 space-y-2 border-t border-stone-200 pt-4 text-sm">
        <div className="flex justify-between">
          <dt className="text-stone-600">Subtotal</dt>
          <dd className="tabular-nums">{format(cart.subtotal)}</dd>
        </div>
        <div className="flex justify-between">
          <dt className="text-stone-600">Delivery</dt>
          <dd className="tabular-nums">{cart.shipping_methods.length ? format(cart.shipping_total) : "Next step"}</dd>
        </div>
        <div className="flex justify-between">
          <dt className="text-stone-600">Taxes</dt>
          <dd className="tabular-nums">{format(cart.tax_total ?? 0)}</dd>
        </div>
        {Boolean(cart.discount_total) && (
          <div className="flex justify-between text-emerald-800">
            <dt>Discount</dt>
            <dd className="tabular-nums">−{format(cart.discount_total)}</dd>
          </div>
        )}
        <div className="flex justify-between border-t border-stone-200 pt-3 text-base font-semibold">
          <dt>Total</dt>
          <dd className="tabular-nums" data-testid="checkout-total">
            {format(cart.total)}
          </dd>
        </div>
      </dl>
    </aside>
  );
}

export function CheckoutPage() {
  useDocumentTitle("Checkout");
  const { cart, cartLoading, cartError, retryCart, regions, regionsLoading, regionsError, retryRegions } = useCart();
  const { format } = useMoney();
  const [step, setStep] = useState<CheckoutStep | null>(null);

  useEffect(() => {
    if (cart && step === null) setStep(resumeStep(cart));
  }, [cart, step]);

  if (cartLoading || regionsLoading || (cart && step === null)) {
    return (
      <div className="grid place-items-center px-4 py-24">
        <Spinner label="Loading checkout" />
      </div>
    );
  }
  if ((cartError && !cart) || regionsError) {
    return (
      <div className="px-4 py-20">
        <ErrorState
          error={cartError ?? regionsError}
          onRetry={() => {
            if (cartError) retryCart();
            if (regionsError) retryRegions();
          }}
        />
      </div>
    );
  }
  if (!cart || cart.items.length === 0) {
    return (
      <div className="px-4 py-20">
        <EmptyState
          title="Your cart is empty"
          message="Add something to your cart to check out."
          action={
            <Link to="/products" className={buttonPrimary}>
              Browse products
            </Link>
          }
        />
      </div>
    );
  }

  const current = step ?? "address";
  const reachable = resumeStep(cart);
  const order: CheckoutStep[] = ["address", "delivery", "payment"];
  const isDone = (id: CheckoutStep) => order.indexOf(id) < order.indexOf(reachable) && id !== current;
  const method = cart.shipping_methods[0];

  return (
    <div className="mx-auto max-w-6xl px-4 py-10 sm:px-6 lg:px-8">
      <div className="flex items-center justify-between">
        <h1 className="text-3xl font-bold tracking-tight">Checkout</h1>
        <Link to="/products" className={`${buttonSecondary} hidden px-4 py-2 sm:inline-flex`}>
          Continue shopping
        </Link>
      </div>
      <ol className="sr-only">
        {STEPS.map((s, i) => (
          <li key={s.id} aria-current={s.id === current ? "step" : undefined}>
            Step {i + 1} of 3: {s.title}
          </li>
        ))}
      </ol>
      <div className="mt-8 grid gap-8 lg:grid-cols-[1fr_22rem]">
        <div className="space-y-4">
          <StepSection
            index={0}
            step={STEPS[0]}
            active={current === "address"}
            done={isDone("address")}
            onEdit={() => setStep("address")}
            summary={
              <>
                <p>{cart.email}</p>
                <p>{formatAddress(cart.shipping_address, regions)}</p>
              </>
            }
          >
            <AddressStep cart={cart} onDone={() => setStep("delivery")} />
          </StepSection>
          <StepSection
            index={1}
            step={STEPS[1]}
            active={current === "delivery"}
            done={isDone("delivery")}
            onEdit={() => setStep("delivery")}
            summary={method && <p>{method.shipping_option?.name ?? "Delivery"} · {format(method.price)}</p>}
          >
            <DeliveryStep cart={cart} onDone={() => setStep("payment")} />
          </StepSection>
          <StepSection index={2} step={STEPS[2]} active={current === "payment"} done={false}>
            <PaymentStep cart={cart} />
          </StepSection>
        </div>
        <OrderSummary cart={cart} />
      </div>
    </div>
  );
}
