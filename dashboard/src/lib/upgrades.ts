// Day-2 upgrades in words: a store's versions, what an upgrade would bring, and how its last
// upgrade went (succeeded, rolling back, rolled back), from the store's `versions`,
// `availableUpgrade` and `lastUpgrade`.

import type { LastUpgrade, Store, StoreVersions } from "../api/types";
import { asSentence, plainStepError, stepLabel } from "./steps";

/**
 * "Chart 2.1.0 · app 2.1.0"; "unknown" for what the API does not know (stores provisioned
 * before versions were recorded).
 */
export function versionsText(versions: StoreVersions | null | undefined): string {
  if (!versions || (!versions.chart && !versions.app)) return "Unknown";
  return `Chart ${versions.chart ?? "unknown"} · app ${versions.app ?? "unknown"}`;
}

/** "chart 2.2.0 (app 2.2.0)", "chart 2.2.0", "chart unknown". */
export function chartText(versions: StoreVersions | null | undefined): string {
  const chart = `chart ${versions?.chart ?? "unknown"}`;
  return versions?.app ? `${chart} (app ${versions.app})` : chart;
}

/** "Upgrade to chart 2.2.0 (app 2.2.0)": the action's label. */
export function upgradeLabel(target: StoreVersions): string {
  return `Upgrade to ${chartText(target)}`;
}

/** “Starting the new version”, or “a step” when the API did not say which. */
function quotedStep(step: string | null | undefined): string {
  return step ? `“${stepLabel(step)}”` : "a step";
}

export type UpgradeNotice =
  | {
      kind: "upgrading";
      title: string;
      text: string;
    }
  | {
      kind: "rolling_back" | "rolled_back";
      title: string;
      text: string;
      /** Why it failed, in plain words. */
      reason: string;
      /** The API's error text (scrubbed of secrets). */
      raw: string | null;
      step: string | null;
    };

/**
 * What the store page says about an upgrade in the main column: while one runs, what it does
 * (or that it failed and is rolling back, and why); once a failed one was rolled back, that the
 * store runs its previous version again, verified. Null otherwise (a succeeded upgrade is a line
 * in the version card: `succeededText`).
 */
export function upgradeNotice(
  store: Pick<Store, "status" | "versions" | "availableUpgrade" | "lastUpgrade" | "currentRun">,
): UpgradeNotice | null {
  const last = store.lastUpgrade;
  if (store.status === "upgrading") {
    // `lastUpgrade` may still be an earlier upgrade's outcome: only this run's counts.
    if (last?.status === "rolling_back" && (!store.currentRun || last.runId === store.currentRun.id)) {
      return {
        kind: "rolling_back",
        title: `Upgrade failed at ${quotedStep(last.failedStep)}: rolling back to ${chartText(last.from)}`,
        text: `The store is put back on ${chartText(last.from)} and verified again with a test order. Nothing to do: it is ready again once that passes.`,
        reason: asSentence(plainStepError(last.error)),
        raw: last.error ?? null,
        step: last.failedStep ?? null,
      };
    }
    const from = store.versions;
    const to = store.availableUpgrade;
    return {
      kind: "upgrading",
      title:
        to && to.chart !== from?.chart
          ? `Upgrading from ${chartText(from)} to ${chartText(to)}`
          : `Applying ${chartText(to ?? from)} again`,
      text: `The store is verified with a real test order at the end. If any step fails, it is rolled back to ${chartText(from)} automatically and verified again.`,
    };
  }
  if (store.status === "ready" && last?.status === "rolled_back") {
    const attempted = last.to?.chart ? `The upgrade to ${chartText(last.to)}` : "The upgrade";
    return {
      kind: "rolled_back",
      title: `${attempted} failed at ${quotedStep(last.failedStep)} and was rolled back`,
      text: `The store runs ${chartText(last.from)} again and was verified again with a test order.`,
      reason: asSentence(plainStepError(last.error)),
      raw: last.error ?? null,
      step: last.failedStep ?? null,
    };
  }
  return null;
}

/** "Upgraded from chart 2.1.0 to 2.2.0" for a succeeded last upgrade; null otherwise. */
export function succeededText(last: LastUpgrade | null | undefined): string | null {
  if (last?.status !== "succeeded") return null;
  const from = last.from?.chart ?? "unknown";
  const to = last.to?.chart ?? "unknown";
  return from === to ? `Chart ${to} applied again and verified` : `Upgraded from chart ${from} to ${to}`;
}

/** Whether the store page offers the upgrade: a ready store with a newer chart to go to. */
export function canOfferUpgrade(store: Pick<Store, "status" | "availableUpgrade">): boolean {
  return store.status === "ready" && !!store.availableUpgrade;
}
