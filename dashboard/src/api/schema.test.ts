// schema.d.ts is generated from openapi.json (the server's contract, kept in step with the Rust
// types by a server test): this fails when the committed file is not what openapi-typescript
// makes of the committed contract, e.g. after the contract changed and `npm run api-types` was
// not run.

import { readFileSync } from "node:fs";

import { generateApiTypes, SCHEMA_PATH, SPEC_PATH } from "storeflow-api-types";
import { describe, expect, it } from "vitest";

const STALE = "src/api/schema.d.ts is not what openapi.json generates: run `npm run api-types` (and fix the type errors)";

/** Where two texts first differ, as `line N: "…" (committed) vs "…" (generated)`. */
function firstDifference(committed: string, generated: string): string {
  const a = committed.split("\n");
  const b = generated.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      return `line ${i + 1}: ${JSON.stringify(a[i] ?? "<end of file>")} (committed) vs ${JSON.stringify(b[i] ?? "<end of file>")} (generated)`;
    }
  }
  return "no line differs";
}

describe("the API types", () => {
  it("are what openapi-typescript generates from openapi.json", { timeout: 30_000 }, async () => {
    const committed = readFileSync(SCHEMA_PATH, "utf8");
    const generated = await generateApiTypes(SPEC_PATH);
    if (committed !== generated) expect.fail(`${STALE}. First difference at ${firstDifference(committed, generated)}`);
    expect(committed).toBe(generated);
  });

  it("would be told apart from a changed contract", { timeout: 30_000 }, async () => {
    // The check above compares for real: a contract with one more field generates another file.
    const spec = JSON.parse(readFileSync(SPEC_PATH, "utf8"));
    spec.components.schemas.Store.properties.driftProbe = { type: "string" };
    spec.components.schemas.Store.required.push("driftProbe");
    const generated = await generateApiTypes(spec);
    expect(generated).toContain("driftProbe: string;");
    expect(generated).not.toBe(readFileSync(SCHEMA_PATH, "utf8"));
  });
});
