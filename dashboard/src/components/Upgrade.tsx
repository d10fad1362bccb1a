// Day-2 upgrades on the store page: the version card, the notice while an upgrade runs or after
// one was rolled back, and the confirmation that starts one.

import { ApiError } from "../api/client";
import { useUpgradeStore } from "../api/queries";
import type { StoreDetail } from "../api/types";
import { capitalize, formatAgo, formatDateTime } from "../lib/format";
import { errorWords } from "../lib/errorWords";
import { canOfferUpgrade, chartText, succeededText, upgradeNotice, versionsText } from "../lib/upgrades";
import { ConfirmDialog } from "./Dialog";
import { RawDetails } from "./Progress";
import { useToast } from "./Toaster";
import { Alert, Badge, Card } from "./ui";

/**
 * While an upgrade runs: what it does, or — once a step failed — that it rolls back and why.
 * After a rolled-back upgrade: that the store runs its previous version again, verified, and why
 * the upgrade failed (the raw error one click away; open for operators).
 */
export function UpgradeNoticeAlert({ store, operator }: { store: StoreDetail; operator: boolean }) {
  const notice = upgradeNotice(store);
  if (!notice) return null;
  if (notice.kind === "upgrading") {
    return (
      <div data-upgrade-notice="upgrading">
        <Alert tone="info" role="status" title={<span data-testid="upgrade-title">{notice.title}</span>}>
          <p data-testid="upgrade-text">{notice.text}</p>
        </Alert>
      </div>
    );
  }
  return (
    <div data-upgrade-notice={notice.kind}>
      <Alert tone="warning" role="status" title={<span data-testid="upgrade-title">{notice.title}</span>}>
        {notice.kind === "rolled_back" ? <p data-testid="upgrade-text">{notice.text}</p> : null}
        <p className={notice.kind === "rolled_back" ? "mt-1" : undefined}>
          <span className="font-medium">Why it failed:</span> <span data-testid="upgrade-reason">{notice.reason}</span>
        </p>
        {notice.kind === "rolling_back" ? (
          <p className="mt-1" data-testid="upgrade-text">
            {notice.text}
          </p>
        ) : null}
        {store.lastUpgrade?.at ? (
          <p className="mt-1 text-xs">
            {notice.kind === "rolled_back" ? "Rolled back" : "Failed"}{" "}
            <time dateTime={store.lastUpgrade.at} title={formatDateTime(store.lastUpgrade.at)}>
              {formatAgo(store.lastUpgrade.at)}
            </time>
            .
          </p>
        ) : null}
        <RawDetails raw={notice.raw} code={notice.step} open={operator} summary="Error details" />
      </Alert>
    </div>
  );
}

/** The versions the store runs, whether a newer one is available, and how the last upgrade went. */
export function VersionCard({ store, now, refused }: { store: StoreDetail; now: number; refused: boolean }) {
  const known = !!(store.versions?.chart || store.versions?.app);
  const offered = canOfferUpgrade(store);
  const succeeded = store.status !== "upgrading" ? succeededText(store.lastUpgrade) : null;
  return (
    <Card
      title="Version"
      actions={
        offered ? (
          <span data-testid="upgrade-available">
            <Badge tone="indigo">Upgrade available</Badge>
          </span>
        ) : null
      }
    >
      <p className="text-sm font-medium text-slate-900" data-testid="store-versions">
        {versionsText(store.versions)}
      </p>
      {!known ? (
        <p className="mt-1 text-xs text-slate-600">
          The store was created before the platform recorded versions; an upgrade records them.
        </p>
      ) : null}
      {succeeded && store.lastUpgrade ? (
        <p className="mt-1 text-xs text-slate-600" data-testid="upgrade-succeeded">
          {succeeded}{" "}
          <time dateTime={store.lastUpgrade.at} title={formatDateTime(store.lastUpgrade.at)}>
            {formatAgo(store.lastUpgrade.at, now)}
          </time>
        </p>
      ) : null}
      {offered && store.availableUpgrade ? (
        <p className="mt-3 border-t border-slate-100 pt-3 text-sm text-slate-700" data-testid="available-upgrade">
          {capitalize(chartText(store.availableUpgrade))} is available.{" "}
          {refused
            ? "Upgrades are started by operators on this platform: ask your platform's administrators."
            : "Upgrading verifies the store with a test order and rolls it back by itself if anything fails."}
        </p>
      ) : null}
    </Card>
  );
}

/**
 * Operators also get the API's own suggestion (it names settings and request bodies) when the
 * plain words left it out.
 */
function operatorSuggestion(error: unknown) {
  if (!(error instanceof ApiError) || !error.suggestion || errorWords(error).hint === error.suggestion) return null;
  return (
    <p className="mt-2 text-xs text-slate-600" data-testid="operator-suggestion">
      For operators: <span className="font-mono break-words">{error.suggestion}</span>
    </p>
  );
}

/** Confirms an upgrade, saying what happens; a refusal shows in the dialog, in plain words. */
export function UpgradeDialog({
  store,
  open,
  operator,
  onClose,
  onRefused,
}: {
  store: StoreDetail;
  open: boolean;
  operator: boolean;
  onClose: () => void;
  /** The platform lets only operators upgrade (403 `UPGRADE_NOT_ALLOWED`). */
  onRefused: () => void;
}) {
  const upgrade = useUpgradeStore();
  const toast = useToast();
  const target = store.availableUpgrade;
  return (
    <ConfirmDialog
      open={open}
      title={`Upgrade ${store.name} to ${chartText(target)}?`}
      confirmLabel="Upgrade store"
      onConfirm={async () => {
        try {
          const answer = await upgrade.mutateAsync({ id: store.id });
          toast.show(answer.message);
        } catch (error) {
          if (error instanceof ApiError && error.code === "UPGRADE_NOT_ALLOWED") onRefused();
          throw error;
        }
      }}
      onClose={onClose}
      errorExtra={operator ? operatorSuggestion : undefined}
    >
      <p data-testid="upgrade-what">
        The store goes from {chartText(store.versions)} to {chartText(target)}: the new version is installed, its
        database updates run, and the store is verified with a real test order.
      </p>
      <p data-testid="upgrade-safety">
        If any step fails, the store is rolled back to {chartText(store.versions)} automatically and verified again
        with a test order. You can follow every step on this page.
      </p>
    </ConfirmDialog>
  );
}
