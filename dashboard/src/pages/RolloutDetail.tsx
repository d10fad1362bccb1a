// One fleet rollout (operators): its target and status, why it halted, its totals, and each wave
// with its stores (outcome, why one failed or was skipped, its upgrade run). Followed every ~2 s
// while it runs; Resume once a wave halted it, Cancel while it runs.

import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useParams } from "react-router";

import { ApiError } from "../api/client";
import { keys, useRollout, useRolloutAction, useStoreDirectory } from "../api/queries";
import type { Rollout, RolloutStore, RolloutWave, Store } from "../api/types";
import { ConfirmDialog } from "../components/Dialog";
import { IconChevronLeft, IconLayers, IconPlay, IconStop } from "../components/icons";
import { OperatorsOnly } from "../components/Layout";
import { ProgressBar, RawDetails } from "../components/Progress";
import { OutcomeBadge, RolloutStatusBadge, WaveStatusBadge } from "../components/Rollout";
import { useToast } from "../components/Toaster";
import {
  Alert,
  ApiErrorAlert,
  Badge,
  Button,
  ButtonLink,
  Card,
  cx,
  Details,
  EmptyState,
  PageHeader,
  ShortId,
  Skeleton,
} from "../components/ui";
import { formatAgo, formatDateTime, formatDuration, shortId } from "../lib/format";
import { useNow, useTitle } from "../lib/hooks";
import {
  cancelText,
  donePercent,
  haltReason,
  haltRule,
  haltTitle,
  haltingWave,
  isRolloutInProgress,
  percentText,
  resumeText,
  rolloutActions,
  rolloutTitle,
  storesText,
  totalStores,
  wavesAfterHalt,
  waveText,
} from "../lib/rollouts";
import { asSentence, plainStepError } from "../lib/steps";
import { chartText } from "../lib/upgrades";

/** What the page says about one store of a wave, beside its outcome. */
export function storeOutcomeText(entry: RolloutStore, store: Store | undefined): string | null {
  switch (entry.outcome) {
    case "skipped":
      return entry.error ? `Skipped: ${entry.error}.` : "Skipped.";
    case "failed": {
      const reason = asSentence(plainStepError(entry.error));
      const last = store?.lastUpgrade;
      if (last && last.runId === entry.runId && last.status === "rolled_back")
        return `${reason} Rolled back to ${chartText(last.from)} and verified again.`;
      if (last && last.runId === entry.runId && last.status === "rolling_back")
        return `${reason} Rolling back to ${chartText(last.from)}…`;
      return reason;
    }
    case "upgrading":
      return "Upgrading: verified with a test order at the end.";
    case "upgraded":
      return null;
    case "pending":
      return null;
  }
}

function errorOf(error: unknown): { status: number; code: string } | null {
  return error instanceof ApiError ? { status: error.status, code: error.code } : null;
}

