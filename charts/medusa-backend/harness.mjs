#!/usr/bin/env node
// Real-Medusa test harness: a private PostgreSQL cluster plus `medusa start`, torn down on exit.
//
//   node charts/medusa-backend/harness.mjs [--port N] [--seed FILE]
//        [--admin-email E --admin-password P] [--admin-ui] [--log-file FILE] [--keep-stdin-open]
//        [--db-listen ADDR]
//
// Prints exactly one JSON line on stdout once `GET /health` answers:
//   {"url":"http://127.0.0.1:PORT","databaseUrl":"postgres://medusa:...@127.0.0.1:PGPORT/medusa"}
// With --db-listen ADDR, PostgreSQL also listens on ADDR and admits clients of ADDR's subnet
// (a test cluster's pod network: commands the cluster runs on the host reach it there), and
// the line adds "externalDatabaseUrl" (the same database at ADDR).
// and keeps running. Everything else (progress, Medusa's and PostgreSQL's output) goes to stderr
// or to --log-file, never to stdout, so a parent can read the first stdout line and parse it.
// With --admin-ui, Medusa also serves the admin UI (@medusajs/admin) under /app, as the store
// image does, and the line adds "adminUrl" (URL/app). The UI is prebuilt once into build/admin
// (`node build-admin.mjs --if-missing`, ~20-60 s, in parallel with PostgreSQL and the seed) and
// reused by later runs. Without --admin-ui the plugin is not loaded at all (ADMIN_UI=false).
//
// Guarantees:
// - SIGTERM, SIGINT, SIGHUP, or the end of stdin when stdin is a pipe or socket (a parent that
//   spawns the harness with a piped stdin just closes it, or exits) stop Medusa, stop PostgreSQL
//   and delete the temporary directory, then the harness exits 0.
// - If the harness itself is killed with SIGKILL, a small watchdog process (`sh`, in its own
//   session) notices the closed pipe and kills Medusa and PostgreSQL and deletes the directory.
// - Every step has a timeout; a failed step prints what failed and the tail of the relevant log
//   on stderr, cleans up and exits 1.
// Caveats:
// - When stdin is a TTY or /dev/null it is not watched: stop the harness with a signal.
// - `medusa user` takes the admin password as argv (the CLI offers no other way): use throwaway
//   credentials only.
// - Medusa listens on all interfaces (its CLI has no host option for `start`); the printed URL
//   uses the loopback address.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_DIR = path.dirname(fileURLToPath(import.meta.url));
const MEDUSA_BIN = path.join(PACKAGE_DIR, "node_modules", ".bin", "medusa");
const BUILD_ADMIN_SCRIPT = path.join(PACKAGE_DIR, "build-admin.mjs");

const TIMEOUTS = {
  initdb: 60_000,
  postgresReady: 30_000,
  createdb: 30_000,
  migrate: 180_000,
  seed: 240_000,
  user: 90_000,
  health: 120_000,
  // build-admin.mjs: up to 16 min waiting for another harness's build, then 15 min of build.
  adminBuild: 1_900_000,
  stopMedusa: 8_000,
  stopPostgres: 15_000,
};

// ---------------------------------------------------------------------------------------------
// Command line

function usage(message) {
  if (message) process.stderr.write(`harness: ${message}\n`);
  process.stderr.write(
    "usage: node harness.mjs [--port N] [--seed FILE] [--admin-email E --admin-password P]\n" +
      "                        [--admin-ui] [--log-file FILE] [--keep-stdin-open] [--db-listen ADDR]\n",
  );
  process.exit(2);
}

