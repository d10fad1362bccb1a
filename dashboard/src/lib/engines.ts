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
