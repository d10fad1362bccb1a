// Fleet rollouts against the fake cluster: a tenant's three WooCommerce stores are ready on the
// chart this build ships; the tenant has no Rollouts menu and the page is for operators (the API
// answers 403). A new build ships chart 2.2.0: the operator's form shows the target and the
// plan, a rollout in waves of 1 and then 2 starts from it and the operator watches it finish,
// every store upgraded and on 2.2.0 (a second start meanwhile is refused, linking to the running
// rollout; one more afterwards finds nothing to upgrade). Then a build whose chart 2.3.0
// crash-loops: the canary wave halts the rollout, wave 2 is not started and its stores are not
// touched; the rollout offers Resume (not Cancel); resuming accepts the canary's failure, wave 2
// fails too and halts it again. Phone width. Skipped, with a notice, when the fake cluster's
// binary has not been built.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe } from "node:test";

import { assertNoProblems, eventually, expectText, expectVisible, newPerson, shot } from "../browser.mjs";
import { assertContrast } from "../contrast.mjs";
import { fakeClusterAvailable, fakeClusterBin, repoDir, startPlatform } from "../platform.mjs";
import { figures, scenario } from "../steps.mjs";
import { readableText, register } from "./tenancy.mjs";
import { chartVersions, deploymentImage, shipChart } from "./upgrades.mjs";

const STORE_CHART = path.join(repoDir, "charts", "ecommerce-store");
const STORES = ["roll-alpha", "roll-bravo", "roll-charlie"];

/** One look at the rollout page: statuses of the rollout, its waves and its stores. */
async function rolloutState(page) {
  return page.evaluate(() => ({
    // Within the rollout's page (not the list it came from, while the router switches pages).
    status: document.querySelector("[data-rollout] [data-rollout-status]")?.getAttribute("data-rollout-status") ?? null,
    waves: [...document.querySelectorAll("[data-wave]")].map((wave) => ({
      number: Number(wave.getAttribute("data-wave")),
      status: wave.querySelector("[data-wave-status]")?.getAttribute("data-wave-status") ?? null,
      outcomes: [...wave.querySelectorAll("[data-outcome]")].map((o) => o.getAttribute("data-outcome")),
    })),
    live: document.querySelector("[data-live]")?.getAttribute("data-live") ?? null,
  }));
}

const brief = (state) => `${state.status} [${state.waves.map((w) => `${w.status}:${w.outcomes.join("/")}`).join(" ")}]`;

