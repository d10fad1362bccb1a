import { describe, expect, it } from "vitest";

import { STORE_STATUSES, type Engine, type EngineName } from "../api/types";
import {
  backupAvailability,
  backupBlockReason,
  backupStepText,
  backupStore,
  canRestoreInPlace,
  canSchedule,
  parseKeep,
  partLabel,
  plainBackupError,
  restoredFromWords,
  restoredName,
  restoreIntoNewStore,
  retentionErrorWords,
  retentionProblems,
  scheduleText,
  triggerLabel,
} from "./backups";
import { formatDateTime } from "./format";
import { storeNameProblems } from "./storeRules";

// Engines as `GET /engines` answers them.
const WOO: Engine = {
  name: "woocommerce",
  label: "WooCommerce",
  themes: ["storefront", "astra"],
  defaultTheme: "storefront",
  upgrades: true,
  backups: true,
  backupContents: "the store's database and uploaded files",
  restoreIntoNewStore: true,
  restoreInPlace: true,
};
const MEDUSA: Engine = {
  ...WOO,
  name: "medusa",
  label: "MedusaJS",
  themes: [],
  defaultTheme: null,
  backupContents: "the store's database (a MedusaJS store keeps its images as links there)",
};
/** An engine added without backups (examples/custom-engine). */
const EXAMPLE: Engine = {
  ...MEDUSA,
  name: "example" as EngineName,
  label: "Example Shop",
  upgrades: false,
  backups: false,
  backupContents: null,
  restoreIntoNewStore: false,
  restoreInPlace: false,
};

describe("which stores can be backed up", () => {
  it("offers Back up now for a ready store of an engine with backups, and says why not otherwise", () => {
    expect(backupBlockReason({ status: "ready", engine: "woocommerce" }, WOO)).toBeNull();
    expect(backupBlockReason({ status: "ready", engine: "medusa" }, MEDUSA)).toBeNull();
    // An engine without backups says so, by its label.
    expect(backupBlockReason({ status: "ready", engine: "example" as EngineName }, EXAMPLE)).toBe(
      "Example Shop stores cannot be backed up by the platform yet.",
    );
    // An engine the server does not know (null), by its name.
    expect(backupBlockReason({ status: "ready", engine: "gone" as EngineName }, null)).toBe(
      "gone stores cannot be backed up by the platform yet.",
    );
    expect(backupBlockReason({ status: "provisioning", engine: "woocommerce" }, WOO)).toBe(
      "The store can be backed up once it is ready.",
    );
    expect(backupBlockReason({ status: "upgrading", engine: "woocommerce" }, WOO)).toMatch(/being upgraded/);
    expect(backupBlockReason({ status: "restoring", engine: "woocommerce" }, WOO)).toBe(
      "The store is being restored from a backup: back it up once it is ready again.",
    );
    expect(backupBlockReason({ status: "deleted", engine: "woocommerce" }, WOO)).toMatch(/can still be restored/);
    for (const status of STORE_STATUSES) {
      const reason = backupBlockReason({ status, engine: "woocommerce" }, WOO);
      expect(reason === null).toBe(status === "ready");
      if (reason) expect(reason).toMatch(/^[A-Z].*\.$/);
    }
  });

  it("waits without a reason while the engines are not known yet", () => {
    // undefined: `GET /engines` has not answered; never "cannot be backed up" meanwhile.
    expect(backupAvailability({ status: "ready", engine: "woocommerce" }, undefined)).toEqual({ state: "pending" });
    expect(backupAvailability({ status: "ready", engine: "example" as EngineName }, undefined)).toEqual({ state: "pending" });
    expect(backupAvailability({ status: "ready", engine: "woocommerce" }, WOO)).toEqual({ state: "ready" });
    expect(backupAvailability({ status: "ready", engine: "example" as EngineName }, EXAMPLE)).toEqual({
      state: "blocked",
      reason: "Example Shop stores cannot be backed up by the platform yet.",
    });
    expect(backupAvailability({ status: "failed", engine: "woocommerce" }, WOO)).toMatchObject({ state: "blocked" });
  });

  it("lets a schedule be set until the store is being deleted, for engines with backups", () => {
    expect(canSchedule({ status: "provisioning" }, WOO)).toBe(true);
    expect(canSchedule({ status: "ready" }, WOO)).toBe(true);
    expect(canSchedule({ status: "deleting" }, WOO)).toBe(false);
    expect(canSchedule({ status: "deleted" }, WOO)).toBe(false);
    expect(canSchedule({ status: "ready" }, MEDUSA)).toBe(true);
    expect(canSchedule({ status: "ready" }, EXAMPLE)).toBe(false);
    expect(canSchedule({ status: "ready" }, null)).toBe(false);
    // Not shown until the engines are known.
    expect(canSchedule({ status: "ready" }, undefined)).toBe(false);
  });
});

