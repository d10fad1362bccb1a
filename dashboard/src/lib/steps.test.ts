import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import type { CurrentRun, StepStatus } from "../api/types";
import { formatClock } from "./format";
import {
  countedSteps,
  isRollbackStep,
  plainStepError,
  ROLLBACK_STEPS,
  plainWaiting,
  queueWords,
  runPercent,
  STEP_LABELS,
  stepLabel,
  stepSituation,
  TYPICAL_SECONDS,
  typicalSeconds,
  weightedPercent,
  WORKFLOW_STEP_LABELS,
  WORKFLOW_STEPS,
} from "./steps";

// The workflows as the Rust crates define them.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const source = (file: string) => fs.readFileSync(path.join(repo, file), "utf8");
const STORE_RS = source("workflows/src/store.rs");
const CLEANUP_RS = source("workflows/src/cleanup.rs");
const ENGINES = { woocommerce: source("executors/src/woocommerce.rs"), medusa: source("executors/src/medusa.rs") };

/**
 * Step names in order of appearance: `StepDef::new("…"`, `values_step("…"` and
 * `rollout_wait("…"` (the upgrade's waits).
 */
function stepNames(text: string): string[] {
  return [...text.matchAll(/(?:StepDef::new|values_step|rollout_wait)\(\s*"([^"]+)"/g)].map((m) => m[1]);
}

function between(text: string, start: string, end?: string): string {
  const from = text.indexOf(start);
  expect(from, `${start} not found`).toBeGreaterThanOrEqual(0);
  const to = end ? text.indexOf(end, from + start.length) : text.length;
  return text.slice(from, to < 0 ? text.length : to);
}

/** The body of `fn <name>(` in an engine's file: up to the next `fn` of the impl. */
function fnBody(file: string, name: string): string {
  const start = file.indexOf(`fn ${name}(`);
  expect(start, `fn ${name} not found`).toBeGreaterThanOrEqual(0);
  const next = file.slice(start + 3).search(/\n\s*(?:\/\/\/[^\n]*\n\s*)*(?:pub )?fn /);
  return next < 0 ? file.slice(start) : file.slice(start, start + 3 + next);
}

type EngineName = keyof typeof ENGINES;

/** Provisioning for an engine: its own steps, the engine's setup steps, publication, verification. */
function provisionSteps(engine: EngineName): string[] {
  const body = between(STORE_RS, "Definition::new(engine.provision_workflow()", "pub fn backup_workflows");
  const [beforeSetup, rest] = body.split(/engine\.setup_steps\w*\(/);
  const [beforeVerify, afterVerify] = rest.split(/engine\.verify_steps\w*\(/);
  const file = ENGINES[engine];
  const setup = stepNames(fnBody(file, "setup_steps_for"));
  const verify = stepNames(fnBody(file, "verify_steps"));
  return [...stepNames(beforeSetup), ...setup, ...stepNames(beforeVerify), ...verify, ...stepNames(afterVerify)];
}

/**
 * An engine's upgrade, as `upgrade_v1` builds it: its own steps, the engine's migrations and
 * verification, `mark-upgraded`, then the on-failure steps (the verification again, renamed
 * `<step>-after-rollback`).
 */
function upgradeSteps(engine: EngineName): string[] {
  const body = between(STORE_RS, "pub fn upgrade_v1", "pub fn teardown_store_v1");
  const [beforeMigrations, rest] = body.split(/engine\.migration_steps\(/);
  const [, beforeRollbackVerify, afterRollbackVerify] = rest.split(/engine\.verify_steps\(/);
  const file = ENGINES[engine];
  const migrations = stepNames(fnBody(file, "migration_steps"));
  const verify = stepNames(fnBody(file, "verify_steps"));
  expect(body).toContain('format!("{}-after-rollback", step.name)');
  return [
    ...stepNames(beforeMigrations),
    ...migrations,
    ...verify,
    ...stepNames(beforeRollbackVerify),
    ...verify.map((name) => `${name}-after-rollback`),
    ...stepNames(afterRollbackVerify),
  ];
}

/** The parts an engine backs up (`backup_parts`: `BackupPart { name: "database".into(), … }`). */
function backupParts(engine: EngineName): string[] {
  const file = ENGINES[engine];
  if (!file.includes("fn backup_parts(")) return [];
  return [...fnBody(file, "backup_parts").matchAll(/\bname:\s*"([^"]+)"/g)].map((m) => m[1]);
}

/** An engine's backup, as `backup_v1` builds it: `dump-<part>` per part, then its own steps (the on-failure one last). */
function backupSteps(engine: EngineName): string[] {
  const body = between(STORE_RS, "pub fn backup_v1", "fn restore_parts(");
  expect(body).toContain('format!("dump-{}", part.name)');
  return [...backupParts(engine).map((part) => `dump-${part}`), ...stepNames(body)];
}

/**
 * An engine's restore, as `restore_v1` builds it: provisioning up to `publish-values`, the
 * backup checked, `restore-<part>` per part, the engine's after-restore steps and migrations,
 * then the rest of provisioning.
 */
/** What both restores run first, as `restore_parts` builds it: `verify-backup`, then `restore-<part>` per part. */
function restorePartSteps(engine: EngineName): string[] {
  const body = between(STORE_RS, "fn restore_parts(", "pub fn restore_v1");
  expect(body).toContain('format!("restore-{}", part.name)');
  return [...stepNames(body), ...backupParts(engine).map((part) => `restore-${part}`)];
}

function restoreSteps(engine: EngineName): string[] {
  const body = between(STORE_RS, "pub fn restore_v1", "pub fn restore_in_place_v1");
  expect(body).toMatch(/restore_parts\(definition, parts\)[\s\S]*after_restore_steps\(\)[\s\S]*\.chain\(engine\.migration_steps\(\)\)/);
  const provisioning = provisionSteps(engine);
  const at = provisioning.indexOf("publish-values");
  const file = ENGINES[engine];
  return [
    ...provisioning.slice(0, at),
    ...stepNames(body),
    ...restorePartSteps(engine),
    ...stepNames(fnBody(file, "after_restore_steps")),
    ...stepNames(fnBody(file, "migration_steps")),
    ...provisioning.slice(at),
  ];
}

/**
 * An engine's restore into the same store, as `restore_in_place_v1` builds it: the backup
 * checked, `restore-<part>` per part, the engine's after-restore steps, migrations and
 * verification, then `mark-restored`. No release is installed.
 */
function restoreInPlaceSteps(engine: EngineName): string[] {
  const body = between(STORE_RS, "pub fn restore_in_place_v1", "pub fn upgrade_workflows");
  expect(body).toMatch(
    /restore_parts\([\s\S]*after_restore_steps\(\)[\s\S]*\.chain\(engine\.migration_steps\(\)\)[\s\S]*\.chain\(engine\.verify_steps\(\)\)/,
  );
  const [before, after] = body.split(/engine\s*\.after_restore_steps\(\)/);
  const file = ENGINES[engine];
  return [
    ...stepNames(before),
    ...restorePartSteps(engine),
    ...stepNames(fnBody(file, "after_restore_steps")),
    ...stepNames(fnBody(file, "migration_steps")),
    ...stepNames(fnBody(file, "verify_steps")),
    ...stepNames(after),
  ];
}

const ALL_STEPS = new Set([
  ...stepNames(STORE_RS),
  ...stepNames(CLEANUP_RS),
  ...stepNames(ENGINES.woocommerce),
  ...stepNames(ENGINES.medusa),
  ...upgradeSteps("woocommerce"),
  ...upgradeSteps("medusa"),
  ...backupSteps("woocommerce"),
  ...restoreSteps("woocommerce"),
  ...restoreInPlaceSteps("woocommerce"),
  ...backupSteps("medusa"),
  ...restoreSteps("medusa"),
  ...restoreInPlaceSteps("medusa"),
]);

describe("step labels", () => {
  it("gives every step of the store and cleanup workflows a plain label", () => {
    expect(ALL_STEPS.size).toBeGreaterThan(20);
    const missing = [...ALL_STEPS].filter((name) => !STEP_LABELS[name]);
    expect(missing).toEqual([]);
    for (const label of Object.values(STEP_LABELS)) {
      // Words, not code: no hyphenated code names, no backticks.
      expect(label).not.toMatch(/[`]|\b[a-z]+-[a-z]+\b/);
      expect(label[0]).toBe(label[0].toUpperCase());
    }
  });

  it("reads some steps differently in a restore into the same store", () => {
    for (const [workflow, labels] of Object.entries(WORKFLOW_STEP_LABELS)) {
      for (const [step, label] of Object.entries(labels)) {
        expect(WORKFLOW_STEPS[workflow]).toContain(step);
        expect(label).not.toMatch(/[`]|\b[a-z]+-[a-z]+\b/);
        expect(stepLabel(step, workflow)).toBe(label);
      }
    }
    expect(stepLabel("wp-rehome", "restore-in-place-woocommerce")).toBe("Keeping the store's address");
    expect(stepLabel("wp-rehome", "restore-woocommerce")).toBe("Moving the site to its new address");
    expect(stepLabel("set-admin-password", "rotate-credentials")).toBe("Setting the new admin password");
    expect(stepLabel("set-admin-password", "restore-in-place-woocommerce")).toBe("Keeping the store's admin password");
    expect(stepLabel("verify-backup", "restore-in-place-woocommerce")).toBe("Checking the backup");
    expect(stepLabel("mark-restored")).toBe("Finishing the restore");
  });

  it("falls back to the humanized code name for an unknown step", () => {
    expect(stepLabel("wait-ready")).toBe("Starting the store");
    expect(stepLabel("publish-values")).toBe("Preparing the public address");
    expect(stepLabel("sync-inventory_now")).toBe("Sync inventory now");
    expect(stepLabel(null)).toBe("—");
  });
});

describe("typical durations", () => {
  it("has a typical duration for every step of the store workflows", () => {
    const storeSteps = new Set([
      ...stepNames(STORE_RS),
      ...stepNames(ENGINES.woocommerce),
      ...stepNames(ENGINES.medusa),
      ...upgradeSteps("woocommerce"),
      ...upgradeSteps("medusa"),
      ...backupSteps("woocommerce"),
      ...restoreSteps("woocommerce"),
      ...restoreInPlaceSteps("woocommerce"),
      ...backupSteps("medusa"),
      ...restoreSteps("medusa"),
      ...restoreInPlaceSteps("medusa"),
    ]);
    expect([...storeSteps].filter((name) => TYPICAL_SECONDS[name] === undefined)).toEqual([]);
  });

  it("adds up to the README's real-cluster figures: WooCommerce about 10 s, Medusa about 16 s", () => {
    const total = (workflow: string) =>
      WORKFLOW_STEPS[workflow].reduce((sum, step) => sum + typicalSeconds(step, workflow), 0);
    expect(total("provision-woocommerce")).toBeGreaterThan(9);
    expect(total("provision-woocommerce")).toBeLessThan(11);
    expect(total("provision-medusa")).toBeGreaterThan(15);
    expect(total("provision-medusa")).toBeLessThan(17.5);
    // wait-ready dominates; the database-only steps are instant.
    expect(typicalSeconds("wait-ready", "provision-woocommerce") / total("provision-woocommerce")).toBeGreaterThan(0.4);
    expect(typicalSeconds("mark-ready")).toBeLessThan(0.1);
  });

  it("knows the store workflows' steps in the order the Rust definitions run them", () => {
    expect(WORKFLOW_STEPS["provision-woocommerce"]).toEqual(provisionSteps("woocommerce"));
    expect(WORKFLOW_STEPS["provision-medusa"]).toEqual(provisionSteps("medusa"));
    expect(WORKFLOW_STEPS["teardown-store"]).toEqual(
      stepNames(between(STORE_RS, "pub fn teardown_store_v1", "pub fn rotate_credentials_v1")),
    );
    expect(WORKFLOW_STEPS["rotate-credentials"]).toEqual(
      stepNames(between(STORE_RS, "pub fn rotate_credentials_v1", "pub fn reap_orphan_namespace_v1")),
    );
    expect(WORKFLOW_STEPS["upgrade-woocommerce"]).toEqual(upgradeSteps("woocommerce"));
    expect(WORKFLOW_STEPS["upgrade-medusa"]).toEqual(upgradeSteps("medusa"));
    expect(WORKFLOW_STEPS["backup-woocommerce"]).toEqual(backupSteps("woocommerce"));
    expect(WORKFLOW_STEPS["restore-woocommerce"]).toEqual(restoreSteps("woocommerce"));
    expect(WORKFLOW_STEPS["restore-in-place-woocommerce"]).toEqual(restoreInPlaceSteps("woocommerce"));
    expect(WORKFLOW_STEPS["backup-medusa"]).toEqual(backupSteps("medusa"));
    expect(WORKFLOW_STEPS["restore-medusa"]).toEqual(restoreSteps("medusa"));
    expect(WORKFLOW_STEPS["restore-in-place-medusa"]).toEqual(restoreInPlaceSteps("medusa"));
    // Medusa stores have no uploads: images are URLs in the database.
    expect(backupParts("medusa")).toEqual(["database"]);
  });

  it("knows the upgrade's on-failure steps: everything `.on_failure(…)` adds", () => {
    const body = between(STORE_RS, "pub fn upgrade_v1", "pub fn teardown_store_v1");
    const onFailure = body.slice(body.indexOf(".on_failure("));
    const [beforeVerify, afterVerify] = onFailure.split(/engine\.verify_steps\(/);
    const names = [...stepNames(beforeVerify), "verify-storefront-after-rollback", ...stepNames(afterVerify)];
    expect([...ROLLBACK_STEPS]).toEqual(names);
    for (const workflow of ["upgrade-woocommerce", "upgrade-medusa"]) {
      const steps = WORKFLOW_STEPS[workflow];
      expect(steps.slice(-ROLLBACK_STEPS.length)).toEqual([...ROLLBACK_STEPS]);
      expect(steps.slice(0, -ROLLBACK_STEPS.length).some(isRollbackStep)).toBe(false);
    }
  });
});

describe("weightedPercent", () => {
  const woo = WORKFLOW_STEPS["provision-woocommerce"];
  const at = (index: number, current: StepStatus = "running", startedAt?: string) =>
    woo.map((name, i) => ({
      name,
      status: (i < index ? "succeeded" : i === index ? current : "pending") as StepStatus,
      startedAt: i === index ? startedAt : null,
    }));
  const waitReady = woo.indexOf("wait-ready");

  it("moves with the expected time, not the step count", () => {
    // Five of fourteen steps done is 36 % by count; by time it is barely started.
    const before = weightedPercent({ steps: at(waitReady), workflow: "provision-woocommerce", runStatus: "running" });
    expect(before).toBeLessThan(15);
    // Past wait-ready, most of the time is behind.
    const after = weightedPercent({ steps: at(waitReady + 1), workflow: "provision-woocommerce", runStatus: "running" });
    expect(after).toBeGreaterThan(55);
    // The database-only last step weighs nothing: all but it done is 99 %, not 93 %.
    expect(weightedPercent({ steps: at(woo.length - 1), workflow: "provision-woocommerce", runStatus: "running" })).toBe(99);
  });

  it("counts a running step in proportion to its elapsed time, up to 90 % of it", () => {
    const started = "2026-01-01T00:00:00Z";
    const steps = at(waitReady, "running", started);
    const base = weightedPercent({ steps, workflow: "provision-woocommerce", runStatus: "running" });
    const t = (s: number) => Date.parse(started) + s * 1000;
    const p1 = weightedPercent({ steps, workflow: "provision-woocommerce", runStatus: "running", now: t(1) });
    const p3 = weightedPercent({ steps, workflow: "provision-woocommerce", runStatus: "running", now: t(3) });
    const p60 = weightedPercent({ steps, workflow: "provision-woocommerce", runStatus: "running", now: t(60) });
    expect(p1).toBeGreaterThan(base);
    expect(p3).toBeGreaterThan(p1);
    const next = weightedPercent({ steps: at(waitReady + 1), workflow: "provision-woocommerce", runStatus: "running" });
    expect(p60).toBeLessThan(next);
  });

  it("is 100 only when the run succeeded", () => {
    const all = woo.map((name) => ({ name, status: "succeeded" as StepStatus }));
    expect(weightedPercent({ steps: all, runStatus: "running" })).toBe(99);
    expect(weightedPercent({ steps: all, runStatus: "succeeded" })).toBe(100);
    expect(weightedPercent({ steps: [], runStatus: "succeeded" })).toBe(100);
  });

  it("keeps what a failed run finished, without counting the failed step", () => {
    const steps = at(waitReady, "failed", "2026-01-01T00:00:00Z");
    const failed = weightedPercent({
      steps,
      workflow: "provision-woocommerce",
      runStatus: "failed",
      now: Date.parse("2026-01-01T00:10:00Z"),
    });
    expect(failed).toBe(weightedPercent({ steps: at(waitReady), workflow: "provision-woocommerce", runStatus: "failed" }));
  });
});

describe("upgrades: skipped steps and the automatic rollback", () => {
  const upgrade = WORKFLOW_STEPS["upgrade-woocommerce"];
  const main = upgrade.filter((name) => !isRollbackStep(name));
  const of = (statuses: Record<string, StepStatus>, rest: StepStatus = "pending") =>
    upgrade.map((name) => ({ name, status: statuses[name] ?? rest, startedAt: null }));

  it("leaves the on-failure steps out while they have not started", () => {
    const running = of({ "record-release": "succeeded", "upgrade-values": "succeeded", "upgrade-chart": "running" });
    expect(countedSteps(running).map((s) => s.name)).toEqual(main);
    // All main steps done is 99 %, not a bar stuck at half way because of the rollback steps.
    const mainDone = of(Object.fromEntries(main.map((name) => [name, "succeeded" as StepStatus])));
    expect(weightedPercent({ steps: mainDone, workflow: "upgrade-woocommerce", runStatus: "running" })).toBe(99);
  });

  it("neither counts skipped steps as done nor as failed", () => {
    const succeeded = of(
      Object.fromEntries(upgrade.map((name) => [name, (isRollbackStep(name) ? "skipped" : "succeeded") as StepStatus])),
    );
    expect(countedSteps(succeeded).map((s) => s.name)).toEqual(main);
    expect(weightedPercent({ steps: succeeded, workflow: "upgrade-woocommerce", runStatus: "succeeded" })).toBe(100);
  });

  it("counts the rollback's way once it took over: the failed step passed, the skipped ones out", () => {
    const rollingBack = of({
      "record-release": "succeeded",
      "upgrade-values": "succeeded",
      "upgrade-chart": "succeeded",
      "wait-upgraded": "failed",
      "wp-core-update-db": "skipped",
      "wc-update": "skipped",
      "verify-storefront": "skipped",
      "mark-upgraded": "skipped",
      "record-upgrade-failure": "succeeded",
      "rollback-chart": "succeeded",
      "wait-rolled-back": "polling",
    });
    expect(countedSteps(rollingBack).map((s) => s.name)).toEqual([
      "record-release",
      "upgrade-values",
      "upgrade-chart",
      "wait-upgraded",
      ...ROLLBACK_STEPS,
    ]);
    const percent = weightedPercent({ steps: rollingBack, workflow: "upgrade-woocommerce", runStatus: "waiting" });
    expect(percent).toBeGreaterThan(40);
    expect(percent).toBeLessThan(80);
    // The failed step counts as passed only while the run goes on.
    const ended = weightedPercent({ steps: rollingBack, workflow: "upgrade-woocommerce", runStatus: "failed" });
    expect(ended).toBeLessThan(percent);
  });

  it("recognises the rollback's steps, however the engine's verification is named", () => {
    for (const name of ROLLBACK_STEPS) expect(isRollbackStep(name)).toBe(true);
    expect(isRollbackStep("verify-medusa-after-rollback")).toBe(true);
    expect(isRollbackStep("wait-upgraded")).toBe(false);
    expect(isRollbackStep("verify-storefront")).toBe(false);
  });

  it("weights an upgrading store's list row from its current step", () => {
    const row: CurrentRun = {
      id: "01a2412b-22d4-7471-b276-ac5cc041fa33",
      operation: "upgrade",
      workflow: "upgrade-woocommerce",
      status: "waiting",
      percent: 23,
      step: "wait-upgraded",
      stepNumber: 4,
      stepCount: 13,
      nextAttemptAt: null,
    };
    const waiting = runPercent(row);
    expect(waiting).toBeGreaterThan(5);
    expect(waiting).toBeLessThan(50);
    expect(runPercent({ ...row, step: "verify-storefront", stepNumber: 7 })).toBeGreaterThan(80);
  });
});

describe("runPercent (store list rows)", () => {
  const run = (extra: Partial<CurrentRun>): CurrentRun => ({
    id: "01a23fb5-6651-746d-9af9-011cad5c704d",
    operation: "provision",
    workflow: "provision-woocommerce",
    status: "running",
    percent: 36,
    step: "wait-ready",
    stepNumber: 6,
    stepCount: 14,
    nextAttemptAt: null,
    ...extra,
  });

  it("weights a known workflow's finished steps", () => {
    expect(runPercent(run({}))).toBeLessThan(15);
    expect(runPercent(run({ status: "succeeded", percent: 100 }))).toBe(100);
  });

  it("falls back to the API's percentage for an unknown workflow or version", () => {
    expect(runPercent(run({ workflow: "selftest" }))).toBe(36);
    expect(runPercent(run({ stepCount: 15 }))).toBe(36);
    expect(runPercent(run({ step: "something-else" }))).toBe(36);
    expect(runPercent(run({ workflow: "selftest", percent: 100 }))).toBe(99);
    expect(runPercent(null)).toBe(0);
  });
});

describe("plain words for step errors and waiting reasons", () => {
  it("words the platform's real messages", () => {
    expect(
      plainStepError(
        'step `wait-ready` failed: pod mariadb-0 container mariadb cannot start: ImagePullBackOff Back-off pulling image "mariadb:11.4"; fix the image or configuration, then retry this step',
      ),
    ).toBe("the store's software could not be downloaded onto the cluster");
    expect(plainStepError("The run was cancelled by an operator.")).toBe("it was cancelled by an operator");
    expect(plainStepError("step `wait-ready` failed after 5 attempts: timed out after 15m")).toBe(
      "the step took longer than allowed",
    );
    expect(plainStepError("still pending after 15m (the step's timeout)")).toBe("the store took too long to come up");
    expect(plainStepError("helm upgrade --install: exit status 1")).toBe("the store's software could not be installed");
    expect(plainStepError("`wp core install --path=/var/www/html` exited with 1: Error")).toBe(
      "setting up WordPress did not work",
    );
    // A restore whose backup cannot be read (as `storeflow up` answered it: the bucket's own 403
    // is not the cluster's), or does not match its manifest.
    expect(
      plainStepError(
        "reading the database: the backup bucket answered: Generic S3 error: Error performing PUT http://169.254.169.254/latest/api/token in 3.042188ms - Server returned non-2xx status code: 403 Forbidden: resolve_deny: denied destination",
      ),
    ).toBe("the platform's backup storage could not be reached");
    expect(
      plainStepError(
        "step `verify-backup` failed: the uploads of backup 01a2 does not match its checksum (SHA-256 aa of 10 bytes, the manifest says bb of 10 bytes): the object was changed or damaged in the bucket; restore another backup",
      ),
    ).toBe("the backup is damaged or incomplete, so it cannot be restored");
    expect(plainStepError("whatever")).toBe("something went wrong in this step");
    for (const text of [plainStepError("x"), plainStepError(null)]) expect(text).not.toMatch(/[`]/);

    expect(
      plainWaiting("no Kubernetes cluster is configured for this worker (set KUBECONFIG, or run it in the cluster)"),
    ).toBe("no cluster is connected to the platform yet");
    expect(plainWaiting("the Kubernetes API is unavailable (circuit open): connection refused")).toBe(
      "the cluster is not answering",
    );
    expect(plainWaiting("deployment wordpress: 0/1 ready; statefulset mariadb: 0/1 ready")).toBe(
      "the store's services are starting",
    );
    expect(plainWaiting("namespace store-1a2b3c4d is still terminating; waiting until it is gone before creating it again")).toBe(
      "an earlier copy of the store is still being removed",
    );
    expect(plainWaiting(null)).toBe("the cluster has not finished yet");
  });
});

describe("stepSituation", () => {
  const base = { name: "install-chart", maxAttempts: 5, error: null, waitingFor: null };

  it("says nothing for a first attempt that simply runs", () => {
    expect(stepSituation({ ...base, status: "running", attempt: 1 })).toBeNull();
    expect(stepSituation({ ...base, status: "succeeded", attempt: 1 })).toBeNull();
  });

  it("words a retry with its cause, time and attempt", () => {
    const next = "2026-01-01T10:42:07Z";
    const situation = stepSituation(
      { ...base, status: "retrying", attempt: 1, error: "cannot reach the Kubernetes API" },
      { nextAttemptAt: next },
    );
    expect(situation?.text).toBe(
      `Retrying: the platform could not reach its cluster — next attempt at ${formatClock(next)} (attempt 2 of 5)`,
    );
    expect(situation?.raw).toBe("cannot reach the Kubernetes API");
  });

  it("takes the waiting reason from a pending event when the step has none", () => {
    const situation = stepSituation(
      { ...base, status: "polling", attempt: 0 },
      { events: [{ kind: "pending", step: "install-chart", at: "2026-01-01T00:00:00Z", data: { waiting_for: "release r is pending-install since 3 s" } }] },
    );
    expect(situation?.text).toBe("Waiting: an earlier installation of the store is still finishing");
  });
});

describe("queueWords", () => {
  const queued: CurrentRun = {
    id: "01a23fb5-6651-746d-9af9-011cad5c704d",
    operation: "provision",
    workflow: "provision-woocommerce",
    status: "queued",
    percent: 0,
    step: "mark-provisioning",
    stepNumber: 1,
    stepCount: 14,
    nextAttemptAt: null,
  };

  it("says how many stores are ahead while every slot is taken", () => {
    expect(queueWords(queued, 4)).toBe("Waiting for a free provisioning slot: 3 stores ahead of this one.");
    expect(queueWords(queued, 2)).toBe("Waiting for a free provisioning slot: 1 store ahead of this one.");
    expect(queueWords(queued, 1)).toBe("Waiting for a free provisioning slot: this store is next.");
  });

  it("says nothing when the server does not tell or the run is not queued", () => {
    expect(queueWords(queued, undefined)).toBeNull();
    expect(queueWords(queued, 0)).toBeNull();
    expect(queueWords({ ...queued, status: "running" }, 2)).toBeNull();
    expect(queueWords(null, 1)).toBeNull();
  });
});
