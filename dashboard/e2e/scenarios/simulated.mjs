// With the cluster simulated inside storeflow (`storeflow up --simulated-cluster`): no other
// process, nothing really deployed. Every page says so in a banner, signed out and signed in; a
// WooCommerce store goes through every step to ready against the simulated cluster, and — when
// the Medusa backend package is installed (charts/medusa-backend/node_modules) — so does a
// Medusa store, backed by one real Medusa on this machine that the first Medusa store starts.

import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe } from "node:test";

import { assertNoProblems, eventually, expectText, expectVisible, newPerson, shot } from "../browser.mjs";
import { assertContrast } from "../contrast.mjs";
import { repoDir, startPlatform } from "../platform.mjs";
import { figures, scenario } from "../steps.mjs";
import { expectPlainStepLabels, register } from "./tenancy.mjs";

const BANNER_TITLE = "Simulated cluster — nothing is really deployed";
const MEDUSA_CLI = path.join(repoDir, "charts", "medusa-backend", "node_modules", ".bin", "medusa");

/** Whether a Medusa store can be provisioned here (the local Medusa needs its package). */
export function medusaAvailable() {
  return fs.existsSync(MEDUSA_CLI);
}

/** The banner every page shows with a simulated cluster. */
async function expectBanner(page) {
  const banner = page.getByTestId("simulated-cluster-banner");
  await expectVisible(banner);
  await expectText(banner, BANNER_TITLE);
  assert.equal(await banner.getAttribute("role"), "status");
  return banner;
}

/** Creates a store from the form and returns its page's path once there. */
async function createStore(page, { name, engine }) {
  await page.goto("/stores/new");
  await page.getByLabel("Name", { exact: true }).fill(name);
  if (engine === "medusa") {
    // The engine cards are labels around visually hidden radios.
    await page.locator('label:has(input[name="engine"][value="medusa"])').click();
    assert.equal(await page.locator('input[name="engine"][value="medusa"]').isChecked(), true);
  }
  await page.getByRole("button", { name: "Create store" }).click();
  await page.waitForURL(/\/stores\/store-[0-9a-f]{8}$/);
  return new URL(page.url()).pathname;
}

/** Waits on the store page until the store is ready; fails at once, with the reason, if it fails. */
async function waitUntilReady(page, { timeout, label }) {
  const started = Date.now();
  await eventually(
    async () => {
      const status = await page.locator("[data-status]").first().getAttribute("data-status");
      if (status === "failed") {
        const reason = await page
          .getByTestId("failure-reason")
          .textContent()
          .catch(() => "");
        throw Object.assign(new Error(`the ${label} store failed: ${reason}`), { final: true });
      }
      return status === "ready";
    },
    { timeout, interval: 250, message: `the ${label} store to be ready` },
  );
  return Date.now() - started;
}

export function withSimulatedCluster(browser) {
  const medusa = medusaAvailable();
  if (!medusa) {
    console.log(
      `NOTICE: ${MEDUSA_CLI} is missing: the simulated-cluster scenario skips its Medusa store ` +
        "(npm ci in charts/medusa-backend).",
    );
  }
  describe("dashboard with a simulated cluster", () => {
    let platform;
    let owner;
    const { step, watch } = scenario("simulated-cluster");

    before(async () => {
      platform = await startPlatform({ name: "simulated-cluster", simulatedCluster: true });
      console.log(`platform with a simulated cluster up at ${platform.baseUrl} in ${platform.startedInMs} ms`);
      figures["platform start (simulated cluster)"] = `${platform.startedInMs} ms`;
    });
    after(async () => {
      await owner?.context.close().catch(() => undefined);
      await platform?.stop();
    });

    step("public health says the cluster is simulated; the sign-in and register pages show the banner", async () => {
      const health = await (await fetch(`${platform.baseUrl}/api/v1/health`)).json();
      assert.equal(health.simulatedCluster, true, `public health: ${JSON.stringify(health)}`);
      owner = await newPerson(browser, platform.baseUrl);
      watch(owner.page);
      const { page } = owner;
      await page.goto("/");
      await page.waitForURL(/\/login$/);
      await expectBanner(page);
      await expectText(page.getByTestId("simulated-cluster-banner"), "docs/real-cluster.md");
      await shot(page, "40-simulated-sign-in-banner");
      await assertContrast(page, "sign-in with the banner");
      await page.getByRole("link", { name: "Create an account" }).click();
      await page.waitForURL(/\/register$/);
      await expectBanner(page);
      assertNoProblems(owner, "signed-out pages");
    });

    step("the first user registers as the admin and sees the banner in the layout", async () => {
      const { page } = owner;
      await register(page, { email: "sim@example.com", username: "sim" });
      await expectText(page.getByTestId("admin-notice"), "first account");
      await expectBanner(page);
      await shot(page, "41-simulated-overview-banner");
      assertNoProblems(owner, "overview");
    });

    step(
      "a WooCommerce store goes through every step to ready; its URLs say they cannot be reached",
      async () => {
        const { page } = owner;
        await createStore(page, { name: "sim-shop", engine: "woocommerce" });
        const ms = await waitUntilReady(page, { timeout: 90_000, label: "WooCommerce" });
        figures["simulated cluster: WooCommerce create to ready (browser view)"] = `${ms} ms`;
        await expectText(page.getByTestId("progress-percent"), "100%");
        await expectVisible(page.getByRole("link", { name: /^http/ }).first());
        await expectText(page.getByTestId("simulated-url-note"), "simulated: not reachable");
        await expectBanner(page);
        const labels = await expectPlainStepLabels(page);
        assert.equal(labels["woocommerce-products"], "Adding the starter products");
        await shot(page, "42-simulated-woocommerce-store-ready");
        await assertContrast(page, "ready store with the banner");
        assertNoProblems(owner, "WooCommerce store");
      },
      { timeout: 120_000 },
    );

    step(
      "a Medusa store goes through every step to ready against the local Medusa",
      async (t) => {
        if (!medusa) {
          t.skip(`${MEDUSA_CLI} is missing`);
          return;
        }
        const { page } = owner;
        await createStore(page, { name: "sim-medusa", engine: "medusa" });
        // The first Medusa store waits for the local Medusa to start.
        const ms = await waitUntilReady(page, { timeout: 240_000, label: "Medusa" });
        figures["simulated cluster: Medusa create to ready (browser view)"] = `${ms} ms`;
        await expectText(page.getByTestId("progress-percent"), "100%");
        await expectBanner(page);
        const labels = await expectPlainStepLabels(page);
        assert.equal(labels["medusa-admin-user"], "Creating the admin account");
        assert.equal(labels["medusa-setup"], "Setting up the shop");
        await shot(page, "43-simulated-medusa-store-ready");
        assertNoProblems(owner, "Medusa store");
      },
      { timeout: 270_000 },
    );

    step("phone width: the banner leaves the page in view and adds no overflow", async () => {
      const { page } = owner;
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto("/stores");
      await page.locator("main h1").first().waitFor();
      const banner = await expectBanner(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
      const box = await banner.boundingBox();
      assert.ok(box && box.height < 844 / 2, `the banner is ${box?.height}px tall on a phone`);
      const heading = await page.locator("main h1").first().boundingBox();
      assert.ok(heading && heading.y + heading.height <= 844, "the page heading is below the fold");
      await shot(page, "44-simulated-phone-stores", { fullPage: false });
      await page.setViewportSize({ width: 1280, height: 860 });
      assertNoProblems(owner, "phone");
    });
  });
}
