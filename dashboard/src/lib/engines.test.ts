import { describe, expect, it } from "vitest";

import type { Engine } from "../api/types";
import { backupContents, ENGINE_TONES, engineLabel, engineTone, findEngine, withEngineLabels } from "./engines";

const ENGINES: Engine[] = [
  {
    name: "woocommerce",
    label: "WooCommerce",
    themes: ["storefront", "astra"],
    defaultTheme: "storefront",
    upgrades: true,
    backups: true,
    backupContents: "the store's database and uploaded files",
    restoreIntoNewStore: true,
    restoreInPlace: true,
  },
  {
    name: "medusa",
    label: "MedusaJS",
    themes: [],
    defaultTheme: null,
    upgrades: true,
    backups: true,
    backupContents: "the store's database (a MedusaJS store keeps its images as links there)",
    restoreIntoNewStore: true,
    restoreInPlace: true,
  },
];

describe("the engine registry", () => {
  it("finds an engine by name: undefined while not known, null when the server has none", () => {
    expect(findEngine(ENGINES, "medusa")?.label).toBe("MedusaJS");
    expect(findEngine(ENGINES, "example")).toBeNull();
    expect(findEngine(undefined, "medusa")).toBeUndefined();
  });

  it("names an engine by its label, by its name before the registry answers or when it has none", () => {
    expect(engineLabel(ENGINES, "woocommerce")).toBe("WooCommerce");
    expect(engineLabel(ENGINES, "example")).toBe("example");
    expect(engineLabel(undefined, "woocommerce")).toBe("woocommerce");
  });

  it("colours an engine's badge by its place in the registry, so a new engine needs no list here", () => {
    expect(engineTone(ENGINES, "woocommerce")).toBe("violet");
    expect(engineTone(ENGINES, "medusa")).toBe("teal");
    const many = Array.from({ length: ENGINE_TONES.length + 1 }, (_, i) => ({ name: `e${i}` as Engine["name"] }));
    expect(engineTone(many, `e${ENGINE_TONES.length}`)).toBe(ENGINE_TONES[0]);
    expect(engineTone(ENGINES, "example")).toBe("gray");
    expect(engineTone(undefined, "woocommerce")).toBe("gray");
  });

  it("says what a backup holds in the registry's words", () => {
    expect(backupContents(findEngine(ENGINES, "woocommerce"))).toBe("the store's database and uploaded files");
    expect(backupContents(undefined)).toBe("the store's data");
    expect(backupContents({ ...ENGINES[0], backupContents: null })).toBe("the store's data");
  });

  it("puts labels for the engine names in a message, whole words only", () => {
    expect(withEngineLabels(ENGINES, "the backup is of a medusa store, not a woocommerce one")).toBe(
      "the backup is of a MedusaJS store, not a WooCommerce one",
    );
    expect(withEngineLabels(ENGINES, "medusajs and woocommerce-x")).toBe("medusajs and WooCommerce-x");
    expect(withEngineLabels(undefined, "a medusa store")).toBe("a medusa store");
  });
});
