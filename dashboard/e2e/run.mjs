#!/usr/bin/env node
// End-to-end suite: the built dashboard, served by the real `storeflow up` (API, worker,
// scheduler, private PostgreSQL), driven in Debian's Chromium with playwright-core.
//
//   npm run e2e                                   (from dashboard/)
//   STOREFLOW_BIN=/path/to/storeflow npm run e2e  (default ../target/debug/storeflow)
//
// Builds the dashboard when dist/ is stale (E2E_SKIP_BUILD=1 skips), starts a fresh platform per
// scenario on a free port with a throwaway data directory (e2e/platform.mjs), runs the scenarios
// with node's test runner, saves screenshots to test-results/screenshots/, prints the durations
// and figures, stops everything, and exits non-zero when a scenario fails. The full-provisioning
// scenario and the day-2 upgrades scenario (a new chart shipped by restarting storeflow with
// another HELM_CHART_PATH, a bad one rolled back) run when storeflow-fakecluster exists beside
// STOREFLOW_BIN, and are skipped with a notice otherwise; so is the fleet-rollouts scenario (three
// stores upgraded in waves to a new chart, then a crash-looping chart halting the rollout at its
// canary wave, resumed, halting again). The users scenario (user management,
// sessions, schedules, invitations with REGISTRATION=closed) needs no cluster. The
// simulated-cluster scenario (`storeflow up --simulated-cluster`) provisions a Medusa store too
// when charts/medusa-backend has its packages. The backups scenario (simulated cluster too: no
// backup bucket, so a backup stays running) covers the store page's Backups section (Back up now,
// the schedule form), the Backups page, and the restore of a backup into the same store (a
// complete backup recorded with psql; the store then `restoring`, stopped and retried).
//
//   E2E_ONLY=no-cluster | users | fake-cluster | upgrades | rollouts | simulated-cluster | backups npm run e2e   (one scenario)

import fs from "node:fs";
import { after } from "node:test";

import { buildIfNeeded, launchBrowser, screenshotDir } from "./browser.mjs";
import { withBackups } from "./scenarios/backups.mjs";
import { withFakeCluster } from "./scenarios/provisioning.mjs";
import { withSimulatedCluster } from "./scenarios/simulated.mjs";
import { withRollouts } from "./scenarios/rollouts.mjs";
import { withoutCluster } from "./scenarios/tenancy.mjs";
import { withUpgrades } from "./scenarios/upgrades.mjs";
import { withUsers } from "./scenarios/users.mjs";
import { printSummary } from "./steps.mjs";

const SCENARIOS = {
  "no-cluster": withoutCluster,
  users: withUsers,
  "fake-cluster": withFakeCluster,
  upgrades: withUpgrades,
  rollouts: withRollouts,
  "simulated-cluster": withSimulatedCluster,
  backups: withBackups,
};
const only = process.env.E2E_ONLY;
if (only && !(only in SCENARIOS)) {
  console.error(`e2e: E2E_ONLY=${only} is not a scenario (${Object.keys(SCENARIOS).join(", ")})`);
  process.exit(2);
}

const started = performance.now();
buildIfNeeded();
fs.rmSync(screenshotDir, { recursive: true, force: true });
const browser = await launchBrowser();

after(async () => {
  await browser.close();
  printSummary();
  console.log(
    `e2e: ${((performance.now() - started) / 1000).toFixed(1)} s in all (screenshots in test-results/screenshots/)`,
  );
});

for (const [name, run] of Object.entries(SCENARIOS)) {
  if (!only || only === name) run(browser);
}
