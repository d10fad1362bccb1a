// Users (admins): every account, searchable and paged; disable and re-enable, promote and demote,
// force a password reset (its one-time link shown once); and invitations — a one-time link to
// create an account, also while registration is closed — with the ones still pending.

import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode, type RefObject } from "react";
import { Link } from "react-router";

import { ApiError } from "../api/client";
import { useChangeUser, useCreateInvite, useForcePasswordReset, useInvites, useUserList } from "../api/queries";
import type { Invitation, OneTimeLinkAnswer, ResetLink, Role, UserAccount } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { ConfirmDialog } from "../components/Dialog";
import { IconLink, IconMail, IconSearch, IconShield, IconUsers } from "../components/icons";
import { Pagination } from "../components/Pagination";
import { useToast } from "../components/Toaster";
import {
  ApiErrorAlert,
  Badge,
  Button,
  Card,
  CopyButton,
  cx,
  EmptyState,
  Field,
  Input,
  LoadingBlock,
  PageHeader,
  Select,
  Spinner,
} from "../components/ui";
import { absoluteLink, roleLabel, storeCountLabel, userActions, type UserActionKind } from "../lib/accounts";
import { formatAgo, formatDateTime, formatRelative } from "../lib/format";
import { useNow, useTitle, useUrlListState } from "../lib/hooks";
import { offsetOf, parsePage } from "../lib/pagination";
import { emailProblems } from "../lib/storeRules";

const PAGE_SIZE = 20;

/**
 * A one-time link (an invitation, a password reset), shown once: the API keeps only its hash, so
 * it cannot be shown again. Takes the focus when it appears, so it is not missed.
 */
export function OneTimeLink({
  title,
  answer,
  path,
  children,
  onDone,
}: {
  title: string;
  answer: OneTimeLinkAnswer;
  path: string;
  children?: ReactNode;
  onDone: () => void;
}) {
  const ref = useRef<HTMLElement>(null);
  const headingId = useId();
  const inputId = useId();
  const link = absoluteLink(path);
  useEffect(() => {
    // After the confirmation dialog that led here has closed and handed the focus back.
    const frame = requestAnimationFrame(() => {
      ref.current?.focus({ preventScroll: true });
      ref.current?.scrollIntoView({ block: "nearest" });
    });
    return () => cancelAnimationFrame(frame);
  }, [path]);
  return (
    <section
      ref={ref}
      tabIndex={-1}
      aria-labelledby={headingId}
      data-testid="one-time-link"
      className="rounded-lg bg-emerald-50 p-4 text-sm text-emerald-950 ring-1 ring-emerald-200 ring-inset outline-none focus-visible:ring-2 focus-visible:ring-emerald-600"
    >
      <h2 id={headingId} className="flex items-center gap-2 font-semibold">
        <IconLink className="size-4 shrink-0" />
        {title}
      </h2>
      {children ? <div className="mt-1">{children}</div> : null}
      <div className="mt-3 flex items-center gap-1">
        <label htmlFor={inputId} className="sr-only">
          The link
        </label>
        <Input
          id={inputId}
          readOnly
          value={link}
          onFocus={(e) => e.currentTarget.select()}
          className="font-mono text-xs"
          data-testid="one-time-link-value"
        />
        <CopyButton value={link} label="Copy the link" text="Copy" className="h-10" />
      </div>
      <p className="mt-2 font-medium" data-testid="shown-once">
        Shown only once: copy it now. It works once, until {formatDateTime(answer.expiresAt)}.
      </p>
      <Button size="sm" className="mt-3" onClick={onDone}>
        Done, I copied it
      </Button>
    </section>
  );
}

interface PendingAction {
  kind: UserActionKind;
  user: UserAccount;
}

const ACTION_LABELS: Record<UserActionKind, string> = {
  disable: "Disable",
  enable: "Enable",
  promote: "Make admin",
  demote: "Make tenant",
  reset: "Reset password",
};

