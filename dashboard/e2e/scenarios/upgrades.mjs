// Day-2 upgrades against the fake cluster: a tenant's WooCommerce store is ready on the chart
// this build ships; a new build ships chart 2.2.0 (a newer WordPress image) and storeflow is
// restarted with it; the tenant sees the upgrade but may not start it (403, in plain words);
// the operator upgrades from the store page and the page ends on 2.2.0 with "Upgraded from …".
// Then a bad build, chart 2.3.0, whose WordPress image crash-loops: the upgrade fails, rolls
// back by itself, and both pages say so, with the store still on 2.2.0; its run offers no step
// retry. Then a rollback that cannot finish (the cluster cannot pull the store's images): the
// store fails, and the tenant's Retry resumes the rollback once the cluster heals. Skipped, with
// a notice, when the fake cluster's binary has not been built.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe } from "node:test";

import { assertNoProblems, eventually, expectText, expectVisible, newPerson, shot } from "../browser.mjs";
import { assertContrast } from "../contrast.mjs";
import { fakeClusterAvailable, fakeClusterBin, repoDir, startPlatform } from "../platform.mjs";
import { figures, scenario } from "../steps.mjs";
import { expectPlainStepLabels, readableText, register } from "./tenancy.mjs";

const STORE_CHART = path.join(repoDir, "charts", "ecommerce-store");
const SHIPPED_TAG = "    tag: 6.7-php8.2-apache\n";

/** The `version` and `appVersion` of a chart's Chart.yaml. */
export function chartVersions(dir) {
  const text = fs.readFileSync(path.join(dir, "Chart.yaml"), "utf8");
  const field = (name) => /^(\S+):\s*"?([^"\s#]+)"?/m.exec(text.split("\n").find((l) => l.startsWith(`${name}:`)) ?? "")?.[2];
  return { chart: field("version"), app: field("appVersion") };
}

/**
 * A copy of the store chart under `parent/chart-<version>` as a later build would ship it: its
 * `version` and `appVersion` set to `version`, the WordPress image tag replaced by `tag`.
 */
export function shipChart(parent, version, tag) {
  const target = path.join(parent, `chart-${version}`);
  fs.cpSync(STORE_CHART, target, { recursive: true });
  const chartYaml = path.join(target, "Chart.yaml");
  const lines = fs
    .readFileSync(chartYaml, "utf8")
    .split("\n")
    .map((line) =>
      line.startsWith("version:") ? `version: ${version}` : line.startsWith("appVersion:") ? `appVersion: "${version}"` : line,
    );
  fs.writeFileSync(chartYaml, lines.join("\n"));
  const valuesYaml = path.join(target, "values.yaml");
  const values = fs.readFileSync(valuesYaml, "utf8");
  assert.ok(values.includes(SHIPPED_TAG), `values.yaml has no line ${JSON.stringify(SHIPPED_TAG)}`);
  fs.writeFileSync(valuesYaml, values.replace(SHIPPED_TAG, `    tag: ${tag}\n`));
  assert.deepEqual(chartVersions(target), { chart: version, app: version });
  return target;
}

/** The image of a deployment's first container, read from the fake cluster's API server. */
export async function deploymentImage(platform, namespace, name) {
  const answer = await fetch(`${platform.cluster.server}/apis/apps/v1/namespaces/${namespace}/deployments/${name}`);
  if (!answer.ok) return `(${answer.status})`;
  const deployment = await answer.json();
  return deployment?.spec?.template?.spec?.containers?.[0]?.image ?? "(none)";
}

