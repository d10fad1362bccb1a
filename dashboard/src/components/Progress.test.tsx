import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { ProgressStep, StepStatus } from "../api/types";
import { formatClock } from "../lib/format";
import { foldSteps, ProgressBar, StepTimeline, stepErrorSuggestion } from "./Progress";

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

const NOW = Date.parse("2026-01-01T00:00:00Z");
const UNREACHABLE = "reading namespace store-1a2b3c4d: cannot reach the Kubernetes API: connection refused";

describe("StepTimeline", () => {
  it("labels steps in plain words and keeps the code name on hover", () => {
    render(
      <StepTimeline
        steps={[
          step(1, "succeeded", { name: "ensure-store-secret", durationMs: 3 }),
          step(2, "running", { name: "publish-values" }),
          step(3, "pending", { name: "my-custom-step" }),
        ]}
        runStatus="running"
        nextAttemptAt={null}
        now={NOW}
      />,
    );
    const labels = screen.getAllByTestId("step-label");
    expect(labels.map((l) => l.textContent)).toEqual([
      "Creating the store's passwords",
      "Preparing the public address",
      "My custom step",
    ]);
    expect(labels[0].getAttribute("title")).toBe("Step 1: ensure-store-secret");
    // Tenants see no code names in the text.
    expect(document.body.textContent).not.toMatch(/ensure-store-secret|publish-values/);
    expect(screen.queryAllByTestId("step-code")).toHaveLength(0);
  });

  it("shows operators the code names beside the labels", () => {
    render(
      <StepTimeline steps={[step(1, "running", { name: "wait-ready" })]} runStatus="running" nextAttemptAt={null} now={NOW} operator />,
    );
    expect(screen.getByTestId("step-code").textContent).toBe("wait-ready");
    expect(screen.getByTestId("step-label").textContent).toBe("Starting the store");
  });

  it("says why a retrying step retries and when the next attempt is, with the raw error one click away", () => {
    const next = "2026-01-01T00:00:12Z";
    render(
      <StepTimeline
        steps={[
          step(1, "succeeded", { durationMs: 3 }),
          step(2, "retrying", { name: "ensure-namespace", attempt: 1, error: UNREACHABLE, startedAt: "2025-12-31T23:59:50Z" }),
          step(3, "pending"),
        ]}
        runStatus="waiting"
        nextAttemptAt={next}
        now={NOW}
      />,
    );
    const state = screen.getByTestId("retry-state");
    expect(state.textContent).toBe(
      `Retrying: the platform could not reach its cluster — next attempt at ${formatClock(next)} (attempt 2 of 5)`,
    );
    expect(formatClock(next)).toMatch(/^\d{2}:\d{2}:\d{2}$/);
    // The raw text is in a closed disclosure, not in the words.
    const details = screen.getByTestId("raw-details") as HTMLDetailsElement;
    expect(details.open).toBe(false);
    expect(within(details).getByTestId("raw-text").textContent).toBe(UNREACHABLE);
    fireEvent.click(within(details).getByText("Details"));
    expect(state.textContent).not.toContain("connection refused");
    expect(screen.getByText("Nothing to do: the platform tries again by itself.")).toBeTruthy();
  });

  it("says a running step is a retry, with the last attempt's error", () => {
    render(
      <StepTimeline
        steps={[step(1, "running", { name: "wait-ready", attempt: 3, error: "timed out after 15m" })]}
        runStatus="running"
        nextAttemptAt={null}
        now={NOW}
      />,
    );
    expect(screen.getByTestId("retry-state").textContent).toBe(
      "Retrying: the step took longer than allowed — attempt 3 of 5 is running now",
    );
  });

  it("takes the cause and the next attempt from the run's events when the step data lacks them", () => {
    render(
      <StepTimeline
        steps={[step(1, "retrying", { name: "install-chart", attempt: 2 })]}
        runStatus="waiting"
        nextAttemptAt={null}
        now={NOW}
        events={[
          { kind: "step_failed", step: "install-chart", at: "2025-12-31T23:59:00Z", data: { error: "old", will_retry: true } },
          {
            kind: "step_failed",
            step: "install-chart",
            at: "2025-12-31T23:59:58Z",
            data: { error: "helm upgrade --install failed: exit status 1", will_retry: true },
          },
          { kind: "retry_scheduled", step: "install-chart", at: "2025-12-31T23:59:58Z", data: { at: "2026-01-01T00:00:04Z" } },
        ]}
      />,
    );
    expect(screen.getByTestId("retry-state").textContent).toBe(
      `Retrying: the store's software could not be installed — next attempt at ${formatClock("2026-01-01T00:00:04Z")} (attempt 3 of 5)`,
    );
  });

  it("says what a waiting step waits for, and that waiting spends no attempt", () => {
    render(
      <StepTimeline
        steps={[
          step(1, "succeeded", { durationMs: 3 }),
          step(2, "polling", {
            attempt: 4,
            waitingFor: "the Kubernetes API is unavailable (circuit open after repeated failures); waiting",
            startedAt: "2025-12-31T23:59:30Z",
          }),
          step(3, "pending"),
        ]}
        runStatus="waiting"
        nextAttemptAt="2026-01-01T00:00:12Z"
        now={NOW}
      />,
    );
    expect(screen.getByText("Attempt 4 of 5")).toBeTruthy();
    expect(screen.getByTestId("waiting-state").textContent).toBe(
      `Waiting: the cluster is not answering — next check at ${formatClock("2026-01-01T00:00:12Z")}`,
    );
    expect(screen.getByText(/Next check in 12 s\. Waiting does not use up attempts\./)).toBeTruthy();
    expect(document.querySelector('[data-step="step-2"]')?.getAttribute("aria-current")).toBe("step");
  });

  it("explains a failed step to a tenant in plain words, raw error behind Details", () => {
    render(
      <StepTimeline
        steps={[step(1, "failed", { attempt: 5, error: UNREACHABLE })]}
        runStatus="failed"
        nextAttemptAt={null}
        now={NOW}
      />,
    );
    expect(screen.getByText("Failed: the platform could not reach its cluster.")).toBeTruthy();
    expect(screen.getByTestId("step-suggestion").textContent).toMatch(/^Retry to carry on from this step/);
    expect(screen.getByTestId("step-suggestion").textContent).not.toMatch(/storeflow|kubectl|helm|operator can/);
    expect(within(screen.getByTestId("raw-details")).getByTestId("raw-text").textContent).toBe(UNREACHABLE);
  });

  it("gives operators the raw error and the operator advice in the open", () => {
    render(
      <StepTimeline
        steps={[step(1, "failed", { attempt: 5, error: "helm upgrade failed: chart not found" })]}
        runStatus="failed"
        nextAttemptAt={null}
        now={NOW}
        operator
      />,
    );
    expect(screen.getByText("helm upgrade failed: chart not found")).toBeTruthy();
    expect(screen.getByTestId("step-suggestion").textContent).toMatch(/storeflow doctor/);
  });

  it("only marks where a run stopped when the page explains the failure above", () => {
    render(
      <StepTimeline
        steps={[step(1, "succeeded"), step(2, "failed", { error: UNREACHABLE })]}
        runStatus="failed"
        nextAttemptAt={null}
        now={NOW}
        failureShownAbove
      />,
    );
    expect(screen.getByTestId("step-stopped")).toBeTruthy();
    expect(document.body.textContent).not.toContain("connection refused");
    expect(document.body.textContent).not.toContain("could not reach");
  });
});

