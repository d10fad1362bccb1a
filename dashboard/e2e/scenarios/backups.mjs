// Store backups with the cluster simulated inside storeflow (`storeflow up --simulated-cluster`):
// a tenant's WooCommerce store cannot be backed up while it provisions, then can; its backup
// schedule is saved (the next backup time shows, and stays after a reload), turned off, and an
// expression with the wrong number of fields (caught before sending) and one the API refuses
// (an hour of 25, said beside the field) are not saved. "Back up now" starts a backup that shows
// as running (with its current step for the operator), and a second one is refused with the
// API's reason (BACKUP_IN_PROGRESS). The Backups page lists it, linked to its store, and filters
// by status.
//
// The simulated cluster runs no backups and the platform has no backup bucket: the backup's
// first step waits ("this worker has no backup bucket") and the backup stays `running`. Nothing
// here waits for a backup to complete; restoring is covered by the unit tests.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";

import { assertNoProblems, eventually, expectText, expectVisible, newPerson, shot, shotOf } from "../browser.mjs";
import { assertContrast } from "../contrast.mjs";
import { startPlatform } from "../platform.mjs";
import { figures, scenario } from "../steps.mjs";
import { readableText, register } from "./tenancy.mjs";

/** The Backups section's schedule fields. */
function scheduleForm(page) {
  const section = page.locator("#backups");
  return {
    section,
    cron: section.getByLabel("Schedule (cron)"),
    daily: section.getByLabel("Keep daily"),
    weekly: section.getByLabel("Keep weekly"),
    save: section.getByRole("button", { name: "Save", exact: true }),
    off: section.getByRole("button", { name: "Turn off", exact: true }),
    status: section.getByTestId("backup-schedule-status"),
    errors: section.locator("[data-field-errors]"),
  };
}

/** The requests the page sends to a path, counted from now on. */
function countRequests(page, method, pathPart) {
  const seen = [];
  const listener = (request) => {
    if (request.method() === method && request.url().includes(pathPart)) seen.push(request.url());
  };
  page.on("request", listener);
  return {
    seen,
    stop: () => page.off("request", listener),
  };
}

