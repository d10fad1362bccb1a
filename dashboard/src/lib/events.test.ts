import { describe, expect, it } from "vitest";

import { describeEvent, workflowLabel } from "./events";

const ROLLED_BACK_ERROR =
  "step `wait-upgraded` failed: pod wordpress-7d9f8b6c4-00000 container wordpress cannot start: CrashLoopBackOff (restarted 5 times) back-off 40s restarting failed container (image wordpress:6.8-php8.2-apache-crashloop); fix the image or configuration, then retry this step (the on-failure steps ran: record-upgrade-failure, rollback-chart, wait-rolled-back, verify-storefront-after-rollback, mark-rolled-back)";

describe("upgrade events in words", () => {
  it("names the upgrade workflows", () => {
    expect(workflowLabel("upgrade-woocommerce")).toBe("WooCommerce upgrade");
    expect(workflowLabel("upgrade-medusa")).toBe("MedusaJS upgrade");
  });

  it("says which chart an upgrade was requested to, and from which", () => {
    const event = {
      kind: "store_upgrade_requested",
      data: { from: { chart: "2.1.0", app: "2.1.0" }, to: { chart: "2.2.0", app: "2.2.0" }, force: false },
    };
    expect(describeEvent(event)).toEqual({ title: "Upgrade to chart 2.2.0 requested", detail: "from chart 2.1.0", tone: "blue" });
    expect(describeEvent({ ...event, data: { ...event.data, force: true } }).title).toBe(
      "Upgrade requested: chart 2.2.0 applied again",
    );
  });

  it("tells the automatic rollback apart from a plain failure", () => {
    expect(describeEvent({ kind: "compensating", step: "wait-upgraded", data: {} })).toEqual({
      title: "Automatic rollback started",
      detail: "after “Starting the new version” failed",
      tone: "amber",
    });
    expect(describeEvent({ kind: "compensated" }).title).toBe("Automatic rollback finished");
    const rolledBack = describeEvent({ kind: "finished", data: { status: "failed", error: ROLLED_BACK_ERROR } });
    expect(rolledBack.title).toBe("Stopped; the upgrade was rolled back");
    expect(rolledBack.tone).toBe("amber");
    expect(rolledBack.raw).toBe(ROLLED_BACK_ERROR);
    expect(describeEvent({ kind: "finished", data: { status: "failed", error: "timed out" } }).title).toBe("Stopped");
  });
});

describe("backup events in words", () => {
  it("names the backup and restore workflows", () => {
    expect(workflowLabel("backup-woocommerce")).toBe("WooCommerce backup");
    expect(workflowLabel("restore-woocommerce")).toBe("WooCommerce restore from a backup");
    expect(workflowLabel("restore-in-place-woocommerce")).toBe("WooCommerce restore of a backup into the store");
  });

  it("reads a restore into the same store", () => {
    const event = describeEvent({
      kind: "store_restore_requested",
      data: { runId: "r", backupId: "b", backupCreatedAt: "2026-12-03T03:00:04Z", inPlace: true },
    });
    expect(event.title).toBe("Restore from a backup requested");
    expect(event.detail).toMatch(/^the backup of .+ replaces the store's data$/);
    expect(describeEvent({ kind: "step_started", step: "wp-rehome", workflow: "restore-in-place-woocommerce" }).title).toBe(
      "Started “Keeping the store's address”",
    );
    expect(describeEvent({ kind: "status_changed", data: { from: "ready", to: "restoring" } }).title).toBe(
      "Status: Ready → Restoring",
    );
  });

  it("reads the store's backup audit entries", () => {
    expect(describeEvent({ kind: "store_backup_requested", data: { backupId: "x", runId: "y" } })).toEqual({
      title: "Backup requested",
      tone: "blue",
    });
    expect(
      describeEvent({ kind: "store_backup_policy_changed", data: { schedule: "0 3 * * *", keepDaily: 7, keepWeekly: 4 } }),
    ).toEqual({ title: "Backup schedule set", detail: "every day at 03:00 UTC; keeps 7 daily and 4 weekly", tone: "blue" });
    expect(
      describeEvent({ kind: "store_backup_policy_changed", data: { schedule: null, keepDaily: 7, keepWeekly: 4 } }).title,
    ).toBe("Scheduled backups turned off");
    expect(
      describeEvent({
        kind: "store_created",
        data: { name: "shop-restored", engine: "woocommerce", theme: "storefront", restoreFrom: "01a2" },
      }).title,
    ).toBe("Store created from a backup");
  });
});