describe("ProgressBar", () => {
  it("reports its value", () => {
    render(<ProgressBar percent={42.4} status="running" label="Provisioning progress" />);
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("42");
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

describe("operator advice", () => {
  it("says what an operator can do about errors", () => {
    expect(stepErrorSuggestion("helm upgrade failed", "failed")).toMatch(/Helm/);
    expect(stepErrorSuggestion("cannot reach the Kubernetes API", "retrying")).toMatch(/continues by itself/);
  });
});

describe("an upgrade's steps", () => {
  const CRASH =
    "step `wait-upgraded` failed: pod wordpress-7d9f8b6c4-00000 container wordpress cannot start: CrashLoopBackOff (restarted 5 times) back-off 40s restarting failed container (image wordpress:6.8-php8.2-apache-crashloop); fix the image or configuration, then retry this step";
  const NAMES = [
    "record-release",
    "upgrade-values",
    "upgrade-chart",
    "wait-upgraded",
    "wp-core-update-db",
    "wc-update",
    "verify-storefront",
    "mark-upgraded",
    "record-upgrade-failure",
    "rollback-chart",
    "wait-rolled-back",
    "verify-storefront-after-rollback",
    "mark-rolled-back",
  ];
  const upgrade = (statuses: StepStatus[], extra: Record<string, Partial<ProgressStep>> = {}) =>
    NAMES.map((name, i) => step(i + 1, statuses[i], { name, ...extra[name] }));

  it("marks skipped steps as skipped, muted, neither done nor failed", () => {
    const statuses: StepStatus[] = [...Array(8).fill("succeeded"), ...Array(5).fill("skipped")];
    render(<StepTimeline steps={upgrade(statuses)} runStatus="succeeded" nextAttemptAt={null} now={NOW} />);
    const skipped = document.querySelectorAll('[data-step-status="skipped"]');
    expect(skipped).toHaveLength(5);
    for (const item of skipped) {
      expect(item.textContent).toContain("Skipped");
      expect(item.querySelector('[data-marker="skipped"]')).not.toBeNull();
      expect(within(item as HTMLElement).getByTestId("step-label").className).toContain("text-slate-600");
      expect(item.getAttribute("aria-current")).toBeNull();
    }
    expect(screen.getByTestId("rollback-heading").textContent).toBe("Automatic rollback: not needed");
    // The heading comes right before the first on-failure step.
    expect(screen.getByTestId("rollback-heading").nextElementSibling?.getAttribute("data-step")).toBe(
      "record-upgrade-failure",
    );
  });

  it("says the rollback runs only if a step fails, while the upgrade runs", () => {
    const statuses: StepStatus[] = ["succeeded", "running", ...Array(11).fill("pending")];
    render(<StepTimeline steps={upgrade(statuses)} runStatus="running" nextAttemptAt={null} now={NOW} />);
    expect(screen.getByTestId("rollback-heading").textContent).toBe("Automatic rollback: only if a step above fails");
  });

  it("offers no retry advice for a failed step the rollback took over", () => {
    const statuses: StepStatus[] = [
      "succeeded",
      "succeeded",
      "succeeded",
      "failed",
      "skipped",
      "skipped",
      "skipped",
      "skipped",
      "succeeded",
      "succeeded",
      "polling",
      "pending",
      "pending",
    ];
    render(
      <StepTimeline
        steps={upgrade(statuses, { "wait-upgraded": { error: CRASH } })}
        runStatus="waiting"
        nextAttemptAt={null}
        now={NOW}
      />,
    );
    expect(screen.getByTestId("rollback-heading").textContent).toBe("Automatic rollback: the upgrade failed");
    const failed = document.querySelector('[data-step="wait-upgraded"]') as HTMLElement;
    expect(failed.textContent).toContain("Failed: a part of the store keeps crashing when it starts.");
    expect(within(failed).getByTestId("step-suggestion").textContent).toBe(
      "The steps of the automatic rollback below take the store back to its previous version.",
    );
    expect(failed.textContent).not.toMatch(/Retry to carry on/);
  });
});
