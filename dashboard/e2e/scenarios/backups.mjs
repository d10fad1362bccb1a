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
// here waits for a backup to complete. For the restore into the same store, a complete backup is
// recorded in the platform's database (psql); the restore itself runs for real and stays
// `restoring` (its backup cannot be read from the bucket), is refused while the other backup
// runs, is cancelled by the operator and retried by the tenant.

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

/** A request to the API with `person`'s session (their token from the page's storage). */
function apiAs(person, method, path) {
  return person.page.evaluate(
    async ({ method, path }) => {
      const token = localStorage.getItem("storeflow.token");
      const answer = await fetch(path, { method, headers: { Authorization: `Bearer ${token}` } });
      return { status: answer.status, body: await answer.json().catch(() => null) };
    },
    { method, path },
  );
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

    step(
      "a complete backup restores into the store itself: the exact name enables it, a running backup holds it back, then the store is restoring",
      async (t) => {
        // No backup completes on this platform (the simulated cluster cannot dump a database, and
        // the bucket answers nothing): a complete backup of the store is recorded as its run's
        // `finish-backup` step would record it, manifest and all. The restore then runs for real:
        // its first step reads the backup from the bucket, which answers nothing, so it retries and
        // the store stays `restoring`.
        const inserted = platform.sql(`
          WITH b AS (SELECT gen_random_uuid() AS id, now() - interval '2 hours' AS at)
          INSERT INTO store_backups (id, store_id, owner_id, store_name, engine, status, trigger, manifest,
                                     size_bytes, stored_bytes, created_at, completed_at)
          SELECT b.id, s.id, s.owner_id, s.name, s.engine, 'complete', 'manual',
                 jsonb_build_object(
                   'format', 'storeflow-backup/1', 'backupId', b.id,
                   'store', jsonb_build_object('id', s.id, 'name', s.name, 'engine', s.engine),
                   'versions', jsonb_build_object('chart', s.chart_version, 'app', s.app_version),
                   'createdAt', b.at, 'encryption', jsonb_build_object('algorithm', 'AES-256-GCM'),
                   'parts', jsonb_build_array(
                     jsonb_build_object('name', 'database', 'object', 'storeflow/stores/' || s.id || '/' || b.id || '/database',
                                        'size', 52341, 'storedSize', 52597, 'sha256', repeat('a', 64)),
                     jsonb_build_object('name', 'uploads', 'object', 'storeflow/stores/' || s.id || '/' || b.id || '/uploads',
                                        'size', 1048576, 'storedSize', 1052672, 'sha256', repeat('b', 64)))),
                 1100917, 1105269, b.at, b.at + interval '12 seconds'
          FROM stores s, b WHERE s.id = '${ctx.id}'
          RETURNING id`);
        assert.notEqual(
          inserted,
          null,
          "psql is needed to record a complete backup (Debian: apt-get install postgresql-client; it comes with postgresql)",
        );
        ctx.completeId = inserted.split("\n")[0].trim();
        assert.match(ctx.completeId, /^[0-9a-f-]{36}$/);

        const { page } = tenant;
        await page.goto(ctx.url);
        const section = page.locator("#backups");
        const row = section.locator(`[data-backup="${ctx.completeId}"]`);
        await expectVisible(row.locator('[data-backup-status="complete"]'));
        // Offered on the complete backup only, beside the restore into a new store.
        const action = row.getByTestId("restore-in-place");
        await expectText(action, "Restore into this store");
        await expectVisible(row.getByTestId("restore-backup"));
        assert.equal(await section.locator(`[data-backup="${ctx.backupId}"]`).getByTestId("restore-in-place").count(), 0);
        await shotOf(row, "96-restore-in-place-row");
        // Both restore actions fit a phone.
        await page.setViewportSize({ width: 390, height: 844 });
        await row.scrollIntoViewIfNeeded();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `the backup row is ${overflow}px wider than the phone`);
        await shotOf(row, "96b-restore-in-place-row-phone");
        await page.setViewportSize({ width: 1280, height: 860 });

        await action.click();
        const dialog = page.getByRole("dialog");
        await expectVisible(dialog);
        await expectText(dialog.getByRole("heading"), /^Restore backup-shop to its backup of /);
        const what = dialog.getByTestId("restore-in-place-what");
        await expectText(what, "The store's current data is replaced by the backup's.");
        await expectText(what, "added or changed since then are lost");
        await expectText(what, "The store keeps its address and its current admin password.");
        const confirm = dialog.getByRole("button", { name: "Replace the store's data" });
        const typed = dialog.getByLabel(/to confirm$/);
        assert.equal(await confirm.isDisabled(), true, "disabled before anything is typed");
        for (const text of ["backup-sho", "Backup-shop", "backup-shop ", " backup-shop"]) {
          await typed.fill(text);
          assert.equal(await confirm.isDisabled(), true, `disabled with “${text}”`);
        }
        await shotOf(dialog, "97-restore-in-place-dialog-disabled");
        await typed.fill("backup-shop");
        assert.equal(await confirm.isDisabled(), false, "enabled with the store's exact name");
        await shotOf(dialog, "98-restore-in-place-dialog");
        await assertContrast(page, "restore into this store: the confirmation");

        // The backup started earlier still runs: the API refuses, said in the dialog. Then the
        // operator cancels that backup's run, and it ends failed.
        const posts = countRequests(page, "POST", `/stores/${ctx.id}/restore`);
        const running = await apiAs(ops, "GET", `/api/v1/backups/${ctx.backupId}`);
        const refused = running.body.backup.status === "running";
        if (refused) {
          await confirm.click();
          const refusal = dialog.getByRole("alert");
          await expectText(refusal, "A backup of this store is running: the store can be restored once it has finished.");
          const refusalText = await refusal.innerText();
          assert.ok(!/\/api\/|GET |BACKUP_/.test(refusalText), `no routes or codes in the refusal: ${refusalText}`);
          assert.equal(await dialog.isVisible(), true, "the dialog stays open on a refusal");
          await shotOf(dialog, "98b-restore-in-place-refused");
          const cancelled = await apiAs(ops, "POST", `/api/v1/runs/${running.body.backup.runId}/cancel`);
          assert.ok(cancelled.status < 300, `cancelling the backup run: ${JSON.stringify(cancelled)}`);
          const ended = await eventually(
            async () => {
              const answer = await apiAs(ops, "GET", `/api/v1/backups/${ctx.backupId}`);
              return answer.body.backup.status === "failed" && answer.body.backup;
            },
            { timeout: 30_000, message: "the cancelled backup to end" },
          );
          figures["backups: the cancelled backup's error (API)"] = ended.error;
        }
        figures["backups: restore refused while a backup runs (BACKUP_IN_PROGRESS in the dialog)"] = refused
          ? "yes"
          : `no (the backup was ${running.body.backup.status} by then)`;

        // Again, from the same dialog: accepted; the dialog closes and the store is restoring.
        const clicked = Date.now();
        await confirm.click();
        await dialog.waitFor({ state: "hidden" });
        await expectVisible(page.locator('[data-status="restoring"]'));
        figures["backups: restore into the same store, click to the restoring badge"] = `${Date.now() - clicked} ms`;
        posts.stop();
        assert.equal(posts.seen.length, refused ? 2 : 1, "one request per click");
        const progress = page.getByRole("region", { name: "Restore" });
        await expectVisible(progress);
        await expectText(progress.getByTestId("progress-summary"), /Checking the backup|Queued/);
        await expectText(progress, "Checking the backup");
        const line = page.getByTestId("restored-from");
        await expectText(line, /^Restoring from backup of [A-Z][a-z]{2} \d{1,2}, .+$/);
        assert.equal(await line.getAttribute("data-restore-state"), "running");
        // Nothing the API would refuse while the store restores.
        assert.equal(await page.getByRole("button", { name: "Delete" }).count(), 0, "no Delete while restoring");
        assert.equal(await page.getByTestId("restore-in-place").count(), 0, "no second restore");
        assert.equal(await page.getByTestId("back-up-now").isDisabled(), true);
        await expectText(
          page.getByTestId("backup-blocked"),
          "The store is being restored from a backup: back it up once it is ready again.",
        );
        // The line leads to the backup's row.
        await line.getByRole("link").click();
        await eventually(async () => page.url().endsWith(`#backup-${ctx.completeId}`), { message: "the backup's anchor" });
        await shot(page, "99-restoring-store");
        await page.evaluate(() => window.scrollTo(0, 0));
        await shot(page, "99b-restoring-store-top", { fullPage: false });
        await assertContrast(page, "a store restoring from its backup");

        // The store list says so too, and filters by it.
        await page.goto("/stores?status=restoring");
        const listed = page.locator("tr", { hasText: "backup-shop" });
        await expectVisible(listed.locator('[data-status="restoring"]'));
        await expectText(listed, "Checking the backup");
        await page.goto(ctx.url);
        assertNoProblems(tenant, "restore into the same store");
      },
      { timeout: 120_000 },
    );

    step("a stopped restore says so on the store page, and Retry starts it again", async () => {
      if (!ctx.completeId) return;
      const { page } = tenant;
      const api = (method, path) => apiAs(ops, method, path);
      // The operator cancels the restore (its first step keeps retrying against a bucket that
      // answers nothing); the store is failed where it stopped.
      const detail = await api("GET", `/api/v1/stores/${ctx.id}`);
      const run = detail.body.store.currentRun;
      assert.equal(run.operation, "restore");
      assert.equal(run.workflow, "restore-in-place-woocommerce");
      if (detail.body.store.status === "restoring") {
        const cancelled = await api("POST", `/api/v1/runs/${run.id}/cancel`);
        assert.ok(cancelled.status < 300, `cancelling the restore: ${JSON.stringify(cancelled)}`);
      }
      await expectVisible(page.locator('[data-status="failed"]'), { timeout: 30_000 });
      await expectText(page.getByTestId("failure-title"), "Restore stopped at “Checking the backup”");
      await expectText(
        page.getByTestId("restore-stopped"),
        "The backup is checked before anything is replaced, so the store's data is still as it was.",
      );
      await expectText(page.getByTestId("restored-from"), /^Restore from backup of .+ did not finish$/);
      await shotOf(page.getByRole("alert").first(), "99c-restore-stopped");
      await assertContrast(page, "a stopped restore");

      await page.getByTestId("retry-store").click();
      const dialog = page.getByRole("dialog");
      await expectVisible(dialog);
      // A cancelled run starts again; a failed one resumes at its step.
      await expectText(
        dialog.getByTestId("retry-what"),
        /^(The restore starts again from its beginning: the backup is checked, then put in place of the store's data\.|The restore resumes at its failed step, “Checking the backup”; the steps that finished are not repeated\.)$/,
      );
      await dialog.getByRole("button", { name: "Retry" }).click();
      await dialog.waitFor({ state: "hidden" });
      await expectVisible(page.locator('[data-status="restoring"]'), { timeout: 30_000 });
      await expectText(page.getByTestId("restored-from"), /^Restoring from backup of /);
      assertNoProblems(tenant, "restore retried");
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