export function RolloutDetailPage() {
  const { id = "" } = useParams();
  const rollout = useRollout(id);
  const data = rollout.data;
  const running = isRolloutInProgress(data?.status);
  // Refreshed whenever a store's outcome changes (below); now and then too, while it runs.
  const directory = useStoreDirectory({ refetchInterval: running ? 15_000 : false });
  const client = useQueryClient();
  const now = useNow(1000, running);
  useTitle(data ? rolloutTitle(data) : "Rollout");

  // A store's outcome changed: its versions and last upgrade did too.
  const outcomes = data?.waves.map((w) => w.stores.map((s) => s.outcome).join()).join("|") ?? "";
  const seenOutcomes = useRef("");
  useEffect(() => {
    if (seenOutcomes.current && outcomes !== seenOutcomes.current)
      client.invalidateQueries({ queryKey: keys.storeDirectory });
    seenOutcomes.current = outcomes;
  }, [outcomes, client]);

  const stores = useMemo(() => {
    const map = new Map<string, Store>();
    for (const store of directory.data?.stores ?? []) map.set(store.id, store);
    return map;
  }, [directory.data]);

  const back = (
    <Link to="/rollouts" className="inline-flex items-center gap-1 text-sm text-slate-600 hover:text-slate-900">
      <IconChevronLeft className="size-4" /> Rollouts
    </Link>
  );

  const problem = errorOf(rollout.error);
  if (problem?.status === 403) return <OperatorsOnly />;
  if (problem && (problem.status === 404 || problem.status === 400)) {
    return (
      <>
        <div className="mb-3">{back}</div>
        <Card>
          <EmptyState
            icon={<IconLayers className="size-5" />}
            title="This rollout does not exist"
            action={<ButtonLink to="/rollouts">All rollouts</ButtonLink>}
          >
            Check the link: the rollouts page lists the newest 20.
          </EmptyState>
        </Card>
      </>
    );
  }
  if (rollout.isError && !data) {
    return (
      <>
        <div className="mb-3">{back}</div>
        <ApiErrorAlert error={rollout.error} onRetry={() => rollout.refetch()} />
      </>
    );
  }
  if (!data) {
    return (
      <>
        <div className="mb-3">{back}</div>
        <Skeleton className="mb-6 h-8 w-80" />
        <Skeleton className="h-40 w-full" />
      </>
    );
  }

  return (
    <div data-rollout={data.id}>
      <PageHeader
        back={back}
        // Wraps rather than being cut off on a phone.
        title={<span className="whitespace-normal">{rolloutTitle(data)}</span>}
        badges={
          <>
            <RolloutStatusBadge rollout={data} />
            <FollowIndicator running={running} updatedAt={rollout.dataUpdatedAt} now={now} />
          </>
        }
        description={
          <span>
            Started <time dateTime={data.createdAt}>{formatDateTime(data.createdAt)}</time>
            {data.finishedAt ? (
              <>
                {" · "}
                {data.status === "halted" ? "halted" : "finished"}{" "}
                <time dateTime={data.finishedAt}>{formatDateTime(data.finishedAt)}</time>
              </>
            ) : null}
          </span>
        }
        actions={<RolloutActions rollout={data} />}
      />
      <div className="space-y-6">
        <StatusNotice rollout={data} />
        <div className="grid gap-6 lg:grid-cols-[minmax(0,1fr)_20rem]">
          <Totals rollout={data} />
          <Card title="Rollout">
            <Details
              items={[
                { label: "Target", value: <span data-testid="rollout-target">{chartText(data.target)}</span> },
                {
                  label: "Halts when",
                  value: `more than ${percentText(data.maxFailureShare)} of a wave's upgrades fail`,
                },
                {
                  label: "Took",
                  value: formatDuration(
                    new Date(data.finishedAt ?? now).getTime() - new Date(data.createdAt).getTime(),
                  ),
                },
                {
                  label: "Rollout id",
                  value: (
                    <span className="inline-flex items-center gap-1">
                      <ShortId id={data.id} label="Copy the full rollout id" />
                      <Link to={`/runs/${data.id}`} className="text-xs font-medium text-indigo-700 hover:text-indigo-600">
                        Run
                      </Link>
                    </span>
                  ),
                },
              ]}
            />
          </Card>
        </div>
        <section aria-labelledby="waves-heading" className="space-y-4">
          <h2 id="waves-heading" className="text-base font-semibold text-slate-900">
            Waves
          </h2>
          {data.waves.map((wave) => (
            <WaveCard key={wave.number} wave={wave} rollout={data} stores={stores} />
          ))}
        </section>
      </div>
    </div>
  );
}

/** Whether the page follows the rollout, and when it last heard of it. */
function FollowIndicator({ running, updatedAt, now }: { running: boolean; updatedAt: number; now: number }) {
  return (
    <span aria-live="off" data-live={running ? "polling" : "finished"} className="text-xs text-slate-600">
      {running ? (
        <Badge tone="green" dot pulse>
          {`Live · updated ${formatAgo(new Date(updatedAt).toISOString(), now)}`}
        </Badge>
      ) : (
        <Badge tone="gray">Finished: not followed</Badge>
      )}
    </span>
  );
}

