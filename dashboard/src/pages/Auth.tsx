// Sign in, register (openly, or from an operator's invitation link while registration is
// closed), and set a new password from a reset link.

import { useState, type ChangeEvent, type FormEvent, type ReactNode } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";

import { ApiError } from "../api/client";
import { useHealth } from "../api/queries";
import type { Registration } from "../api/types";
import { safeNext, useAuth } from "../auth/AuthContext";
import { IconMail, Logo } from "../components/icons";
import { SimulatedClusterBanner } from "../components/SimulatedCluster";
import { Alert, ApiErrorAlert, Button, ButtonLink, Field, Input, Spinner } from "../components/ui";
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

/** Whether anyone may register: "open", "closed" (by invitation), or null while unknown. */
function useRegistration(): Registration | null {
  const health = useHealth();
  if (health.isPending) return null;
  // An older server (no `registration`) or no answer: registration is open, as it was before.
  return health.data?.registration === "closed" ? "closed" : "open";
}

export function LoginPage() {
  useTitle("Sign in");
  const { login } = useAuth();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const reason = params.get("reason");
  const registration = useRegistration();
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
        registration === "closed" ? (
          <span data-testid="invitation-only">
            New here? Accounts are by invitation: ask your platform's administrators for a link.
          </span>
        ) : (
          <>
            New here?{" "}
            <Link to={registerLink} className="font-medium text-indigo-700 hover:text-indigo-600">
              Create an account
            </Link>
          </>
        )
      }
    >
      <form onSubmit={submit} className="space-y-5" noValidate>
        {reason === "expired" ? (
          <Alert tone="warning" role="status" title="Your session has expired">
            Sign in again to continue where you were.
          </Alert>
        ) : reason === "signed-out-everywhere" ? (
          <Alert tone="success" role="status" title="You are signed out everywhere">
            Every session of your account has ended, on every device. Sign in again to carry on.
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
  const [params] = useSearchParams();
  const invite = params.get("invite")?.trim() || undefined;
  const registration = useRegistration();
  useTitle(invite ? "Accept your invitation" : "Create an account");
  if (!invite && registration === null) {
    return (
      <AuthShell title="Create your account" subtitle="One moment…" footer={<SignInLink />}>
        <div className="flex justify-center py-6 text-indigo-600">
          <Spinner className="size-6" label="Loading" />
        </div>
      </AuthShell>
    );
  }
  if (!invite && registration === "closed") {
    return (
      <AuthShell
        title="Registration is by invitation"
        subtitle="New accounts are created from an invitation link."
        footer={<SignInLink />}
      >
        <div className="flex gap-3 text-sm text-slate-700" data-testid="invitation-only">
          <span className="flex size-9 shrink-0 items-center justify-center rounded-full bg-indigo-50 text-indigo-700">
            <IconMail className="size-4" />
          </span>
          <div className="space-y-2">
            <p className="font-semibold text-slate-900">Ask for an invitation</p>
            <p>Your platform's administrators can invite you: they send you a link, and you create your account from it.</p>
            <p>Already invited? Open the link from your invitation.</p>
          </div>
        </div>
      </AuthShell>
    );
  }
  return <RegisterForm invite={invite} />;
}

function SignInLink() {
  return (
    <>
      Already have an account?{" "}
      <Link to="/login" className="font-medium text-indigo-700 hover:text-indigo-600">
        Sign in
      </Link>
    </>
  );
}

function RegisterForm({ invite }: { invite?: string }) {
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
      await register(form.email.trim(), form.username.trim(), form.password, invite);
    } catch (cause) {
      setError(cause);
      setPending(false);
    }
  };

  return (
    <AuthShell
      title={invite ? "Accept your invitation" : "Create your account"}
      subtitle={
        invite
          ? "You were invited to storeflow. Create your account with the e-mail address the invitation was sent to."
          : "Create stores and follow their provisioning live. Your role is shown once you are in."
      }
      footer={<SignInLink />}
    >
      <form onSubmit={submit} className="space-y-5" noValidate data-invite={invite ? "yes" : undefined}>
        {error ? <ApiErrorAlert error={error} /> : null}
        <Field
          label="E-mail"
          htmlFor="email"
          hint={invite ? "The address your invitation was sent to." : undefined}
          errors={shown("email")}
        >
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

/**
 * An invitation link opened by someone signed in (an admin checking the link they made): say
 * whose session this is rather than leaving the link silently. Without an invitation, on to `next`.
 */
export function SignedInRegistration() {
  const { user, logout, welcome } = useAuth();
  const [params] = useSearchParams();
  if (!params.get("invite") || welcome) return <Navigate to={safeNext(params.get("next"))} replace />;
  return (
    <AuthShell title="Accept your invitation" subtitle="This link creates a new account." footer={<SignInLink />}>
      <Alert tone="info" role="status" title={`You are signed in as ${user?.username ?? "someone"}`}>
        To create the invited account, sign out first; the invitation link keeps working until it is used.
      </Alert>
      <div className="mt-5 flex flex-col gap-2 sm:flex-row">
        <Button variant="primary" className="flex-1" onClick={logout}>
          Sign out and continue
        </Button>
        <ButtonLink to="/" className="flex-1">
          Back to storeflow
        </ButtonLink>
      </div>
    </AuthShell>
  );
}

/**
 * The page a forced reset's link opens (`/reset-password?token=…`): a new password, then signed
 * in as that account (or told it is disabled). Open to anyone holding the link, signed in or not.
 */
export function ResetPasswordPage() {
  useTitle("Set a new password");
  const { completePasswordReset, status, user } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const token = params.get("token")?.trim() ?? "";
  const [form, setForm] = useState({ password: "", confirm: "" });
  const [submitted, setSubmitted] = useState(false);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [doneMessage, setDoneMessage] = useState<string | null>(null);

  const problems = {
    password: accountPasswordProblems(form.password),
    confirm: form.confirm !== form.password ? ["The passwords do not match."] : [],
  };
  const shown = (field: keyof typeof problems, apiField: string) =>
    submitted ? [...problems[field], ...fieldErrors(error, apiField)] : fieldErrors(error, apiField);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (Object.values(problems).some((p) => p.length)) return;
    setPending(true);
    setError(null);
    try {
      const result = await completePasswordReset(token, form.password);
      if (result.signedIn) navigate("/", { replace: true });
      else setDoneMessage(result.message);
    } catch (cause) {
      setError(cause);
    } finally {
      setPending(false);
    }
  };

  if (!token) {
    return (
      <AuthShell
        title="Set a new password"
        subtitle="This page opens from a password-reset link."
        footer={<SignInLink />}
      >
        <Alert tone="warning" role="alert" title="This link is incomplete">
          Open the whole link you were given, or ask your platform's administrators for a new one.
        </Alert>
      </AuthShell>
    );
  }
  if (doneMessage) {
    return (
      <AuthShell title="Password set" subtitle="Your new password is saved." footer={<SignInLink />}>
        <Alert tone="warning" role="status" title="Your account is disabled">
          You cannot sign in until your platform's administrators enable it again. Your stores keep running.
        </Alert>
        <ButtonLink to="/login" variant="secondary" className="mt-5 w-full">
          Go to sign in
        </ButtonLink>
      </AuthShell>
    );
  }
  return (
    <AuthShell
      title="Set a new password"
      subtitle="Your administrator reset your password. Choose a new one; the link works once."
      footer={<SignInLink />}
    >
      <form onSubmit={submit} className="space-y-5" noValidate>
        {status === "authenticated" && user ? (
          <Alert tone="info" role="status">
            You are signed in as {user.username}. Setting this password signs you in to the account the link is for
            instead.
          </Alert>
        ) : null}
        {error ? <ApiErrorAlert error={error} /> : null}
        <Field
          label="New password"
          htmlFor="new-password"
          hint="At least 8 characters."
          errors={shown("password", "newPassword")}
        >
          <Input
            id="new-password"
            type="password"
            autoComplete="new-password"
            value={form.password}
            onChange={(e) => setForm((f) => ({ ...f, password: e.target.value }))}
            invalid={shown("password", "newPassword").length > 0}
            autoFocus
          />
        </Field>
        <Field label="Confirm new password" htmlFor="confirm-password" errors={shown("confirm", "confirm")}>
          <Input
            id="confirm-password"
            type="password"
            autoComplete="new-password"
            value={form.confirm}
            onChange={(e) => setForm((f) => ({ ...f, confirm: e.target.value }))}
            invalid={shown("confirm", "confirm").length > 0}
          />
        </Field>
        <Button type="submit" variant="primary" className="w-full" loading={pending}>
          Set password and sign in
        </Button>
      </form>
    </AuthShell>
  );
}