function ActionDialog({
  pending,
  onClose,
  onResetLink,
}: {
  pending: PendingAction | null;
  onClose: () => void;
  onResetLink: (user: UserAccount, answer: ResetLink) => void;
}) {
  const change = useChangeUser();
  const reset = useForcePasswordReset();
  const toast = useToast();
  // Keep the last action while the dialog closes, so its words do not vanish mid-animation.
  const [shown, setShown] = useState<PendingAction | null>(pending);
  useEffect(() => {
    if (pending) setShown(pending);
  }, [pending]);
  const action = pending ?? shown;
  if (!action) return null;
  const { kind, user } = action;
  const name = user.username;
  const stores = storeCountLabel(user.storeCount).toLowerCase();

  const confirm = async () => {
    if (kind === "reset") {
      const answer = await reset.mutateAsync(user.id);
      onResetLink(user, answer);
      return;
    }
    const body =
      kind === "disable" || kind === "enable"
        ? { isActive: kind === "enable" }
        : { role: (kind === "promote" ? "admin" : "tenant") as Role };
    await change.mutateAsync({ id: user.id, change: body });
    toast.show(
      kind === "disable"
        ? `${name} is disabled; their sessions have ended.`
        : kind === "enable"
          ? `${name} can sign in again.`
          : kind === "promote"
            ? `${name} is an administrator now.`
            : `${name} is a tenant now.`,
    );
  };

  const words: Record<UserActionKind, { title: string; label: string; danger: boolean; body: ReactNode }> = {
    disable: {
      title: `Disable ${name}?`,
      label: "Disable account",
      danger: true,
      body: (
        <>
          <p>
            {user.email} can no longer sign in, and every session of theirs ends now: their sign-in tokens are revoked.
          </p>
          <p>
            Their stores keep running ({user.storeCount === 0 ? "they have none" : stores}); nothing is deleted. You can
            enable the account again at any time.
          </p>
        </>
      ),
    },
    enable: {
      title: `Enable ${name}?`,
      label: "Enable account",
      danger: false,
      body: <p>{user.email} can sign in again with their password.</p>,
    },
    promote: {
      title: `Make ${name} an administrator?`,
      label: "Make administrator",
      danger: false,
      body: (
        <>
          <p>
            Administrators see every tenant's stores (with their credentials masked), the Operations pages, and manage
            users.
          </p>
          <p>{name} is signed out everywhere and signs in again as an administrator.</p>
        </>
      ),
    },
    demote: {
      title: `Make ${name} a tenant?`,
      label: "Make tenant",
      danger: true,
      body: (
        <>
          <p>They keep their own stores but no longer see other tenants' stores, the Operations pages or this page.</p>
          <p>{name} is signed out everywhere and signs in again as a tenant.</p>
        </>
      ),
    },
    reset: {
      title: `Reset ${name}'s password?`,
      label: "Reset password",
      danger: true,
      body: (
        <>
          <p>Their current password stops working at once, and every session of theirs ends.</p>
          <p>
            You get a link to give them, shown only once, with which they choose a new password. It works once, for 24
            hours.
          </p>
        </>
      ),
    },
  };
  const w = words[kind];
  return (
    <ConfirmDialog
      open={!!pending}
      title={w.title}
      confirmLabel={w.label}
      tone={w.danger ? "danger" : "primary"}
      onConfirm={confirm}
      onClose={onClose}
    >
      {w.body}
    </ConfirmDialog>
  );
}

function UserActions({
  user,
  self,
  onAction,
  className,
}: {
  user: UserAccount;
  self: boolean;
  onAction: (action: PendingAction) => void;
  className?: string;
}) {
  if (self) {
    return (
      <p className={cx("text-xs text-slate-600", className)}>
        You cannot disable or demote yourself.{" "}
        <Link to="/account" className="font-medium text-indigo-700 hover:text-indigo-600">
          Your account
        </Link>
      </p>
    );
  }
  return (
    <div className={cx("flex flex-wrap gap-1.5", className)}>
      {userActions(user, null).map((kind) => (
        <Button
          key={kind}
          size="sm"
          variant={kind === "disable" ? "danger-outline" : "secondary"}
          onClick={() => onAction({ kind, user })}
          aria-label={`${ACTION_LABELS[kind]}: ${user.username}`}
        >
          {ACTION_LABELS[kind]}
        </Button>
      ))}
    </div>
  );
}