function StatusNotice({ rollout }: { rollout: Rollout }) {
  if (rollout.status === "halted") {
    const later = wavesAfterHalt(rollout);
    const untouched = later.reduce((sum, w) => sum + w.stores.length, 0);
    const reason = haltReason(rollout.error);
    return (
      <div data-testid="rollout-halted">
        <Alert tone="danger" role="status" title={<span data-testid="halt-title">{haltTitle(rollout)}</span>}>
          <p data-testid="halt-text">
            {later.length === 1
              ? `Wave ${later[0].number} was not started: ${untouched === 1 ? "its store was" : `its ${untouched} stores were`} not touched. `
              : later.length > 1
                ? `Waves ${later.map((w) => w.number).join(", ")} were not started: their ${storesText(untouched)} were not touched. `
                : "It was the last wave. "}
            Each failed upgrade rolls its store back by itself (see each store below). Resume to accept these failures
            {later.length ? ` and start wave ${later[0].number}` : " and finish the rollout"}, or leave the rollout halted.
          </p>
          {reason ? (
            <p className="mt-1">
              <span className="font-medium">The platform's reason:</span>{" "}
              <span data-testid="halt-reason">{reason}</span>
            </p>
          ) : null}
        </Alert>
      </div>
    );
  }
  if (rollout.status === "failed") {
    return (
      <Alert tone="danger" role="status" title="The rollout stopped on an error">
        <p data-testid="rollout-error">{rollout.error ?? "The platform did not say why."}</p>
      </Alert>
    );
  }
  if (rollout.status === "cancelled") {
    return (
      <Alert tone="info" role="status" title="The rollout was cancelled">
        <p>Upgrades that had not started were cancelled and their stores stay on the version they run.</p>
      </Alert>
    );
  }
  if (rollout.status === "succeeded") {
    const accepted = rollout.waves.filter((w) => w.status === "accepted").map((w) => w.number);
    return rollout.totals.failed ? (
      <Alert tone="warning" role="status" title="The rollout finished with failures">
        <p>
          {`${storesText(rollout.totals.failed)} could not be upgraded and ${rollout.totals.failed === 1 ? "was" : "were"} rolled back`}
          {accepted.length ? `; an operator accepted the failures of wave ${accepted.join(", ")}` : ""}.
        </p>
      </Alert>
    ) : (
      <Alert tone="success" role="status" title={`Every store of the rollout runs ${chartText(rollout.target)}`}>
        <p>
          {rollout.totals.skipped
            ? `${storesText(rollout.totals.upgraded)} upgraded; ${rollout.totals.skipped} skipped.`
            : `${storesText(rollout.totals.upgraded)} upgraded and verified with a test order.`}
        </p>
      </Alert>
    );
  }
  return null;
}

function Totals({ rollout }: { rollout: Rollout }) {
  const { totals } = rollout;
  const running = isRolloutInProgress(rollout.status);
  const tiles: { key: keyof typeof totals; label: string; tone: string }[] = [
    { key: "upgraded", label: "Upgraded", tone: "text-emerald-700" },
    { key: "failed", label: "Failed", tone: "text-rose-700" },
    { key: "upgrading", label: "Upgrading", tone: "text-indigo-700" },
    { key: "skipped", label: "Skipped", tone: "text-slate-700" },
    { key: "pending", label: "Not started", tone: "text-slate-700" },
  ];
  const percent = donePercent(totals);
  return (
    <Card
      title="Stores"
      description={`${storesText(totalStores(totals))} in ${rollout.waves.length} wave${rollout.waves.length === 1 ? "" : "s"}`}
    >
      <dl className="grid grid-cols-3 gap-3 sm:grid-cols-5">
        {tiles.map((tile) => (
          <div key={tile.key} className="rounded-lg bg-slate-50 px-3 py-2 ring-1 ring-slate-200 ring-inset">
            <dt className="text-xs text-slate-600">{tile.label}</dt>
            <dd
              className={cx("text-xl font-semibold tabular-nums", totals[tile.key] ? tile.tone : "text-slate-500")}
              data-testid={`total-${tile.key}`}
            >
              {totals[tile.key]}
            </dd>
          </div>
        ))}
      </dl>
      <div className="mt-4">
        <ProgressBar
          percent={percent}
          status={running ? "running" : rollout.status === "succeeded" && !totals.failed ? "succeeded" : "waiting"}
          label="Stores whose part of the rollout is over"
        />
        <p className="mt-1.5 text-xs text-slate-600" data-testid="rollout-done">
          {`${percent}% of the stores are done (upgraded, failed or skipped).`}
        </p>
      </div>
    </Card>
  );
}

function WaveCard({ wave, rollout, stores }: { wave: RolloutWave; rollout: Rollout; stores: Map<string, Store> }) {
  const size = wave.stores.length;
  const canary = wave.number === 1 && rollout.waves.length > 1 && size <= 5;
  return (
    <div data-wave={wave.number}>
      <Card
        title={
          <span className="flex items-center gap-2">
            Wave {wave.number}
            {canary ? <Badge tone="violet">Canary</Badge> : null}
          </span>
        }
        description={`${storesText(size)} · ${haltRule(size, rollout.maxFailureShare)}`}
        actions={<WaveStatusBadge wave={wave} rollout={rollout} />}
        bodyClassName="p-0"
      >
        <p className="px-5 py-3 text-sm text-slate-700" data-testid="wave-text">
          {waveText(wave, rollout)}
        </p>
        <ul className="divide-y divide-slate-100 border-t border-slate-100" aria-label={`Stores of wave ${wave.number}`}>
          {wave.stores.map((entry) => (
            <WaveStore key={entry.storeId} entry={entry} store={stores.get(entry.storeId)} />
          ))}
        </ul>
      </Card>
    </div>
  );
}

