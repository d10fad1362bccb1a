// Fleet rollouts in words: how a rollout, its waves and each store's upgrade read, what the
// start form plans (waves, when a wave halts), and which actions a rollout offers.

import type { Rollout, RolloutOutcome, RolloutStatus, RolloutTotals, RolloutWave, Store, WaveStatus } from "../api/types";
import { chartText } from "./upgrades";

export const DEFAULT_WAVES = [1, 5, 25];
export const DEFAULT_FAILURE_PERCENT = 20;
/** The API plans at most 8 waves: 7 sizes, then the stores left over. */
export const MAX_WAVE_SIZES = 7;

const IN_PROGRESS: RolloutStatus[] = ["queued", "running", "waiting"];

/** `queued`, `running` and `waiting` all mean the rollout is still going. */
export function isRolloutInProgress(status: RolloutStatus | null | undefined): boolean {
  return !!status && IN_PROGRESS.includes(status);
}

/** Resume only a halted rollout; cancel only one in progress (a finished or halted one: 409). */
export function rolloutActions(status: RolloutStatus): { resume: boolean; cancel: boolean } {
  return { resume: status === "halted", cancel: isRolloutInProgress(status) };
}

// ---------------------------------------------------------------------------------------------
// The start form

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** "1, 5, 25" (commas or spaces) → [1, 5, 25]; 1–7 whole numbers of at least 1. */
export function parseWaveSizes(text: string): Parsed<number[]> {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (parts.length === 0) return { ok: false, error: "Give at least one wave size, such as 1, 5, 25." };
  for (const part of parts) {
    if (!/^\d+$/.test(part)) return { ok: false, error: `“${part}” is not a whole number of stores.` };
    if (Number(part) < 1) return { ok: false, error: "Each wave has at least 1 store." };
  }
  if (parts.length > MAX_WAVE_SIZES) {
    return {
      ok: false,
      error: `At most ${MAX_WAVE_SIZES} wave sizes: the stores left over always form one more wave.`,
    };
  }
  return { ok: true, value: parts.map(Number) };
}

/** "20" or "12.5" (a percentage, 0–100) → the share the API takes (0.2, 0.125). */
export function parseFailurePercent(text: string): Parsed<number> {
  const trimmed = text.trim().replace(/%$/, "").trim();
  if (!trimmed) return { ok: false, error: "Give a percentage from 0 to 100." };
  const value = Number(trimmed);
  if (!/^\d+(\.\d+)?$/.test(trimmed) || !Number.isFinite(value) || value > 100) {
    return { ok: false, error: "Give a percentage from 0 to 100." };
  }
  return { ok: true, value: Math.round(value * 100) / 10_000 };
}

/** The wave sizes the API plans for `count` stores: `sizes` as far as they go, then the rest. */
export function planWaves(count: number, sizes: number[]): number[] {
  const waves: number[] = [];
  let left = Math.max(0, count);
  for (const size of sizes) {
    if (left === 0) break;
    const wave = Math.min(size, left);
    waves.push(wave);
    left -= wave;
  }
  if (left > 0) waves.push(left);
  return waves;
}

/** How many of a wave's `size` upgrades may fail without halting (more than `share` halts). */
export function toleratedFailures(size: number, share: number): number {
  // 0.2 × 5 is 1.0000000000000002 in floating point: a hair of slack keeps it 1.
  return Math.min(size, Math.floor(size * share + 1e-9));
}

/** "halts if any upgrade fails", "halts if more than 1 of its 5 upgrades fail", "never halts". */
export function haltRule(size: number, share: number): string {
  const tolerated = toleratedFailures(size, share);
  if (tolerated >= size) return "never halts, even if every upgrade fails";
  if (tolerated === 0) return size === 1 ? "halts if its upgrade fails" : "halts if any upgrade fails";
  return `halts if more than ${tolerated} of its ${size} upgrades fail`;
}

export function percentText(share: number): string {
  const value = Math.round(share * 1000) / 10;
  return `${value}%`;
}

/** "1 store", "3 stores", "3 WooCommerce stores". */
export function storesText(count: number, kind?: string): string {
  return `${count} ${kind ? `${kind} ` : ""}store${count === 1 ? "" : "s"}`;
}

