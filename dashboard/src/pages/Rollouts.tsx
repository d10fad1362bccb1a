// Fleet rollouts (operators): the newest rollouts, and a form that starts one — the target, an
// engine filter, the wave sizes and how many failures halt a wave, confirmed with the plan in
// words.

import { useId, useState } from "react";
import { Link, useNavigate } from "react-router";

import { ApiError } from "../api/client";
import { useEngines, useRollouts, useStartRollout, useStoreDirectory, type StartRolloutBody } from "../api/queries";
import type { Rollout } from "../api/types";
import { ConfirmDialog } from "../components/Dialog";
import { IconLayers, IconPlay } from "../components/icons";
import { OperatorsOnly } from "../components/Layout";
import { RolloutStartError, RolloutStatusBadge } from "../components/Rollout";
import { useToast } from "../components/Toaster";
import {
  Alert,
  ApiErrorAlert,
  Button,
  ButtonLink,
  Card,
  EmptyState,
  Field,
  Input,
  LoadingBlock,
  PageHeader,
  Select,
  ShortId,
} from "../components/ui";
import { engineLabel } from "../lib/engines";
import { formatAgo, formatDateTime } from "../lib/format";
import { useNow, useTitle } from "../lib/hooks";
import {
  currentWave,
  DEFAULT_FAILURE_PERCENT,
  DEFAULT_WAVES,
  haltRule,
  haltingWave,
  isRolloutInProgress,
  parseFailurePercent,
  parseWaveSizes,
  percentText,
  planWaves,
  rolloutCandidates,
  sizesText,
  storesText,
  totalStores,
  totalsText,
  wavesText,
} from "../lib/rollouts";
import { chartText } from "../lib/upgrades";

/** "wave 1 of 2", "halted at wave 1", "2 waves". */
export function waveProgressText(rollout: Rollout): string {
  const count = rollout.waves.length;
  const current = currentWave(rollout);
  if (current) return `Wave ${current.number} of ${count}`;
  const halted = rollout.status === "halted" ? haltingWave(rollout) : null;
  if (halted) return `Halted at wave ${halted.number} of ${count}`;
  return wavesText(count);
}

/** "Rollout of chart 2.2.0 to 3 stores in 2 waves started." */
export function startedText(rollout: Rollout): string {
  return `Rollout of ${chartText(rollout.target)} to ${storesText(totalStores(rollout.totals))} in ${wavesText(rollout.waves.length)} started.`;
}

function isForbidden(error: unknown): boolean {
  return error instanceof ApiError && error.status === 403;
}

export function RolloutsPage() {
  useTitle("Rollouts");
  const rollouts = useRollouts();
  const now = useNow(5000);
  if (isForbidden(rollouts.error)) return <OperatorsOnly />;
  const list = rollouts.data ?? [];
  const running = list.find((r) => isRolloutInProgress(r.status));

  return (
    <>
      <PageHeader
        title="Rollouts"
        description="Upgrade many stores to the chart this build ships, in waves of growing size. A wave whose upgrades fail too often halts the rollout by itself."
      />
      {running ? (
        <Alert
          tone="info"
          role="status"
          className="mb-6"
          title={
            <span data-testid="running-rollout">
              {`Rolling out ${chartText(running.target)}: ${waveProgressText(running).toLowerCase()}`}
            </span>
          }
          action={
            <ButtonLink to={`/rollouts/${running.id}`} size="sm">
              Watch it
            </ButtonLink>
          }
        >
          <p>{totalsText(running.totals)}. Only one rollout runs at a time.</p>
        </Alert>
      ) : null}
      <div className="grid items-start gap-6 xl:grid-cols-[minmax(0,1fr)_24rem]">
        <div className="order-2 xl:order-1">
          <Card title="Recent rollouts" description="The newest 20." bodyClassName="p-0">
            {rollouts.isPending ? (
              <div className="p-5">
                <LoadingBlock rows={4} label="Loading rollouts" />
              </div>
            ) : rollouts.isError ? (
              <div className="p-5">
                <ApiErrorAlert error={rollouts.error} onRetry={() => rollouts.refetch()} />
              </div>
            ) : list.length === 0 ? (
              <EmptyState icon={<IconLayers className="size-5" />} title="No rollouts yet">
                Once a new build ships a newer store chart, start a rollout here to upgrade the stores to it.
              </EmptyState>
            ) : (
              <RolloutTable rollouts={list} now={now} />
            )}
          </Card>
        </div>
        <div className="order-1 xl:order-2">
          <StartRolloutCard />
        </div>
      </div>
    </>
  );
}