describe("a backup in words", () => {
  it("says what a running backup does, in plain words", () => {
    expect(backupStepText({ status: "running", step: "dump-uploads" })).toBe("Saving the uploaded files…");
    expect(backupStepText({ status: "running", step: "dump-database" })).toBe("Saving the database…");
    // The API leaves the step out when it cannot tell.
    expect(backupStepText({ status: "running", step: null })).toBe("Backing up…");
    expect(backupStepText({ status: "complete", step: null })).toBeNull();
  });

  it("says why a backup failed without the raw error", () => {
    expect(
      plainBackupError(
        "step `dump-database` failed: storing the database: the backup bucket answered: connection refused",
      ),
    ).toBe("The platform's backup storage could not be reached.");
    expect(plainBackupError("The backup run was cancelled.")).toBe("The backup was cancelled.");
    expect(plainBackupError("step `dump-uploads` failed after 4 attempts: timed out after 2h")).toBe(
      "The step took longer than allowed.",
    );
    expect(plainBackupError(null)).toBe("The step did not finish.");
  });

  it("names what a part holds", () => {
    expect(partLabel("database")).toBe("database");
    expect(partLabel("uploads")).toBe("uploaded files");
    expect(partLabel("media")).toBe("media");
  });

  it("names the trigger and the schedule", () => {
    expect(triggerLabel("manual")).toBe("Manual");
    expect(triggerLabel("scheduled")).toBe("Scheduled");
    expect(scheduleText("0 3 * * *")).toBe("every day at 03:00 UTC");
    expect(scheduleText("0 3 * * 1-5")).toBe("on the schedule “0 3 * * 1-5” (UTC)");
  });
});

describe("retention fields", () => {
  it("takes whole numbers in the API's ranges", () => {
    expect(parseKeep("7", "keepDaily")).toEqual({ ok: true, value: 7 });
    expect(parseKeep(" 0 ", "keepWeekly")).toEqual({ ok: true, value: 0 });
    expect(parseKeep("366", "keepDaily")).toEqual({ ok: true, value: 366 });
    expect(parseKeep("520", "keepWeekly")).toEqual({ ok: true, value: 520 });
    for (const text of ["367", "", "-1", "1.5", "seven", "1e2"]) {
      expect(parseKeep(text, "keepDaily"), text).toEqual({ ok: false, problem: "Enter a whole number from 0 to 366." });
    }
    expect(parseKeep("521", "keepWeekly")).toEqual({ ok: false, problem: "Enter a whole number from 0 to 520." });
  });

  it("asks for at least one backup kept while backups are scheduled, as the API does", () => {
    expect(retentionProblems("7", "4", true)).toEqual({ keepDaily: [], keepWeekly: [] });
    expect(retentionProblems("0", "0", true).keepDaily).toEqual([
      "Keep at least one daily or one weekly backup while backups are scheduled.",
    ]);
    expect(retentionProblems("0", "0", false)).toEqual({ keepDaily: [], keepWeekly: [] });
    expect(retentionProblems("400", "x", true)).toEqual({
      keepDaily: ["Enter a whole number from 0 to 366."],
      keepWeekly: ["Enter a whole number from 0 to 520."],
    });
  });

  it("turns the API's field messages into sentences", () => {
    // As `PUT /stores/{id}/backup-policy` answered `{"keepDaily": 400}`.
    expect(retentionErrorWords("keep 0 to 366 daily backups")).toBe("Keep 0 to 366 daily backups.");
    expect(retentionErrorWords("a schedule needs at least one daily or weekly backup kept")).toBe(
      "A schedule needs at least one daily or weekly backup kept.",
    );
  });
});

describe("restoring", () => {
  it("offers “<name>-restored” as the new store's name, within the name rules", () => {
    expect(restoredName("spring-shop")).toBe("spring-shop-restored");
    const long = `${"a".repeat(30)}-${"b".repeat(32)}`; // 63 characters
    const name = restoredName(long);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name.endsWith("-restored")).toBe(true);
    expect(storeNameProblems(name)).toEqual([]);
    // Cut at a hyphen: no double hyphen.
    expect(restoredName(`${"a".repeat(53)}-bcdefghij`)).toBe(`${"a".repeat(53)}-restored`);
    expect(restoredName("")).toBe("");
  });
});