export function withBackups(browser) {
  describe("store backups (simulated cluster)", () => {
    let platform;
    let ops;
    let tenant;
    const { step, watch } = scenario("backups");
    const ctx = {};

    before(async () => {
      // A bucket name lets the API accept backups; its endpoint answers nothing, and the
      // simulated cluster cannot run the dump anyway: the backup stays running, as asserted.
      platform = await startPlatform({
        name: "backups",
        simulatedCluster: true,
        env: { BACKUP_S3_BUCKET: "e2e-backups", BACKUP_S3_ENDPOINT: "http://127.0.0.1:9" },
      });
      console.log(`platform with a simulated cluster up at ${platform.baseUrl} (backups)`);
    });
    after(async () => {
      await ops?.context.close().catch(() => undefined);
      await tenant?.context.close().catch(() => undefined);
      await platform?.stop();
    });

    step(
      "a WooCommerce store cannot be backed up while it provisions; once ready it can, with no backups yet",
      async () => {
        ops = await newPerson(browser, platform.baseUrl);
        tenant = await newPerson(browser, platform.baseUrl);
        watch(ops.page, tenant.page);
        await register(ops.page, { email: "ops@example.com", username: "ops" });
        const { page } = tenant;
        await register(page, { email: "shop@example.com", username: "shopkeeper" });
        await page.goto("/stores/new");
        await page.getByLabel("Name", { exact: true }).fill("backup-shop");
        await page.getByRole("button", { name: "Create store" }).click();
        await page.waitForURL(/\/stores\/store-[0-9a-f]{8}$/);
        ctx.url = new URL(page.url()).pathname;
        ctx.id = ctx.url.split("/").pop();
        const started = Date.now();

        // While it provisions: the button is there, disabled, and says why (read in one go, so the
        // status and the button belong together).
        await expectVisible(page.getByTestId("back-up-now"));
        const early = await page.evaluate(() => ({
          status: document.querySelector("[data-status]")?.getAttribute("data-status"),
          disabled: document.querySelector('[data-testid="back-up-now"]')?.hasAttribute("disabled"),
          reason: document.querySelector('[data-testid="backup-blocked"]')?.textContent ?? null,
          describedBy: document.querySelector('[data-testid="back-up-now"]')?.getAttribute("aria-describedby"),
        }));
        if (early.status !== "ready") {
          assert.equal(early.disabled, true, `Back up now while ${early.status}`);
          assert.equal(early.reason, "The store can be backed up once it is ready.");
          assert.ok(early.describedBy, "the disabled button points at its reason");
        }
        figures["backups: Back up now seen disabled, with its reason, while the store provisioned"] =
          early.status !== "ready" ? `yes (${early.status})` : "no (the store was ready at once)";

        await expectVisible(page.locator('[data-status="ready"]'), { timeout: 90_000 });
        figures["backups: store create to ready (simulated cluster, browser view)"] = `${Date.now() - started} ms`;
        const button = page.getByTestId("back-up-now");
        await eventually(async () => !(await button.isDisabled()), { message: "Back up now to be enabled" });
        assert.equal(await page.getByTestId("backup-blocked").count(), 0, "no reason once ready");
        await expectText(page.getByTestId("no-backups"), "No backups yet.");
        const form = scheduleForm(page);
        await expectText(form.status, "Scheduled backups are off.");
        assert.equal(await form.cron.inputValue(), "");
        assert.equal(await form.daily.inputValue(), "7");
        assert.equal(await form.weekly.inputValue(), "4");
        // The format is said beside the field.
        await expectText(form.section, "5 fields, UTC, e.g. 0 3 * * *");
        await assertContrast(page, "store page with its Backups section");
        assertNoProblems(tenant, "ready store");
      },
      { timeout: 120_000 },
    );

    step("a backup schedule is saved with its next backup time, kept after a reload, then turned off", async () => {
      const { page } = tenant;
      let form = scheduleForm(page);
      await form.cron.fill("0 3 * * *");
      await form.daily.fill("5");
      await form.weekly.fill("2");
      await form.save.click();
      await eventually(async () => (await form.status.getAttribute("data-scheduled")) === "on", {
        message: "the schedule to be on",
      });
      await expectText(form.status, "Scheduled backups are on: every day at 03:00 UTC");
      await expectText(form.status, "last 5 days and 2 weeks");
      const next = await expectText(page.getByTestId("backup-next"), /^[A-Z][a-z]{2} \d{1,2}, 03:00 UTC$/);
      const nextAt = await page.getByTestId("backup-next").getAttribute("datetime");
      const due = new Date(nextAt).getTime();
      assert.ok(due > Date.now() && due - Date.now() <= 24 * 3600_000, `the next backup ${nextAt} is within a day`);
      assert.equal(new Date(nextAt).getUTCHours(), 3);
      figures["backups: next backup shown for 0 3 * * *"] = next;
      await expectText(form.status, /\(in \d+ (h|min)\)/);
      await shotOf(form.section.getByTestId("backup-schedule"), "89-backups-schedule-on");

      // Saved on the server: a reload reads it back.
      await page.reload();
      form = scheduleForm(page);
      await expectText(form.status, "every day at 03:00 UTC");
      assert.equal(await form.cron.inputValue(), "0 3 * * *");
      assert.equal(await form.daily.inputValue(), "5");
      assert.equal(await form.weekly.inputValue(), "2");
      await expectVisible(page.getByTestId("backup-next"));

      await form.off.click();
      await eventually(async () => (await form.status.getAttribute("data-scheduled")) === "off", {
        message: "the schedule to be off",
      });
      await expectText(form.status, "Scheduled backups are off.");
      assert.equal(await page.getByTestId("backup-next").count(), 0, "no next backup once off");
      assert.equal(await form.off.count(), 0, "nothing to turn off");
      // Turning off keeps the retention as saved.
      assert.equal(await form.daily.inputValue(), "5");
      assert.equal(await form.weekly.inputValue(), "2");
      const policy = await page.evaluate(async (id) => {
        const token = localStorage.getItem("storeflow.token");
        const answer = await fetch(`/api/v1/stores/${id}/backup-policy`, { headers: { Authorization: `Bearer ${token}` } });
        return (await answer.json()).policy;
      }, ctx.id);
      assert.deepEqual(policy, { schedule: null, keepDaily: 5, keepWeekly: 2, nextAt: null });
      assertNoProblems(tenant, "schedule saved and turned off");
    });

    step("an invalid schedule is refused beside the field, in words, and nothing is saved", async () => {
      const { page } = tenant;
      const form = scheduleForm(page);
      const puts = countRequests(page, "PUT", "/backup-policy");

      // The wrong number of fields: said before anything is sent.
      await form.cron.fill("* * *");
      await form.save.click();
      await expectText(
        form.errors.first(),
        "“* * *” is not a valid schedule. It has 3 fields; a schedule needs 5: minute, hour, day of month, month and day of week.",
      );
      assert.equal(puts.seen.length, 0, "no request for an expression without 5 fields");

      // Five fields, one out of range: the API's field error, in words, beside the field.
      await form.cron.fill("0 25 * * *");
      await form.save.click();
      await expectText(form.errors.first(), "“0 25 * * *” is not a valid schedule. Hour 25 is out of range (0-23).");
      puts.stop();
      assert.equal(puts.seen.length, 1, "the API was asked once");
      assert.equal(await form.cron.getAttribute("aria-invalid"), "true");
      assert.equal(await form.cron.inputValue(), "0 25 * * *", "the refused expression stays in the field");
      await expectText(form.status, "Scheduled backups are off.");
      // The error is at the field only, with no second alert about the same thing.
      assert.equal(await form.section.getByRole("alert").count(), 0);
      await shotOf(form.section.getByTestId("backup-schedule"), "90-backups-schedule-refused");
      await assertContrast(page, "a refused backup schedule");
      assertNoProblems(tenant, "refused schedule");
    });

    step("Back up now starts a backup that shows as running; a second one is refused with the API's reason", async () => {
      const { page } = tenant;
      const section = page.locator("#backups");
      await page.getByTestId("back-up-now").click();
      const row = section.locator("[data-backup]").first();
      await expectVisible(row.locator('[data-backup-status="running"]'), { timeout: 15_000 });
      ctx.backupId = await row.getAttribute("data-backup");
      assert.match(ctx.backupId, /^[0-9a-f-]{36}$/);
      await expectText(row.getByTestId("backup-trigger"), "Manual");
      // What it does, in plain words (the simulated platform has no backup bucket: its first step
      // waits). The API leaves a tenant's backup's step out (null) today: "Backing up…" then.
      const stepText = await expectText(row.getByTestId("backup-step"), /…$/);
      assert.ok(!/\b[a-z]+-[a-z]+\b/.test(stepText), `the step reads "${stepText}"`);
      figures["backups: a running backup's step on the store page"] = stepText;
      assert.equal(await section.getByTestId("no-backups").count(), 0);
      assert.equal(await row.getByTestId("restore-backup").count(), 0, "a running backup is not restorable");

      // Still running (a few polls later): nothing pretends it finished.
      await page.waitForTimeout(3500);
      assert.equal(await row.locator('[data-backup-status="running"]').count(), 1);

      await page.getByTestId("back-up-now").click();
      const refusal = page.getByTestId("backup-start-error");
      await expectVisible(refusal);
      assert.equal(await refusal.getAttribute("data-error-code"), "BACKUP_IN_PROGRESS");
      await expectText(refusal, "A backup of this store is already running.");
      assert.equal(await refusal.getByRole("alert").count(), 1);
      const text = await refusal.innerText();
      assert.ok(!/\/api\/|GET /.test(text), `no routes in the refusal: ${text}`);
      assert.equal(await section.locator("[data-backup]").count(), 1, "no second backup");

      await shotOf(section, "91-backups-store-section-running");
      await assertContrast(page, "store page: a running backup and a refused second one");
      assertNoProblems(tenant, "back up now");
    });

    step("the Backups page lists the running backup, linked to its store, and filters by status", async () => {
      const { page } = tenant;
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Backups" }).click();
      await page.waitForURL(/\/backups$/);
      await expectText(page.locator("main h1"), "Backups");
      const row = page.locator(`[data-backup-row="${ctx.backupId}"]`);
      await expectVisible(row);
      assert.equal(await page.locator("[data-backup-row]").count(), 1);
      await expectVisible(row.locator('[data-backup-status="running"]'));
      const link = row.getByTestId("backup-store");
      await expectText(link, "backup-shop");
      assert.equal(await link.getAttribute("href"), ctx.url);
      await expectText(row.getByTestId("backup-step"), /…$/);
      await expectText(page.getByTestId("backups-count"), "1 backup.");
      await shot(page, "92-backups-page");
      await shotOf(page.locator("main"), "93-backups-page-main");
      await assertContrast(page, "Backups page");

      const filters = page.getByRole("group", { name: "Filter by status" });
      await filters.getByRole("button", { name: "Running" }).click();
      await page.waitForURL(/\/backups\?status=running$/);
      await expectVisible(row);
      await filters.getByRole("button", { name: "Complete" }).click();
      await page.waitForURL(/\/backups\?status=complete$/);
      await expectText(page.locator("main"), "No backups match");
      await expectText(page.locator("main"), "No complete backups.");
      await page.getByRole("button", { name: "Clear filters" }).click();
      await page.waitForURL(/\/backups$/);
      await expectVisible(row);

      // The store's name leads back to the store, where the backup is still running.
      await link.click();
      await page.waitForURL((url) => url.pathname === ctx.url);
      await expectVisible(page.locator(`#backups [data-backup="${ctx.backupId}"] [data-backup-status="running"]`));
      assertNoProblems(tenant, "Backups page");
    });

    step("the operator sees every store's backups; the tenant's words carry no developer text", async () => {
      const { page } = ops;
      await page.goto("/backups");
      const row = page.locator(`[data-backup-row="${ctx.backupId}"]`);
      await expectVisible(row);
      await expectText(row.getByTestId("backup-store"), "backup-shop");
      await page.goto(ctx.url);
      // The API tells operators the step the backup waits at: its first part.
      await expectText(page.locator(`#backups [data-backup="${ctx.backupId}"]`).getByTestId("backup-step"), "Saving the database…");
      // Operators reach the backup's run from the store page.
      const runLink = page.locator(`#backups [data-backup="${ctx.backupId}"]`).getByRole("link", { name: "Backup run" });
      await expectVisible(runLink);
      assert.match(await runLink.getAttribute("href"), /^\/runs\/[0-9a-f-]{36}$/);
      assertNoProblems(ops, "operator's Backups page");

      const text = await readableText(tenant.page);
      assert.ok(!/`|BACKUP_|dump-database|dump-uploads/.test(text), "the tenant's page reads as words");
    });

    step("phone width: the Backups page and the store's Backups section fit", async () => {
      const { page } = tenant;
      await page.setViewportSize({ width: 390, height: 844 });
      for (const path of ["/backups", ctx.url]) {
        await page.goto(path);
        await page.locator("main h1").first().waitFor();
        await expectVisible(page.locator("[data-backup-status]").first());
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${path} is ${overflow}px wider than the phone`);
      }
      await shotOf(page.locator("#backups"), "94-backups-phone-store-section");
      await page.goto("/backups");
      await expectVisible(page.locator("[data-backup-row]").first());
      await shot(page, "95-backups-phone-page", { fullPage: false });
      await page.setViewportSize({ width: 1280, height: 860 });
      assertNoProblems(tenant, "phone");
    });
  });
}
