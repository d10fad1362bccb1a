import { describe, expect, it } from "vitest";

import type { StepStatus, StepView } from "../api/types";
import { canRetryStep } from "./RunDetail";

function steps(statuses: [string, StepStatus][]): StepView[] {
  return statuses.map(([name, status], index) => ({
    index,
    name,
    status,
    attempts: status === "pending" || status === "skipped" ? 0 : 1,
    max_attempts: 5,
    timeout_ms: 300_000,
    started_at: null,
    finished_at: null,
    duration_ms: null,
    error: null,
    waiting_for: null,
    history: [],
  }));
}

describe("which failed step can be retried", () => {
  it("a provisioning run's failed step", () => {
    const run = { status: "failed" as const, steps: steps([["install-chart", "succeeded"], ["wait-ready", "failed"], ["mark-ready", "pending"]]) };
    expect(canRetryStep(run, run.steps[1])).toBe(true);
    expect(canRetryStep({ ...run, status: "running" }, run.steps[1])).toBe(false);
  });

  it("not an upgrade step the rollback took over: the store runs its previous version again", () => {
    const run = {
      status: "failed" as const,
      steps: steps([
        ["upgrade-chart", "succeeded"],
        ["wait-upgraded", "failed"],
        ["mark-upgraded", "skipped"],
        ["rollback-chart", "succeeded"],
        ["mark-rolled-back", "succeeded"],
      ]),
    };
    expect(canRetryStep(run, run.steps[1])).toBe(false);
  });

  it("the rollback's own failed step, where the store's Retry resumes too", () => {
    const run = {
      status: "failed" as const,
      steps: steps([
        ["wait-upgraded", "failed"],
        ["mark-upgraded", "skipped"],
        ["rollback-chart", "succeeded"],
        ["wait-rolled-back", "failed"],
        ["mark-rolled-back", "pending"],
      ]),
    };
    expect(canRetryStep(run, run.steps[0])).toBe(false);
    expect(canRetryStep(run, run.steps[3])).toBe(true);
  });
});