function RoleAndStatus({ user, className }: { user: UserAccount; className?: string }) {
  return (
    <div className={cx("flex flex-wrap items-start gap-1", className)}>
      {user.role === "admin" ? (
        <Badge tone="violet">
          <IconShield className="size-3" /> {roleLabel(user.role)}
        </Badge>
      ) : (
        <Badge tone="gray">{roleLabel(user.role)}</Badge>
      )}
      {user.isActive ? (
        <Badge tone="green" dot>
          Active
        </Badge>
      ) : (
        <Badge tone="red" dot>
          Disabled
        </Badge>
      )}
    </div>
  );
}

/** One account. Narrower screens keep its badges and actions under its name, not in columns. */
function UserRow({
  user,
  me,
  now,
  onAction,
}: {
  user: UserAccount;
  me: { id: string } | null;
  now: number;
  onAction: (action: PendingAction) => void;
}) {
  const self = me?.id === user.id;
  return (
    <tr className="align-middle" data-user-row={user.email} data-active={user.isActive} data-role={user.role}>
      <td className="px-5 py-3">
        <p className="flex flex-wrap items-center gap-2 font-medium text-slate-900">
          {user.username}
          {self ? <Badge tone="indigo">You</Badge> : null}
        </p>
        <p className="mt-0.5 text-xs [overflow-wrap:anywhere] text-slate-600">{user.email}</p>
        <RoleAndStatus user={user} className="mt-2 sm:hidden" />
        <UserActions user={user} self={self} onAction={onAction} className="mt-2.5 xl:hidden" />
      </td>
      <td className="hidden px-3 py-3 sm:table-cell">
        <RoleAndStatus user={user} className="flex-col" />
      </td>
      <td className="hidden px-3 py-3 whitespace-nowrap md:table-cell">
        {user.storeCount > 0 ? (
          <Link
            to={`/stores?owner=${user.id}`}
            className="text-indigo-700 hover:text-indigo-600"
            title={`Show ${user.username}'s stores`}
          >
            {storeCountLabel(user.storeCount)}
          </Link>
        ) : (
          <span className="text-slate-600">{storeCountLabel(user.storeCount)}</span>
        )}
      </td>
      <td className="hidden px-3 py-3 whitespace-nowrap text-slate-700 lg:table-cell">
        {user.lastLoginAt ? (
          <time dateTime={user.lastLoginAt} title={formatDateTime(user.lastLoginAt)}>
            {formatAgo(user.lastLoginAt, now)}
          </time>
        ) : (
          // Registering signs in without counting as a sign-in.
          <span className="text-slate-600">Not since joining</span>
        )}
        <p className="text-xs text-slate-600">
          joined <time dateTime={user.createdAt}>{formatAgo(user.createdAt, now)}</time>
        </p>
      </td>
      <td className="hidden px-5 py-3 xl:table-cell">
        <UserActions user={user} self={self} onAction={onAction} className="justify-end text-right" />
      </td>
    </tr>
  );
}