function parseArgs(argv) {
  const options = {
    port: undefined,
    seed: undefined,
    adminEmail: undefined,
    adminPassword: undefined,
    adminUi: false,
    logFile: undefined,
    watchStdin: true,
    dbListen: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined) usage(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case "--port": {
        const port = Number(value());
        if (!Number.isInteger(port) || port < 1 || port > 65535) usage("--port must be 1..65535");
        options.port = port;
        break;
      }
      case "--seed":
        options.seed = path.resolve(value());
        break;
      case "--admin-email":
        options.adminEmail = value();
        break;
      case "--admin-password":
        options.adminPassword = value();
        break;
      case "--admin-ui":
        options.adminUi = true;
        break;
      case "--log-file":
        options.logFile = path.resolve(value());
        break;
      case "--keep-stdin-open":
        options.watchStdin = false;
        break;
      case "--db-listen":
        options.dbListen = value();
        if (!net.isIP(options.dbListen)) usage("--db-listen must be an IP address");
        break;
      case "-h":
      case "--help":
        usage();
        break;
      default:
        usage(`unknown argument ${arg}`);
    }
  }
  if (Boolean(options.adminEmail) !== Boolean(options.adminPassword)) {
    usage("--admin-email and --admin-password go together");
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Logging: progress lines on stderr; child output on stderr or in the log file.

let logStream = process.stderr;

function say(line) {
  process.stderr.write(`harness: ${line}\n`);
}

class StepError extends Error {
  constructor(message, detail) {
    super(message);
    this.detail = detail;
  }
}

// ---------------------------------------------------------------------------------------------
// Environment checks

function findPostgresBinDir() {
  const candidates = [];
  if (process.env.PG_BIN_DIR) candidates.push(process.env.PG_BIN_DIR);
  try {
    const versions = fs
      .readdirSync("/usr/lib/postgresql")
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // no Debian layout
  }
  const pgConfig = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
  if (pgConfig.status === 0) candidates.push(pgConfig.stdout.trim());
  for (const dir of candidates) {
    if (["initdb", "postgres", "pg_isready", "createdb"].every((b) => isExecutable(path.join(dir, b)))) {
      return dir;
    }
  }
  throw new StepError(
    "PostgreSQL server binaries (initdb, postgres, pg_isready, createdb) not found",
    "looked in " +
      (candidates.join(", ") || "nothing") +
      ". Install them (Debian: apt-get install -y postgresql) or set PG_BIN_DIR.",
  );
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The account PostgreSQL runs as: ourselves, or the `postgres` system user when we are root. */
function postgresAccount() {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return null;
  const passwd = fs.readFileSync("/etc/passwd", "utf8");
  const entry = passwd.split("\n").find((l) => l.startsWith("postgres:"));
  if (!entry) {
    throw new StepError(
      "running as root but there is no `postgres` system user",
      "initdb and postgres refuse to run as root. Install the postgresql package (it creates the user) or run the harness as a normal user.",
    );
  }
  const [, , uid, gid] = entry.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

function checkMedusaInstalled() {
  if (!isExecutable(MEDUSA_BIN) || !fs.existsSync(path.join(PACKAGE_DIR, "node_modules", "@medusajs", "medusa"))) {
    throw new StepError(
      `Medusa is not installed in ${PACKAGE_DIR}`,
      `run npm ci in charts/medusa-backend: cd ${PACKAGE_DIR} && npm ci`,
    );
  }
}

function freePort() {
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Child processes

/** Runs a command to completion with a timeout; its output goes to the log. Kills its whole group on timeout. */
function runStep(name, command, args, { env, cwd, account, timeoutMs, quiet = false, echo, onSpawn }) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(command, args, {
      cwd,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      ...(account ? { uid: account.uid, gid: account.gid } : {}),
    });
    onSpawn?.(child);
    let tail = "";
    const collect = (chunk) => {
      if (!quiet) logStream.write(chunk);
      // Lines matching `echo` also go to our stderr (when the rest goes to --log-file).
      if (echo && logStream !== process.stderr) {
        for (const line of chunk.toString().split("\n")) if (echo.test(line)) process.stderr.write(`${line}\n`);
      }
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      reject(new StepError(`${name} timed out after ${timeoutMs / 1000}s`, tail));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new StepError(`${name} could not start: ${err.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        say(`${name} done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        resolve(tail);
      } else {
        reject(new StepError(`${name} failed (${signal ? `signal ${signal}` : `exit code ${code}`})`, tail));
      }
    });
  });
}

