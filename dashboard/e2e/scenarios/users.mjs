// User management without a cluster: an admin disables a tenant (whose next request fails, and
// whose sign-in then says the account is disabled) and enables them again, forces a password
// reset (the one-time link opens the reset page; the new password signs in), promotes and
// demotes; a tenant signs out everywhere; the admin changes a schedule's cron expression (a
// refused one first); and, with REGISTRATION=closed, the register page says it is by invitation
// and an invitation link registers.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";

import { assertNoProblems, eventually, expectText, expectVisible, newPerson, shot } from "../browser.mjs";
import { assertContrast } from "../contrast.mjs";
import { startPlatform } from "../platform.mjs";
import { figures, scenario } from "../steps.mjs";
import { register, signIn } from "./tenancy.mjs";

const PASSWORD = "correct-horse-9";
const NEW_PASSWORD = "a-fresh-horse-11";

export function withUsers(browser) {
  describe("user management, sessions, schedules and invitations", () => {
    let platform;
    const people = [];
    const { step, watch } = scenario("users");
    const ctx = {};

    before(async () => {
      platform = await startPlatform({ name: "users" });
      console.log(`platform up at ${platform.baseUrl} in ${platform.startedInMs} ms`);
    });
    after(async () => {
      for (const person of people) await person.context.close().catch(() => undefined);
      await platform?.stop();
    });

    const person = async (options) => {
      const p = await newPerson(browser, platform.baseUrl, options);
      people.push(p);
      watch(p.page);
      return p;
    };

    /** The Users page's row of `email`. */
    const row = (page, email) => page.locator(`[data-user-row="${email}"]`);

    /** Clicks a row's action and confirms it in the dialog (whose text is checked first). */
    async function act(page, email, action, { expect = [], confirm } = {}) {
      await row(page, email).getByRole("button", { name: new RegExp(`^${action}:`) }).click();
      const dialog = page.getByRole("dialog");
      for (const text of expect) await expectText(dialog, text);
      await dialog.getByRole("button", { name: confirm }).click();
      await eventually(async () => (await page.getByRole("dialog").count()) === 0, { message: "the dialog to close" });
    }

    step("an admin and a tenant (signed in on two devices) register", async () => {
      ctx.admin = await person();
      await register(ctx.admin.page, { email: "ops@example.com", username: "ops" });
      ctx.alice = await person();
      await register(ctx.alice.page, { email: "alice@example.com", username: "alice" });
      ctx.aliceToo = await person();
      await ctx.aliceToo.page.goto("/login");
      await signIn(ctx.aliceToo.page, { email: "alice@example.com" });
      await expectVisible(ctx.aliceToo.page.getByTestId("current-user"));
      assert.equal(await ctx.alice.page.getByRole("link", { name: "Users" }).count(), 0, "tenants have no Users page");
    });

    step("the Users page lists the accounts, searches them, and marks your own", async () => {
      const { page } = ctx.admin;
      await page.getByRole("link", { name: "Users" }).first().click();
      await page.waitForURL(/\/users$/);
      await expectVisible(row(page, "alice@example.com"));
      await expectText(row(page, "ops@example.com"), "You");
      // No disabling or demoting yourself: nothing to click on your own row.
      assert.equal(await row(page, "ops@example.com").getByRole("button").count(), 0);
      await expectText(row(page, "alice@example.com"), "Tenant");
      await expectText(row(page, "alice@example.com"), "Active");
      await expectText(page.getByRole("navigation", { name: "Pagination" }), "of 2 users");
      await shot(page, "40-users");
      await assertContrast(page, "users");
      await page.getByLabel("Search users by e-mail or username").fill("ali");
      await page.waitForURL(/\/users\?q=ali$/);
      await eventually(async () => (await page.locator("[data-user-row]").count()) === 1, { message: "the search" });
      await page.getByLabel("Search users by e-mail or username").fill("nobody-here");
      await expectVisible(page.getByText("No users match"));
      await page.getByRole("button", { name: "Clear the search" }).click();
      await eventually(async () => (await page.locator("[data-user-row]").count()) === 2, { message: "all users" });
      assertNoProblems(ctx.admin, "users page");
    });

    step("disabling a tenant ends their session; their sign-in then says the account is disabled", async () => {
      const { page } = ctx.admin;
      await row(page, "alice@example.com").getByRole("button", { name: "Disable: alice" }).click();
      const dialog = page.getByRole("dialog");
      await expectText(dialog, "Disable alice?");
      await expectText(dialog, "their sign-in tokens are revoked");
      await expectText(dialog, "Their stores keep running");
      await shot(page, "41-users-disable-confirm", { fullPage: false });
      await assertContrast(page, "disable dialog");
      await dialog.getByRole("button", { name: "Disable account" }).click();
      await eventually(async () => (await row(page, "alice@example.com").getAttribute("data-active")) === "false", {
        message: "alice to show as disabled",
      });
      await expectText(row(page, "alice@example.com"), "Disabled");
      await shot(page, "42-users-tenant-disabled");

      // The tenant's next request is refused: off to sign in.
      const tenant = ctx.alice.page;
      await tenant.getByRole("link", { name: "Stores", exact: true }).first().click();
      await tenant.waitForURL((url) => url.pathname === "/login" && url.searchParams.get("reason") === "expired");
      await signIn(tenant, { email: "alice@example.com" });
      await expectText(tenant.getByRole("alert"), "This account is disabled.");
      await expectText(tenant.getByRole("alert"), "Its stores keep running");
      assert.equal(new URL(tenant.url()).pathname, "/login");
      await shot(tenant, "43-sign-in-account-disabled");
      await assertContrast(tenant, "sign-in, disabled account");
      ctx.alice.problems.length = 0; // the refused calls (401, then 403 at sign-in)
      ctx.aliceToo.problems.length = 0;
    });

    step("enabled again, the tenant signs in", async () => {
      const { page } = ctx.admin;
      await act(page, "alice@example.com", "Enable", { expect: ["Enable alice?"], confirm: "Enable account" });
      await eventually(async () => (await row(page, "alice@example.com").getAttribute("data-active")) === "true", {
        message: "alice to show as active",
      });
      const tenant = ctx.alice.page;
      await signIn(tenant, { email: "alice@example.com" });
      await expectVisible(tenant.getByTestId("current-user"));
      // The second device's session ended with the disabling, for good.
      await ctx.aliceToo.page.reload();
      await ctx.aliceToo.page.waitForURL((url) => url.pathname === "/login");
      await signIn(ctx.aliceToo.page, { email: "alice@example.com" });
      await expectVisible(ctx.aliceToo.page.getByTestId("current-user"));
      ctx.aliceToo.problems.length = 0;
      assertNoProblems(ctx.admin, "enable");
    });

    step("a forced reset: the link is shown once, opens the reset page, and the new password signs in", async () => {
      const { page } = ctx.admin;
      await act(page, "alice@example.com", "Reset password", {
        expect: ["Reset alice's password?", "shown only once", "24 hours"],
        confirm: "Reset password",
      });
      const panel = page.getByTestId("one-time-link");
      await expectVisible(panel);
      await expectText(panel.getByTestId("shown-once"), "Shown only once: copy it now.");
      await expectVisible(panel.getByRole("button", { name: "Copy the link" }));
      const link = await panel.getByTestId("one-time-link-value").inputValue();
      assert.match(link, new RegExp(`^${platform.baseUrl}/reset-password\\?token=[0-9a-f]{64}$`));
      await shot(page, "44-users-reset-link-shown-once");
      await assertContrast(page, "reset link");
      await panel.getByRole("button", { name: "Done, I copied it" }).click();
      assert.equal(await page.getByTestId("one-time-link").count(), 0, "the link is gone for good");

      // The tenant's sessions ended; the link sets a new password and signs in.
      const tenant = ctx.alice.page;
      await tenant.goto(link);
      await expectVisible(tenant.getByRole("heading", { name: "Set a new password" }));
      await shot(tenant, "45-reset-password-page");
      await assertContrast(tenant, "reset password page");
      await tenant.getByLabel("New password", { exact: true }).fill("short");
      await tenant.getByRole("button", { name: "Set password and sign in" }).click();
      await expectText(tenant.locator('[data-field-errors="new-password"]'), "at least 8 characters");
      await tenant.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
      await tenant.getByLabel("Confirm new password").fill(NEW_PASSWORD);
      await tenant.getByRole("button", { name: "Set password and sign in" }).click();
      await tenant.waitForURL((url) => url.pathname === "/");
      await expectText(tenant.getByTestId("current-user"), "alice");

      // Once only.
      const again = await person();
      await again.page.goto(link);
      await again.page.getByLabel("New password", { exact: true }).fill("yet-another-12");
      await again.page.getByLabel("Confirm new password").fill("yet-another-12");
      await again.page.getByRole("button", { name: "Set password and sign in" }).click();
      await expectText(again.page.getByRole("alert"), "This password-reset link does not work");
      again.problems.length = 0;

      // The old password no longer works; the new one does.
      await tenant.getByRole("button", { name: "Sign out" }).first().click();
      await tenant.waitForURL(/\/login$/);
      await signIn(tenant, { email: "alice@example.com" });
      await expectText(tenant.getByRole("alert"), "Wrong e-mail or password.");
      await signIn(tenant, { email: "alice@example.com", password: NEW_PASSWORD });
      await expectVisible(tenant.getByTestId("current-user"));
      ctx.alice.problems.length = 0;
      ctx.aliceToo.problems.length = 0;
      assertNoProblems(ctx.admin, "forced reset");
    });

    step("promote and demote", async () => {
      const { page } = ctx.admin;
      await act(page, "alice@example.com", "Make admin", {
        expect: ["Make alice an administrator?", "signed out everywhere"],
        confirm: "Make administrator",
      });
      await eventually(async () => (await row(page, "alice@example.com").getAttribute("data-role")) === "admin", {
        message: "alice to be an admin",
      });
      await expectText(row(page, "alice@example.com"), "Administrator");
      await act(page, "alice@example.com", "Make tenant", { expect: ["Make alice a tenant?"], confirm: "Make tenant" });
      await eventually(async () => (await row(page, "alice@example.com").getAttribute("data-role")) === "tenant", {
        message: "alice to be a tenant again",
      });
      assertNoProblems(ctx.admin, "promote and demote");
      // Both changes ended alice's sessions: sign in again on both devices.
      for (const device of [ctx.alice, ctx.aliceToo]) {
        await device.page.goto("/account");
        await device.page.waitForURL((url) => url.pathname === "/login");
        await signIn(device.page, { email: "alice@example.com", password: NEW_PASSWORD });
        await device.page.waitForURL((url) => url.pathname === "/account");
        device.problems.length = 0;
      }
    });

    step("signing out everywhere ends every session, this one too, and says so", async () => {
      const { page } = ctx.alice;
      await expectVisible(page.getByRole("heading", { name: "Sessions" }));
      await shot(page, "46-account-sessions");
      await assertContrast(page, "account");
      await page.getByRole("button", { name: "Sign out everywhere" }).click();
      const dialog = page.getByRole("dialog");
      await expectText(dialog, "Sign out everywhere?");
      await expectText(dialog, "including this one");
      await dialog.getByRole("button", { name: "Sign out everywhere" }).click();
      await page.waitForURL((url) => url.pathname === "/login" && url.searchParams.get("reason") === "signed-out-everywhere");
      await expectVisible(page.getByText("You are signed out everywhere"));
      assert.equal(await page.evaluate(() => localStorage.getItem("storeflow.token")), null);
      await shot(page, "47-signed-out-everywhere");
      await assertContrast(page, "signed out everywhere");
      // The other device: its next request is refused.
      const other = ctx.aliceToo.page;
      await other.getByRole("link", { name: "Stores", exact: true }).first().click();
      await other.waitForURL((url) => url.pathname === "/login" && url.searchParams.get("reason") === "expired");
      ctx.aliceToo.problems.length = 0;
      assertNoProblems(ctx.alice, "sign out everywhere");
    });

    step("a schedule's cron expression: a refused one stays in the field with the reason, a valid one saves", async () => {
      const { page } = ctx.admin;
      await page.goto("/schedules");
      const schedule = page.locator('[data-schedule="prune-history"]');
      await expectVisible(schedule);
      const before = await schedule.getByTestId("schedule-cron").textContent();
      await schedule.getByRole("button", { name: "Change when prune-history fires" }).click();
      const field = schedule.getByLabel("When prune-history fires (cron, UTC)");
      await expectVisible(field);
      await expectText(schedule, "5 fields, in UTC");
      await field.fill("* * *");
      await schedule.getByRole("button", { name: "Save" }).click();
      const errors = schedule.locator('[data-field-errors="cron-prune-history"]');
      await expectText(errors, "“* * *” is not a valid schedule.");
      await expectText(errors, "It has 3 fields");
      assert.equal(await field.inputValue(), "* * *", "the refused text stays");
      assert.equal(await field.getAttribute("aria-invalid"), "true");
      await shot(page, "48-schedules-cron-refused");
      await assertContrast(page, "schedules, refused cron");

      await field.fill("15 4 * * *");
      await schedule.getByRole("button", { name: "Save" }).click();
      await expectText(schedule.getByTestId("schedule-cron"), "15 4 * * *");
      await expectText(schedule.getByTestId("cron-saved"), /^Saved\. Next fire \w{3} \d{1,2}, 04:15 UTC \(in .+\)\.$/);
      await expectText(schedule, "every day at 04:15 UTC");
      await expectText(schedule.getByTestId("next-fire"), /^in \d+ (h|min)$/);
      await shot(page, "49-schedules-cron-saved");
      await assertContrast(page, "schedules, saved cron");
      figures["schedule prune-history"] = `${before} → 15 4 * * *`;
      // It stays changed.
      await page.reload();
      await expectText(page.locator('[data-schedule="prune-history"]').getByTestId("schedule-cron"), "15 4 * * *");
      ctx.admin.problems.length = 0; // the refused PATCH (400)
    });

    step(
      "with registration closed, the register page says it is by invitation, and an invitation link registers",
      async () => {
        await platform.restart({ env: { REGISTRATION: "closed" } });
        const visitor = await person();
        await visitor.page.goto("/register");
        await expectVisible(visitor.page.getByRole("heading", { name: "Registration is by invitation" }));
        assert.equal(await visitor.page.getByLabel("Password", { exact: true }).count(), 0, "no form that would fail");
        await shot(visitor.page, "50-register-invitation-only");
        await assertContrast(visitor.page, "register, closed");
        await visitor.page.goto("/login");
        await expectVisible(visitor.page.getByTestId("invitation-only"));
        assert.equal(await visitor.page.getByRole("link", { name: "Create an account" }).count(), 0);

        // The admin's session survives the restart.
        const { page } = ctx.admin;
        await page.goto("/users");
        await page.getByRole("button", { name: "Invite someone" }).click();
        await eventually(() => page.evaluate(() => document.activeElement?.id === "invite-email"), {
          message: "the invitation's e-mail field to take the focus",
        });
        await page.getByLabel("E-mail", { exact: true }).fill("carol@example.com");
        await page.getByRole("button", { name: "Create invitation" }).click();
        const panel = page.getByTestId("one-time-link");
        await expectText(panel, "Invitation for carol@example.com");
        await expectText(panel.getByTestId("shown-once"), "Shown only once");
        const link = await panel.getByTestId("one-time-link-value").inputValue();
        assert.match(link, new RegExp(`^${platform.baseUrl}/register\\?invite=[0-9a-f]{64}$`));
        await expectVisible(page.locator('[data-invite="carol@example.com"]'));
        await shot(page, "51-users-invitation-link");
        await assertContrast(page, "invitation");

        // The link, opened: a form, for the invited address only.
        const carol = visitor;
        await carol.page.goto(link);
        await expectVisible(carol.page.getByRole("heading", { name: "Accept your invitation" }));
        await shot(carol.page, "52-register-with-invitation");
        await assertContrast(carol.page, "register with invitation");
        const form = carol.page;
        await form.getByLabel("E-mail", { exact: true }).fill("mallory@example.com");
        await form.getByLabel("Username", { exact: true }).fill("carol");
        await form.getByLabel("Password", { exact: true }).fill(PASSWORD);
        await form.getByLabel("Confirm password", { exact: true }).fill(PASSWORD);
        await form.getByRole("button", { name: "Create account" }).click();
        await expectText(form.getByRole("alert"), "This invitation is for another e-mail address.");
        carol.problems.length = 0;
        await form.getByLabel("E-mail", { exact: true }).fill("carol@example.com");
        await form.getByRole("button", { name: "Create account" }).click();
        await expectText(carol.page.getByTestId("current-user"), "carol");
        await expectVisible(carol.page.getByText("Your account is ready"));

        // Used: no longer pending, and carol is listed.
        await page.reload();
        await expectVisible(row(page, "carol@example.com"));
        await expectVisible(page.getByTestId("no-invites"));
        assertNoProblems(ctx.admin, "invitation");
      },
      { timeout: 180_000 },
    );

    step("phone width: the Users page fits", async () => {
      const { page } = ctx.admin;
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto("/users");
      await expectVisible(row(page, "carol@example.com"));
      await page.waitForTimeout(300);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `/users is ${overflow}px wider than the phone`);
      await shot(page, "53-phone-users");
      await assertContrast(page, "phone users");
      await page.setViewportSize({ width: 1280, height: 860 });
      assertNoProblems(ctx.admin, "phone users");
    });
  });
}
