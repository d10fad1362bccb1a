// Against the fake Kubernetes cluster (storeflow-fakecluster): a store really provisions —
// the progress moves step by step to ready — and is deleted again. Skipped, with a notice, when
// the fake cluster's binary has not been built.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";

import { assertNoProblems, eventually, expectText, expectVisible, newPerson, shot } from "../browser.mjs";
import { fakeClusterAvailable, fakeClusterBin, startPlatform } from "../platform.mjs";
import { figures, scenario } from "../steps.mjs";
import { register } from "./tenancy.mjs";

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
      const { step, watch } = scenario("fake-cluster");
      const ctx = {};

      before(async () => {
        platform = await startPlatform({ name: "fake-cluster", fakeCluster: true });
        console.log(`platform with fake cluster up at ${platform.baseUrl} (cluster ${platform.cluster.control})`);
      });
      after(async () => {
        await owner?.context.close().catch(() => undefined);
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
          await eventually(
            async () => {
              for (const el of await page.locator("[data-step]").all()) {
                const status = await el.getAttribute("data-step-status");
                if (status === "succeeded") seen.add(await el.getAttribute("data-step"));
              }
              percents.add((await page.getByTestId("progress-percent").textContent())?.trim());
              const status = await page.locator("[data-status]").first().getAttribute("data-status");
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
          await expectText(page.getByTestId("progress-percent"), "100%");
          await expectVisible(page.getByRole("link", { name: /^http.*\/$/ }).first());
          await page.getByRole("button", { name: "Reveal password" }).click();
          assert.notEqual((await page.getByTestId("credential-password").textContent())?.trim(), "••••••••••••");
          await shot(page, "30-fake-cluster-store-ready");
          assertNoProblems(owner, "ready store");
        },
        { timeout: 200_000 },
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
          await shot(page, "31-fake-cluster-store-deleted");
          await page.goto("/stores?status=deleted");
          await expectVisible(page.locator("[data-store-row]").first());
          assertNoProblems(owner, "deleted store");
        },
        { timeout: 150_000 },
      );

      step(
        "a failing rollout shows the step's error; after healing, the operator retries the step to ready",
        async () => {
          const { page } = owner;
          const control = async (path, body) => {
            const answer = await fetch(`${platform.cluster.control}/${path}`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(body),
            });
            assert.ok(answer.ok, `fake cluster ${path}: ${answer.status}`);
          };
          await control("fail-next", { failure: "image-pull" });
          await page.goto("/stores/new");
          await page.getByLabel("Name", { exact: true }).fill("broken-shop");
          await page.getByRole("button", { name: "Create store" }).click();
          await page.waitForURL(/\/stores\/store-[0-9a-f]{8}$/);
          const storeId = new URL(page.url()).pathname.split("/").pop();
          await expectVisible(page.locator('[data-status="failed"]'), { timeout: 120_000 });
          const failedStep = page.locator('[data-step-status="failed"]');
          await expectVisible(failedStep);
          await expectVisible(failedStep.getByTestId("step-suggestion"));
          await shot(page, "32-fake-cluster-step-failed");

          await control("heal", { namespace: storeId });
          // The operator's way: the run's failed step, retried from the run page.
          await page
            .getByRole("link", { name: /Provision woocommerce/i })
            .first()
            .click();
          await page.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
          await page.getByRole("button", { name: "Retry this step" }).click();
          const dialog = page.getByRole("dialog");
          await dialog.getByRole("button", { name: "Retry step" }).click();
          await expectVisible(page.locator('[data-run-status="succeeded"]'), { timeout: 120_000 });
          await shot(page, "33-fake-cluster-run-retried-succeeded");
          await page.goto(`/stores/${storeId}`);
          await expectVisible(page.locator('[data-status="ready"]'));
          assertNoProblems(owner, "step retry");
        },
        { timeout: 300_000 },
      );
    },
  );
}