/** Starts a long-running process in its own process group, its output going to the log. */
function startService(command, args, { env, cwd, account }) {
  const child = spawn(command, args, {
    cwd,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    ...(account ? { uid: account.uid, gid: account.gid } : {}),
  });
  child.tail = "";
  const collect = (chunk) => {
    logStream.write(chunk);
    child.tail = (child.tail + chunk.toString()).slice(-4000);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  child.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  child.on("error", (err) => logStream.write(`harness: ${command}: ${err.message}\n`));
  return child;
}

async function stopProcess(child, { signal, escalate, timeoutMs, group }) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const send = (sig) => {
    try {
      if (group) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };
  send(signal);
  const done = await Promise.race([child.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
  if (!done) {
    send(escalate);
    await Promise.race([child.exited, sleep(3000)]);
  }
}

// The watchdog outlives a SIGKILLed harness: it reads our pipe; at EOF without "done" it cleans up.
const WATCHDOG_SCRIPT = `
dir="$1"; pg=""; medusa=""; build=""
while read -r kind value; do
  case "$kind" in
    pg) pg="$value" ;;
    medusa) medusa="$value" ;;
    build) build="$value" ;;
    done) exit 0 ;;
  esac
done
[ -n "$build" ] && kill -TERM "-$build" 2>/dev/null
[ -n "$medusa" ] && kill -KILL "-$medusa" 2>/dev/null
[ -n "$pg" ] && kill -QUIT "$pg" 2>/dev/null
sleep 3
[ -n "$pg" ] && kill -KILL "$pg" 2>/dev/null
rm -rf -- "$dir"
`;

function startWatchdog(dir) {
  const watchdog = spawn("sh", ["-c", WATCHDOG_SCRIPT, "storeflow-medusa-watchdog", dir], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  watchdog.unref();
  watchdog.stdin.on("error", () => {});
  return {
    tell(line) {
      if (!watchdog.stdin.destroyed) watchdog.stdin.write(`${line}\n`);
    },
    dismiss() {
      if (!watchdog.stdin.destroyed) watchdog.stdin.end("done\n");
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The run

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.logFile) logStream = fs.createWriteStream(options.logFile, { flags: "a" });

  checkMedusaInstalled();
  const pgBin = findPostgresBinDir();
  const account = postgresAccount();
  if (options.seed && !fs.existsSync(options.seed)) throw new StepError(`seed file ${options.seed} does not exist`);

  const state = { dir: null, postgres: null, medusa: null, adminBuild: null, watchdog: null, stopping: false };

  const cleanup = async (exitCode) => {
    if (state.stopping) return;
    state.stopping = true;
    if (state.adminBuild && state.adminBuild.exitCode === null && state.adminBuild.signalCode === null) {
      // build-admin.mjs stops its webpack build, releases its lock and removes its temporary output.
      try {
        process.kill(-state.adminBuild.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    await stopProcess(state.medusa, { signal: "SIGTERM", escalate: "SIGKILL", timeoutMs: TIMEOUTS.stopMedusa, group: true });
    // SIGINT = PostgreSQL's fast shutdown; SIGQUIT = immediate shutdown.
    await stopProcess(state.postgres, { signal: "SIGINT", escalate: "SIGQUIT", timeoutMs: TIMEOUTS.stopPostgres, group: false });
    if (state.dir) fs.rmSync(state.dir, { recursive: true, force: true });
    state.watchdog?.dismiss();
    if (logStream !== process.stderr) await new Promise((r) => logStream.end(r));
    say(exitCode === 0 ? "stopped" : "stopped after failure");
    process.exit(exitCode);
  };

  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
    process.on(sig, () => {
      say(`${sig} received, stopping`);
      cleanup(0);
    });
  }
  if (options.watchStdin) watchStdinEnd(() => {
    say("stdin closed, stopping");
    cleanup(0);
  });

  try {
    // 1. Private PostgreSQL cluster.
    state.dir = fs.mkdtempSync(path.join(os.tmpdir(), "storeflow-medusa-"));
    state.watchdog = startWatchdog(state.dir);

    // 0. The admin UI's prebuilt files (only with --admin-ui), in parallel with steps 1-2: a no-op
    // once built; `medusa start` (autoRebuild off) only serves them.
    let adminBuilt = Promise.resolve();
    if (options.adminUi) {
      adminBuilt = runStep("admin UI build check", process.execPath, [BUILD_ADMIN_SCRIPT, "--if-missing"], {
        env: { ...process.env },
        cwd: PACKAGE_DIR,
        timeoutMs: TIMEOUTS.adminBuild,
        echo: /^build-admin: /,
        onSpawn: (child) => {
          state.adminBuild = child;
          state.watchdog.tell(`build ${child.pid}`);
        },
      });
      // Awaited before `medusa start`; a failure must not go unhandled before that.
      adminBuilt.catch(() => {});
    }
    if (account) fs.chownSync(state.dir, account.uid, account.gid);
    const pgData = path.join(state.dir, "pgdata");
    const pgPassword = randomBytes(18).toString("hex");
    const pwFile = path.join(state.dir, "pwfile");
    fs.writeFileSync(pwFile, `${pgPassword}\n`, { mode: 0o600 });
    if (account) fs.chownSync(pwFile, account.uid, account.gid);

    const pgEnv = { PATH: process.env.PATH, LANG: "C", LC_ALL: "C", PGPASSWORD: pgPassword };
    await runStep(
      "initdb",
      path.join(pgBin, "initdb"),
      ["-D", pgData, "-U", "medusa", `--pwfile=${pwFile}`, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"],
      { env: pgEnv, cwd: state.dir, account, timeoutMs: TIMEOUTS.initdb, quiet: true },
    );
    fs.rmSync(pwFile, { force: true });
    if (options.dbListen) {
      fs.appendFileSync(path.join(pgData, "pg_hba.conf"), "host all all samenet scram-sha-256\n");
    }

    let pgPort;
    for (let attempt = 1; ; attempt++) {
      pgPort = await freePort();
      state.postgres = startService(
        path.join(pgBin, "postgres"),
        [
          "-D", pgData,
          "-p", String(pgPort),
          "-c", `listen_addresses=${["127.0.0.1", options.dbListen].filter(Boolean).join(",")}`,
          "-c", `unix_socket_directories=${state.dir}`,
          "-c", "fsync=off",
          "-c", "synchronous_commit=off",
          "-c", "full_page_writes=off",
          "-c", "max_connections=60",
        ],
        { env: pgEnv, cwd: state.dir, account },
      );
      state.watchdog.tell(`pg ${state.postgres.pid}`);
      const ready = await waitPostgresReady(pgBin, pgPort, state.postgres, pgEnv);
      if (ready) break;
      if (attempt >= 3) throw new StepError("PostgreSQL did not become ready", state.postgres.tail);
      say(`PostgreSQL did not start on port ${pgPort}, retrying`);
      await stopProcess(state.postgres, { signal: "SIGQUIT", escalate: "SIGKILL", timeoutMs: 3000 });
    }
    say(`PostgreSQL ready on 127.0.0.1:${pgPort}`);

    await runStep(
      "createdb",
      path.join(pgBin, "createdb"),
      ["-h", "127.0.0.1", "-p", String(pgPort), "-U", "medusa", "medusa"],
      { env: pgEnv, cwd: state.dir, timeoutMs: TIMEOUTS.createdb },
    );
    const databaseUrl = `postgres://medusa:${pgPassword}@127.0.0.1:${pgPort}/medusa`;

    // 2. Medusa: schema (and seed data), admin user, server.
    let medusaPort = options.port ?? (await freePort());
    const loopbackOrigins = "/^https?:\\/\\/(localhost|127\\.0\\.0\\.1)(:\\d+)?$/";
    // The Medusa CLI forks a telemetry sender on every run unless its configuration (under
    // XDG_CONFIG_HOME) says telemetry is off; MEDUSA_DISABLE_TELEMETRY only stops new events.
    // A configuration home of its own, removed with the rest, keeps ~/.config out of it.
    const configHome = path.join(state.dir, "xdg-config");
    fs.mkdirSync(path.join(configHome, "medusa"), { recursive: true });
    fs.writeFileSync(
      path.join(configHome, "medusa", "config.json"),
      `${JSON.stringify({ telemetry: { enabled: false } })}\n`,
    );
    const medusaEnv = {
      ...process.env,
      XDG_CONFIG_HOME: configHome,
      DATABASE_URL: databaseUrl,
      JWT_SECRET: process.env.JWT_SECRET || randomBytes(24).toString("hex"),
      COOKIE_SECRET: process.env.COOKIE_SECRET || randomBytes(24).toString("hex"),
      STORE_CORS: process.env.STORE_CORS || loopbackOrigins,
      ADMIN_CORS: process.env.ADMIN_CORS || loopbackOrigins,
      // The admin UI plugin (@medusajs/admin) is loaded only by `medusa start`, and only with
      // --admin-ui: `medusa seed` loads the plugins' routes too, and the plugin exits when the
      // UI is not built yet (it is being built meanwhile).
      ADMIN_UI: "false",
      NODE_ENV: process.env.NODE_ENV || "development",
      MEDUSA_DISABLE_TELEMETRY: "true",
      PORT: String(medusaPort),
    };
    const medusaStep = (name, args, timeoutMs) =>
      runStep(name, MEDUSA_BIN, args, { env: medusaEnv, cwd: PACKAGE_DIR, timeoutMs });

    if (options.seed) {
      await medusaStep("medusa seed", ["seed", "-f", options.seed], TIMEOUTS.seed);
    } else {
      await medusaStep("medusa migrations run", ["migrations", "run"], TIMEOUTS.migrate);
    }
    if (options.adminEmail) {
      await medusaStep("medusa user", ["user", "-e", options.adminEmail, "-p", options.adminPassword], TIMEOUTS.user);
    }

    await adminBuilt;

    // A free port can be taken by another process between the probe and Medusa's listen:
    // retry on EADDRINUSE when the port was not given.
    let url;
    for (let attempt = 1; ; attempt++) {
      url = `http://127.0.0.1:${medusaPort}`;
      medusaEnv.PORT = String(medusaPort);
      state.medusa = startService(MEDUSA_BIN, ["start", "-p", String(medusaPort)], {
        env: { ...medusaEnv, ADMIN_UI: options.adminUi ? "true" : "false" },
        cwd: PACKAGE_DIR,
      });
      state.watchdog.tell(`medusa ${state.medusa.pid}`);
      try {
        await waitHealthy(url, state.medusa);
        break;
      } catch (err) {
        const portTaken = /EADDRINUSE/.test(state.medusa.tail);
        await stopProcess(state.medusa, { signal: "SIGTERM", escalate: "SIGKILL", timeoutMs: TIMEOUTS.stopMedusa, group: true });
        if (!portTaken || options.port !== undefined || attempt >= 3) throw err;
        say(`port ${medusaPort} was taken, retrying on another port`);
        medusaPort = await freePort();
      }
    }
    say(`Medusa ready at ${url}`);

    state.medusa.exited.then(({ code, signal }) => {
      if (!state.stopping) {
        say(`Medusa exited unexpectedly (${signal ?? code}); stopping`);
        cleanup(1);
      }
    });
    state.postgres.exited.then(({ code, signal }) => {
      if (!state.stopping) {
        say(`PostgreSQL exited unexpectedly (${signal ?? code}); stopping`);
        cleanup(1);
      }
    });

    const externalDatabaseUrl = options.dbListen
      ? `postgres://medusa:${pgPassword}@${options.dbListen}:${pgPort}/medusa`
      : undefined;
    const adminUrl = options.adminUi ? `${url}/app` : undefined;
    process.stdout.write(`${JSON.stringify({ url, databaseUrl, externalDatabaseUrl, adminUrl })}\n`);
  } catch (err) {
    say(`error: ${err.message}`);
    if (err.detail) process.stderr.write(`${String(err.detail).trimEnd()}\n`);
    else if (!(err instanceof StepError)) process.stderr.write(`${err.stack}\n`);
    await cleanup(1);
  }
}

function watchStdinEnd(onEnd) {
  let stat;
  try {
    stat = fs.fstatSync(0);
  } catch {
    return;
  }
  // Only a pipe or a socket means "a parent holds the other end"; a TTY or /dev/null does not.
  if (!stat.isFIFO() && !stat.isSocket()) return;
  process.stdin.on("data", () => {});
  process.stdin.on("end", onEnd);
  process.stdin.on("error", onEnd);
}

async function waitPostgresReady(pgBin, port, postgres, env) {
  const deadline = Date.now() + TIMEOUTS.postgresReady;
  while (Date.now() < deadline) {
    if (postgres.exitCode !== null || postgres.signalCode !== null) return false;
    const probe = spawnSync(path.join(pgBin, "pg_isready"), ["-q", "-h", "127.0.0.1", "-p", String(port), "-t", "2"], {
      env,
      timeout: 5000,
    });
    if (probe.status === 0) return true;
    await sleep(100);
  }
  return false;
}

async function waitHealthy(url, medusa) {
  const deadline = Date.now() + TIMEOUTS.health;
  while (Date.now() < deadline) {
    if (medusa.exitCode !== null || medusa.signalCode !== null) {
      throw new StepError("medusa start exited before answering /health", medusa.tail);
    }
    // Medusa logs a failed listen but keeps running: notice it instead of waiting for the timeout.
    if (/EADDRINUSE/.test(medusa.tail)) {
      throw new StepError(`medusa start could not listen: ${url.replace(/^.*:/, "port ")} is in use`, medusa.tail);
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new StepError(`Medusa did not answer GET /health within ${TIMEOUTS.health / 1000}s`, medusa.tail);
}

main().catch((err) => {
  say(`error: ${err.message}`);
  if (err.detail) process.stderr.write(`${String(err.detail).trimEnd()}\n`);
  process.exit(1);
});