describe("restoring into the same store", () => {
  it("is offered for a ready store of an engine that restores in place (the API refuses any other status)", () => {
    expect(canRestoreInPlace({ status: "ready" }, WOO)).toBe(true);
    expect(canRestoreInPlace({ status: "ready" }, MEDUSA)).toBe(true);
    expect(canRestoreInPlace({ status: "ready" }, EXAMPLE)).toBe(false);
    expect(canRestoreInPlace({ status: "ready" }, { ...WOO, restoreInPlace: false })).toBe(false);
    expect(canRestoreInPlace({ status: "ready" }, null)).toBe(false);
    expect(canRestoreInPlace({ status: "ready" }, undefined)).toBe(false);
    for (const status of STORE_STATUSES.filter((s) => s !== "ready")) {
      expect(canRestoreInPlace({ status }, WOO)).toBe(false);
    }
  });

  it("offers a restore into a new store by the engine's flag, pending while the engines load", () => {
    expect(restoreIntoNewStore(WOO)).toBe("yes");
    expect(restoreIntoNewStore({ ...WOO, restoreIntoNewStore: false })).toBe("no");
    expect(restoreIntoNewStore(EXAMPLE)).toBe("no");
    expect(restoreIntoNewStore(null)).toBe("no");
    expect(restoreIntoNewStore(undefined)).toBe("pending");
  });

  const STORE = "store-18407d45";
  const OWN = { createdAt: "2026-12-03T03:00:04Z", storeId: STORE, storeName: "probe-shop" };
  const taken = formatDateTime(OWN.createdAt);

  it("says which backup a store was restored from, and when", () => {
    const restored = { id: STORE, status: "ready" as const, restoredFrom: { backupId: "b", restoredAt: "2026-12-04T10:12:00Z" } };
    expect(restoredFromWords(restored, OWN)).toEqual({
      state: "done",
      lead: "Restored from",
      backup: `backup of ${taken}`,
      tail: "",
      at: "2026-12-04T10:12:00Z",
    });
    // A store created from another store's backup names that store.
    expect(restoredFromWords(restored, { ...OWN, storeId: "store-0badf00d", storeName: "old-shop" })?.backup).toBe(
      `backup of old-shop, ${taken}`,
    );
    // The backup not known (yet, or any more).
    expect(restoredFromWords(restored, undefined)?.backup).toBe("a backup");
    expect(restoredFromWords({ id: STORE, status: "ready", restoredFrom: null }, OWN)).toBeNull();
    // The contract always has `restoredFrom`; a store without it still reads as never restored.
    // @ts-expect-error: `restoredFrom` left out on purpose.
    expect(restoredFromWords({ id: STORE, status: "ready" }, OWN)).toBeNull();
  });

  it("says a restore runs while it does, and that it did not finish once it stopped", () => {
    const from = { backupId: "b", restoredAt: null };
    for (const status of ["restoring", "requested", "provisioning"] as const) {
      expect(restoredFromWords({ id: STORE, status, restoredFrom: from }, OWN)).toMatchObject({
        state: "running",
        lead: "Restoring from",
        tail: "",
        at: null,
      });
    }
    expect(restoredFromWords({ id: STORE, status: "failed", restoredFrom: from }, OWN)).toMatchObject({
      state: "stopped",
      lead: "Restore from",
      backup: `backup of ${taken}`,
      tail: " did not finish",
    });
  });
});

describe("a backup's store on the Backups page", () => {
  const directory = { stores: [{ id: "store-1a2b3c4d" }], total: 1 };

  it("links a store that exists, and tells a deleted one (the list leaves those out)", () => {
    expect(backupStore("store-1a2b3c4d", directory)).toEqual({ kind: "live", store: { id: "store-1a2b3c4d" } });
    expect(backupStore("store-00000000", directory)).toEqual({ kind: "deleted" });
  });

  it("does not call a store deleted before every store was read", () => {
    expect(backupStore("store-00000000", undefined)).toEqual({ kind: "unknown" });
    expect(backupStore("store-00000000", { stores: [{ id: "store-1a2b3c4d" }], total: 600 })).toEqual({
      kind: "unknown",
    });
  });
});
