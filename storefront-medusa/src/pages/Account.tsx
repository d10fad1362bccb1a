import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link, Navigate, useLocation, useNavigate, useSearchParams } from "react-router";
import { ApiError } from "../api/client";
import { Alert, EmptyState, ErrorState, Spinner, TextField, buttonPrimary, buttonSecondary, linkStyle, useDocumentTitle } from "../components/ui";
import { friendlyError } from "../lib/errors";
import { formatMoney } from "../lib/money";
import { useApp } from "../state/app";
import { useCustomer } from "../state/customer";

const FULFILLMENT_LABELS: Record<string, string> = {
  not_fulfilled: "Processing",
  partially_fulfilled: "Partly shipped",
  fulfilled: "Packed",
  partially_shipped: "Partly shipped",
  shipped: "Shipped",
  partially_returned: "Partly returned",
  returned: "Returned",
  canceled: "Canceled",
  requires_action: "Action required",
};

/** Only same-site paths are followed after sign-in. */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/account";
}

function AuthCard({ title, children, footer }: { title: string; children: React.ReactNode; footer: React.ReactNode }) {
  return (
    <div className="mx-auto max-w-md px-4 py-16">
      <div className="rounded-3xl border border-stone-200 bg-white p-8 shadow-sm">
        <h1 className="text-2xl font-bold tracking-tight">{title}</h1>
        <div className="mt-6">{children}</div>
      </div>
      <p className="mt-6 text-center text-sm text-stone-600">{footer}</p>
    </div>
  );
}

