// Against the fake Kubernetes cluster (storeflow-fakecluster): a store really provisions —
// the progress moves step by step to ready, and the page says how long it took — its owner
// changes its admin password, and it is deleted again; an operator changes a tenant's store's
// password to a generated one. Skipped, with a notice, when the fake cluster's binary has not
// been built.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";

import { assertNoProblems, eventually, expectText, expectVisible, newPerson, shot } from "../browser.mjs";
import { assertContrast } from "../contrast.mjs";
import { fakeClusterAvailable, fakeClusterBin, startPlatform } from "../platform.mjs";
import { figures, scenario } from "../steps.mjs";
import { expectPlainStepLabels, readableText, register } from "./tenancy.mjs";

export function withFakeCluster(browser) {
  const available = fakeClusterAvailable();
  if (!available) {
    console.log(
      `NOTICE: ${fakeClusterBin()} is missing: the full-provisioning scenario is skipped ` +
        "(cargo build -p storeflow-fakecluster, or set STOREFLOW_FAKECLUSTER_BIN).",
    );
  }
  describe(
    "full provisioning against the fake cluster",
    { skip: !available && "the fake cluster binary is missing" },
    () => {
      let platform;
      let owner;
      let tenant;
      const { step, watch } = scenario("fake-cluster");
      const ctx = {};

      before(async () => {
        platform = await startPlatform({ name: "fake-cluster", fakeCluster: true });
        console.log(`platform with fake cluster up at ${platform.baseUrl} (cluster ${platform.cluster.control})`);
      });
      after(async () => {
        await owner?.context.close().catch(() => undefined);
        await tenant?.context.close().catch(() => undefined);
        await platform?.stop();
      });

      step("register and create a WooCommerce store", async () => {
        owner = await newPerson(browser, platform.baseUrl);
        watch(owner.page);
        const { page } = owner;
        await register(page, { email: "owner@example.com", username: "owner" });
        await expectText(page.getByTestId("platform-status"), "Operational");
        await page.goto("/stores/new");
        await page.getByLabel("Name", { exact: true }).fill("real-shop");
        await page.getByRole("button", { name: "Create store" }).click();
        await page.waitForURL(/\/stores\/store-[0-9a-f]{8}$/);
        ctx.url = new URL(page.url()).pathname;
        ctx.created = Date.now();
        await expectVisible(page.locator('[data-live="open"]'));
      });

      step(
        "the progress moves through the steps to ready",
        async () => {
          const { page } = owner;
          const seen = new Set();
          const percents = new Set();
          const samples = [];
          await eventually(
            async () => {
              // One look at the page per sample: locators that wait would slow the sampling.
              const now = await page.evaluate(() => ({
                done: [...document.querySelectorAll('[data-step][data-step-status="succeeded"]')].map((el) =>
                  el.getAttribute("data-step"),
                ),
                percent: document.querySelector('[data-testid="progress-percent"]')?.textContent?.trim() ?? "",
                run: document.querySelector('[data-testid="progress"] [data-run-status]')?.getAttribute("data-run-status"),
                step: document.querySelector('[data-step][aria-current="step"]')?.getAttribute("data-step") ?? null,
                status: document.querySelector("[data-status]")?.getAttribute("data-status"),
              }));
              for (const name of now.done) seen.add(name);
              percents.add(now.percent);
              samples.push({ percent: Number.parseInt(now.percent, 10), run: now.run, step: now.step });
              const status = now.status;
              if (status === "failed") {
                // Fail now, with the platform's reason, rather than at the timeout.
                const reason = await page
                  .getByTestId("failure-reason")
                  .textContent()
                  .catch(() => "");
                throw Object.assign(new Error(`the store failed: ${reason}`), { final: true });
              }
              return status === "ready";
            },
            { timeout: 180_000, interval: 200, message: "the store to be ready" },
          );
          figures["fake cluster: create to ready (browser view)"] = `${Date.now() - ctx.created} ms`;
          assert.ok(seen.has("install-chart") && seen.has("wait-ready"), `steps seen done: ${[...seen]}`);
          assert.ok(percents.size >= 3, `the bar moved: ${[...percents]}`);
          // Weighted by typical durations: the bar moves while wait-ready (most of the time) runs,
          // never goes back, and reads 100 % only once the run succeeded.
          const shown = samples.filter((s) => Number.isFinite(s.percent));
          for (let i = 1; i < shown.length; i++) {
            assert.ok(shown[i].percent >= shown[i - 1].percent, `the bar went back: ${JSON.stringify(shown.slice(i - 1, i + 1))}`);
          }
          for (const s of shown) assert.ok(s.percent < 100 || s.run === "succeeded", `100 % before success: ${JSON.stringify(s)}`);
          const duringWaitReady = new Set(shown.filter((s) => s.step === "wait-ready").map((s) => s.percent));
          assert.ok(duringWaitReady.size >= 2, `the bar moved during wait-ready: ${[...duringWaitReady]}`);
          figures["fake cluster: percentages the bar showed on the way to ready"] = [...new Set(shown.map((s) => s.percent))].join(" ");
          await expectText(page.getByTestId("progress-percent"), "100%");
          const labels = await expectPlainStepLabels(page);
          assert.equal(labels["wait-ready"], "Starting the store");
          assert.equal(labels["publish-values"], "Preparing the public address");
          assert.equal(labels["verify-storefront"], "Placing a test order");
          await expectVisible(page.getByRole("link", { name: /^http.*\/$/ }).first());
          await page.getByRole("button", { name: "Reveal password" }).click();
          assert.notEqual((await page.getByTestId("credential-password").textContent())?.trim(), "••••••••••••");
          await shot(page, "30-fake-cluster-store-ready");
          await assertContrast(page, "ready store");
          assertNoProblems(owner, "ready store");
        },
        { timeout: 200_000 },
      );

      step(
        "the page says how long the store took; its owner changes the admin password",
        async () => {
          const { page } = owner;
          const readyIn = await expectText(page.getByTestId("ready-in"), /^(\d+(\.\d)? s|\d+ min( \d+ s)?)$/);
          const firstOrder = await expectText(
            page.getByTestId("first-order"),
            /^(\d+(\.\d)? s|\d+ min( \d+ s)?) after creation$/,
          );
          figures["fake cluster: store page timings"] = `Ready in ${readyIn}; first order ${firstOrder}`;

          await page.getByRole("button", { name: "Change admin password" }).click();
          const dialog = page.getByRole("dialog");
          await expectText(dialog, "Change the admin password of real-shop?");
          await dialog.getByLabel("Choose it myself").check();
          const field = dialog.getByLabel("New admin password");
          await field.fill("short");
          await field.blur();
          await expectText(dialog.locator('[data-field-errors="rotate-password"]'), "8 to 128 characters");
          const confirm = dialog.getByRole("button", { name: "Change password" });
          assert.equal(await confirm.isDisabled(), true, "a short password is not sent");
          await field.fill("Rotated-Pass-77");
          await shot(page, "35-fake-cluster-rotate-confirm", { fullPage: false });
          await assertContrast(page, "rotation dialog");
          await confirm.click();
          // The change may finish before the page has shown it running: either is fine here.
          const seen = await eventually(
            async () =>
              ((await page.getByTestId("rotation-status").count()) && "running") ||
              ((await page.getByTestId("rotation-done").count()) && "done"),
            { message: "the password change to show" },
          );
          if (seen === "running") {
            await expectText(page.getByTestId("rotation-status"), "Changing the admin password…");
            await expectText(page.getByTestId("rotation-status"), "it works once the change finishes");
            await shot(page, "36-fake-cluster-rotation-running");
            await assertContrast(page, "rotation running");
          }
          await expectVisible(page.getByTestId("rotation-done"), { timeout: 60_000 });
          figures["fake cluster: rotation notice seen while running"] = seen === "running" ? "yes" : "no (finished first)";
          await expectText(page.getByTestId("credential-password"), "Rotated-Pass-77");
          await shot(page, "37-fake-cluster-rotation-done");
          await assertContrast(page, "rotation done");
          assertNoProblems(owner, "rotation");
        },
        { timeout: 90_000 },
      );

      step(
        "delete after typing the name; the store goes to deleted",
        async () => {
          const { page } = owner;
          await page.getByRole("button", { name: "Delete" }).click();
          const dialog = page.getByRole("dialog");
          const confirm = dialog.getByRole("button", { name: "Delete store" });
          assert.equal(await confirm.isDisabled(), true, "confirmation needs the name");
          await dialog.getByLabel(/Type real-shop to confirm/).fill("real-shop");
          await confirm.click();
          await eventually(
            async () => (await page.locator("[data-status]").first().getAttribute("data-status")) === "deleted",
            { timeout: 120_000, interval: 250, message: "the store to be deleted" },
          );
          await expectVisible(page.getByText("This store is deleted"));
          // Its addresses are text now, not links.
          const access = page.locator("section").filter({ has: page.getByRole("heading", { name: "Access" }) });
          await eventually(async () => (await access.getByTestId("url-text").count()) === 2, {
            message: "the deleted store's URLs as plain text",
          });
          assert.equal(await access.getByRole("link").count(), 0, "no link to a deleted store");
          assert.equal(await page.locator('main a[href^="http"]').count(), 0);
          await expectText(access, "No longer online: the store is deleted.");
          await shot(page, "31-fake-cluster-store-deleted");
          await assertContrast(page, "deleted store");
          await page.goto("/stores?status=deleted");
          await expectVisible(page.locator("[data-store-row]").first());
          assertNoProblems(owner, "deleted store");
        },
        { timeout: 150_000 },
      );

      step(
        "a failing rollout: the tenant sees it once, in plain words, with one Retry; the operator retries the step to ready",
        async () => {
          const control = async (path, body) => {
            const answer = await fetch(`${platform.cluster.control}/${path}`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(body),
            });
            assert.ok(answer.ok, `fake cluster ${path}: ${answer.status}`);
          };
          tenant = await newPerson(browser, platform.baseUrl);
          watch(tenant.page);
          const { page } = tenant;
          await register(page, { email: "tenant@example.com", username: "tenant" });
          await control("fail-next", { failure: "image-pull" });
          await page.goto("/stores/new");
          await page.getByLabel("Name", { exact: true }).fill("broken-shop");
          await page.getByRole("button", { name: "Create store" }).click();
          await page.waitForURL(/\/stores\/store-[0-9a-f]{8}$/);
          const storeId = new URL(page.url()).pathname.split("/").pop();
          ctx.brokenStoreId = storeId;
          await expectVisible(page.locator('[data-status="failed"]'), { timeout: 120_000 });
          await expectVisible(page.locator('[data-step-status="failed"]'));

          // Once, in plain words: what stopped and why, and one thing to do.
          await expectText(page.getByTestId("failure-title"), "Provisioning stopped at “Starting the store”");
          await expectText(
            page.getByTestId("failure-reason"),
            "The store's software could not be downloaded onto the cluster.",
          );
          await expectVisible(page.locator('[data-step-status="failed"]').getByTestId("step-stopped"));
          await expectVisible(page.locator('[data-kind="step_failed"]'));
          const text = await readableText(page);
          assert.equal(text.split("could not be downloaded").length - 1, 1, `the failure shows once:\n${text}`);
          assert.doesNotMatch(text, /ImagePullBackOff|mariadb:11|[`]|kubectl|storeflow doctor/, text);
          assert.equal(await page.getByRole("button", { name: "Retry" }).count(), 1, "exactly one Retry button");
          assert.equal(await page.getByTestId("operator-advice").count(), 0, "no operator advice for a tenant");
          await expectPlainStepLabels(page);
          await shot(page, "32-fake-cluster-store-failed-tenant");
          await assertContrast(page, "failed store (tenant)");

          // The raw error, one click away.
          const details = page.getByRole("alert").getByTestId("raw-details");
          await details.locator("summary").click();
          await expectText(details.getByTestId("raw-text"), /ImagePullBackOff/);
          await expectText(details, "wait-ready");
          await shot(page, "33-fake-cluster-store-failed-details");
          assertNoProblems(tenant, "failed store (tenant)");

          await control("heal", { namespace: storeId });
          // The operator's way: the run's failed step, retried from the run page.
          const ops = owner.page;
          await ops.goto(`/stores/${storeId}`);
          await expectVisible(ops.getByTestId("operator-advice"));
          await ops
            .getByRole("link", { name: /WooCommerce provisioning/i })
            .first()
            .click();
          await ops.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
          await expectText(ops.locator('[data-step="wait-ready"] [data-testid="step-code"]'), "wait-ready");
          await ops.getByRole("button", { name: "Retry this step" }).click();
          const dialog = ops.getByRole("dialog");
          await expectText(dialog, "Retry “Starting the store”?");
          await dialog.getByRole("button", { name: "Retry step" }).click();
          await expectVisible(ops.locator('[data-run-status="succeeded"]'), { timeout: 120_000 });
          await shot(ops, "34-fake-cluster-run-retried-succeeded");
          await assertContrast(ops, "run detail (operator)");
          // The tenant's page follows, live.
          await expectVisible(page.locator('[data-status="ready"]'), { timeout: 30_000 });
          await expectText(page.getByTestId("progress-percent"), "100%");
          assertNoProblems(owner, "step retry");
          assertNoProblems(tenant, "store ready after the retry");
        },
        { timeout: 300_000 },
      );

      step(
        "an operator changes a tenant's store's admin password: generated, never chosen",
        async () => {
          const ops = owner.page;
          const { page } = tenant;
          await page.getByRole("button", { name: "Reveal password" }).click();
          const before = (await page.getByTestId("credential-password").textContent())?.trim();
          await ops.goto(`/stores/${ctx.brokenStoreId}`);
          await expectVisible(ops.locator('[data-testid="credentials"][data-owner="false"]'));
          await ops.getByRole("button", { name: "Change admin password" }).click();
          const dialog = ops.getByRole("dialog");
          await expectText(dialog, "A new password is generated. Only the store's owner (tenant) can see it.");
          assert.equal(await dialog.getByRole("radio").count(), 0, "no choice for an operator");
          await shot(ops, "38-fake-cluster-operator-rotate-confirm", { fullPage: false });
          await dialog.getByRole("button", { name: "Change password" }).click();
          await expectVisible(ops.getByTestId("rotation-done"), { timeout: 60_000 });
          // Masked for the operator; the tenant's page follows live, with the new one.
          await expectText(ops.getByTestId("credential-password"), "••••••••");
          await eventually(
            async () => {
              const now = (await page.getByTestId("credential-password").textContent())?.trim();
              return now && now !== before && !now.includes("•");
            },
            { timeout: 30_000, message: "the tenant to see the new password" },
          );
          assertNoProblems(owner, "operator rotation");
          assertNoProblems(tenant, "operator rotation (tenant)");
        },
        { timeout: 90_000 },
      );
    },
  );
}
