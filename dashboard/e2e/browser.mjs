// Debian's Chromium through playwright-core, and the small waiting and checking helpers the
// scenarios share (playwright-core has no test runner or `expect`).

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

import { dashboardDir } from "./platform.mjs";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

export const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
export const resultsDir = path.join(dashboardDir, "test-results");
export const screenshotDir = path.join(resultsDir, "screenshots");

export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
}

/** A browser context per person, with problems (CSP violations, script errors) collected. */
export async function newPerson(browser, baseUrl, { width = 1280, height = 860 } = {}) {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width, height }, locale: "en-US" });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const problems = [];
  page.on("console", (message) => {
    const text = message.text();
    if (message.type() === "error") {
      // Expected refusals (401 after tampering, 403 an upgrade a tenant may not start, 404 for a
      // foreign store, 409 duplicate) are logged by the browser as failed resources; they are not
      // page problems.
      if (/Failed to load resource: the server responded with a status of (400|401|403|404|409)/.test(text)) return;
      problems.push(`console: ${text}`);
    } else if (/Content Security Policy/i.test(text)) {
      problems.push(`csp: ${text}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  return { context, page, problems };
}

export function assertNoProblems(person, label) {
  if (person.problems.length) {
    const list = person.problems.splice(0).join("\n  ");
    throw new Error(`${label}: the page reported problems:\n  ${list}`);
  }
}

export async function shot(page, name, { fullPage = true } = {}) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  // From the top, so the sticky sidebar sits where a person sees it.
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage });
  return file;
}

/** A photograph of one part of the page (a card, a table), scrolled into view first. */
export async function shotOf(locator, name) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await locator.first().scrollIntoViewIfNeeded();
  await locator.first().screenshot({ path: file });
  return file;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value (returned) or the time is up. */
export async function eventually(check, { timeout = 15_000, interval = 100, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (error) {
      if (error?.final) throw error;
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeout} ms waiting for ${message}${last instanceof Error ? `: ${last.message}` : ""}`,
      );
    }
    await sleep(interval);
  }
}

/** Waits until the locator's text matches. */
export async function expectText(locator, pattern, options = {}) {
  return eventually(
    async () => {
      const text = (await locator.first().textContent({ timeout: 1000 })) ?? "";
      return typeof pattern === "string" ? text.includes(pattern) && text : pattern.test(text) && text;
    },
    { message: `text ${pattern} in ${locator}`, ...options },
  );
}

export async function expectVisible(locator, options = {}) {
  await locator.first().waitFor({ state: "visible", timeout: options.timeout ?? 15_000 });
}

/** Builds the dashboard when dist/ is missing or older than its sources. */
export function buildIfNeeded() {
  if (process.env.E2E_SKIP_BUILD === "1") return false;
  const built = path.join(dashboardDir, "dist", "index.html");
  const newest = (file) => {
    const stat = fs.statSync(file);
    if (!stat.isDirectory()) return stat.mtimeMs;
    return Math.max(0, ...fs.readdirSync(file).map((entry) => newest(path.join(file, entry))));
  };
  const sources = ["src", "public", "index.html", "vite.config.ts", "package.json", "tsconfig.json"]
    .map((entry) => path.join(dashboardDir, entry))
    .filter((entry) => fs.existsSync(entry));
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= Math.max(...sources.map(newest))) return false;
  console.log("e2e: building the dashboard (npm run build)");
  const result = spawnSync("npm", ["run", "build"], { cwd: dashboardDir, stdio: "inherit" });
  if (result.status !== 0) throw new Error("npm run build failed");
  return true;
}
