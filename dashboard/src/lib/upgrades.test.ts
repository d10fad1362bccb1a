import { describe, expect, it } from "vitest";

import type { CurrentRun, LastUpgrade, Store } from "../api/types";
import { canOfferUpgrade, chartText, succeededText, upgradeLabel, upgradeNotice, versionsText } from "./upgrades";

// What `storeflow up` answered (fake cluster, chart 2.3.0 whose WordPress image crash-loops).
const CRASH =
  "step `wait-upgraded` failed: pod wordpress-7d9f8b6c4-00000 container wordpress cannot start: CrashLoopBackOff (restarted 5 times) back-off 40s restarting failed container (image wordpress:6.8-php8.2-apache-crashloop); fix the image or configuration, then retry this step";
const RUN = "01a2412b-2e51-77b6-80c3-b5269d4821b1";
const V210 = { chart: "2.1.0", app: "2.1.0" };
const V220 = { chart: "2.2.0", app: "2.2.0" };
const V230 = { chart: "2.3.0", app: "2.3.0" };

const run: CurrentRun = {
  id: RUN,
  operation: "upgrade",
  workflow: "upgrade-woocommerce",
  status: "running",
  percent: 23,
  step: "wait-upgraded",
  stepNumber: 4,
  stepCount: 13,
  nextAttemptAt: null,
};

type Shown = Pick<Store, "status" | "versions" | "availableUpgrade" | "lastUpgrade" | "currentRun">;
const store = (extra: Partial<Shown>): Shown => ({
  status: "ready",
  versions: V220,
  availableUpgrade: null,
  lastUpgrade: null,
  currentRun: null,
  ...extra,
});

const rollingBack: LastUpgrade = {
  status: "rolling_back",
  runId: RUN,
  from: V220,
  failedStep: "wait-upgraded",
  error: CRASH,
  at: "2026-12-04T13:08:00.817794+00:00",
};

describe("versions in words", () => {
  it("says chart and app, and unknown for what the API does not know", () => {
    expect(versionsText(V210)).toBe("Chart 2.1.0 · app 2.1.0");
    expect(versionsText({ chart: "2.1.0", app: null })).toBe("Chart 2.1.0 · app unknown");
    expect(versionsText({ chart: null, app: null })).toBe("Unknown");
    expect(versionsText(undefined)).toBe("Unknown");
    expect(chartText(V220)).toBe("chart 2.2.0 (app 2.2.0)");
    expect(chartText({ chart: "2.2.0", app: null })).toBe("chart 2.2.0");
    expect(upgradeLabel(V220)).toBe("Upgrade to chart 2.2.0 (app 2.2.0)");
  });

  it("offers an upgrade only to a ready store with a newer chart", () => {
    expect(canOfferUpgrade(store({ availableUpgrade: V230 }))).toBe(true);
    expect(canOfferUpgrade(store({ availableUpgrade: null }))).toBe(false);
    for (const status of ["upgrading", "failed", "provisioning", "deleting"] as const)
      expect(canOfferUpgrade(store({ status, availableUpgrade: V230 }))).toBe(false);
  });
});

describe("upgradeNotice", () => {
  it("says what a running upgrade does and that it rolls back by itself", () => {
    const notice = upgradeNotice(store({ status: "upgrading", versions: V210, availableUpgrade: V220, currentRun: run }));
    expect(notice).toEqual({
      kind: "upgrading",
      title: "Upgrading from chart 2.1.0 (app 2.1.0) to chart 2.2.0 (app 2.2.0)",
      text: "The store is verified with a real test order at the end. If any step fails, it is rolled back to chart 2.1.0 (app 2.1.0) automatically and verified again.",
    });
  });

  it("ignores an earlier upgrade's outcome while a new one runs", () => {
    const earlier: LastUpgrade = { status: "succeeded", runId: "older", from: V210, to: V220, at: "2026-12-04T13:07:57Z" };
    expect(
      upgradeNotice(store({ status: "upgrading", availableUpgrade: V230, currentRun: run, lastUpgrade: earlier }))?.kind,
    ).toBe("upgrading");
    const staleRollback = { ...rollingBack, runId: "older" };
    expect(
      upgradeNotice(store({ status: "upgrading", availableUpgrade: V230, currentRun: run, lastUpgrade: staleRollback }))?.kind,
    ).toBe("upgrading");
  });

  it("says where the upgrade failed and that it rolls back, while the rollback runs", () => {
    const notice = upgradeNotice(
      store({ status: "upgrading", availableUpgrade: V230, currentRun: run, lastUpgrade: rollingBack }),
    );
    expect(notice).toMatchObject({
      kind: "rolling_back",
      title: "Upgrade failed at “Starting the new version”: rolling back to chart 2.2.0 (app 2.2.0)",
      reason: "A part of the store keeps crashing when it starts.",
      raw: CRASH,
      step: "wait-upgraded",
    });
  });

  it("says a rolled-back store runs its previous version again, verified, and why the upgrade failed", () => {
    const notice = upgradeNotice(
      store({
        availableUpgrade: V230,
        currentRun: { ...run, status: "failed" },
        lastUpgrade: { ...rollingBack, status: "rolled_back", to: V230, at: "2026-12-04T13:08:02.92Z" },
      }),
    );
    expect(notice).toMatchObject({
      kind: "rolled_back",
      title: "The upgrade to chart 2.3.0 (app 2.3.0) failed at “Starting the new version” and was rolled back",
      text: "The store runs chart 2.2.0 (app 2.2.0) again and was verified again with a test order.",
      reason: "A part of the store keeps crashing when it starts.",
      raw: CRASH,
    });
  });

  it("words a rollback whose upgrade never installed, and one without a step", () => {
    const notice = upgradeNotice(
      store({
        lastUpgrade: { ...rollingBack, status: "rolled_back", to: { chart: null, app: null }, failedStep: null, error: null },
      }),
    );
    expect(notice?.title).toBe("The upgrade failed at a step and was rolled back");
    expect(notice?.kind === "rolled_back" && notice.reason).toBe("The step did not finish.");
  });

  it("says nothing for a store that never upgraded or whose upgrade succeeded", () => {
    expect(upgradeNotice(store({}))).toBeNull();
    expect(
      upgradeNotice(store({ lastUpgrade: { status: "succeeded", runId: RUN, from: V210, to: V220, at: "2026-12-04T13:07:57Z" } })),
    ).toBeNull();
  });
});

describe("succeededText", () => {
  it("says from which chart to which", () => {
    expect(succeededText({ status: "succeeded", runId: RUN, from: V210, to: V220, at: "2026-12-04T13:07:57Z" })).toBe(
      "Upgraded from chart 2.1.0 to 2.2.0",
    );
    expect(succeededText({ status: "succeeded", runId: RUN, from: V220, to: V220, at: "2026-12-04T13:07:57Z" })).toBe(
      "Chart 2.2.0 applied again and verified",
    );
    expect(succeededText({ ...rollingBack, status: "rolled_back" })).toBeNull();
    expect(succeededText(null)).toBeNull();
  });
});
