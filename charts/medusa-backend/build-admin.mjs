#!/usr/bin/env node
// Prebuilds the Medusa admin UI (@medusajs/admin) that `medusa start` serves under /app.
//
//   node build-admin.mjs [--if-missing]          (npm run build:admin)
//
// Runs the plugin's own `medusa-admin build` with the options of medusa-config.js (path "/app",
// backend "/" = same origin) into ADMIN_BUILD_DIR (default build/admin). medusa-config.js sets
// `autoRebuild: false`, so `medusa start` never builds: it serves this directory, and exits with
// "Could not find the admin UI build files" when it is missing.
//
// --if-missing: do nothing when the directory holds a build of the same @medusajs/admin and
// @medusajs/admin-ui versions and the same options (the stamp file .storeflow-admin-build.json,
// which the plugin's static server does not serve). The harness uses it: the first run builds
// (20-40 s on 2 cores, ~1 GB of memory), later runs reuse the build (~0.1 s).
//
// Safe to run concurrently (several harnesses, parallel tests): a lock directory serializes the
// builds (the plugin always builds through ./.cache/admin), and each build goes to a temporary
// directory that is renamed into place, so a reader never sees a half-written build.
//
// The build only reads the plugin's options from medusa-config.js; it never connects to a
// database. DATABASE_URL, JWT_SECRET and COOKIE_SECRET get placeholders when they are unset.

import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_DIR = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const STAMP = ".storeflow-admin-build.json";
const BUILD_TIMEOUT_MS = 900_000;
const LOCK_WAIT_MS = 960_000;

const say = (line) => process.stderr.write(`build-admin: ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function buildEnv(extra) {
  const env = { ...process.env, ...extra };
  // The build loads medusa-config.js for the plugin's options only.
  env.DATABASE_URL ||= "postgres://admin-build.invalid/unused";
  env.JWT_SECRET ||= "admin-build-unused";
  env.COOKIE_SECRET ||= "admin-build-unused";
  // The plugin reads its options from medusa-config.js: it must be in the plugin list.
  env.ADMIN_UI = "true";
  // webpackbar: plain progress lines instead of a redrawn terminal bar.
  env.CI ||= "true";
  // Without a cap, V8 sizes the heap from the machine's memory and the build peaks at 1.2-1.8 GB
  // RSS on a roomy machine; with 1 GiB of old space it peaks at ~1 GB (it completes even with
  // 512 MiB, more slowly). An explicit --max-old-space-size in NODE_OPTIONS wins.
  if (!/--max-old-space-size/.test(env.NODE_OPTIONS ?? "")) {
    env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ""} --max-old-space-size=1024`.trim();
  }
  return env;
}

/** The admin plugin's options as medusa-config.js resolves them (with ADMIN_BUILD_DIR as given). */
function adminOptions(env) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const configPath = require.resolve(path.join(PACKAGE_DIR, "medusa-config.js"));
    delete require.cache[configPath];
    const config = require(configPath);
    const plugin = config.plugins.find((p) => typeof p === "object" && p.resolve === "@medusajs/admin");
    if (!plugin) throw new Error("medusa-config.js does not configure @medusajs/admin");
    return plugin.options;
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

function versionOf(pkg) {
  return JSON.parse(fs.readFileSync(require.resolve(`${pkg}/package.json`, { paths: [PACKAGE_DIR] }), "utf8")).version;
}

function readStamp(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STAMP), "utf8"));
  } catch {
    return null;
  }
}

const sameBuild = (a, b) => a !== null && JSON.stringify(a) === JSON.stringify(b);

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/** mkdir is atomic: the lock is a directory holding the owner's pid. Stale locks are taken over. */
async function withLock(lockDir, body) {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let announced = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, "pid"), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(lockDir, "pid"), "utf8"));
      } catch {
        // being created or removed right now
      }
      if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) {
        say(`removing the stale lock of process ${owner}`);
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${lockDir}`);
      if (!announced) {
        say(`another build is running (lock ${lockDir}); waiting for it`);
        announced = true;
      }
      await sleep(500);
    }
  }
  const release = () => fs.rmSync(lockDir, { recursive: true, force: true });
  const onSignal = (sig) => {
    release();
    process.kill(process.pid, sig);
  };
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.once(sig, onSignal);
  try {
    return await body();
  } finally {
    release();
    for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.off(sig, onSignal);
  }
}

function run(command, args, { env, cwd, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ["ignore", "inherit", "inherit"], detached: true });
    const forward = (sig) => {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // gone
      }
    };
    const timer = setTimeout(() => {
      forward("SIGKILL");
      reject(new Error(`medusa-admin build timed out after ${timeoutMs / 1000}s`));
    }, timeoutMs);
    const onSignal = () => forward("SIGTERM");
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      if (code === 0) resolve();
      else reject(new Error(`medusa-admin build failed (${signal ? `signal ${signal}` : `exit code ${code}`})`));
    });
  });
}

async function main() {
  const ifMissing = process.argv.slice(2).includes("--if-missing");
  const unknown = process.argv.slice(2).filter((a) => a !== "--if-missing");
  if (unknown.length > 0) {
    say(`unknown argument ${unknown[0]}; usage: node build-admin.mjs [--if-missing]`);
    process.exit(2);
  }

  const options = adminOptions(buildEnv({}));
  const outDir = path.resolve(PACKAGE_DIR, options.outDir);
  const wanted = {
    admin: versionOf("@medusajs/admin"),
    adminUi: versionOf("@medusajs/admin-ui"),
    path: options.path,
    backend: options.backend,
  };
  if (ifMissing && sameBuild(readStamp(outDir), wanted)) return;

  fs.mkdirSync(path.dirname(outDir), { recursive: true });
  await withLock(`${outDir}.lock`, async () => {
    // Another process may have built it while we waited for the lock.
    if (ifMissing && sameBuild(readStamp(outDir), wanted)) {
      say(`${outDir} was built meanwhile`);
      return;
    }
    const tmpDir = `${outDir}.tmp-${process.pid}`;
    fs.rmSync(tmpDir, { recursive: true, force: true });
    const started = Date.now();
    say(
      `building the Medusa admin UI (@medusajs/admin ${wanted.admin}, path ${wanted.path}, backend ${wanted.backend}) ` +
        `into ${outDir} — once, about 20-60 s`,
    );
    try {
      await run(process.execPath, [require.resolve("@medusajs/admin/bin/medusa-admin.js", { paths: [PACKAGE_DIR] }), "build"], {
        env: buildEnv({ ADMIN_BUILD_DIR: tmpDir }),
        cwd: PACKAGE_DIR,
        timeoutMs: BUILD_TIMEOUT_MS,
      });
      // medusa-admin build resolves even when webpack reports compilation errors.
      if (!fs.existsSync(path.join(tmpDir, "index.html"))) throw new Error(`medusa-admin build produced no ${tmpDir}/index.html`);
      fs.writeFileSync(path.join(tmpDir, STAMP), `${JSON.stringify(wanted, null, 2)}\n`);
      fs.rmSync(outDir, { recursive: true, force: true });
      fs.renameSync(tmpDir, outDir);
    } finally {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    }
    say(`admin UI built in ${((Date.now() - started) / 1000).toFixed(1)}s: ${outDir}`);
  });
}

main().catch((err) => {
  say(`error: ${err.message}`);
  process.exit(1);
});