export function SignInPage() {
  useDocumentTitle("Sign in");
  const { signIn, customer } = useCustomer();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = safeNext(params.get("next"));
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (customer) return <Navigate to={next} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!email.trim() || !password) {
      setError("Enter your email and password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(email.trim(), password);
      navigate(next, { replace: true });
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "That email and password don't match an account. Check them and try again."
          : friendlyError(err).message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthCard
      title="Sign in"
      footer={
        <>
          New here?{" "}
          <Link to={`/account/sign-up${params.get("next") ? `?next=${encodeURIComponent(next)}` : ""}`} className={linkStyle}>
            Create an account
          </Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate className="space-y-5">
        <TextField label="Email" type="email" name="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        <TextField label="Password" type="password" name="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        {error && <Alert>{error}</Alert>}
        <button type="submit" className={`${buttonPrimary} w-full`} disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </AuthCard>
  );
}

export function SignUpPage() {
  useDocumentTitle("Create an account");
  const { signUp, customer } = useCustomer();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = safeNext(params.get("next"));
  const [fields, setFields] = useState({ first_name: "", last_name: "", email: "", password: "" });
  const [errors, setErrors] = useState<Partial<Record<keyof typeof fields, string>>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (customer) return <Navigate to={next} replace />;

  const set = (name: keyof typeof fields) => (e: { target: { value: string } }) => {
    setFields((f) => ({ ...f, [name]: e.target.value }));
    setErrors((f) => ({ ...f, [name]: undefined }));
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found: typeof errors = {};
    if (!fields.first_name.trim()) found.first_name = "Enter your first name.";
    if (!fields.last_name.trim()) found.last_name = "Enter your last name.";
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(fields.email.trim())) found.email = "Enter an email address like name@example.com.";
    if (fields.password.length < 8) found.password = "Use at least 8 characters.";
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    setError(null);
    try {
      await signUp({ ...fields, first_name: fields.first_name.trim(), last_name: fields.last_name.trim(), email: fields.email.trim() });
      navigate(next, { replace: true });
    } catch (err) {
      setError(friendlyError(err).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthCard
      title="Create an account"
      footer={
        <>
          Already have an account?{" "}
          <Link to="/account/sign-in" className={linkStyle}>
            Sign in
          </Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate className="space-y-5">
        <div className="grid gap-5 sm:grid-cols-2">
          <TextField label="First name" name="first_name" autoComplete="given-name" value={fields.first_name} onChange={set("first_name")} error={errors.first_name} required />
          <TextField label="Last name" name="last_name" autoComplete="family-name" value={fields.last_name} onChange={set("last_name")} error={errors.last_name} required />
        </div>
        <TextField label="Email" type="email" name="email" autoComplete="email" value={fields.email} onChange={set("email")} error={errors.email} required />
        <TextField label="Password" type="password" name="password" autoComplete="new-password" value={fields.password} onChange={set("password")} error={errors.password} hint="At least 8 characters." required />
        {error && <Alert>{error}</Alert>}
        <button type="submit" className={`${buttonPrimary} w-full`} disabled={busy}>
          {busy ? "Creating your account…" : "Create account"}
        </button>
      </form>
    </AuthCard>
  );
}

function OrderHistory() {
  const { api } = useApp();
  const { customer } = useCustomer();
  const orders = useQuery({ queryKey: ["my-orders", customer?.id], queryFn: ({ signal }) => api.myOrders(signal), enabled: Boolean(customer) });

  if (orders.isError) return <ErrorState error={orders.error} onRetry={() => orders.refetch()} />;
  if (orders.isPending) return <Spinner label="Loading your orders" />;
  if (orders.data.orders.length === 0) {
    return (
      <EmptyState
        title="No orders yet"
        message="When you place an order while signed in, it shows up here."
        action={
          <Link to="/products" className={buttonSecondary}>
            Start shopping
          </Link>
        }
      />
    );
  }
  return (
    <div className="overflow-x-auto rounded-2xl border border-stone-200 bg-white">
      <table className="w-full text-left text-sm">
        <caption className="sr-only">Your orders</caption>
        <thead className="border-b border-stone-200 bg-stone-50 text-xs uppercase tracking-wide text-stone-500">
          <tr>
            <th scope="col" className="px-4 py-3">Order</th>
            <th scope="col" className="px-4 py-3">Date</th>
            <th scope="col" className="px-4 py-3">Items</th>
            <th scope="col" className="px-4 py-3">Status</th>
            <th scope="col" className="px-4 py-3 text-right">Total</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-stone-200">
          {orders.data.orders.map((order) => (
            <tr key={order.id} data-testid="order-row">
              <td className="px-4 py-3 font-semibold">
                <Link to={`/order/${encodeURIComponent(order.id)}`} className={linkStyle}>
                  #{order.display_id}
                </Link>
              </td>
              <td className="px-4 py-3 text-stone-600">{new Date(order.created_at).toLocaleDateString()}</td>
              <td className="px-4 py-3 text-stone-600">{order.items.reduce((n, i) => n + i.quantity, 0)}</td>
              <td className="px-4 py-3">
                <span className="rounded-full bg-stone-100 px-2.5 py-1 text-xs font-medium">
                  {order.status === "canceled" ? "Canceled" : (FULFILLMENT_LABELS[order.fulfillment_status] ?? order.fulfillment_status)}
                </span>
              </td>
              <td className="px-4 py-3 text-right font-medium tabular-nums">{formatMoney(order.total, order.currency_code)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function AccountPage() {
  useDocumentTitle("Your account");
  const { customer, loading, signOut } = useCustomer();
  const location = useLocation();
  if (loading) {
    return (
      <div className="grid place-items-center px-4 py-24">
        <Spinner label="Loading your account" />
      </div>
    );
  }
  if (!customer) return <Navigate to={`/account/sign-in?next=${encodeURIComponent(location.pathname)}`} replace />;
  const name = [customer.first_name, customer.last_name].filter(Boolean).join(" ");
  return (
    <div className="mx-auto max-w-5xl px-4 py-10 sm:px-6 lg:px-8">
      <div className="flex flex-wrap items-center justify-between gap-4">
        <div>
          <h1 className="text-3xl font-bold tracking-tight" data-testid="account-heading">
            Hello{customer.first_name ? `, ${customer.first_name}` : ""}
          </h1>
          <p className="mt-1 text-stone-600">
            {name && `${name} · `}
            {customer.email}
          </p>
        </div>
        <button type="button" className={buttonSecondary} onClick={signOut}>
          Sign out
        </button>
      </div>
      <section aria-labelledby="orders-title" className="mt-10">
        <h2 id="orders-title" className="mb-4 text-xl font-semibold">
          Order history
        </h2>
        <OrderHistory />
      </section>
    </div>
  );
}

