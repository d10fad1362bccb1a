// Starts and stops a whole storeflow platform for the browser tests: `storeflow up` (API, worker,
// scheduler and a private PostgreSQL in a fresh data directory) on a free loopback port, serving
// the built dashboard; optionally in front of the fake Kubernetes cluster
// (`storeflow-fakecluster`), so stores really provision, or with the cluster simulated inside
// storeflow itself (`storeflow up --simulated-cluster`: no other process, nothing deployed).
//
//   const platform = await startPlatform({ fakeCluster: true });   // or { simulatedCluster: true }
//   platform.baseUrl   // http://127.0.0.1:PORT
//   platform.cluster   // {kubeconfig, helm, chart, control, server} with a fake cluster, else null
//   await platform.restart({ env: { REGISTRATION: "closed" } });   // same port and data, more env
//   platform.sql("SELECT …")   // psql against its private PostgreSQL (null without psql)
//   await platform.stop();
//
// Binaries: STOREFLOW_BIN (default ../target/debug/storeflow from dashboard/) and
// STOREFLOW_FAKECLUSTER_BIN (default: storeflow-fakecluster beside STOREFLOW_BIN).

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

export const dashboardDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const repoDir = path.resolve(dashboardDir, "..");

export function storeflowBin() {
  return path.resolve(dashboardDir, process.env.STOREFLOW_BIN || "../target/debug/storeflow");
}

export function fakeClusterBin() {
  return process.env.STOREFLOW_FAKECLUSTER_BIN
    ? path.resolve(dashboardDir, process.env.STOREFLOW_FAKECLUSTER_BIN)
    : path.join(path.dirname(storeflowBin()), "storeflow-fakecluster");
}

/** Whether the fake cluster can be used (its binary exists). */
export function fakeClusterAvailable() {
  return isExecutable(fakeClusterBin());
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Whether Debian's psql is on the PATH (`apt-get install postgresql-client`). */
export function hasPsql() {
  return spawnSync("psql", ["--version"], { encoding: "utf8" }).status === 0;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps the last lines of a child's output for error messages and the log file. */
function capture(child, name, logFile) {
  const tail = [];
  const out = fs.createWriteStream(logFile, { flags: "a" });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    stream.on("data", (chunk) => {
      out.write(chunk);
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        tail.push(`[${name}] ${line}`);
        if (tail.length > 60) tail.shift();
      }
    });
  }
  child.on("exit", () => out.end());
  return tail;
}

async function stopChild(child, graceMs = 20_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = sleep(graceMs).then(() => "timeout");
  if ((await Promise.race([exited, timer])) === "timeout") {
    // Our own child, by its id (and the group we made it lead).
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
    await exited;
  }
}

/** A PostgreSQL left running in `dataDir` (only if storeflow could not stop it). */
function stopLeftoverPostgres(dataDir) {
  const pidFile = path.join(dataDir, "postgres", "data", "postmaster.pid");
  try {
    const pid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
    if (pid > 0) process.kill(pid, "SIGQUIT");
  } catch {
    // Not there: it stopped cleanly.
  }
}

async function startFakeCluster(dir, logFile) {
  const bin = fakeClusterBin();
  const child = spawn(bin, ["--dir", dir, "--chart", path.join(repoDir, "charts", "ecommerce-store")], {
    cwd: repoDir,
    // Its standard input stays open while it should run: closing it stops the fake cluster.
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const tail = capture(child, "fakecluster", logFile);
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the fake cluster did not start:\n${tail.join("\n")}`)), 30_000);
    const lines = readline.createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      try {
        const parsed = JSON.parse(line);
        if (parsed && parsed.kubeconfig) {
          clearTimeout(timer);
          lines.close();
          resolve(parsed);
        }
      } catch {
        // Not the JSON line.
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the fake cluster exited with ${code}:\n${tail.join("\n")}`));
    });
  });
  return { child, info };
}

/**
 * Starts the platform. Options: `fakeCluster` (start the fake cluster first and point storeflow
 * at it), `simulatedCluster` (`storeflow up --simulated-cluster`, run from the repository like a
 * developer would, so it finds charts/ there; no fake-cluster process, `cluster` stays null),
 * `env` (more environment for storeflow), `readyTimeoutMs`.
 */