function RolloutTable({ rollouts, now }: { rollouts: Rollout[]; now: number }) {
  return (
    <div className="overflow-x-auto">
      <table className="min-w-full text-sm">
        <caption className="sr-only">Fleet rollouts, newest first</caption>
        <thead className="border-b border-slate-200 bg-slate-50/80 text-left text-xs font-medium tracking-wide text-slate-600 uppercase">
          <tr>
            <th scope="col" className="px-5 py-3">
              Target
            </th>
            <th scope="col" className="px-3 py-3">
              Status
            </th>
            <th scope="col" className="hidden px-3 py-3 md:table-cell">
              Stores
            </th>
            <th scope="col" className="hidden px-5 py-3 text-right sm:table-cell">
              Started
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {rollouts.map((rollout) => (
            <tr key={rollout.id} className="hover:bg-slate-50/70" data-rollout-row={rollout.id}>
              <td className="px-5 py-3">
                <Link to={`/rollouts/${rollout.id}`} className="font-medium text-slate-900 hover:text-indigo-700">
                  {`Chart ${rollout.target.chart ?? "unknown"}`}
                </Link>
                <div className="mt-0.5 flex flex-wrap items-center gap-x-2 text-xs text-slate-600">
                  <span>{rollout.target.app ? `app ${rollout.target.app}` : null}</span>
                  <ShortId id={rollout.id} label="Copy the full rollout id" />
                </div>
              </td>
              <td className="px-3 py-3">
                <RolloutStatusBadge rollout={rollout} />
                <p className="mt-1 text-xs text-slate-600" data-testid="rollout-waves">
                  {waveProgressText(rollout)}
                </p>
              </td>
              <td className="hidden px-3 py-3 text-slate-700 md:table-cell" data-testid="rollout-totals">
                {totalsText(rollout.totals)}
              </td>
              <td className="hidden px-5 py-3 text-right whitespace-nowrap text-slate-600 sm:table-cell">
                <time dateTime={rollout.createdAt} title={formatDateTime(rollout.createdAt)}>
                  {formatAgo(rollout.createdAt, now)}
                </time>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The start form: what the rollout would do, checked before it is confirmed. */
export function StartRolloutCard() {
  const ids = { engine: useId(), waves: useId(), share: useId() };
  const navigate = useNavigate();
  const toast = useToast();
  const start = useStartRollout();
  const directory = useStoreDirectory();
  const engines = useEngines();
  // "" is every engine; the choices are the registry's engines that can be upgraded.
  const [engine, setEngine] = useState("");
  const [waves, setWaves] = useState(DEFAULT_WAVES.join(", "));
  const [percent, setPercent] = useState(String(DEFAULT_FAILURE_PERCENT));
  const [checked, setChecked] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const sizes = parseWaveSizes(waves);
  const share = parseFailurePercent(percent);
  const candidates = rolloutCandidates(directory.data?.stores ?? [], {
    engine: engine || undefined,
    total: directory.data?.total,
  });
  const count = candidates.stores.length;
  const plan = sizes.ok ? planWaves(count, sizes.value) : [];
  const target = candidates.target;
  const apiError = error instanceof ApiError ? error : null;
  const fieldErrors = (field: string, local: string | null) =>
    [...(checked && local ? [local] : []), ...(apiError?.messagesFor(field) ?? [])];

  const body = (): StartRolloutBody | null => {
    if (!sizes.ok || !share.ok) return null;
    return { ...(engine ? { engine } : {}), waves: sizes.value, maxFailureShare: share.value };
  };

  const onStart = async () => {
    const request = body();
    if (!request) return;
    try {
      const answer = await start.mutateAsync(request);
      setError(null);
      toast.show(startedText(answer.rollout));
      navigate(`/rollouts/${answer.rollout.id}`);
    } catch (cause) {
      // Shown in the form (the dialog closes): a rollout already running is a link away.
      setError(cause);
    }
  };

  const engineName = engine ? engineLabel(engines.data, engine) : undefined;
  return (
    <Card
      title="Start a rollout"
      description="Every ready store not yet on the chart this build ships, oldest first."
    >
      <form
        noValidate
        className="space-y-4"
        data-testid="start-rollout"
        onSubmit={(event) => {
          event.preventDefault();
          setChecked(true);
          if (body()) setConfirming(true);
        }}
      >
        <div className="rounded-lg bg-slate-50 px-3 py-2.5 text-sm ring-1 ring-slate-200 ring-inset">
          <p className="text-xs font-medium text-slate-600">Target</p>
          <p className="font-medium text-slate-900" data-testid="rollout-target">
            {target
              ? chartText(target)
              : directory.isPending
                ? "Reading the stores…"
                : "Every store runs the chart this build ships"}
          </p>
          <p className="mt-1 text-xs text-slate-600" data-testid="rollout-candidates">
            {directory.isPending
              ? "\u00a0"
              : `${candidates.partial ? "At least " : ""}${storesText(count, engineName)} to upgrade now${
                  count && plan.length ? `, in ${wavesText(plan.length)}: ${sizesText(plan)}` : ""
                }.`}
          </p>
        </div>
        <Field label="Engine" htmlFor={ids.engine} errors={apiError?.messagesFor("engine")}>
          <Select id={ids.engine} value={engine} onChange={(e) => {
              setEngine(e.target.value);
              setError(null);
            }}>
            <option value="">Every engine</option>
            {(engines.data ?? [])
              .filter((option) => option.upgrades)
              .map((option) => (
                <option key={option.name} value={option.name}>
                  {option.label} only
                </option>
              ))}
          </Select>
        </Field>
        <Field
          label="Wave sizes"
          htmlFor={ids.waves}
          hint="Stores per wave, in order; the stores left over form one more wave. Start small: the first wave is the canary."
          errors={fieldErrors("waves", sizes.ok ? null : sizes.error)}
        >
          <Input
            id={ids.waves}
            value={waves}
            onChange={(e) => {
              setWaves(e.target.value);
              setError(null);
            }}
            invalid={fieldErrors("waves", sizes.ok ? null : sizes.error).length > 0}
            inputMode="numeric"
            autoComplete="off"
            spellCheck={false}
            placeholder="1, 5, 25"
          />
        </Field>
        <Field
          label="Maximum failure share"
          htmlFor={ids.share}
          hint={
            share.ok
              ? `A wave halts the rollout when more than this share of its upgrades fail: at ${percentText(share.value)}, a wave of 5 ${haltRule(5, share.value)}, and a canary of 1 ${haltRule(1, share.value)}.`
              : undefined
          }
          errors={fieldErrors("maxFailureShare", share.ok ? null : share.error)}
        >
          <div className="relative max-w-32">
            <Input
              id={ids.share}
              value={percent}
              onChange={(e) => {
                setPercent(e.target.value);
                setError(null);
              }}
              invalid={fieldErrors("maxFailureShare", share.ok ? null : share.error).length > 0}
              inputMode="decimal"
              autoComplete="off"
              className="pr-8"
            />
            <span
              className="pointer-events-none absolute inset-y-0 right-3 flex items-center text-sm text-slate-600"
              aria-hidden="true"
            >
              %
            </span>
          </div>
        </Field>
        <Button type="submit" variant="primary" icon={<IconPlay className="size-4" />} loading={start.isPending}>
          Start rollout…
        </Button>
        {error ? <RolloutStartError error={error} /> : null}
      </form>
      <ConfirmDialog
        open={confirming}
        title={target ? `Roll out ${chartText(target)}?` : "Start a rollout?"}
        confirmLabel="Start rollout"
        onConfirm={onStart}
        onClose={() => setConfirming(false)}
      >
        {sizes.ok && share.ok ? (
          <RolloutPlan
            count={count}
            partial={candidates.partial}
            engineLabel={engineName}
            plan={plan}
            sizes={sizes.value}
            share={share.value}
          />
        ) : null}
      </ConfirmDialog>
    </Card>
  );
}

/** The confirmation's words: how many stores, in how many waves, and when it halts by itself. */
function RolloutPlan({
  count,
  partial,
  engineLabel,
  plan,
  sizes,
  share,
}: {
  count: number;
  partial: boolean;
  engineLabel: string | undefined;
  plan: number[];
  sizes: number[];
  share: number;
}) {
  return (
    <div data-testid="rollout-plan" className="space-y-2">
      {count > 0 ? (
        <p data-testid="rollout-plan-summary">
          {partial ? "At least " : ""}
          {`${storesText(count, engineLabel)} ${count === 1 ? "is" : "are"} upgraded in ${wavesText(plan.length)}: ${sizesText(plan)}.`}
        </p>
      ) : (
        <p data-testid="rollout-plan-summary">
          {`This page knows of no ready ${engineLabel ? `${engineLabel} ` : ""}store that needs the upgrade. The platform checks again when the rollout starts; wave sizes ${sizesText(sizes)}, then the rest.`}
        </p>
      )}
      {plan.length ? (
        <ol className="space-y-0.5 rounded-lg bg-slate-50 px-3 py-2 text-[0.8125rem] ring-1 ring-slate-200 ring-inset">
          {plan.map((size, i) => (
            <li key={i} data-testid="rollout-plan-wave">
              <span className="font-medium text-slate-900">Wave {i + 1}</span> · {storesText(size)} · {haltRule(size, share)}
            </li>
          ))}
        </ol>
      ) : null}
      <p data-testid="rollout-plan-halt">
        {`It halts by itself when more than ${percentText(share)} of a wave's upgrades fail: later waves are not started and their stores are not touched until you resume it.`}
      </p>
      <p>
        Each store's upgrade is verified with a test order and rolls that store back by itself if a step fails. You can
        follow every wave on the rollout's page, and cancel it while it runs.
      </p>
    </div>
  );
}
