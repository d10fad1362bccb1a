// The store list: status filter, name search (debounced), engine filter, real pagination.

import { useEffect } from "react";
import { Link } from "react-router";

import { isActiveStatus, useEngines, useStoreList } from "../api/queries";
import { STORE_STATUSES, type EngineName, type Store, type StoreStatus } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { IconArrowUp, IconPlus, IconSearch, IconStore, IconX } from "../components/icons";
import { Pagination } from "../components/Pagination";
import { EngineBadge, StoreStatusBadge, storeStatusLabel, ThemeBadge } from "../components/status";
import {
  ApiErrorAlert,
  Badge,
  Button,
  ButtonLink,
  Card,
  cx,
  EmptyState,
  Input,
  LoadingBlock,
  Mono,
  PageHeader,
  Select,
  Spinner,
} from "../components/ui";
import { formatAgo, formatDuration, shortId } from "../lib/format";
import { asSentence, isRollbackStep, plainStepError, runPercent, stepLabel } from "../lib/steps";
import { chartText, versionsText } from "../lib/upgrades";
import { useNow, useTitle, useUrlListState } from "../lib/hooks";
import { offsetOf, parsePage } from "../lib/pagination";

const PAGE_SIZES = [10, 20, 50, 100];

export function MiniProgress({ percent, label }: { percent: number; label: string }) {
  return (
    <div className="w-full max-w-44">
      <div
        className="h-1.5 overflow-hidden rounded-full bg-slate-100"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-label={label}
      >
        <div
          className="h-full rounded-full bg-sky-500 transition-[width] duration-500"
          style={{ width: `${percent}%` }}
        />
      </div>
    </div>
  );
}

/** A ready store that a newer chart is available for: a small marker beside its status. */
export function UpgradeMarker({ store }: { store: Store }) {
  if (store.status !== "ready" || !store.availableUpgrade) return null;
  return (
    <span
      data-testid="upgrade-marker"
      title={`${chartText(store.availableUpgrade)} is available; the store runs ${versionsText(store.versions).toLowerCase()}`}
    >
      <Badge tone="indigo">
        <IconArrowUp className="size-3" />
        Upgrade available
      </Badge>
    </span>
  );
}

function StoreProgress({ store, now }: { store: Store; now: number }) {
  const run = store.currentRun;
  if (store.status === "upgrading" || store.status === "restoring") {
    // The list knows only the current step: its label, and whether it belongs to an upgrade's
    // rollback. (Not the time since creation: the store was created long before.)
    const percent = runPercent(run);
    const rollingBack = store.status === "upgrading" && !!run?.step && isRollbackStep(run.step);
    return (
      <div className="space-y-1">
        <MiniProgress percent={percent} label={`${store.name}: ${percent}%`} />
        <p className="text-xs text-slate-600">
          <span className="font-medium text-slate-700 tabular-nums">{percent}%</span> ·{" "}
          {rollingBack ? "Rolling back: " : ""}
          {run?.step ? <span title={run.step}>{stepLabel(run.step, run.workflow)}</span> : "queued"}
        </p>
      </div>
    );
  }
  if (isActiveStatus(store.status)) {
    // Weighted by the steps' typical durations, like the store page (lib/steps.ts).
    const percent = runPercent(run);
    const step = run?.step ? (
      <span title={`Step ${run.stepNumber ?? "?"} of ${run.stepCount ?? "?"}: ${run.step}`}>
        {stepLabel(run.step, run.workflow)} ({run.stepNumber ?? "?"}/{run.stepCount ?? "?"})
      </span>
    ) : (
      "queued"
    );
    return (
      <div className="space-y-1">
        <MiniProgress percent={percent} label={`${store.name}: ${percent}%`} />
        <p className="text-xs text-slate-600">
          <span className="font-medium text-slate-700 tabular-nums">{percent}%</span> · {step} ·{" "}
          {formatDuration(now - new Date(store.createdAt).getTime())}
        </p>
      </div>
    );
  }
  if (store.status === "ready") {
    return (
      <p className="text-sm text-slate-700">
        Ready in <span className="tabular-nums">{formatDuration(store.provisioningDurationMs)}</span>
      </p>
    );
  }
  if (store.status === "failed") {
    return (
      <p className="text-sm text-rose-700" title={asSentence(plainStepError(store.failureReason))}>
        Stopped{store.failedStep ? ` at “${stepLabel(store.failedStep, run?.workflow)}”` : ""}
      </p>
    );
  }
  if (store.status === "deleted") {
    return <p className="text-sm text-slate-600">Deleted {formatAgo(store.deletedAt, now)}</p>;
  }
  return null;
}