/** "1 wave", "3 waves". */
export function wavesText(count: number): string {
  return `${count} wave${count === 1 ? "" : "s"}`;
}

/** "1, then 5, then 2" */
export function sizesText(sizes: number[]): string {
  return sizes.join(", then ");
}

export interface Candidates {
  /** Ready stores a rollout would upgrade now (a newer chart is available for them). */
  stores: Store[];
  /** Where they would go (the API answers with it too). */
  target: Store["availableUpgrade"];
  /** The directory did not hold every store: the count may be short. */
  partial: boolean;
}

/**
 * The stores a rollout would pick now, as the page knows them: ready, with an upgrade available,
 * of the chosen engine; oldest first, like the API.
 */
export function rolloutCandidates(
  stores: Store[],
  { engine, total }: { engine?: string; total?: number } = {},
): Candidates {
  const picked = stores
    .filter((s) => s.status === "ready" && !!s.availableUpgrade && (!engine || s.engine === engine))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  const target = picked[0]?.availableUpgrade ?? stores.find((s) => s.availableUpgrade)?.availableUpgrade ?? null;
  return { stores: picked, target, partial: total !== undefined && total > stores.length };
}

// ---------------------------------------------------------------------------------------------
// A rollout, its waves, its stores

type Look = { label: string; tone: "gray" | "blue" | "green" | "red" | "amber" | "indigo"; pulse?: boolean };

export function rolloutStatusLook(rollout: Pick<Rollout, "status" | "totals">): Look {
  switch (rollout.status) {
    case "queued":
      return { label: "Queued", tone: "gray", pulse: true };
    case "running":
    case "waiting":
      return { label: "Running", tone: "blue", pulse: true };
    case "succeeded":
      // Failures an operator accepted: finished, but not clean.
      return rollout.totals.failed > 0
        ? { label: "Finished with failures", tone: "amber" }
        : { label: "Succeeded", tone: "green" };
    case "halted":
      return { label: "Halted", tone: "red" };
    case "failed":
      return { label: "Failed", tone: "red" };
    case "cancelled":
      return { label: "Cancelled", tone: "gray" };
    default:
      return { label: String(rollout.status), tone: "gray" };
  }
}

/**
 * What a wave's status means now. The API leaves a wave `running` once its upgrades finished
 * until the rollout checked it (and for good when the rollout was cancelled meanwhile): shown as
 * `checking` while the rollout goes on, `cancelled` once it was cancelled.
 */
export type ShownWaveStatus = WaveStatus | "checking";

export function shownWaveStatus(wave: RolloutWave, rollout: Pick<Rollout, "status">): ShownWaveStatus {
  if (wave.status !== "running") return wave.status;
  if (rollout.status === "cancelled") return "cancelled";
  const finished = wave.stores.every((s) => s.outcome !== "pending" && s.outcome !== "upgrading");
  return finished && wave.stores.length > 0 ? "checking" : "running";
}

export const WAVE_LOOK: Record<ShownWaveStatus, Look> = {
  pending: { label: "Pending", tone: "gray" },
  running: { label: "Running", tone: "blue", pulse: true },
  checking: { label: "Checking", tone: "blue", pulse: true },
  succeeded: { label: "Succeeded", tone: "green" },
  accepted: { label: "Accepted", tone: "amber" },
  halted: { label: "Halted", tone: "red" },
  cancelled: { label: "Cancelled", tone: "gray" },
};

export const OUTCOME_LOOK: Record<RolloutOutcome, Look> = {
  pending: { label: "Not started", tone: "gray" },
  upgrading: { label: "Upgrading", tone: "indigo", pulse: true },
  upgraded: { label: "Upgraded", tone: "green" },
  failed: { label: "Failed", tone: "red" },
  skipped: { label: "Skipped", tone: "gray" },
};

export interface WaveCounts {
  size: number;
  upgraded: number;
  failed: number;
  skipped: number;
  upgrading: number;
  pending: number;
  /** Upgrades started (what the halting share is computed over: skipped stores do not count). */
  started: number;
}

