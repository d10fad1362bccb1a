// Fleet rollouts: how their statuses look (the rollout, a wave, a store's upgrade), and how an
// error of starting one reads in the start form (a rollout already running links to it).

import { Link } from "react-router";

import { ApiError } from "../api/client";
import type { Rollout, RolloutOutcome, RolloutWave } from "../api/types";
import { errorWords } from "../lib/errorWords";
import { OUTCOME_LOOK, rolloutStatusLook, shownWaveStatus, WAVE_LOOK } from "../lib/rollouts";
import { Alert, ApiErrorAlert, Badge } from "./ui";

export function RolloutStatusBadge({ rollout }: { rollout: Pick<Rollout, "status" | "totals"> }) {
  const look = rolloutStatusLook(rollout);
  return (
    <Badge tone={look.tone} dot pulse={look.pulse}>
      <span data-rollout-status={rollout.status}>{look.label}</span>
    </Badge>
  );
}

export function WaveStatusBadge({ wave, rollout }: { wave: RolloutWave; rollout: Pick<Rollout, "status"> }) {
  const shown = shownWaveStatus(wave, rollout);
  const look = WAVE_LOOK[shown] ?? { label: shown, tone: "gray" as const };
  return (
    <Badge tone={look.tone} dot pulse={look.pulse}>
      <span data-wave-status={shown}>{look.label}</span>
    </Badge>
  );
}

export function OutcomeBadge({ outcome }: { outcome: RolloutOutcome }) {
  const look = OUTCOME_LOOK[outcome] ?? { label: outcome, tone: "gray" as const };
  return (
    <Badge tone={look.tone} dot pulse={look.pulse}>
      <span data-outcome={outcome}>{look.label}</span>
    </Badge>
  );
}

/** The running rollout a 409 `ROLLOUT_IN_PROGRESS` names. */
export function runningRolloutId(error: unknown): string | null {
  if (!(error instanceof ApiError) || error.code !== "ROLLOUT_IN_PROGRESS") return null;
  const details = error.details as { rolloutId?: unknown } | null | undefined;
  return typeof details?.rolloutId === "string" ? details.rolloutId : null;
}

/** Why a rollout did not start, in plain words; one already running is a link away. */
export function RolloutStartError({ error }: { error: unknown }) {
  const running = runningRolloutId(error);
  if (error instanceof ApiError && error.code === "ROLLOUT_IN_PROGRESS") {
    const words = errorWords(error);
    return (
      <div data-testid="rollout-start-error" data-error-code={error.code}>
        <Alert
          tone="danger"
          role="alert"
          title={words.title}
          action={
            running ? (
              <Link
                to={`/rollouts/${running}`}
                className="text-sm font-medium text-rose-900 underline underline-offset-2 hover:text-rose-700"
                data-testid="running-rollout-link"
              >
                See the running rollout
              </Link>
            ) : null
          }
        >
          {words.hint ? <p>{words.hint}</p> : null}
        </Alert>
      </div>
    );
  }
  return (
    <div data-testid="rollout-start-error" data-error-code={error instanceof ApiError ? error.code : "UNKNOWN"}>
      <ApiErrorAlert error={error} />
    </div>
  );
}
