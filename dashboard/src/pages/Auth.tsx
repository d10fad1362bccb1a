// Sign in and register.

import { useState, type ChangeEvent, type FormEvent, type ReactNode } from "react";
import { Link, useSearchParams } from "react-router";

import { ApiError } from "../api/client";
import { safeNext, useAuth } from "../auth/AuthContext";
import { Logo } from "../components/icons";
import { SimulatedClusterBanner } from "../components/SimulatedCluster";
import { Alert, ApiErrorAlert, Button, Field, Input } from "../components/ui";
import { useTitle } from "../lib/hooks";
import { accountPasswordProblems, emailProblems, usernameProblems } from "../lib/storeRules";

function AuthShell({
  title,
  subtitle,
  children,
  footer,
}: {
  title: string;
  subtitle: ReactNode;
  children: ReactNode;
  footer: ReactNode;
}) {
  return (
    <div className="flex min-h-dvh flex-col bg-slate-50">
      <SimulatedClusterBanner />
      <div className="flex flex-1 flex-col items-center justify-center px-4 py-12">
        <div className="w-full max-w-sm">
          <div className="mb-8 flex flex-col items-center text-center">
            <Logo className="size-11" />
            <h1 className="mt-5 text-2xl font-semibold tracking-tight text-slate-900">{title}</h1>
            <p className="mt-1.5 text-sm text-slate-600">{subtitle}</p>
          </div>
          <main className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm sm:p-8">{children}</main>
          <p className="mt-6 text-center text-sm text-slate-600">{footer}</p>
        </div>
      </div>
    </div>
  );
}

function fieldErrors(error: unknown, field: string): string[] {
  return error instanceof ApiError ? error.messagesFor(field) : [];
}

export function LoginPage() {
  useTitle("Sign in");
  const { login } = useAuth();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const expired = params.get("reason") === "expired";
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      // GuestOnly moves on to `next` as soon as the session exists.
      await login(email.trim(), password);
    } catch (cause) {
      setError(cause);
      setPending(false);
    }
  };

  const registerLink = next !== "/" ? `/register?next=${encodeURIComponent(next)}` : "/register";
  return (
    <AuthShell
      title="Sign in to storeflow"
      subtitle="Provision and run your WooCommerce and MedusaJS stores."
      footer={
        <>
          New here?{" "}
          <Link to={registerLink} className="font-medium text-indigo-700 hover:text-indigo-600">
            Create an account
          </Link>
        </>
      }
    >
      <form onSubmit={submit} className="space-y-5" noValidate>
        {expired ? (
          <Alert tone="warning" role="status" title="Your session has expired">
            Sign in again to continue where you were.
          </Alert>
        ) : null}
        {error ? <ApiErrorAlert error={error} /> : null}
        <Field label="E-mail" htmlFor="email" errors={fieldErrors(error, "email")}>
          <Input
            id="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            autoFocus
          />
        </Field>
        <Field label="Password" htmlFor="password" errors={fieldErrors(error, "password")}>
          <Input
            id="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <Button type="submit" variant="primary" className="w-full" loading={pending}>
          Sign in
        </Button>
      </form>
    </AuthShell>
  );
}

export function RegisterPage() {
  useTitle("Create an account");
  const { register } = useAuth();
  const [form, setForm] = useState({ email: "", username: "", password: "", confirm: "" });
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [submitted, setSubmitted] = useState(false);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const problems = {
    email: emailProblems(form.email),
    username: usernameProblems(form.username),
    password: accountPasswordProblems(form.password),
    confirm: form.confirm !== form.password ? ["The passwords do not match."] : [],
  };
  const shown = (field: keyof typeof problems) =>
    submitted || touched[field] ? [...problems[field], ...fieldErrors(error, field)] : fieldErrors(error, field);
  const set = (field: keyof typeof form) => (e: ChangeEvent<HTMLInputElement>) =>
    setForm((f) => ({ ...f, [field]: e.target.value }));
  const blur = (field: string) => () => setTouched((t) => ({ ...t, [field]: true }));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (Object.values(problems).some((p) => p.length)) return;
    setPending(true);
    setError(null);
    try {
      await register(form.email.trim(), form.username.trim(), form.password);
    } catch (cause) {
      setError(cause);
      setPending(false);
    }
  };

  return (
    <AuthShell
      title="Create your account"
      subtitle="Create stores and follow their provisioning live. Your role is shown once you are in."
      footer={
        <>
          Already have an account?{" "}
          <Link to="/login" className="font-medium text-indigo-700 hover:text-indigo-600">
            Sign in
          </Link>
        </>
      }
    >
      <form onSubmit={submit} className="space-y-5" noValidate>
        {error ? <ApiErrorAlert error={error} /> : null}
        <Field label="E-mail" htmlFor="email" errors={shown("email")}>
          <Input
            id="email"
            type="email"
            autoComplete="email"
            value={form.email}
            onChange={set("email")}
            onBlur={blur("email")}
            invalid={shown("email").length > 0}
            autoFocus
          />
        </Field>
        <Field
          label="Username"
          htmlFor="username"
          hint="3–128 letters, numbers, hyphens or underscores."
          errors={shown("username")}
        >
          <Input
            id="username"
            autoComplete="username"
            value={form.username}
            onChange={set("username")}
            onBlur={blur("username")}
            invalid={shown("username").length > 0}
          />
        </Field>
        <Field label="Password" htmlFor="password" hint="At least 8 characters." errors={shown("password")}>
          <Input
            id="password"
            type="password"
            autoComplete="new-password"
            value={form.password}
            onChange={set("password")}
            onBlur={blur("password")}
            invalid={shown("password").length > 0}
          />
        </Field>
        <Field label="Confirm password" htmlFor="confirm" errors={shown("confirm")}>
          <Input
            id="confirm"
            type="password"
            autoComplete="new-password"
            value={form.confirm}
            onChange={set("confirm")}
            onBlur={blur("confirm")}
            invalid={shown("confirm").length > 0}
          />
        </Field>
        <Button type="submit" variant="primary" className="w-full" loading={pending}>
          Create account
        </Button>
      </form>
    </AuthShell>
  );
}
