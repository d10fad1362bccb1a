import { describe, expect, it } from "vitest";

import type { Engine } from "../api/types";
import { engineLabel, findEngine, withEngineLabels } from "./engines";

const ENGINES: Engine[] = [
  {
    name: "woocommerce",
    label: "WooCommerce",
    themes: ["storefront", "astra"],
    defaultTheme: "storefront",
    upgrades: true,
    backups: true,
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

  it("puts labels for the engine names in a message, whole words only", () => {
    expect(withEngineLabels(ENGINES, "the backup is of a medusa store, not a woocommerce one")).toBe(
      "the backup is of a MedusaJS store, not a WooCommerce one",
    );
    expect(withEngineLabels(ENGINES, "medusajs and woocommerce-x")).toBe("medusajs and WooCommerce-x");
    expect(withEngineLabels(undefined, "a medusa store")).toBe("a medusa store");
  });
});