export async function startPlatform({
  fakeCluster = false,
  simulatedCluster = false,
  env = {},
  readyTimeoutMs = 180_000,
  name = "platform",
} = {}) {
  if (fakeCluster && simulatedCluster) {
    throw new Error("startPlatform: fakeCluster and simulatedCluster exclude each other");
  }
  const bin = storeflowBin();
  if (!isExecutable(bin)) {
    throw new Error(`storeflow binary not found at ${bin}: build it (cargo build) or set STOREFLOW_BIN`);
  }
  const dist = path.join(dashboardDir, "dist");
  if (!fs.existsSync(path.join(dist, "index.html"))) throw new Error("dashboard/dist is not built (npm run build)");

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `storeflow-e2e-${name}-`));
  // As root the private PostgreSQL runs as `postgres`, which must reach the directory.
  fs.chmodSync(dataDir, 0o755);
  const logFile = path.join(dashboardDir, "test-results", `${name}.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, "");

  let cluster = null;
  let clusterChild = null;
  const clusterEnv = {};
  if (fakeCluster) {
    if (!fakeClusterAvailable()) throw new Error(`fake cluster binary not found at ${fakeClusterBin()}`);
    const started = await startFakeCluster(path.join(dataDir, "cluster"), logFile);
    clusterChild = started.child;
    cluster = started.info;
    clusterEnv.KUBECONFIG = cluster.kubeconfig;
    if (cluster.helm) clusterEnv.HELM_BIN = cluster.helm;
    if (cluster.chart) clusterEnv.HELM_CHART_PATH = cluster.chart;
  }

  const port = await freePort();
  const childEnv = {
    ...process.env,
    STOREFLOW_DASHBOARD_DIR: dist,
    STORE_CREATION_COOLDOWN_MS: "0",
    RUST_LOG: process.env.RUST_LOG || "info",
    ...clusterEnv,
    ...env,
  };
  // A developer's own cluster must not leak into a run without the fake one.
  if (!fakeCluster && !("KUBECONFIG" in env)) delete childEnv.KUBECONFIG;
  delete childEnv.DATABASE_URL;

  const args = ["up", "--data-dir", dataDir, "--host", "127.0.0.1", "--port", String(port)];
  if (simulatedCluster) args.push("--simulated-cluster");
  const baseUrl = `http://127.0.0.1:${port}`;
  let child = null;
  let tail = [];

  const waitReady = async () => {
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`storeflow exited with ${child.exitCode}:\n${tail.join("\n")}`);
      if (Date.now() - started > readyTimeoutMs)
        throw new Error(`storeflow was not ready in time:\n${tail.join("\n")}`);
      try {
        const ready = await fetch(`${baseUrl}/api/v1/health/ready`);
        if (ready.ok) {
          const page = await fetch(`${baseUrl}/`);
          if (page.ok && (await page.text()).includes('id="root"')) return Date.now() - started;
        }
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
  };
  const launch = async () => {
    child = spawn(bin, args, {
      cwd: simulatedCluster ? repoDir : dataDir,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    tail = capture(child, "storeflow", logFile);
    return waitReady();
  };

  const stop = async () => {
    await stopChild(child);
    stopLeftoverPostgres(dataDir);
    if (clusterChild) {
      clusterChild.stdin?.end();
      await stopChild(clusterChild, 5000);
    }
    if (!process.env.E2E_KEEP_DATA) fs.rmSync(dataDir, { recursive: true, force: true });
  };

  /**
   * Stops storeflow (gracefully) and starts it again on the same port and data; `env` changes its
   * environment from then on (e.g. `{ REGISTRATION: "closed" }` once an admin exists).
   */
  const restart = async ({ env: more = {} } = {}) => {
    await stopChild(child);
    Object.assign(childEnv, more);
    return launch();
  };

  /**
   * Runs SQL in the platform's private database (`<data-dir>/postgres`, its Unix socket, the
   * `storeflow` superuser) with Debian's psql, for what a scenario cannot bring about through the
   * API; returns psql's unaligned output, trimmed. Null when psql is not installed.
   */
  const sql = (text) => {
    if (!hasPsql()) return null;
    const result = spawnSync(
      "psql",
      ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", path.join(dataDir, "postgres"), "-p", "5432"]
        .concat(["-U", "storeflow", "-d", "storeflow", "-c", text]),
      { encoding: "utf8", env: { ...process.env, PGCONNECT_TIMEOUT: "10" } },
    );
    if (result.status !== 0) throw new Error(`psql failed (${result.status}): ${result.stderr || result.error}`);
    return result.stdout.trim();
  };

  let startedInMs;
  try {
    startedInMs = await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    baseUrl,
    port,
    dataDir,
    cluster,
    simulatedCluster,
    logFile,
    startedInMs,
    stop,
    restart,
    sql,
    tail: () => tail,
  };
}