function WaveStore({ entry, store }: { entry: RolloutStore; store: Store | undefined }) {
  const text = storeOutcomeText(entry, store);
  return (
    <li
      className="grid gap-x-4 gap-y-1.5 px-5 py-3 text-sm sm:grid-cols-[minmax(0,14rem)_8rem_minmax(0,1fr)_auto]"
      data-rollout-store={entry.storeId}
    >
      <div className="min-w-0">
        <Link
          to={`/stores/${entry.storeId}`}
          className="block truncate font-medium text-slate-900 hover:text-indigo-700"
          data-testid="store-link"
        >
          {store?.name ?? entry.storeId}
        </Link>
        <span className="font-mono text-xs text-slate-600">{entry.storeId}</span>
      </div>
      <div className="flex flex-wrap items-start gap-2 sm:block">
        <OutcomeBadge outcome={entry.outcome} />
        {store?.versions?.chart ? (
          <p className="text-xs text-slate-600 sm:mt-1" data-testid="store-chart">
            Chart {store.versions.chart}
          </p>
        ) : null}
      </div>
      <div className="min-w-0 text-slate-700">
        {text ? <p data-testid="store-outcome-text">{text}</p> : null}
        {entry.outcome === "failed" && entry.error ? (
          <RawDetails raw={entry.error} summary="Error details" />
        ) : null}
      </div>
      <div className="sm:text-right">
        {entry.runId ? (
          <Link
            to={`/runs/${entry.runId}`}
            className="text-xs font-medium whitespace-nowrap text-indigo-700 hover:text-indigo-600"
            aria-label={`Upgrade run of ${store?.name ?? entry.storeId}`}
            data-testid="upgrade-run-link"
          >
            Run {shortId(entry.runId)}
          </Link>
        ) : null}
      </div>
    </li>
  );
}

function RolloutActions({ rollout }: { rollout: Rollout }) {
  const actions = rolloutActions(rollout.status);
  const action = useRolloutAction();
  const toast = useToast();
  const [open, setOpen] = useState<"resume" | "cancel" | null>(null);
  const halted = haltingWave(rollout);
  if (!actions.resume && !actions.cancel && !open) return null;
  return (
    <>
      {actions.resume ? (
        <Button variant="primary" icon={<IconPlay className="size-4" />} onClick={() => setOpen("resume")}>
          Resume
        </Button>
      ) : null}
      {actions.cancel ? (
        <Button variant="danger-outline" icon={<IconStop className="size-4" />} onClick={() => setOpen("cancel")}>
          Cancel rollout
        </Button>
      ) : null}
      <ConfirmDialog
        open={open === "resume"}
        title={halted ? `Resume past wave ${halted.number}?` : "Resume the rollout?"}
        confirmLabel="Resume rollout"
        onConfirm={async () => {
          await action.mutateAsync({ id: rollout.id, action: "resume" });
          const next = halted ? rollout.waves.find((w) => w.number === halted.number + 1) : null;
          toast.show(
            halted
              ? `Rollout resumed: the failures of wave ${halted.number} are accepted; ${next ? `wave ${next.number} starts` : "the rollout finishes"}.`
              : "Rollout resumed.",
          );
        }}
        onClose={() => setOpen(null)}
      >
        <p data-testid="resume-text">{resumeText(rollout)}</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={open === "cancel"}
        title="Cancel the rollout?"
        confirmLabel="Cancel rollout"
        dismissLabel="Keep it running"
        tone="danger"
        onConfirm={async () => {
          const answer = await action.mutateAsync({ id: rollout.id, action: "cancel" });
          toast.show(answer.message);
        }}
        onClose={() => setOpen(null)}
      >
        {cancelText(rollout).map((line, i) => (
          <p key={i} data-testid="cancel-text">
            {line}
          </p>
        ))}
      </ConfirmDialog>
    </>
  );
}
