// Every backup the person can see (tenants: of their stores; admins: all), newest first, also of
// deleted stores: filtered by status (and by store, from a store's page), each linking to its
// store while it exists, a complete one restorable into a new store — which is how a deleted
// store comes back.

import { useState } from "react";
import { Link, useSearchParams } from "react-router";

import { useBackups, useStoreDirectory } from "../api/queries";
import { BACKUP_STATUSES, type Backup, type BackupStatus } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { BackupState, BackupStatusBadge, RestoreButton, RestoreDialog } from "../components/Backups";
import { IconArchive, IconSearch, IconX } from "../components/icons";
import { StoreStatusBadge } from "../components/status";
import {
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
  Spinner,
} from "../components/ui";
import { backupStatusLabel, backupStore, triggerLabel, type BackupStore } from "../lib/backups";
import { formatAgo, formatDateTime } from "../lib/format";
import { useNow, useTitle } from "../lib/hooks";
import { isStoreId } from "../lib/storeRules";
import { versionsText } from "../lib/upgrades";

/** The page reads this many, the newest (the API's default). */
export const BACKUPS_PAGE_LIMIT = 100;

export function BackupsPage() {
  useTitle("Backups");
  const { isAdmin } = useAuth();
  const [params, setParams] = useSearchParams();
  const status = (BACKUP_STATUSES as string[]).includes(params.get("status") ?? "")
    ? (params.get("status") as BackupStatus)
    : undefined;
  const storeParam = params.get("store") ?? "";
  const storeId = isStoreId(storeParam) ? storeParam : undefined;
  const list = useBackups({ status, storeId, limit: BACKUPS_PAGE_LIMIT }, { keepPrevious: true });
  const directory = useStoreDirectory();
  const backups = list.data ?? [];
  const now = useNow(backups.some((b) => b.status === "running") ? 1000 : 15_000);
  const [restoring, setRestoring] = useState<Backup | null>(null);
  const filtered = !!(status || storeId);

  const update = (changes: Record<string, string | undefined>) =>
    setParams(
      (current) => {
        const next = new URLSearchParams(current);
        for (const [key, value] of Object.entries(changes)) {
          if (!value) next.delete(key);
          else next.set(key, value);
        }
        return next;
      },
      { replace: true },
    );
  const storeName = storeId ? (backups.find((b) => b.storeId === storeId)?.storeName ?? storeId) : undefined;

  return (
    <>
      <PageHeader
        title="Backups"
        description={
          <>
            {isAdmin ? "Every store's backups" : "Your stores' backups"}, newest first, also of stores deleted since.
            Restore a complete one into a new store; back a store up or schedule its backups from its page.
          </>
        }
      />

      <div className="mb-4 flex flex-col gap-3 sm:flex-row sm:items-center">
        <div role="group" aria-label="Filter by status" className="-mx-1 flex gap-1 overflow-x-auto px-1 pb-1">
          {[undefined, ...BACKUP_STATUSES].map((s) => {
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
                {s ? backupStatusLabel(s) : "All"}
              </button>
            );
          })}
        </div>
        {storeId ? (
          <Button
            size="sm"
            onClick={() => update({ store: undefined })}
            icon={<IconX className="size-3.5" />}
            aria-label={`Show the backups of every store, not only ${storeName}`}
          >
            Store: {storeName}
          </Button>
        ) : null}
        {list.isFetching && !list.isPending ? <Spinner className="size-4 text-slate-500" label="Refreshing" /> : null}
      </div>

      <Card bodyClassName="p-0">
        {list.isPending ? (
          <div className="p-5">
            <LoadingBlock rows={5} label="Loading backups" />
          </div>
        ) : list.isError ? (
          <div className="p-5">
            <ApiErrorAlert error={list.error} title="The backups could not be loaded" onRetry={() => list.refetch()} />
          </div>
        ) : backups.length === 0 ? (
          filtered ? (
            <EmptyState
              icon={<IconSearch className="size-5" />}
              title="No backups match"
              action={
                <Button onClick={() => setParams(new URLSearchParams(), { replace: true })}>Clear filters</Button>
              }
            >
              {status ? `No ${backupStatusLabel(status).toLowerCase()} backups` : "No backups"}
              {storeId ? ` of ${storeName}` : ""}.
            </EmptyState>
          ) : (
            <EmptyState
              icon={<IconArchive className="size-5" />}
              title="No backups yet"
              action={
                <ButtonLink to="/stores" variant="primary">
                  Go to your stores
                </ButtonLink>
              }
            >
              Back a store up from its page, or give it a backup schedule there.
            </EmptyState>
          )
        ) : (
          <>
            {/* Positioned, so that nothing inside (the visually hidden header) widens the page past the scroller. */}
            <div className="relative overflow-x-auto">
              <table className="min-w-full text-sm" data-testid="backups-table">
                <caption className="sr-only">Backups, newest first</caption>
                <thead className="border-b border-slate-200 bg-slate-50/80 text-left text-xs font-medium tracking-wide text-slate-600 uppercase">
                  <tr>
                    <th scope="col" className="px-5 py-3">
                      Store
                    </th>
                    <th scope="col" className="px-3 py-3">
                      Status
                    </th>
                    <th scope="col" className="hidden px-3 py-3 md:table-cell">
                      Taken
                    </th>
                    <th scope="col" className="hidden px-3 py-3 lg:table-cell">
                      Version
                    </th>
                    <th scope="col" className="hidden px-5 py-3 text-right sm:table-cell">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody className="divide-y divide-slate-100">
                  {backups.map((backup) => (
                    <BackupRow
                      key={backup.id}
                      backup={backup}
                      place={backupStore(backup.storeId, directory.data)}
                      now={now}
                      onRestore={setRestoring}
                    />
                  ))}
                </tbody>
              </table>
            </div>
            <p className="border-t border-slate-100 px-5 py-3 text-xs text-slate-600" data-testid="backups-count">
              {backups.length === BACKUPS_PAGE_LIMIT
                ? `The newest ${BACKUPS_PAGE_LIMIT} backups.`
                : `${backups.length} backup${backups.length === 1 ? "" : "s"}.`}
            </p>
          </>
        )}
      </Card>
      <RestoreDialog backup={restoring} onClose={() => setRestoring(null)} />
    </>
  );
}

