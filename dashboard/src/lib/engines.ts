// The server build's engines (`GET /engines`) in the dashboard's words: an engine by its name,
// its label. Which engines exist, their themes and what the platform can do with their stores all
// come from the registry; nothing here lists engines.

import type { Engine } from "../api/types";

/**
 * The engine named `name`: undefined while the registry is not known yet (still loading, or it
 * could not be read), null when the server has no such engine.
 */
export function findEngine(engines: readonly Engine[] | undefined, name: string): Engine | null | undefined {
  if (!engines) return undefined;
  return engines.find((engine) => engine.name === name) ?? null;
}

/** What a backup of a store of `engine` holds, in the registry's words; general words until it is known. */
export function backupContents(engine: Engine | null | undefined): string {
  return engine?.backupContents ?? "the store's data";
}

/**
 * The badge tones of engines, by their place in the registry (its first engine violet, the next
 * teal, …): an engine added to the server gets a colour of its own with no list here.
 */
export const ENGINE_TONES = ["violet", "teal", "indigo", "fuchsia", "amber", "blue"] as const;

/** An engine's badge tone ([`ENGINE_TONES`] by its place in the registry); gray while it is not known. */
export function engineTone(
  engines: readonly Pick<Engine, "name">[] | undefined,
  name: string,
): (typeof ENGINE_TONES)[number] | "gray" {
  const index = engines?.findIndex((engine) => engine.name === name) ?? -1;
  return index < 0 ? "gray" : ENGINE_TONES[index % ENGINE_TONES.length];
}

/** An engine's label ("WooCommerce"); its name while the registry is not known or has no such engine. */
export function engineLabel(engines: readonly Engine[] | undefined, name: string): string {
  return findEngine(engines, name)?.label ?? name;
}

/** Engine names in `text` ("stores of engine woocommerce") replaced by their labels. */
export function withEngineLabels(engines: readonly Engine[] | undefined, text: string): string {
  if (!engines?.length) return text;
  const names = engines.map((e) => e.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  return text.replace(new RegExp(`\\b(${names})\\b`, "g"), (name) => engineLabel(engines, name));
}
