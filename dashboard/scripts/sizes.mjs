#!/usr/bin/env node
// Prints the gzip sizes of the built JS and CSS (dist/assets), the figures the bundle budget is
// checked against: JS ≤ 200 KB gzip in total. Exits 1 when the budget is exceeded.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const JS_BUDGET_KB = 200;
const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist");
const assets = path.join(dist, "assets");
if (!fs.existsSync(assets)) {
  console.error("sizes: dist/assets not found — run npm run build first");
  process.exit(1);
}

const kb = (bytes) => (bytes / 1024).toFixed(1);
const totals = { js: { raw: 0, gzip: 0 }, css: { raw: 0, gzip: 0 } };
const rows = [];
for (const name of fs.readdirSync(assets).sort()) {
  const kind = name.endsWith(".js") ? "js" : name.endsWith(".css") ? "css" : null;
  if (!kind) continue;
  const content = fs.readFileSync(path.join(assets, name));
  const gzip = gzipSync(content, { level: 9 }).length;
  totals[kind].raw += content.length;
  totals[kind].gzip += gzip;
  rows.push(`  ${name.padEnd(32)} ${kb(content.length).padStart(7)} KB  ${kb(gzip).padStart(6)} KB gzip`);
}
console.log("bundle sizes (dist/assets):");
console.log(rows.join("\n"));
console.log(`  JS  total ${kb(totals.js.raw)} KB, ${kb(totals.js.gzip)} KB gzip (budget ${JS_BUDGET_KB} KB)`);
console.log(`  CSS total ${kb(totals.css.raw)} KB, ${kb(totals.css.gzip)} KB gzip`);
if (totals.js.gzip / 1024 > JS_BUDGET_KB) {
  console.error(`sizes: JS is over the ${JS_BUDGET_KB} KB gzip budget`);
  process.exit(1);
}