export function withUpgrades(browser) {
  const available = fakeClusterAvailable();
  if (!available) {
    console.log(`NOTICE: ${fakeClusterBin()} is missing: the upgrades scenario is skipped.`);
  }
  describe("day-2 upgrades against the fake cluster", { skip: !available && "the fake cluster binary is missing" }, () => {
    let platform;
    let ops;
    let tenant;
    let charts;
    const { step, watch } = scenario("upgrades");
    const ctx = {};

    before(async () => {
      charts = fs.mkdtempSync(path.join(os.tmpdir(), "storeflow-e2e-charts-"));
      platform = await startPlatform({ name: "upgrades", fakeCluster: true });
      console.log(`platform with fake cluster up at ${platform.baseUrl} (upgrades)`);
    });
    after(async () => {
      await ops?.context.close().catch(() => undefined);
      await tenant?.context.close().catch(() => undefined);
      await platform?.stop();
      if (charts) fs.rmSync(charts, { recursive: true, force: true });
    });

    /** Restarts storeflow (API and worker: one `storeflow up`) with another store chart. */
    const ship = async (chart) => {
      const restartedIn = await platform.restart({ env: { HELM_CHART_PATH: chart } });
      // The live streams broke with the restart and the pages' calls were refused meanwhile.
      for (const person of [ops, tenant]) if (person) person.problems.length = 0;
      return restartedIn;
    };

    step(
      "a tenant's store is ready on the shipped chart: versions shown, nothing to upgrade",
      async () => {
        ops = await newPerson(browser, platform.baseUrl);
        tenant = await newPerson(browser, platform.baseUrl);
        watch(ops.page, tenant.page);
        await register(ops.page, { email: "ops@example.com", username: "ops" });
        const { page } = tenant;
        await register(page, { email: "tenant@example.com", username: "tenant" });
        await page.goto("/stores/new");
        await page.getByLabel("Name", { exact: true }).fill("upgrade-shop");
        await page.getByRole("button", { name: "Create store" }).click();
        await page.waitForURL(/\/stores\/store-[0-9a-f]{8}$/);
        ctx.url = new URL(page.url()).pathname;
        ctx.id = ctx.url.split("/").pop();
        await expectVisible(page.locator('[data-status="ready"]'), { timeout: 120_000 });
        ctx.shipped = chartVersions(STORE_CHART);
        await expectText(page.getByTestId("store-versions"), `Chart ${ctx.shipped.chart} · app ${ctx.shipped.app}`);
        assert.equal(await page.getByTestId("upgrade-store").count(), 0, "no upgrade action");
        assert.equal(await page.getByTestId("upgrade-available").count(), 0, "no upgrade marker");
        ctx.imageBefore = await deploymentImage(platform, ctx.id, "wordpress");
        assert.match(ctx.imageBefore, /6\.7-php8\.2-apache$/);
        await shot(page, "50-upgrades-ready-on-shipped-chart");
        assertNoProblems(tenant, "ready store");
      },
      { timeout: 150_000 },
    );

    step(
      "a new build ships chart 2.2.0: the tenant sees the upgrade, but may not start it",
      async () => {
        ctx.good = shipChart(charts, "2.2.0", "6.8-php8.2-apache");
        figures["upgrades: storeflow restart with chart 2.2.0"] = `${await ship(ctx.good)} ms`;
        const { page } = tenant;
        await page.goto("/stores");
        const row = page.locator(`[data-store-row="${ctx.id}"]`);
        await expectVisible(row.getByTestId("upgrade-marker"));
        await expectText(row.getByTestId("store-chart"), `Chart ${ctx.shipped.chart}`);
        await page.goto(ctx.url);
        await expectText(page.getByTestId("upgrade-available"), "Upgrade available");
        await expectText(page.getByTestId("available-upgrade"), "Chart 2.2.0 (app 2.2.0) is available.");
        await page.getByRole("button", { name: "Upgrade to chart 2.2.0 (app 2.2.0)" }).click();
        const dialog = page.getByRole("dialog");
        await expectText(dialog, "Upgrade upgrade-shop to chart 2.2.0 (app 2.2.0)?");
        await expectText(dialog.getByTestId("upgrade-safety"), "rolled back to chart 2.1.0 (app 2.1.0) automatically");
        await dialog.getByRole("button", { name: "Upgrade store" }).click();
        const refusal = dialog.getByRole("alert");
        await expectText(refusal, "Store upgrades are started by operators on this platform.");
        await expectText(refusal, "Ask your platform's administrators to upgrade this store.");
        assert.doesNotMatch((await dialog.textContent()) ?? "", /TENANT_UPGRADES/);
        await shot(page, "51-upgrades-tenant-refused", { fullPage: false });
        await assertContrast(page, "upgrade refused (tenant)");
        await dialog.getByRole("button", { name: "Cancel" }).click();
        await eventually(async () => (await page.getByTestId("upgrade-store").count()) === 0, {
          message: "the upgrade action to go once refused",
        });
        await expectText(page.getByTestId("available-upgrade"), "Upgrades are started by operators on this platform");
        // Refused means nothing happened.
        await expectVisible(page.locator('[data-status="ready"]'));
        assertNoProblems(tenant, "upgrade refused");
      },
      { timeout: 90_000 },
    );

    step(
      "the operator upgrades it from the store page, watches it, and the page ends on 2.2.0",
      async () => {
        const { page } = ops;
        await page.goto("/stores");
        const row = page.locator(`[data-store-row="${ctx.id}"]`);
        await expectVisible(row.getByTestId("upgrade-marker"));
        await shot(page, "52-upgrades-operator-store-list");
        await assertContrast(page, "store list with an upgrade marker");
        await row.getByRole("link", { name: "upgrade-shop" }).click();
        await page.waitForURL(new RegExp(`${ctx.url}$`));
        await expectVisible(page.locator('[data-live="open"]'));
        await page.getByRole("button", { name: "Upgrade to chart 2.2.0 (app 2.2.0)" }).click();
        const dialog = page.getByRole("dialog");
        await expectText(dialog.getByTestId("upgrade-what"), "verified with a real test order");
        await shot(page, "53-upgrades-operator-confirm", { fullPage: false });
        await assertContrast(page, "upgrade confirmation");
        const started = Date.now();
        await dialog.getByRole("button", { name: "Upgrade store" }).click();
        // Sample the page while the upgrade runs: what a person watching sees.
        const seen = { statuses: new Set(), steps: new Set(), titles: new Set(), shot: false };
        await eventually(
          async () => {
            const now = await page.evaluate(() => ({
              status: document.querySelector("[data-status]")?.getAttribute("data-status"),
              step: document.querySelector('[data-step][aria-current="step"]')?.getAttribute("data-step") ?? null,
              title: document.querySelector('[data-testid="upgrade-title"]')?.textContent ?? null,
              versions: document.querySelector('[data-testid="store-versions"]')?.textContent ?? "",
            }));
            seen.statuses.add(now.status);
            if (now.step) seen.steps.add(now.step);
            if (now.title) seen.titles.add(now.title);
            if (now.status === "upgrading" && !seen.shot) {
              seen.shot = true;
              await shot(page, "54-upgrades-upgrading");
            }
            return now.status === "ready" && now.versions === "Chart 2.2.0 · app 2.2.0";
          },
          { timeout: 120_000, interval: 150, message: "the store to be ready on chart 2.2.0" },
        );
        figures["upgrades: upgrade to ready on 2.2.0 (browser view)"] = `${Date.now() - started} ms`;
        figures["upgrades: what the page showed while upgrading"] =
          `statuses ${[...seen.statuses].join(" → ")}; steps ${[...seen.steps].join(", ") || "(none sampled)"}`;
        assert.ok(seen.statuses.has("upgrading"), `the page showed the upgrade running: ${[...seen.statuses]}`);
        assert.ok(
          [...seen.titles].includes("Upgrading from chart 2.1.0 (app 2.1.0) to chart 2.2.0 (app 2.2.0)"),
          `the upgrade notice: ${[...seen.titles]}`,
        );
        await expectText(page.getByTestId("upgrade-succeeded"), /^Upgraded from chart 2\.1\.0 to 2\.2\.0 (just now|\d+ s ago)$/);
        await expectText(page.getByTestId("progress-summary"), "The store is upgraded and verified with a test order.");
        await expectText(page.getByTestId("progress-percent"), "100%");
        // The rollback was not needed: its steps are skipped, muted, not counted.
        assert.equal(await page.locator('[data-step-status="skipped"]').count(), 5);
        await expectText(page.getByTestId("rollback-heading"), "Automatic rollback: not needed");
        const labels = await expectPlainStepLabels(page);
        assert.equal(labels["wait-upgraded"], "Starting the new version");
        assert.equal(labels["verify-storefront"], "Placing a test order");
        assert.equal(await page.getByTestId("upgrade-store").count(), 0, "nothing more to upgrade to");
        assert.equal(await page.getByTestId("upgrade-title").count(), 0, "no notice once upgraded");
        // The worker installed the new chart: the new image runs.
        ctx.imageAfter = await deploymentImage(platform, ctx.id, "wordpress");
        assert.match(ctx.imageAfter, /6\.8-php8\.2-apache$/);
        figures["upgrades: WordPress image"] = `${ctx.imageBefore} → ${ctx.imageAfter}`;
        await shot(page, "55-upgrades-upgraded");
        await assertContrast(page, "upgraded store");
        // The tenant's page follows, live.
        await expectText(tenant.page.getByTestId("store-versions"), "Chart 2.2.0 · app 2.2.0", { timeout: 30_000 });
        await expectText(tenant.page.getByTestId("upgrade-succeeded"), "Upgraded from chart 2.1.0 to 2.2.0");
        assertNoProblems(ops, "upgrade");
        assertNoProblems(tenant, "upgrade (tenant)");
      },
      { timeout: 180_000 },
    );

    step(
      "a bad build, chart 2.3.0, crash-loops: the upgrade rolls back by itself, the store stays on 2.2.0",
      async () => {
        ctx.bad = shipChart(charts, "2.3.0", "6.8-php8.2-apache-crashloop");
        figures["upgrades: storeflow restart with chart 2.3.0"] = `${await ship(ctx.bad)} ms`;
        const { page } = ops;
        await page.goto(ctx.url);
        await tenant.page.goto(ctx.url);
        await expectVisible(page.locator('[data-live="open"]'));
        await page.getByRole("button", { name: "Upgrade to chart 2.3.0 (app 2.3.0)" }).click();
        const started = Date.now();
        await page.getByRole("dialog").getByRole("button", { name: "Upgrade store" }).click();
        const seen = { kinds: new Set(), rollingBack: null, shot: false };
        await eventually(
          async () => {
            const now = await page.evaluate(() => ({
              status: document.querySelector("[data-status]")?.getAttribute("data-status"),
              kind: document.querySelector("[data-upgrade-notice]")?.getAttribute("data-upgrade-notice") ?? null,
              title: document.querySelector('[data-testid="upgrade-title"]')?.textContent ?? null,
            }));
            if (now.kind) seen.kinds.add(now.kind);
            if (now.kind === "rolling_back" && !seen.shot) {
              seen.shot = true;
              seen.rollingBack = now.title;
              await shot(page, "56-upgrades-rolling-back");
            }
            return now.status === "ready" && now.kind === "rolled_back";
          },
          { timeout: 150_000, interval: 150, message: "the failed upgrade to be rolled back" },
        );
        figures["upgrades: bad upgrade to rolled back and verified (browser view)"] = `${Date.now() - started} ms`;
        figures["upgrades: notices the page showed"] = [...seen.kinds].join(" → ");
        if (seen.rollingBack) {
          assert.equal(seen.rollingBack, "Upgrade failed at “Starting the new version”: rolling back to chart 2.2.0 (app 2.2.0)");
        }
        await expectText(
          page.getByTestId("upgrade-title"),
          "The upgrade to chart 2.3.0 (app 2.3.0) failed at “Starting the new version” and was rolled back",
        );
        await expectText(
          page.getByTestId("upgrade-text"),
          "The store runs chart 2.2.0 (app 2.2.0) again and was verified again with a test order.",
        );
        await expectText(page.getByTestId("upgrade-reason"), "A part of the store keeps crashing when it starts.");
        // Operators read the error itself in the open (scrubbed by the API).
        const notice = page.locator("[data-upgrade-notice]");
        await expectText(notice.getByTestId("raw-text"), /CrashLoopBackOff/);
        await expectText(page.getByTestId("store-versions"), "Chart 2.2.0 · app 2.2.0");
        assert.equal(await page.getByTestId("upgrade-succeeded").count(), 0, "the earlier success is not the last upgrade any more");
        await expectText(page.getByTestId("progress-summary"), "The upgrade failed; the store was rolled back and verified again.");
        assert.match(await deploymentImage(platform, ctx.id, "wordpress"), /6\.8-php8\.2-apache$/);
        // The same upgrade stays on offer, for once the cause is fixed.
        await expectVisible(page.getByRole("button", { name: "Upgrade to chart 2.3.0 (app 2.3.0)" }));
        await shot(page, "57-upgrades-rolled-back-operator");
        await assertContrast(page, "rolled-back upgrade (operator)");

        // The tenant: plain words, the raw error one click away, once.
        const { page: t } = tenant;
        await expectVisible(t.locator('[data-upgrade-notice="rolled_back"]'), { timeout: 30_000 });
        await expectText(t.getByTestId("store-versions"), "Chart 2.2.0 · app 2.2.0");
        const text = await readableText(t);
        assert.doesNotMatch(text, /CrashLoopBackOff|kubectl|`/, text);
        assert.equal(text.split("keeps crashing").length - 1, 1, `the reason shows once:\n${text}`);
        await shot(t, "58-upgrades-rolled-back-tenant");
        await assertContrast(t, "rolled-back upgrade (tenant)");
        assertNoProblems(ops, "rolled-back upgrade");
        assertNoProblems(tenant, "rolled-back upgrade (tenant)");
      },
      { timeout: 200_000 },
    );

    step(
      "the rolled-back run: failed, with its rollback done and no step to retry",
      async () => {
        const { page } = ops;
        await page.getByRole("link", { name: "WooCommerce upgrade" }).first().click();
        await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
        await expectVisible(page.locator('[data-run-status="failed"]'));
        await expectVisible(page.getByTestId("run-rolled-back"));
        await expectVisible(page.locator('[data-step="mark-rolled-back"][data-step-status="succeeded"]'));
        await expectVisible(page.locator('[data-step="wait-upgraded"][data-step-status="failed"]'));
        assert.equal(await page.locator('[data-step-status="skipped"]').count(), 4, "the main steps after the failure");
        assert.equal(await page.getByRole("button", { name: "Retry this step" }).count(), 0);
        await shot(page, "59-upgrades-run-rolled-back");
        await assertContrast(page, "rolled-back run");
        assertNoProblems(ops, "rolled-back run");
      },
      { timeout: 60_000 },
    );

    step(
      "a rollback that cannot finish: the store fails, says so once, and Retry resumes the rollback to ready",
      async () => {
        const control = async (name, body) => {
          const answer = await fetch(`${platform.cluster.control}/${name}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          assert.ok(answer.ok, `fake cluster ${name}: ${answer.status}`);
        };
        // The cluster can no longer pull the store's images: the upgrade fails, and so does the
        // rollback's wait for the previous version.
        await control("fail", { namespace: ctx.id, failure: "image-pull" });
        const { page } = ops;
        await page.goto(ctx.url);
        await page.getByRole("button", { name: "Upgrade to chart 2.3.0 (app 2.3.0)" }).click();
        await page.getByRole("dialog").getByRole("button", { name: "Upgrade store" }).click();
        await expectVisible(page.locator('[data-status="failed"]'), { timeout: 120_000 });
        await expectText(page.getByTestId("failure-title"), "The rollback stopped at “Starting the previous version again”");
        await expectText(page.getByTestId("progress-summary"), /^Rollback stopped at step \d+ of \d+: Starting the previous version again$/);
        await expectText(
          page.getByTestId("upgrade-rollback-stopped"),
          /^The upgrade had failed at “Starting the new version” \(.+\), and rolling the store back to chart 2\.2\.0 \(app 2\.2\.0\) did not finish\.$/,
        );
        assert.equal(await page.getByTestId("upgrade-store").count(), 0, "no upgrade of a failed store");
        await shot(page, "62-upgrades-rollback-failed-operator");
        await assertContrast(page, "failed rollback (operator)");

        const { page: t } = tenant;
        await t.goto(ctx.url);
        await expectVisible(t.locator('[data-status="failed"]'));
        assert.equal(await t.getByRole("button", { name: "Retry" }).count(), 1, "exactly one Retry button");
        const text = await readableText(t);
        assert.doesNotMatch(text, /ImagePullBackOff|CrashLoopBackOff|kubectl|`/, text);
        await shot(t, "63-upgrades-rollback-failed-tenant");
        await assertContrast(t, "failed rollback (tenant)");

        await control("heal", { namespace: ctx.id });
        await t.getByRole("button", { name: "Retry" }).click();
        const dialog = t.getByRole("dialog");
        await expectText(
          dialog,
          "The rollback carries on from “Starting the previous version again”; the steps that finished are not repeated.",
        );
        await dialog.getByRole("button", { name: "Retry" }).click();
        await expectVisible(t.locator('[data-upgrade-notice="rolled_back"]'), { timeout: 120_000 });
        await expectVisible(t.locator('[data-status="ready"]'));
        await expectText(t.getByTestId("store-versions"), "Chart 2.2.0 · app 2.2.0");
        await expectText(t.getByTestId("upgrade-title"), "The upgrade to chart 2.3.0 (app 2.3.0) failed at “Starting the new version” and was rolled back");
        // The operator's page follows, live.
        await expectVisible(page.locator('[data-upgrade-notice="rolled_back"]'), { timeout: 30_000 });
        await shot(t, "64-upgrades-rollback-retried-tenant");
        assertNoProblems(ops, "failed rollback");
        assertNoProblems(tenant, "failed rollback (tenant)");
      },
      { timeout: 200_000 },
    );

    step("phone width: the upgraded store and the list fit", async () => {
      const { page } = tenant;
      await page.setViewportSize({ width: 390, height: 844 });
      for (const [url, name] of [
        ["/stores", "60-upgrades-phone-stores"],
        [ctx.url, "61-upgrades-phone-store"],
      ]) {
        await page.goto(url);
        await expectVisible(page.locator("main [data-status]").first());
        if (url === "/stores") await expectVisible(page.getByTestId("upgrade-marker"));
        else await expectVisible(page.locator('[data-upgrade-notice="rolled_back"]'));
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${url} is ${overflow}px wider than the phone`);
        await shot(page, name, { fullPage: false });
        await assertContrast(page, `phone ${url}`);
      }
      assertNoProblems(tenant, "phone");
    });
  });
}