function InvitationsCard({ emailRef }: { emailRef: RefObject<HTMLInputElement | null> }) {
  const invites = useInvites();
  const create = useCreateInvite();
  const now = useNow(30_000);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("tenant");
  const [submitted, setSubmitted] = useState(false);
  const [created, setCreated] = useState<Invitation | null>(null);
  const problems = emailProblems(email);
  const apiProblems = create.error instanceof ApiError ? create.error.messagesFor("email") : [];
  const shown = [...(submitted ? problems : []), ...apiProblems];

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (problems.length) return;
    try {
      const answer = await create.mutateAsync({ email: email.trim(), role });
      setCreated(answer);
      setEmail("");
      setRole("tenant");
      setSubmitted(false);
    } catch {
      // Shown below the form.
    }
  };

  return (
    <Card
      id="invitations"
      title="Invitations"
      description={
        "Invite someone by e-mail: they get a one-time link to create their account, also while registration is closed."
      }
    >
      <div className="space-y-5">
        {created?.invitePath ? (
          <OneTimeLink
            title={`Invitation for ${created.email}`}
            answer={created}
            path={created.invitePath}
            onDone={() => setCreated(null)}
          >
            Send this link to {created.email}. They create their account from it, as{" "}
            {created.role === "admin" ? "an administrator" : "a tenant"}, with this e-mail address.
          </OneTimeLink>
        ) : null}
        <form
          onSubmit={submit}
          className="grid gap-4 sm:grid-cols-[minmax(0,1fr)_12rem_auto] sm:items-start"
          noValidate
        >
          <Field label="E-mail" htmlFor="invite-email" errors={shown}>
            <Input
              ref={emailRef}
              id="invite-email"
              type="email"
              autoComplete="off"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              invalid={shown.length > 0}
            />
          </Field>
          <Field label="Role" htmlFor="invite-role">
            <Select id="invite-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              <option value="tenant">Tenant</option>
              <option value="admin">Administrator</option>
            </Select>
          </Field>
          <div className="sm:pt-7">
            <Button type="submit" variant="primary" loading={create.isPending} icon={<IconMail />}>
              Create invitation
            </Button>
          </div>
        </form>
        {create.error && !apiProblems.length ? <ApiErrorAlert error={create.error} /> : null}

        <div>
          <h3 className="text-sm font-semibold text-slate-900">Pending</h3>
          <p className="mt-0.5 text-xs text-slate-600">Invitations not used yet. Used and expired ones are not listed.</p>
          {invites.isPending ? (
            <LoadingBlock rows={2} label="Loading invitations" />
          ) : invites.isError ? (
            <ApiErrorAlert className="mt-3" error={invites.error} onRetry={() => invites.refetch()} />
          ) : invites.data.length === 0 ? (
            <p className="mt-3 text-sm text-slate-600" data-testid="no-invites">
              No pending invitations.
            </p>
          ) : (
            <ul className="mt-3 divide-y divide-slate-100 rounded-lg ring-1 ring-slate-200" data-testid="invites">
              {invites.data.map((invite) => (
                <li
                  key={invite.email}
                  className="flex flex-wrap items-center justify-between gap-x-4 gap-y-1 px-4 py-2.5 text-sm"
                  data-invite={invite.email}
                >
                  <div className="min-w-0">
                    <p className="font-medium break-all text-slate-900">{invite.email}</p>
                    <p className="text-xs text-slate-600">
                      {roleLabel(invite.role)}
                      {invite.invitedBy ? ` · invited by ${invite.invitedBy}` : ""} · {formatAgo(invite.createdAt, now)}
                    </p>
                  </div>
                  <p className="text-xs text-slate-600" title={formatDateTime(invite.expiresAt)}>
                    Expires {formatRelative(invite.expiresAt, now)}
                  </p>
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
    </Card>
  );
}

export function UsersPage() {
  useTitle("Users");
  const { user: me } = useAuth();
  const { params, q, search, setSearch, update } = useUrlListState(100);
  const page = parsePage(params.get("page"));

  const list = useUserList({ q: q || undefined, limit: PAGE_SIZE, offset: offsetOf(page, PAGE_SIZE) });
  const now = useNow(30_000);
  const [pending, setPending] = useState<PendingAction | null>(null);
  const [resetLink, setResetLink] = useState<{ user: UserAccount; answer: ResetLink } | null>(null);
  const inviteEmail = useRef<HTMLInputElement>(null);
  const data = list.data;

  // A page past the end (accounts found by an older search): go to the last one.
  useEffect(() => {
    if (data && data.users.length === 0 && data.total > 0 && page > 1) {
      update({ page: String(Math.max(1, Math.ceil(data.total / PAGE_SIZE))) }, false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, page]);

  return (
    <>
      <PageHeader
        title="Users"
        description="Everyone who can sign in. A disabled account cannot sign in; its stores keep running."
        actions={
          <Button
            variant="primary"
            icon={<IconMail />}
            onClick={() => {
              document.getElementById("invitations")?.scrollIntoView({ behavior: "smooth", block: "start" });
              inviteEmail.current?.focus({ preventScroll: true });
            }}
          >
            Invite someone
          </Button>
        }
      />

      <div className="space-y-6">
        {resetLink?.answer.resetPath ? (
          <OneTimeLink
            title={`Password reset link for ${resetLink.user.username}`}
            answer={resetLink.answer}
            path={resetLink.answer.resetPath}
            onDone={() => setResetLink(null)}
          >
            {resetLink.user.email}'s password no longer works and their sessions have ended. Give them this link: they
            choose a new password with it.
          </OneTimeLink>
        ) : null}

        <div>
          <div className="mb-4 flex items-center gap-3">
            <div className="relative flex-1 sm:max-w-sm">
              <label htmlFor="user-search" className="sr-only">
                Search users by e-mail or username
              </label>
              <IconSearch className="pointer-events-none absolute top-1/2 left-3 size-4 -translate-y-1/2 text-slate-500" />
              <Input
                id="user-search"
                type="search"
                placeholder="Search by e-mail or username"
                value={search}
                maxLength={100}
                onChange={(e) => setSearch(e.target.value)}
                className="pl-9"
              />
            </div>
            {list.isFetching && !list.isPending ? (
              <Spinner className="size-4 text-slate-500" label="Refreshing" />
            ) : null}
          </div>

          <Card bodyClassName="p-0">
            {list.isPending ? (
              <div className="p-5">
                <LoadingBlock rows={5} label="Loading users" />
              </div>
            ) : list.isError ? (
              <div className="p-5">
                <ApiErrorAlert error={list.error} onRetry={() => list.refetch()} />
              </div>
            ) : data!.users.length === 0 ? (
              q ? (
                <EmptyState
                  icon={<IconSearch className="size-5" />}
                  title="No users match"
                  action={<Button onClick={() => update({ q: undefined })}>Clear the search</Button>}
                >
                  No e-mail address or username contains “{q}”.
                </EmptyState>
              ) : (
                <EmptyState icon={<IconUsers className="size-5" />} title="No users yet" />
              )
            ) : (
              <>
                <div className="overflow-x-auto">
                  <table className="min-w-full text-sm">
                    <caption className="sr-only">Users</caption>
                    <thead className="border-b border-slate-200 bg-slate-50/80 text-left text-xs font-medium tracking-wide text-slate-600 uppercase">
                      <tr>
                        <th scope="col" className="px-5 py-3">
                          User
                        </th>
                        <th scope="col" className="hidden px-3 py-3 sm:table-cell">
                          Role and status
                        </th>
                        <th scope="col" className="hidden px-3 py-3 md:table-cell">
                          Stores
                        </th>
                        <th scope="col" className="hidden px-3 py-3 whitespace-nowrap lg:table-cell">
                          Last sign-in
                        </th>
                        <th scope="col" className="hidden px-5 py-3 text-right xl:table-cell">
                          <span className="sr-only">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody className="divide-y divide-slate-100">
                      {data!.users.map((user) => (
                        <UserRow key={user.id} user={user} me={me} now={now} onAction={setPending} />
                      ))}
                    </tbody>
                  </table>
                </div>
                <Pagination
                  total={data!.total}
                  limit={data!.limit}
                  offset={data!.offset}
                  noun={data!.total === 1 ? "user" : "users"}
                  onPage={(p) => update({ page: p > 1 ? String(p) : undefined }, false)}
                />
              </>
            )}
          </Card>
        </div>

        <InvitationsCard emailRef={inviteEmail} />
      </div>

      <ActionDialog
        pending={pending}
        onClose={() => setPending(null)}
        onResetLink={(user, answer) => setResetLink({ user, answer })}
      />
    </>
  );
}