export function waveCounts(wave: RolloutWave): WaveCounts {
  const count = (outcome: RolloutOutcome) => wave.stores.filter((s) => s.outcome === outcome).length;
  const counts = {
    size: wave.stores.length,
    upgraded: count("upgraded"),
    failed: count("failed"),
    skipped: count("skipped"),
    upgrading: count("upgrading"),
    pending: count("pending"),
  };
  return { ...counts, started: counts.upgraded + counts.failed + counts.upgrading };
}

function failedOf(c: WaveCounts): string {
  return `${c.failed} of ${c.started} upgrade${c.started === 1 ? "" : "s"} failed`;
}

function skippedPart(c: WaveCounts): string {
  return c.skipped ? `; ${c.skipped} skipped` : "";
}

/** One sentence about a wave: what happened to its stores, and what its status means. */
export function waveText(wave: RolloutWave, rollout: Pick<Rollout, "status" | "maxFailureShare" | "waves">): string {
  const c = waveCounts(wave);
  const allowed = percentText(rollout.maxFailureShare);
  const shown = shownWaveStatus(wave, rollout);
  switch (shown) {
    case "pending": {
      if (rollout.status === "halted" || rollout.status === "failed")
        return `Not started: the rollout stopped before this wave. Its ${storesText(c.size)} ${c.size === 1 ? "was" : "were"} not touched.`;
      if (wave.number === 1) return "Starts in a moment.";
      return `Starts once wave ${wave.number - 1} has finished and no more than ${allowed} of its upgrades failed.`;
    }
    case "running": {
      const done = c.upgraded + c.failed;
      const parts = [`${done} of ${c.started} upgrade${c.started === 1 ? "" : "s"} finished`];
      if (c.failed) parts.push(`${c.failed} failed`);
      if (c.upgrading) parts.push(`${c.upgrading} in progress`);
      return `${parts.join(", ")}${skippedPart(c)}.`;
    }
    case "checking":
      return `Every upgrade of this wave finished (${c.upgraded} upgraded, ${c.failed} failed${skippedPart(c)}): the rollout is checking whether it may go on.`;
    case "succeeded": {
      if (c.failed === 0 && c.skipped === 0)
        return c.size === 1 ? "The store was upgraded." : `All ${c.size} stores were upgraded.`;
      if (c.failed === 0) return `${c.upgraded} upgraded${skippedPart(c)}.`;
      return `${failedOf(c)}, within the ${allowed} allowed: the rollout went on${skippedPart(c)}.`;
    }
    case "accepted":
      return `${failedOf(c)}, more than the ${allowed} allowed; an operator accepted this and resumed the rollout.`;
    case "halted": {
      const next = rollout.waves.find((w) => w.number === wave.number + 1);
      return `${failedOf(c)}, more than the ${allowed} allowed: the rollout halted here${
        next ? ` and wave ${next.number} was not started` : ""
      }. Each failed upgrade rolls its store back by itself.`;
    }
    case "cancelled":
      return c.upgraded + c.failed + c.upgrading > 0
        ? "The rollout was cancelled during this wave: upgrades that had not started were cancelled, their stores stay as they were."
        : "Not started: the rollout was cancelled. Its stores were not touched.";
  }
}

/** The wave that halted the rollout (the last halted one). */
export function haltingWave(rollout: Pick<Rollout, "waves">): RolloutWave | null {
  return [...rollout.waves].reverse().find((w) => w.status === "halted") ?? null;
}

/**
 * The API's reason for a halt without the engine's wrapping ("step `check-wave-1` failed: ") and
 * without its advice (the page offers the actions that apply: a halted rollout cannot be
 * cancelled, whatever the API's text says).
 */