export function withRollouts(browser) {
  const available = fakeClusterAvailable();
  if (!available) {
    console.log(`NOTICE: ${fakeClusterBin()} is missing: the rollouts scenario is skipped.`);
  }
  describe("fleet rollouts against the fake cluster", { skip: !available && "the fake cluster binary is missing" }, () => {
    let platform;
    let ops;
    let tenant;
    let charts;
    const { step, watch } = scenario("rollouts");
    const ctx = {};

    before(async () => {
      charts = fs.mkdtempSync(path.join(os.tmpdir(), "storeflow-e2e-rollout-charts-"));
      platform = await startPlatform({ name: "rollouts", fakeCluster: true });
      console.log(`platform with fake cluster up at ${platform.baseUrl} (rollouts)`);
    });
    after(async () => {
      await ops?.context.close().catch(() => undefined);
      await tenant?.context.close().catch(() => undefined);
      await platform?.stop();
      if (charts) fs.rmSync(charts, { recursive: true, force: true });
    });

    /** Restarts storeflow with another store chart (see the upgrades scenario). */
    const ship = async (chart) => {
      const restartedIn = await platform.restart({ env: { HELM_CHART_PATH: chart } });
      for (const person of [ops, tenant]) if (person) person.problems.length = 0;
      return restartedIn;
    };

    /** The API as `person` (their session token), from their page. */
    const apiAs = (person, method, url, body) =>
      person.page.evaluate(
        async ({ method, url, body }) => {
          const answer = await fetch(`/api/v1${url}`, {
            method,
            headers: {
              authorization: `Bearer ${localStorage.getItem("storeflow.token")}`,
              ...(body ? { "content-type": "application/json" } : {}),
            },
            body: body ? JSON.stringify(body) : undefined,
          });
          return { status: answer.status, body: await answer.json().catch(() => null) };
        },
        { method, url, body },
      );

    /** Fills the start form: wave sizes and the failure percentage. */
    const fillForm = async (page, { waves, percent = "20" }) => {
      const form = page.getByTestId("start-rollout");
      await form.getByLabel("Wave sizes").fill(waves);
      await form.getByLabel("Maximum failure share").fill(percent);
      return form;
    };

    step(
      "a tenant's three WooCommerce stores are ready on the shipped chart; nothing to roll out yet",
      async () => {
        ops = await newPerson(browser, platform.baseUrl);
        tenant = await newPerson(browser, platform.baseUrl);
        watch(ops.page, tenant.page);
        await register(ops.page, { email: "ops@example.com", username: "ops" });
        const { page } = tenant;
        await register(page, { email: "tenant@example.com", username: "tenant" });
        const created = Date.now();
        ctx.ids = [];
        for (const name of STORES) {
          await page.goto("/stores/new");
          await page.getByLabel("Name", { exact: true }).fill(name);
          await page.getByRole("button", { name: "Create store" }).click();
          await page.waitForURL(/\/stores\/store-[0-9a-f]{8}$/);
          ctx.ids.push(new URL(page.url()).pathname.split("/").pop());
        }
        await page.goto("/stores");
        await eventually(
          async () => (await page.locator('main [data-store-row] [data-status="ready"]').count()) === STORES.length,
          { timeout: 150_000, interval: 500, message: "the three stores to be ready" },
        );
        figures["rollouts: three stores created to ready (browser view)"] = `${Date.now() - created} ms`;
        ctx.shipped = chartVersions(STORE_CHART);

        // The operator's form: every store is on the shipped chart, and the API agrees.
        const o = ops.page;
        await o.getByRole("link", { name: "Rollouts" }).first().click();
        await o.waitForURL(/\/rollouts$/);
        await expectText(o.getByTestId("rollout-target"), "Every store runs the chart this build ships");
        await expectText(o.getByTestId("rollout-candidates"), "0 stores to upgrade now.");
        await expectText(o.locator("main"), "No rollouts yet");
        const form = await fillForm(o, { waves: "1" });
        await form.getByRole("button", { name: "Start rollout…" }).click();
        const dialog = o.getByRole("dialog");
        await expectText(dialog.getByTestId("rollout-plan-summary"), "This page knows of no ready store that needs the upgrade.");
        await dialog.getByRole("button", { name: "Start rollout" }).click();
        const refusal = form.getByTestId("rollout-start-error");
        await expectText(
          refusal,
          `Nothing to upgrade: every ready store that matches runs chart ${ctx.shipped.chart} (app ${ctx.shipped.app}) already.`,
        );
        assert.equal(await refusal.getAttribute("data-error-code"), "NOTHING_TO_UPGRADE");
        await shot(o, "70-rollouts-nothing-to-upgrade");
        await assertContrast(o, "rollouts page, nothing to upgrade");
        assertNoProblems(ops, "rollouts page, nothing to upgrade");
        assertNoProblems(tenant, "three stores");
      },
      { timeout: 200_000 },
    );

    step("a tenant has no Rollouts menu, and the page and the API are for operators", async () => {
      const { page } = tenant;
      await page.goto("/stores");
      assert.equal(await page.getByRole("link", { name: "Rollouts" }).count(), 0, "no Rollouts menu for tenants");
      await page.goto("/rollouts");
      await expectVisible(page.getByTestId("operators-only"));
      await expectText(page.locator("main"), "Operators only");
      await expectText(page.locator("main"), "This page is for the platform's administrators.");
      assert.equal(await page.getByTestId("start-rollout").count(), 0, "no start form");
      const list = await apiAs(tenant, "GET", "/rollouts");
      assert.equal(list.status, 403, JSON.stringify(list));
      assert.equal(list.body?.error?.code, "FORBIDDEN");
      const start = await apiAs(tenant, "POST", "/rollouts", { waves: [1] });
      assert.equal(start.status, 403, JSON.stringify(start));
      await page.goto("/rollouts/01a24146-d12e-7143-ac2f-028b922c7e75");
      await expectVisible(page.getByTestId("operators-only"));
      await shot(page, "71-rollouts-tenant-operators-only");
      await assertContrast(page, "rollouts page (tenant)");
      assertNoProblems(tenant, "rollouts page (tenant)");
    });

    step(
      "chart 2.2.0 ships: the operator's form shows the target and the plan, checks the fields, and starts a rollout",
      async () => {
        ctx.good = shipChart(charts, "2.2.0", "6.8-php8.2-apache");
        figures["rollouts: storeflow restart with chart 2.2.0"] = `${await ship(ctx.good)} ms`;
        const { page } = ops;
        await page.goto("/rollouts");
        await expectText(page.getByTestId("rollout-target"), "chart 2.2.0 (app 2.2.0)");
        // The default waves (1, 5, 25) over three stores: 1, then 2.
        await expectText(page.getByTestId("rollout-candidates"), "3 stores to upgrade now, in 2 waves: 1, then 2.");
        // Wrong fields are caught before anything is asked.
        let form = await fillForm(page, { waves: "1, 0, x", percent: "150" });
        await form.getByRole("button", { name: "Start rollout…" }).click();
        await expectText(form.locator("[data-field-errors]").first(), "Each wave has at least 1 store.");
        await expectText(form.locator("[data-field-errors]").nth(1), "Give a percentage from 0 to 100.");
        assert.equal(await page.getByRole("dialog").count(), 0, "no confirmation for wrong fields");
        await shot(page, "72-rollouts-form-invalid", { fullPage: false });

        // A second tab, ready to start too: it does not know yet that a rollout will be running.
        ctx.second = await ops.context.newPage();
        await ctx.second.goto("/rollouts");
        await expectText(ctx.second.getByTestId("rollout-target"), "chart 2.2.0 (app 2.2.0)");
        await fillForm(ctx.second, { waves: "1" });

        form = await fillForm(page, { waves: "1", percent: "20" });
        await expectText(page.getByTestId("rollout-candidates"), "3 stores to upgrade now, in 2 waves: 1, then 2.");
        await form.getByRole("button", { name: "Start rollout…" }).click();
        const dialog = page.getByRole("dialog");
        await expectText(dialog, "Roll out chart 2.2.0 (app 2.2.0)?");
        await expectText(dialog.getByTestId("rollout-plan-summary"), "3 stores are upgraded in 2 waves: 1, then 2.");
        const waves = await dialog.getByTestId("rollout-plan-wave").allTextContents();
        assert.deepEqual(waves, ["Wave 1 · 1 store · halts if its upgrade fails", "Wave 2 · 2 stores · halts if any upgrade fails"]);
        await expectText(dialog.getByTestId("rollout-plan-halt"), "It halts by itself when more than 20% of a wave's upgrades fail");
        await shot(page, "73-rollouts-confirm", { fullPage: false });
        await assertContrast(page, "rollout confirmation");
        ctx.started = Date.now();
        await dialog.getByRole("button", { name: "Start rollout" }).click();
        await page.waitForURL(/\/rollouts\/[0-9a-f-]{36}$/);
        ctx.first = new URL(page.url()).pathname.split("/").pop();
        await expectText(page.locator("h1"), "Rollout to chart 2.2.0 (app 2.2.0)");

        // Meanwhile the second tab starts one too: refused inline, with the way to the running one.
        await ctx.second.getByTestId("start-rollout").getByRole("button", { name: "Start rollout…" }).click();
        await ctx.second.getByRole("dialog").getByRole("button", { name: "Start rollout" }).click();
        const refusal = ctx.second.getByTestId("rollout-start-error");
        await expectText(refusal, "Another rollout is still running: only one runs at a time.");
        assert.equal(await refusal.getAttribute("data-error-code"), "ROLLOUT_IN_PROGRESS");
        const link = refusal.getByRole("link", { name: "See the running rollout" });
        assert.equal(await link.getAttribute("href"), `/rollouts/${ctx.first}`);
        await shot(ctx.second, "74-rollouts-already-running", { fullPage: false });
        await assertContrast(ctx.second, "rollout already running");
        await link.click();
        await ctx.second.waitForURL(new RegExp(`/rollouts/${ctx.first}$`));
        assertNoProblems(ops, "rollout started");
      },
      { timeout: 90_000 },
    );

    step(
      "the operator watches it, wave by wave, to every store upgraded and on chart 2.2.0",
      async () => {
        const { page } = ops;
        const seen = { states: [], running: false, cancelChecked: false };
        const requests = [];
        page.on("request", (request) => {
          if (request.url().includes(`/api/v1/rollouts/${ctx.first}`)) requests.push(Date.now());
        });
        await eventually(
          async () => {
            const now = await rolloutState(page);
            const text = brief(now);
            if (seen.states.at(-1) !== text) seen.states.push(text);
            if (!seen.running && now.waves.some((w) => w.outcomes.includes("upgrading"))) {
              seen.running = true;
              await shot(page, "75-rollouts-running");
              // Cancel is offered while it runs, and says what it would do; kept running here.
              const cancel = page.getByRole("button", { name: "Cancel rollout" });
              if (await cancel.isVisible()) {
                await cancel.click();
                const dialog = page.getByRole("dialog");
                await expectText(dialog, "Upgrades still waiting for their turn are cancelled and their stores stay ready");
                await expectText(dialog, "may need a retry from");
                await dialog.getByRole("button", { name: "Keep it running" }).click();
                seen.cancelChecked = true;
              }
            }
            return now.status === "succeeded";
          },
          { timeout: 150_000, interval: 250, message: "the rollout to succeed" },
        );
        figures["rollouts: 3 stores in waves of 1 and 2, start to succeeded (browser view)"] = `${Date.now() - ctx.started} ms`;
        figures["rollouts: what the page showed on the way"] = seen.states.join(" → ");
        assert.ok(seen.running, `the page showed upgrades running: ${seen.states.join(" → ")}`);
        assert.ok(seen.cancelChecked, "Cancel was offered while the rollout ran");
        // Waves in order: wave 2 never ran before wave 1 succeeded.
        for (const state of seen.states) {
          const [first, second] = state.split("[")[1].split(" ");
          if (second && !second.startsWith("pending")) assert.match(first, /^succeeded/, `wave 2 ran early: ${state}`);
        }
        const done = await rolloutState(page);
        assert.deepEqual(
          done.waves.map((w) => [w.status, w.outcomes]),
          [
            ["succeeded", ["upgraded"]],
            ["succeeded", ["upgraded", "upgraded"]],
          ],
        );
        await expectText(page.getByTestId("total-upgraded"), "3");
        await expectText(page.getByTestId("total-failed"), "0");
        await expectText(page.getByTestId("rollout-done"), "100% of the stores are done");
        await expectText(page.locator("main"), "Every store of the rollout runs chart 2.2.0 (app 2.2.0)");
        // Each store: its name, linking to its page, on chart 2.2.0 now, and its upgrade run.
        for (const [i, id] of ctx.ids.entries()) {
          const row = page.locator(`[data-rollout-store="${id}"]`);
          await expectText(row.getByTestId("store-link"), STORES[i]);
          assert.equal(await row.getByTestId("store-link").getAttribute("href"), `/stores/${id}`);
          await expectText(row.getByTestId("store-chart"), "Chart 2.2.0", { timeout: 20_000 });
          assert.match((await row.getByTestId("upgrade-run-link").getAttribute("href")) ?? "", /^\/runs\/[0-9a-f-]{36}$/);
        }
        // Oldest first: the canary is the first store created.
        assert.equal(await page.locator('[data-wave="1"] [data-rollout-store]').getAttribute("data-rollout-store"), ctx.ids[0]);
        assert.equal(await page.getByRole("button", { name: "Cancel rollout" }).count(), 0, "no Cancel once finished");
        assert.equal(await page.getByRole("button", { name: "Resume" }).count(), 0, "no Resume once succeeded");
        // Finished: the page stops asking.
        await expectVisible(page.locator('[data-live="finished"]'));
        const before = requests.length;
        await page.waitForTimeout(5000);
        figures["rollouts: requests for the finished rollout in 5 s"] = `${requests.length - before}`;
        assert.ok(requests.length - before <= 1, `the finished rollout is still polled: ${requests.length - before} requests in 5 s`);
        await shot(page, "76-rollouts-succeeded");
        await assertContrast(page, "succeeded rollout");

        // The stores say so too: the list, and the tenant's store page.
        await page.goto("/stores");
        for (const id of ctx.ids) {
          await expectText(page.locator(`[data-store-row="${id}"]`).getByTestId("store-chart"), "Chart 2.2.0");
        }
        assert.equal(await page.getByTestId("upgrade-marker").count(), 0, "no upgrade left to do");
        for (const id of ctx.ids) assert.match(await deploymentImage(platform, id, "wordpress"), /6\.8-php8\.2-apache$/);
        await tenant.page.goto(`/stores/${ctx.ids[1]}`);
        await expectText(tenant.page.getByTestId("store-versions"), "Chart 2.2.0 · app 2.2.0");
        await expectText(tenant.page.getByTestId("upgrade-succeeded"), "Upgraded from chart 2.1.0 to 2.2.0");

        // The list shows it; another start finds nothing to upgrade.
        await page.goto("/rollouts");
        const row = page.locator(`[data-rollout-row="${ctx.first}"]`);
        await expectVisible(row.locator('[data-rollout-status="succeeded"]'));
        await expectText(row.getByTestId("rollout-totals"), "3 upgraded");
        await expectText(page.getByTestId("rollout-candidates"), "0 stores to upgrade now.");
        const form = await fillForm(page, { waves: "1" });
        await form.getByRole("button", { name: "Start rollout…" }).click();
        await page.getByRole("dialog").getByRole("button", { name: "Start rollout" }).click();
        await expectText(
          form.getByTestId("rollout-start-error"),
          "Nothing to upgrade: every ready store that matches runs chart 2.2.0 (app 2.2.0) already.",
        );
        await shot(page, "77-rollouts-list-after-first");
        await assertContrast(page, "rollouts list");
        await ctx.second.close();
        assertNoProblems(ops, "succeeded rollout");
        assertNoProblems(tenant, "store after the rollout");
      },
      { timeout: 200_000 },
    );

    step(
      "chart 2.3.0 crash-loops: the canary wave halts the rollout, wave 2 is not started and its stores are untouched",
      async () => {
        ctx.bad = shipChart(charts, "2.3.0", "6.8-php8.2-apache-crashloop");
        figures["rollouts: storeflow restart with chart 2.3.0"] = `${await ship(ctx.bad)} ms`;
        const { page } = ops;
        await page.goto("/rollouts");
        await expectText(page.getByTestId("rollout-target"), "chart 2.3.0 (app 2.3.0)");
        const form = await fillForm(page, { waves: "1" });
        await form.getByRole("button", { name: "Start rollout…" }).click();
        const started = Date.now();
        await page.getByRole("dialog").getByRole("button", { name: "Start rollout" }).click();
        await page.waitForURL(/\/rollouts\/[0-9a-f-]{36}$/);
        ctx.bad_id = new URL(page.url()).pathname.split("/").pop();
        const states = [];
        await eventually(
          async () => {
            const now = await rolloutState(page);
            if (states.at(-1) !== brief(now)) states.push(brief(now));
            return now.status === "halted";
          },
          { timeout: 150_000, interval: 250, message: "the rollout to halt" },
        );
        figures["rollouts: bad chart, start to halted (browser view)"] = `${Date.now() - started} ms`;
        figures["rollouts: what the page showed until the halt"] = states.join(" → ");
        const halted = await rolloutState(page);
        assert.deepEqual(
          halted.waves.map((w) => [w.status, w.outcomes]),
          [
            ["halted", ["failed"]],
            ["pending", ["pending", "pending"]],
          ],
        );
        await expectText(page.locator('[data-rollout-status="halted"]'), "Halted");
        await expectText(
          page.getByTestId("halt-title"),
          "Wave 1 halted the rollout: 1 of 1 upgrade failed (100%, more than the 20% allowed)",
        );
        await expectText(page.getByTestId("halt-text"), "Wave 2 was not started: its 2 stores were not touched.");
        await expectText(page.getByTestId("halt-reason"), `Wave 1 halted the rollout: 1 of 1 upgrades failed (100% > 20% allowed): ${ctx.ids[0]}`);
        await expectText(page.locator('[data-wave="2"]').getByTestId("wave-text"), "Not started: the rollout stopped before this wave.");
        // The canary: failed, in plain words, rolled back by its own upgrade; the raw error a click away.
        const canary = page.locator(`[data-rollout-store="${ctx.ids[0]}"]`);
        await expectText(
          canary.getByTestId("store-outcome-text"),
          "A part of the store keeps crashing when it starts. Rolled back to chart 2.2.0 (app 2.2.0) and verified again.",
          { timeout: 20_000 },
        );
        const text = await readableText(page);
        assert.doesNotMatch(text, /check-wave|step `|CrashLoopBackOff/, text);
        await canary.getByText("Error details").click();
        await expectText(canary.getByTestId("raw-text"), "CrashLoopBackOff");
        // Wave 2's stores: not started, still on 2.2.0, their last upgrade the first rollout's.
        for (const id of ctx.ids.slice(1)) {
          const row = page.locator(`[data-rollout-store="${id}"]`);
          await expectText(row.locator("[data-outcome]"), "Not started");
          await expectText(row.getByTestId("store-chart"), "Chart 2.2.0");
          assert.equal(await row.getByTestId("upgrade-run-link").count(), 0);
          const { body } = await apiAs(ops, "GET", `/stores/${id}`);
          assert.equal(body.store.status, "ready");
          assert.equal(body.store.versions.chart, "2.2.0");
          assert.equal(body.store.lastUpgrade?.status, "succeeded", "untouched since the first rollout");
          assert.match(await deploymentImage(platform, id, "wordpress"), /6\.8-php8\.2-apache$/);
        }
        // Finished (halted): Resume, not Cancel; no more polling.
        assert.equal(await page.getByRole("button", { name: "Cancel rollout" }).count(), 0, "no Cancel on a halted rollout");
        await expectVisible(page.getByRole("button", { name: "Resume" }));
        await expectVisible(page.locator('[data-live="finished"]'));
        await shot(page, "78-rollouts-halted");
        await assertContrast(page, "halted rollout");
        assertNoProblems(ops, "halted rollout");
      },
      { timeout: 200_000 },
    );

    step(
      "resume accepts the canary's failure; wave 2 fails too and halts the rollout again",
      async () => {
        const { page } = ops;
        await page.getByRole("button", { name: "Resume" }).click();
        const dialog = page.getByRole("dialog");
        await expectText(dialog, "Resume past wave 1?");
        await expectText(
          dialog.getByTestId("resume-text"),
          "Resuming accepts the failures of wave 1 (1 of 1 upgrade failed; the failed store stays on its previous version) and starts wave 2 (2 stores).",
        );
        await shot(page, "79-rollouts-resume-confirm", { fullPage: false });
        await assertContrast(page, "resume confirmation");
        const started = Date.now();
        await dialog.getByRole("button", { name: "Resume rollout" }).click();
        const states = [];
        await eventually(
          async () => {
            const now = await rolloutState(page);
            if (states.at(-1) !== brief(now)) states.push(brief(now));
            return now.status === "halted" && now.waves[1]?.status === "halted";
          },
          { timeout: 150_000, interval: 250, message: "wave 2 to halt the rollout" },
        );
        figures["rollouts: resume to halted again (browser view)"] = `${Date.now() - started} ms`;
        figures["rollouts: what the page showed after the resume"] = states.join(" → ");
        assert.ok(states.some((s) => /^(queued|running|waiting) /.test(s)), `the page followed the resumed rollout: ${states.join(" → ")}`);
        const halted = await rolloutState(page);
        assert.deepEqual(
          halted.waves.map((w) => [w.status, w.outcomes]),
          [
            ["accepted", ["failed"]],
            ["halted", ["failed", "failed"]],
          ],
        );
        await expectText(
          page.getByTestId("halt-title"),
          "Wave 2 halted the rollout: 2 of 2 upgrades failed (100%, more than the 20% allowed)",
        );
        await expectText(page.locator('[data-wave="1"]').getByTestId("wave-text"), "an operator accepted this and resumed the rollout");
        await expectText(page.getByTestId("total-failed"), "3");
        assert.equal(await page.getByRole("button", { name: "Cancel rollout" }).count(), 0);
        // Resuming again would end it: the last wave; the confirmation says so.
        await page.getByRole("button", { name: "Resume" }).click();
        await expectText(page.getByRole("dialog").getByTestId("resume-text"), "Wave 2 was the last: the rollout then finishes");
        await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
        // Every store runs 2.2.0 again (each failed upgrade rolled back by itself).
        for (const id of ctx.ids) {
          await expectText(page.locator(`[data-rollout-store="${id}"]`).getByTestId("store-chart"), "Chart 2.2.0");
        }
        await shot(page, "80-rollouts-halted-again");
        await assertContrast(page, "rollout halted again");
        // A failed store's upgrade run, one click away.
        await page.locator(`[data-rollout-store="${ctx.ids[2]}"]`).getByTestId("upgrade-run-link").click();
        await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
        await expectVisible(page.locator('[data-run-status="failed"]'));
        await expectVisible(page.getByTestId("run-rolled-back"));
        await page.goBack();
        await expectVisible(page.locator('[data-rollout-status="halted"]'));
        assertNoProblems(ops, "halted again");
      },
      { timeout: 200_000 },
    );

    step("phone width: the rollouts list and the halted rollout fit", async () => {
      const { page } = ops;
      await page.setViewportSize({ width: 390, height: 844 });
      for (const [url, name] of [
        ["/rollouts", "81-rollouts-phone-list"],
        [`/rollouts/${ctx.bad_id}`, "82-rollouts-phone-detail"],
      ]) {
        await page.goto(url);
        await expectVisible(page.locator("main [data-rollout-status]").first());
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${url} is ${overflow}px wider than the phone`);
        await shot(page, name);
        await assertContrast(page, `phone ${url}`);
      }
      // The menu has Rollouts beside Runs.
      await page.getByRole("button", { name: "Open menu" }).click();
      const menu = page.getByRole("dialog", { name: "Menu" });
      const links = await menu.getByRole("link").allTextContents();
      const runs = links.indexOf("Runs");
      assert.equal(links[runs + 1], "Rollouts", links.join(", "));
      await shot(page, "83-rollouts-phone-menu", { fullPage: false });
      await page.getByRole("button", { name: "Close menu" }).click();
      assertNoProblems(ops, "phone");
    });
  });
}
