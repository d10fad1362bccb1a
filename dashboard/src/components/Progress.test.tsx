import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { ProgressStep, StepStatus } from "../api/types";
import { foldSteps, StepTimeline, stepErrorSuggestion, waitingHeadline } from "./Progress";

function step(number: number, status: StepStatus, extra: Partial<ProgressStep> = {}): ProgressStep {
  return {
    number,
    name: `step-${number}`,
    status,
    attempt: status === "pending" ? 0 : 1,
    maxAttempts: 5,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    error: null,
    waitingFor: null,
    ...extra,
  };
}

describe("StepTimeline", () => {
  it("shows attempts, the waiting state with its next check, and errors with a suggestion", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    render(
      <StepTimeline
        steps={[
          step(1, "succeeded", { durationMs: 3 }),
          step(2, "polling", {
            attempt: 4,
            waitingFor: "the Kubernetes API is unavailable (circuit open)",
            startedAt: "2025-12-31T23:59:30Z",
          }),
          step(3, "pending"),
        ]}
        runStatus="waiting"
        nextAttemptAt="2026-01-01T00:00:12Z"
        now={now}
      />,
    );
    expect(screen.getByText("Attempt 4 of 5")).toBeTruthy();
    expect(screen.getByTestId("waiting-state").textContent).toBe("Waiting for the cluster");
    expect(screen.getByText(/Next check in 12 s/)).toBeTruthy();
    expect(document.querySelector('[data-step="step-2"]')?.getAttribute("aria-current")).toBe("step");
  });

  it("explains a failed step", () => {
    render(
      <StepTimeline
        steps={[step(1, "failed", { attempt: 5, error: "reading namespace x: cannot reach the Kubernetes API" })]}
        runStatus="failed"
        nextAttemptAt={null}
        now={Date.now()}
      />,
    );
    expect(screen.getByText("reading namespace x: cannot reach the Kubernetes API")).toBeTruthy();
    expect(screen.getByTestId("step-suggestion").textContent).toMatch(/retry the store/);
  });
});

describe("foldSteps", () => {
  it("keeps short workflows whole", () => {
    const steps = [1, 2, 3].map((n) => step(n, "pending"));
    expect(foldSteps(steps)).toHaveLength(3);
  });

  it("folds a long one around the current step", () => {
    const steps = Array.from({ length: 1000 }, (_, i) =>
      step(i + 1, i < 500 ? "succeeded" : i === 500 ? "running" : "pending"),
    );
    const items = foldSteps(steps);
    const shown = items.flatMap((item) => ("step" in item ? [item.step.number] : []));
    expect(shown).toEqual([1, 2, 499, 500, 501, 502, 503, 999, 1000]);
    const gaps = items.flatMap((item) => ("gap" in item ? [item.gap] : []));
    expect(gaps.reduce((a, b) => a + b, 0) + shown.length).toBe(1000);
  });
});

describe("words", () => {
  it("says what a step waits for and what to do about errors", () => {
    expect(waitingHeadline("the Kubernetes API is unavailable")).toBe("Waiting for the cluster");
    expect(waitingHeadline(null)).toBe("Waiting");
    expect(stepErrorSuggestion("helm upgrade failed", "failed")).toMatch(/Helm/);
    expect(stepErrorSuggestion("cannot reach the Kubernetes API", "retrying")).toMatch(/continues by itself/);
  });
});
