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
// scenario runs when storeflow-fakecluster exists beside STOREFLOW_BIN, and is skipped with a
// notice otherwise.

import fs from "node:fs";
import { after } from "node:test";

import { buildIfNeeded, launchBrowser, screenshotDir } from "./browser.mjs";
import { withFakeCluster } from "./scenarios/provisioning.mjs";
import { withoutCluster } from "./scenarios/tenancy.mjs";
import { printSummary } from "./steps.mjs";

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

if (process.env.E2E_ONLY !== "fake-cluster") withoutCluster(browser);
if (process.env.E2E_ONLY !== "no-cluster") withFakeCluster(browser);
