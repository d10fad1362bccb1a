#!/usr/bin/env node
// Checks the production image's web server without Docker: runs docker/entrypoint.sh (the image's
// ENTRYPOINT) with the machine's nginx against dist/ and a fake Medusa, then checks caching,
// history fallback, /config.json, the /store proxy and that /admin is never proxied.
//
//   npm run build && npm run test:nginx        (needs nginx: apt-get install -y nginx)

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const entrypoint = path.join(appDir, "docker", "entrypoint.sh");
const STORE_NAME = `Ada's "Shop" \\ Zürich`;
const state = { dir: "", nginx: null, upstream: null, seen: [], base: "" };

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function runEntrypoint(env, args = ["true"]) {
  return spawnSync("sh", [entrypoint, ...args], {
    env: {
      PATH: process.env.PATH,
      STOREFRONT_RUNTIME_DIR: path.join(state.dir, "validate"),
      STOREFRONT_TEMPLATE_DIR: path.join(appDir, "docker"),
      ...env,
    },
    encoding: "utf8",
  });
}

async function get(pathname, init = {}) {
  const res = await fetch(`${state.base}${pathname}`, { redirect: "manual", ...init });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

before(async () => {
  const nginxBin = spawnSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" }).stdout.trim();
  if (!nginxBin) throw new Error("nginx not found: apt-get install -y nginx");
  if (!fs.existsSync(path.join(appDir, "dist", "index.html"))) throw new Error("dist/ missing: run npm run build first");

  state.dir = fs.mkdtempSync(path.join(os.tmpdir(), "storefront-nginx-"));
  fs.chmodSync(state.dir, 0o755); // nginx workers (nobody when started as root) read the html copy
  const html = path.join(state.dir, "html");
  fs.cpSync(path.join(appDir, "dist"), html, { recursive: true });

  state.upstream = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      state.seen.push({ method: req.method, url: req.url, body, forwardedFor: req.headers["x-forwarded-for"] });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ upstream: true, url: req.url }));
    });
  });
  const upstreamPort = await new Promise((resolve) => state.upstream.listen(0, "127.0.0.1", () => resolve(state.upstream.address().port)));

  const port = await freePort();
  state.base = `http://127.0.0.1:${port}`;
  state.nginx = spawn("sh", [entrypoint], {
    env: {
      PATH: `${process.env.PATH}:/usr/sbin`,
      STOREFRONT_RUNTIME_DIR: path.join(state.dir, "runtime"),
      STOREFRONT_HTML_DIR: html,
      STOREFRONT_TEMPLATE_DIR: path.join(appDir, "docker"),
      STOREFRONT_PORT: String(port),
      STORE_NAME,
      MEDUSA_UPSTREAM: `http://127.0.0.1:${upstreamPort}/`,
      MEDUSA_PUBLISHABLE_KEY: "pk_01TEST",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  state.nginx.stderr.on("data", (chunk) => (stderr += chunk));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (state.nginx.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    try {
      if ((await fetch(`${state.base}/healthz`)).ok) break;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  if (state.nginx && state.nginx.exitCode === null) {
    const exited = new Promise((resolve) => state.nginx.on("exit", resolve));
    state.nginx.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (state.nginx.exitCode === null) state.nginx.kill("SIGKILL");
  }
  await new Promise((resolve) => (state.upstream ? state.upstream.close(resolve) : resolve()));
  if (state.dir) fs.rmSync(state.dir, { recursive: true, force: true });
});

test("index.html and history routes are served uncached", async () => {
  for (const pathname of ["/", "/products/classic-tee", "/checkout", "/account/sign-in"]) {
    const res = await get(pathname);
    assert.equal(res.status, 200, pathname);
    assert.match(res.headers.get("content-type") ?? "", /text\/html/);
    assert.equal(res.headers.get("cache-control"), "no-cache", pathname);
    assert.match(res.body, /<div id="root">/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  }
});

test("/config.json is written from the environment and never cached", async () => {
  const res = await get("/config.json");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  assert.deepEqual(JSON.parse(res.body), { storeName: STORE_NAME, backendUrl: "", publishableKey: "pk_01TEST" });
});

test("hashed assets are cached for a year and compressed; missing assets are 404", async () => {
  const js = fs.readdirSync(path.join(appDir, "dist", "assets")).find((f) => f.endsWith(".js"));
  const res = await get(`/assets/${js}`, { headers: { "Accept-Encoding": "gzip" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.match(res.headers.get("content-type") ?? "", /javascript/);
  const raw = await fetch(`${state.base}/assets/${js}`, { headers: { "Accept-Encoding": "gzip" } });
  assert.equal(raw.headers.get("content-encoding"), "gzip");
  assert.equal((await get("/assets/missing-abc123.js")).status, 404);
});

test("/store/* is proxied to MEDUSA_UPSTREAM with path, query, method and body intact", async () => {
  state.seen.length = 0;
  const list = await get("/store/products?q=tee&collection_id%5B%5D=pcol_1");
  assert.equal(list.status, 200);
  assert.deepEqual(JSON.parse(list.body), { upstream: true, url: "/store/products?q=tee&collection_id%5B%5D=pcol_1" });
  const post = await get("/store/carts", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"region_id":"reg_1"}' });
  assert.equal(post.status, 200);
  assert.equal(state.seen[1].method, "POST");
  assert.equal(state.seen[1].body, '{"region_id":"reg_1"}');
  assert.equal(state.seen[1].forwardedFor, "127.0.0.1");
});

test("/admin is never proxied", async () => {
  state.seen.length = 0;
  for (const pathname of ["/admin", "/admin/", "/admin/products", "/admin/auth/token"]) {
    const res = await get(pathname);
    assert.equal(res.status, 404, pathname);
  }
  assert.equal(state.seen.length, 0, "no request reached Medusa");
});

test("the entrypoint refuses configurations that would break the shop", () => {
  const ok = runEntrypoint({ MEDUSA_UPSTREAM: "http://medusa:9000", STORE_NAME: "Acme" });
  assert.equal(ok.status, 0, ok.stderr);
  for (const [env, message] of [
    [{}, /MEDUSA_UPSTREAM must be set/],
    [{ MEDUSA_UPSTREAM: "medusa:9000" }, /must start with http/],
    [{ MEDUSA_UPSTREAM: "http://medusa:9000/store" }, /without a path/],
    [{ MEDUSA_UPSTREAM: "http://medusa:9000;return 200" }, /without a path/],
    [{ MEDUSA_UPSTREAM: "http://medusa:9000", MEDUSA_PUBLISHABLE_KEY: "sk_secret" }, /MEDUSA_PUBLISHABLE_KEY/],
    [{ MEDUSA_UPSTREAM: "http://medusa:9000", MEDUSA_BACKEND_URL: "javascript:alert(1)" }, /MEDUSA_BACKEND_URL/],
  ]) {
    const result = runEntrypoint(env);
    assert.equal(result.status, 1, JSON.stringify(env));
    assert.match(result.stderr, message);
  }
});