export function haltReason(error: string | null | undefined): string | null {
  if (!error) return null;
  let text = error.trim().replace(/^step `[^`]+` failed:\s*/, "");
  text = text.replace(/\s*Resume the rollout\b.*$/s, "").trim();
  if (!text) return null;
  text = text[0].toUpperCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** The alert's title for a halted rollout, from its waves. */
export function haltTitle(rollout: Pick<Rollout, "waves" | "maxFailureShare">): string {
  const wave = haltingWave(rollout);
  if (!wave) return "The rollout halted";
  const c = waveCounts(wave);
  const share = c.started ? percentText(c.failed / c.started) : "0%";
  return `Wave ${wave.number} halted the rollout: ${failedOf(c)} (${share}, more than the ${percentText(rollout.maxFailureShare)} allowed)`;
}

/** The waves after the halting one: not started, their stores untouched. */
export function wavesAfterHalt(rollout: Pick<Rollout, "waves">): RolloutWave[] {
  const wave = haltingWave(rollout);
  return wave ? rollout.waves.filter((w) => w.number > wave.number) : [];
}

/** What resuming does, for its confirmation. */
export function resumeText(rollout: Pick<Rollout, "waves" | "maxFailureShare">): string {
  const wave = haltingWave(rollout);
  if (!wave) return "Resuming accepts the failures of the wave that halted the rollout and starts the next wave.";
  const c = waveCounts(wave);
  const next = rollout.waves.find((w) => w.number === wave.number + 1);
  const stay = c.failed === 1 ? "the failed store stays on its previous version" : "the failed stores stay on their previous version";
  const accepted = `Resuming accepts the failures of wave ${wave.number} (${failedOf(c)}; ${stay})`;
  if (!next) return `${accepted}. Wave ${wave.number} was the last: the rollout then finishes, and no other store is upgraded.`;
  return `${accepted} and starts wave ${next.number} (${storesText(next.stores.length)}). Each later wave still halts the rollout by itself when more than ${percentText(rollout.maxFailureShare)} of its upgrades fail.`;
}

/** What cancelling does, for its confirmation, with the counts of right now. */
export function cancelText(rollout: Pick<Rollout, "totals">): string[] {
  const { upgrading, pending } = rollout.totals;
  return [
    `Upgrades still waiting for their turn are cancelled and their stores stay ready on the version they run${
      pending ? ` (${storesText(pending)} not started yet)` : ""
    }; later waves never start.`,
    upgrading
      ? `${upgrading === 1 ? "The upgrade" : `The ${upgrading} upgrades`} running right now ${upgrading === 1 ? "is" : "are"} cancelled too: ${upgrading === 1 ? "that store" : "those stores"} may need a retry from ${upgrading === 1 ? "its" : "their"} store page.`
      : "Upgrades running at that moment are cancelled too: their stores may need a retry from their store page.",
    "Stores already upgraded stay upgraded.",
  ];
}

/** "3 upgraded · 1 failed · 2 not started" (only what is not zero), or "No stores". */
export function totalsText(totals: RolloutTotals): string {
  const parts: string[] = [];
  if (totals.upgraded) parts.push(`${totals.upgraded} upgraded`);
  if (totals.failed) parts.push(`${totals.failed} failed`);
  if (totals.upgrading) parts.push(`${totals.upgrading} upgrading`);
  if (totals.skipped) parts.push(`${totals.skipped} skipped`);
  if (totals.pending) parts.push(`${totals.pending} not started`);
  return parts.length ? parts.join(" · ") : "No stores";
}

export function totalStores(totals: RolloutTotals): number {
  return totals.upgraded + totals.failed + totals.skipped + totals.pending + totals.upgrading;
}

/** Stores whose part of the rollout is over (upgraded, failed or skipped), in percent. */
export function donePercent(totals: RolloutTotals): number {
  const all = totalStores(totals);
  return all ? Math.round(((totals.upgraded + totals.failed + totals.skipped) / all) * 100) : 0;
}

/** "Rollout to chart 2.2.0 (app 2.2.0)". */
export function rolloutTitle(rollout: Pick<Rollout, "target">): string {
  return `Rollout to ${chartText(rollout.target)}`;
}

/** The wave in progress, for the list ("wave 2 of 3"). */
export function currentWave(rollout: Pick<Rollout, "status" | "waves">): RolloutWave | null {
  if (!isRolloutInProgress(rollout.status)) return null;
  return (
    rollout.waves.find((w) => w.status === "running") ??
    rollout.waves.find((w) => w.status === "pending") ??
    null
  );
}