export function StoresPage() {
  useTitle("Stores");
  const { isAdmin } = useAuth();
  // The search box writes to the URL (and so to the query) once typing pauses.
  const { params, q, search, setSearch, update, clear } = useUrlListState(63);
  const status = (STORE_STATUSES as string[]).includes(params.get("status") ?? "")
    ? (params.get("status") as StoreStatus)
    : undefined;
  // An engine of the server's registry (`GET /engines`); kept as it is while the registry loads.
  const engines = useEngines();
  // (From the address: a registry's name once the registry has confirmed it.)
  const wanted = (params.get("engine") || undefined) as EngineName | undefined;
  const engine = wanted && (!engines.data || engines.data.some((e) => e.name === wanted)) ? wanted : undefined;
  const ownerId = isAdmin ? (params.get("owner") ?? undefined) : undefined;
  const page = parsePage(params.get("page"));
  const size = PAGE_SIZES.includes(Number(params.get("size"))) ? Number(params.get("size")) : 20;

  const list = useStoreList({
    status,
    engine,
    ownerId,
    q: q || undefined,
    limit: size,
    offset: offsetOf(page, size),
  });
  const now = useNow(1000, !!list.data?.stores.some((s) => isActiveStatus(s.status)));
  const data = list.data;
  const filtered = !!(status || engine || q || ownerId);
  const ownerName = ownerId ? data?.stores.find((s) => s.ownerId === ownerId)?.ownerUsername : undefined;

  // A page past the end (stores deleted meanwhile): go to the last one.
  useEffect(() => {
    if (data && data.stores.length === 0 && data.total > 0 && page > 1) {
      update({ page: String(Math.max(1, Math.ceil(data.total / size))) }, false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, page, size]);

  return (
    <>
      <PageHeader
        title="Stores"
        description={isAdmin ? "Every tenant's stores." : "Your WooCommerce and MedusaJS stores."}
        actions={
          <ButtonLink to="/stores/new" variant="primary" icon={<IconPlus />}>
            New store
          </ButtonLink>
        }
      />

      <div className="mb-4 flex flex-col gap-3">
        <div role="group" aria-label="Filter by status" className="-mx-1 flex gap-1 overflow-x-auto px-1 pb-1">
          {[undefined, ...STORE_STATUSES].map((s) => {
            const active = s === status;
            return (
              <button
                key={s ?? "all"}
                type="button"
                aria-pressed={active}
                onClick={() => update({ status: s })}
                className={cx(
                  "rounded-full px-3 py-1.5 text-sm font-medium whitespace-nowrap transition-colors focus-visible:outline-2 focus-visible:outline-offset-1 focus-visible:outline-indigo-600",
                  active
                    ? "bg-slate-900 text-white"
                    : "bg-white text-slate-700 ring-1 ring-slate-200 ring-inset hover:bg-slate-50",
                )}
              >
                {s ? storeStatusLabel(s) : "All"}
              </button>
            );
          })}
        </div>
        <div className="flex flex-col gap-3 sm:flex-row sm:items-center">
          <div className="relative flex-1 sm:max-w-xs">
            <label htmlFor="store-search" className="sr-only">
              Search stores by name
            </label>
            <IconSearch className="pointer-events-none absolute top-1/2 left-3 size-4 -translate-y-1/2 text-slate-500" />
            <Input
              id="store-search"
              type="search"
              placeholder="Search by name"
              value={search}
              maxLength={63}
              onChange={(e) => setSearch(e.target.value)}
              className="pl-9"
            />
          </div>
          <div className="flex items-center gap-2">
            <label htmlFor="engine-filter" className="sr-only">
              Engine
            </label>
            <Select
              id="engine-filter"
              value={engine ?? ""}
              onChange={(e) => update({ engine: e.target.value || undefined })}
              className="w-auto"
            >
              <option value="">All engines</option>
              {(engines.data ?? (engine ? [{ name: engine, label: engine }] : [])).map((option) => (
                <option key={option.name} value={option.name}>
                  {option.label}
                </option>
              ))}
            </Select>
            <label htmlFor="page-size" className="sr-only">
              Stores per page
            </label>
            <Select
              id="page-size"
              value={size}
              onChange={(e) => update({ size: e.target.value === "20" ? undefined : e.target.value })}
              className="w-auto"
            >
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n} per page
                </option>
              ))}
            </Select>
            {list.isFetching && !list.isPending ? (
              <Spinner className="size-4 text-slate-500" label="Refreshing" />
            ) : null}
          </div>
          {ownerId ? (
            <Button
              size="sm"
              variant="secondary"
              onClick={() => update({ owner: undefined })}
              icon={<IconX className="size-3.5" />}
            >
              Owner: {ownerName ?? shortId(ownerId)}
            </Button>
          ) : null}
        </div>
      </div>

      <Card bodyClassName="p-0">
        {list.isPending ? (
          <div className="p-5">
            <LoadingBlock rows={6} label="Loading stores" />
          </div>
        ) : list.isError ? (
          <div className="p-5">
            <ApiErrorAlert error={list.error} onRetry={() => list.refetch()} />
          </div>
        ) : data!.stores.length === 0 ? (
          filtered ? (
            <EmptyState
              icon={<IconSearch className="size-5" />}
              title="No stores match"
              action={<Button onClick={clear}>Clear filters</Button>}
            >
              Nothing matches these filters.
            </EmptyState>
          ) : (
            <EmptyState
              icon={<IconStore className="size-5" />}
              title="No stores yet"
              action={
                <ButtonLink to="/stores/new" variant="primary" icon={<IconPlus />}>
                  Create a store
                </ButtonLink>
              }
            >
              Your stores will show up here while they are provisioned and once they are ready.
            </EmptyState>
          )
        ) : (
          <>
            <div className="overflow-x-auto">
              <table className="min-w-full text-sm">
                <caption className="sr-only">Stores</caption>
                <thead className="border-b border-slate-200 bg-slate-50/80 text-left text-xs font-medium tracking-wide text-slate-600 uppercase">
                  <tr>
                    <th scope="col" className="px-5 py-3">
                      Store
                    </th>
                    <th scope="col" className="px-3 py-3">
                      Status
                    </th>
                    <th scope="col" className="hidden px-3 py-3 md:table-cell">
                      Engine
                    </th>
                    <th scope="col" className="hidden px-3 py-3 sm:table-cell">
                      Progress
                    </th>
                    {isAdmin ? (
                      <th scope="col" className="hidden px-3 py-3 lg:table-cell">
                        Owner
                      </th>
                    ) : null}
                    <th scope="col" className="hidden px-5 py-3 text-right xl:table-cell">
                      Created
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {data!.stores.map((store) => (
                    <tr key={store.id} className="align-middle hover:bg-slate-50/70" data-store-row={store.id}>
                      <td className="px-5 py-3.5">
                        <Link
                          to={`/stores/${store.id}`}
                          className="font-medium text-slate-900 hover:text-indigo-700 focus-visible:rounded"
                        >
                          {store.name}
                        </Link>
                        <div className="mt-0.5">
                          <Mono className="text-xs text-slate-600">{store.id}</Mono>
                        </div>
                        <div className="mt-1.5 flex flex-wrap gap-1 md:hidden">
                          <EngineBadge engine={store.engine} />
                        </div>
                        <div className="mt-2 sm:hidden">
                          <StoreProgress store={store} now={now} />
                        </div>
                      </td>
                      <td className="px-3 py-3.5">
                        <div className="flex flex-col items-start gap-1">
                          <StoreStatusBadge
                            status={store.status}
                            title={store.status === "failed" ? asSentence(plainStepError(store.failureReason)) : undefined}
                          />
                          <UpgradeMarker store={store} />
                        </div>
                      </td>
                      <td className="hidden px-3 py-3.5 md:table-cell">
                        <div className="flex flex-wrap gap-1">
                          <EngineBadge engine={store.engine} />
                          <ThemeBadge theme={store.theme} />
                        </div>
                        {store.versions?.chart ? (
                          <p className="mt-1 text-xs text-slate-600" data-testid="store-chart" title={versionsText(store.versions)}>
                            Chart {store.versions.chart}
                          </p>
                        ) : null}
                      </td>
                      <td className="hidden min-w-52 px-3 py-3.5 sm:table-cell">
                        <StoreProgress store={store} now={now} />
                      </td>
                      {isAdmin ? (
                        <td className="hidden px-3 py-3.5 lg:table-cell">
                          <button
                            type="button"
                            className="rounded text-slate-700 hover:text-indigo-700 hover:underline"
                            onClick={() => update({ owner: store.ownerId })}
                            title="Show this owner's stores"
                          >
                            {store.ownerUsername ?? shortId(store.ownerId)}
                          </button>
                        </td>
                      ) : null}
                      <td className="hidden px-5 py-3.5 text-right whitespace-nowrap text-slate-600 xl:table-cell">
                        <time dateTime={store.createdAt} title={new Date(store.createdAt).toLocaleString()}>
                          {formatAgo(store.createdAt, now)}
                        </time>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pagination
              total={data!.total}
              limit={data!.limit}
              offset={data!.offset}
              noun={data!.total === 1 ? "store" : "stores"}
              onPage={(p) => update({ page: p > 1 ? String(p) : undefined }, false)}
            />
          </>
        )}
      </Card>
    </>
  );
}