function BackupRow({
  backup,
  place,
  now,
  onRestore,
}: {
  backup: Backup;
  place: BackupStore;
  now: number;
  onRestore: (backup: Backup) => void;
}) {
  const taken = (
    <>
      <time dateTime={backup.createdAt} title={formatDateTime(backup.createdAt)} className="text-slate-800">
        {formatAgo(backup.createdAt, now)}
      </time>
      <span className="text-slate-600"> · {triggerLabel(backup.trigger)}</span>
    </>
  );
  return (
    <tr className="align-top hover:bg-slate-50/70" data-backup-row={backup.id} data-store-id={backup.storeId}>
      <td className="px-5 py-3.5">
        {place.kind === "deleted" ? (
          <span className="font-medium text-slate-900" data-testid="backup-store">
            {backup.storeName}
          </span>
        ) : (
          <Link
            to={`/stores/${backup.storeId}`}
            className="font-medium text-slate-900 hover:text-indigo-700 focus-visible:rounded"
            data-testid="backup-store"
          >
            {backup.storeName}
          </Link>
        )}
        <div className="mt-0.5 flex flex-wrap items-center gap-x-2 gap-y-1">
          <Mono className="text-xs whitespace-nowrap text-slate-600">{backup.storeId}</Mono>
          {place.kind === "deleted" ? (
            <span data-testid="backup-store-deleted">
              <Badge tone="gray">Store deleted</Badge>
            </span>
          ) : place.kind === "live" && place.store.status !== "ready" ? (
            <StoreStatusBadge status={place.store.status} />
          ) : null}
        </div>
        {/* Narrow screens: when it was taken, under the store. */}
        <p className="mt-1 text-xs md:hidden">{taken}</p>
      </td>
      <td className="px-3 py-3.5">
        <div className="flex flex-col items-start gap-1">
          <BackupStatusBadge status={backup.status} />
          <BackupState backup={backup} openDetails={false} now={now} />
          {/* Narrow screens: the restore action under the status. */}
          {backup.status === "complete" ? (
            <div className="mt-1 sm:hidden">
              <RestoreButton backup={backup} onRestore={onRestore} compact />
            </div>
          ) : null}
        </div>
      </td>
      <td className="hidden px-3 py-3.5 text-xs whitespace-nowrap md:table-cell">{taken}</td>
      <td className="hidden px-3 py-3.5 text-xs text-slate-700 lg:table-cell" data-testid="backup-versions">
        {backup.versions && (backup.versions.chart || backup.versions.app) ? versionsText(backup.versions) : "—"}
      </td>
      <td className="hidden px-5 py-3.5 text-right sm:table-cell">
        {backup.status === "complete" ? <RestoreButton backup={backup} onRestore={onRestore} /> : null}
      </td>
    </tr>
  );
}
