// Scenario plumbing: steps run in order; once one fails the rest of its scenario is skipped
// (they depend on it), the failing page is photographed, and every step's duration is kept for
// the summary.

import { test } from "node:test";

import { shot } from "./browser.mjs";

export const durations = [];
export const figures = {};

export function scenario(name) {
  const state = { failed: false, pages: [] };
  return {
    state,
    /** Pages to photograph when a step fails. */
    watch(...pages) {
      state.pages.push(...pages);
    },
    step(title, fn, options = {}) {
      test(title, { timeout: options.timeout ?? 120_000 }, async (t) => {
        if (state.failed) {
          t.skip("an earlier step of this scenario failed");
          return;
        }
        const started = performance.now();
        try {
          await fn(t);
        } catch (error) {
          state.failed = true;
          let i = 0;
          for (const page of state.pages) {
            try {
              await shot(page, `FAILED-${name}-${title.replace(/[^a-z0-9]+/gi, "-")}-${i++}`);
            } catch {
              // The page may be gone.
            }
          }
          throw error;
        } finally {
          durations.push({ scenario: name, step: title, ms: Math.round(performance.now() - started) });
        }
      });
    },
  };
}

export function printSummary() {
  const lines = ["", "e2e durations:"];
  let total = 0;
  for (const { scenario, step, ms } of durations) {
    total += ms;
    lines.push(`  ${(ms / 1000).toFixed(2).padStart(7)} s  ${scenario} › ${step}`);
  }
  lines.push(`  ${(total / 1000).toFixed(2).padStart(7)} s  in all steps`);
  if (Object.keys(figures).length) {
    lines.push("", "e2e figures:");
    for (const [name, value] of Object.entries(figures)) lines.push(`  ${name}: ${value}`);
  }
  console.log(lines.join("\n"));
}
