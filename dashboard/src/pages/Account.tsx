// Change password (the API revokes every earlier token and answers with a new one), and sign out
// everywhere (every token stops working, this one too: back to sign-in, saying so).

import { useState, type FormEvent } from "react";

import { ApiError } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { ConfirmDialog } from "../components/Dialog";
import { IconLogOut } from "../components/icons";
import { useToast } from "../components/Toaster";
import { Alert, ApiErrorAlert, Button, Card, Details, Field, Input, PageHeader } from "../components/ui";
import { formatDateTime } from "../lib/format";
import { useTitle } from "../lib/hooks";
import { accountPasswordProblems } from "../lib/storeRules";

export function AccountPage() {
  useTitle("Account");
  const { user, changePassword, logoutEverywhere } = useAuth();
  const [confirmEverywhere, setConfirmEverywhere] = useState(false);
  const toast = useToast();
  const [form, setForm] = useState({ current: "", next: "", confirm: "" });
  const [submitted, setSubmitted] = useState(false);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);

  const apiErrors = (field: string) => (error instanceof ApiError ? error.messagesFor(field) : []);
  const problems = {
    current: form.current ? [] : ["Enter your current password."],
    next: accountPasswordProblems(form.next),
    confirm: form.confirm === form.next ? [] : ["The new passwords do not match."],
  };
  const shown = (field: keyof typeof problems, apiField: string) =>
    submitted ? [...problems[field], ...apiErrors(apiField)] : apiErrors(apiField);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    setDone(null);
    if (Object.values(problems).some((p) => p.length)) return;
    setPending(true);
    setError(null);
    try {
      const message = await changePassword(form.current, form.next);
      setDone(message);
      toast.show("Password changed.");
      setForm({ current: "", next: "", confirm: "" });
      setSubmitted(false);
    } catch (cause) {
      setError(cause);
    } finally {
      setPending(false);
    }
  };

  return (
    <>
      <PageHeader title="Account" description="Your sign-in details." />
      <div className="grid items-start gap-6 lg:grid-cols-3">
        <div className="space-y-6 lg:col-span-1">
          <Card title="Profile">
            <Details
              items={[
                { label: "Username", value: user?.username },
                { label: "E-mail", value: user?.email },
                { label: "Role", value: user?.role === "admin" ? "Administrator" : "Tenant" },
                { label: "Member since", value: formatDateTime(user?.createdAt) },
              ]}
            />
          </Card>
          <Card title="Sessions" description="Signed in on a device you no longer use, or on a shared computer?">
            <p className="text-sm text-slate-600">
              Signing out everywhere ends every session of your account, on every device and in every browser — this one
              too. You sign in again afterwards.
            </p>
            <Button
              className="mt-4"
              variant="danger-outline"
              onClick={() => setConfirmEverywhere(true)}
              icon={<IconLogOut />}
            >
              Sign out everywhere
            </Button>
          </Card>
        </div>
        <Card
          title="Change password"
          description="Changing it signs out every other session; this one continues."
          className="lg:col-span-2"
        >
          <form onSubmit={submit} className="max-w-md space-y-5" noValidate>
            {done ? <Alert tone="success" role="status" title={done} /> : null}
            {error ? <ApiErrorAlert error={error} /> : null}
            <Field label="Current password" htmlFor="current-password" errors={shown("current", "currentPassword")}>
              <Input
                id="current-password"
                type="password"
                autoComplete="current-password"
                value={form.current}
                onChange={(e) => setForm((f) => ({ ...f, current: e.target.value }))}
                invalid={shown("current", "currentPassword").length > 0}
              />
            </Field>
            <Field
              label="New password"
              htmlFor="new-password"
              hint="At least 8 characters."
              errors={shown("next", "newPassword")}
            >
              <Input
                id="new-password"
                type="password"
                autoComplete="new-password"
                value={form.next}
                onChange={(e) => setForm((f) => ({ ...f, next: e.target.value }))}
                invalid={shown("next", "newPassword").length > 0}
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
            <Button type="submit" variant="primary" loading={pending}>
              Change password
            </Button>
          </form>
        </Card>
      </div>
      <ConfirmDialog
        open={confirmEverywhere}
        title="Sign out everywhere?"
        confirmLabel="Sign out everywhere"
        tone="danger"
        onConfirm={logoutEverywhere}
        onClose={() => setConfirmEverywhere(false)}
      >
        <p>
          Every session of {user?.email ?? "your account"} ends at once, including this one. Your stores keep running.
        </p>
      </ConfirmDialog>
    </>
  );
}
