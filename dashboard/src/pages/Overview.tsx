// Overview: stores by status, platform health, recent stores (and, for operators, the queue).

import { Link } from "react-router";
import type { ReactNode } from "react";

import { useHealth, useMetrics, useStoreCounts, useStoreList } from "../api/queries";
import type { HealthCheck, RunStatus } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { IconCluster, IconDatabase, IconPlus, IconStore } from "../components/icons";
import { EngineBadge, RunStatusBadge, StoreStatusBadge } from "../components/status";
import {
  Alert,
  ApiErrorAlert,
  Badge,
  Button,
  ButtonLink,
  Card,
  cx,
  EmptyState,
  LoadingBlock,
  Mono,
  PageHeader,
  Skeleton,
} from "../components/ui";
import { formatAgo, formatDuration } from "../lib/format";
import { useNow, useTitle } from "../lib/hooks";

function Stat({
  label,
  value,
  to,
  accent,
  loading,
}: {
  label: string;
  value: number | undefined;
  to: string;
  accent: string;
  loading: boolean;
}) {
  return (
    <Link
      to={to}
      className="group relative overflow-hidden rounded-xl border border-slate-200 bg-white p-5 shadow-xs transition hover:border-slate-300 hover:shadow-sm focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600"
    >
      <span className={cx("absolute inset-y-0 left-0 w-1", accent)} aria-hidden="true" />
      <p className="text-sm font-medium text-slate-600">{label}</p>
      {loading ? (
        <Skeleton className="mt-2 h-8 w-12" />
      ) : (
        <p className="mt-1 text-3xl font-semibold tracking-tight text-slate-900 tabular-nums" data-stat={label}>
          {value ?? "—"}
        </p>
      )}
    </Link>
  );
}

function HealthRow({ icon, name, check }: { icon: ReactNode; name: string; check?: HealthCheck }) {
  const ok = check?.status === "healthy";
  return (
    <li className="flex items-start gap-3 py-3 first:pt-0 last:pb-0">
      <span className="mt-0.5 text-slate-500">{icon}</span>
      <div className="min-w-0 flex-1">
        <div className="flex items-center justify-between gap-2">
          <p className="text-sm font-medium text-slate-900">{name}</p>
          {check ? (
            <Badge tone={ok ? "green" : "amber"} dot>
              {ok ? "Healthy" : check.status === "unavailable" ? "Unavailable" : check.status}
            </Badge>
          ) : (
            <Badge tone="gray">Unknown</Badge>
          )}
        </div>
        {check?.message ? (
          <p className="mt-0.5 line-clamp-3 text-xs break-words text-slate-500" title={check.message}>
            {check.message}
          </p>
        ) : null}
        {check?.latencyMs !== undefined ? (
          <p className="mt-0.5 text-xs text-slate-500">Answered in {check.latencyMs.toFixed(1)} ms</p>
        ) : null}
        {check?.server ? (
          <p className="mt-0.5 text-xs break-all text-slate-500">
            {check.context ? `${check.context} · ` : ""}
            {check.server}
            {check.version ? ` · ${check.version}` : ""}
          </p>
        ) : null}
      </div>
    </li>
  );
}

function PlatformHealth() {
  const { isAdmin } = useAuth();
  const health = useHealth();
  const data = health.data;
  return (
    <Card
      title="Platform health"
      actions={
        data ? (
          <Badge tone={data.status === "healthy" ? "green" : "red"} dot pulse={data.status !== "healthy"}>
            <span data-testid="platform-status">{data.status === "healthy" ? "Operational" : "Degraded"}</span>
          </Badge>
        ) : null
      }
    >
      {health.isPending ? (
        <LoadingBlock rows={3} />
      ) : health.isError ? (
        <ApiErrorAlert error={health.error} onRetry={() => health.refetch()} />
      ) : data?.checks ? (
        <>
          <ul className="divide-y divide-slate-100">
            <HealthRow icon={<IconDatabase />} name="PostgreSQL" check={data.checks.database} />
            <HealthRow icon={<IconCluster />} name="Kubernetes" check={data.checks.kubernetes} />
          </ul>
          {data.runs ? (
            <p className="mt-4 border-t border-slate-100 pt-3 text-xs text-slate-500">
              Queue: {data.runs.running} running, {data.runs.runnable} runnable, {data.runs.delayed} delayed
              {data.uptimeSeconds != null ? ` · up ${formatDuration(data.uptimeSeconds * 1000)}` : ""}
            </p>
          ) : null}
        </>
      ) : (
        <p className="text-sm text-slate-600">
          {data?.status === "healthy"
            ? "The API and its database are answering."
            : "The platform reports a problem with its database."}
          {isAdmin ? null : " Details are shown to administrators."}
        </p>
      )}
    </Card>
  );
}

function RunsByStatus() {
  const metrics = useMetrics(true);
  const order: RunStatus[] = ["running", "queued", "waiting", "failed", "cancelled", "succeeded"];
  return (
    <Card
      title="Workflow runs"
      actions={
        <Link to="/runs" className="text-sm font-medium text-indigo-700 hover:text-indigo-600">
          View runs
        </Link>
      }
    >
      {metrics.isPending ? (
        <LoadingBlock rows={2} />
      ) : metrics.isError ? (
        <ApiErrorAlert error={metrics.error} onRetry={() => metrics.refetch()} />
      ) : (
        <ul className="grid grid-cols-2 gap-3 sm:grid-cols-3">
          {order.map((status) => (
            <li key={status}>
              <Link
                to={`/runs?status=${status}`}
                className="flex items-center justify-between rounded-lg border border-slate-100 px-3 py-2 hover:bg-slate-50"
              >
                <RunStatusBadge status={status} />
                <span className="text-sm font-semibold text-slate-900 tabular-nums">
                  {metrics.data?.runsByStatus[status] ?? 0}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

function RecentStores() {
  const { isAdmin } = useAuth();
  const list = useStoreList({ limit: 5, offset: 0 });
  const now = useNow(5000);
  return (
    <Card
      title="Recent stores"
      bodyClassName="p-0"
      actions={
        <Link to="/stores" className="text-sm font-medium text-indigo-700 hover:text-indigo-600">
          View all
        </Link>
      }
    >
      {list.isPending ? (
        <div className="px-5 py-4">
          <LoadingBlock rows={4} />
        </div>
      ) : list.isError ? (
        <div className="px-5 py-4">
          <ApiErrorAlert error={list.error} onRetry={() => list.refetch()} />
        </div>
      ) : list.data.stores.length === 0 ? (
        <EmptyState
          icon={<IconStore className="size-5" />}
          title="No stores yet"
          action={
            <ButtonLink to="/stores/new" variant="primary" icon={<IconPlus />}>
              Create your first store
            </ButtonLink>
          }
        >
          A store is a WooCommerce or MedusaJS shop in its own namespace, ready in a few minutes.
        </EmptyState>
      ) : (
        <ul className="divide-y divide-slate-100">
          {list.data.stores.map((store) => (
            <li key={store.id} className="relative flex items-center gap-4 px-5 py-3 hover:bg-slate-50">
              <div className="min-w-0 flex-1">
                <Link
                  to={`/stores/${store.id}`}
                  className="font-medium text-slate-900 after:absolute after:inset-0 focus-visible:outline-none focus-visible:after:outline-2 focus-visible:after:outline-indigo-600"
                >
                  {store.name}
                </Link>
                <p className="mt-0.5 flex flex-wrap items-center gap-x-2 text-xs text-slate-500">
                  <Mono className="text-xs">{store.id}</Mono>
                  <span aria-hidden="true">·</span>
                  <span>created {formatAgo(store.createdAt, now)}</span>
                  {isAdmin && store.ownerUsername ? (
                    <>
                      <span aria-hidden="true">·</span>
                      <span>{store.ownerUsername}</span>
                    </>
                  ) : null}
                </p>
              </div>
              <div className="hidden sm:block">
                <EngineBadge engine={store.engine} />
              </div>
              <StoreStatusBadge status={store.status} />
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function OverviewPage() {
  useTitle("Overview");
  const { user, isAdmin, welcome, welcomeInvited, dismissWelcome } = useAuth();
  const counts = useStoreCounts();
  const c = counts.data;
  const inProgress = c ? c.requested + c.provisioning + c.upgrading + c.restoring + c.deleting : undefined;

  return (
    <>
      <PageHeader
        title={`Welcome${user ? `, ${user.username}` : ""}`}
        description={isAdmin ? "Every tenant's stores and the platform at a glance." : "Your stores at a glance."}
        actions={
          <ButtonLink to="/stores/new" variant="primary" icon={<IconPlus />}>
            New store
          </ButtonLink>
        }
      />
      {welcome === "admin" ? (
        <Alert
          tone="info"
          role="status"
          className="mb-6"
          title="You are this platform's administrator"
          action={
            <Button size="sm" onClick={dismissWelcome}>
              Got it
            </Button>
          }
        >
          <span data-testid="admin-notice">
            {welcomeInvited
              ? "You were invited as an administrator: "
              : "Yours is the first account, so it has the admin role: "}
            you see every tenant's stores (with their credentials masked) and the Operations pages — runs, workflows,
            schedules, users and the full audit log.
          </span>
        </Alert>
      ) : welcome === "tenant" ? (
        <Alert
          tone="success"
          role="status"
          className="mb-6"
          title="Your account is ready"
          action={
            <Button size="sm" onClick={dismissWelcome}>
              Got it
            </Button>
          }
        >
          Create a store to get a WooCommerce or MedusaJS shop of your own.
        </Alert>
      ) : null}

      {counts.isError ? <ApiErrorAlert error={counts.error} className="mb-6" onRetry={() => counts.refetch()} /> : null}
      <div className="grid grid-cols-2 gap-4 lg:grid-cols-4">
        <Stat label="Stores" value={c?.all} to="/stores" accent="bg-indigo-500" loading={counts.isPending} />
        <Stat
          label="Ready"
          value={c?.ready}
          to="/stores?status=ready"
          accent="bg-emerald-500"
          loading={counts.isPending}
        />
        <Stat
          label="In progress"
          value={inProgress}
          to="/stores?status=provisioning"
          accent="bg-sky-500"
          loading={counts.isPending}
        />
        <Stat
          label="Failed"
          value={c?.failed}
          to="/stores?status=failed"
          accent="bg-rose-500"
          loading={counts.isPending}
        />
      </div>

      <div className="mt-6 grid gap-6 lg:grid-cols-3">
        <div className="space-y-6 lg:col-span-2">
          <RecentStores />
          {isAdmin ? <RunsByStatus /> : null}
        </div>
        <div className="space-y-6">
          <PlatformHealth />
        </div>
      </div>
    </>
  );
}
