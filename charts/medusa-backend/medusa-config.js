// Medusa v1 configuration for storeflow stores and tests.
//
// Everything store-specific comes from the environment, so one image serves every store:
//   DATABASE_URL   postgres://user:pass@host:5432/db   (required)
//   JWT_SECRET     secret signing customer/admin tokens (required in production)
//   COOKIE_SECRET  secret signing session cookies        (required in production)
//   STORE_CORS     comma-separated origins allowed on /store (default: none besides same origin)
//   ADMIN_CORS     comma-separated origins allowed on /admin (default: none; the admin UI
//                  under /app is same-origin and needs none)
//   ADMIN_UI       "false" turns the admin UI off (default: on, served under /app)
//   ADMIN_BUILD_DIR where the prebuilt admin UI is (default: build/admin next to this file);
//                  built by `npm run build:admin` (build-admin.mjs), never at start
//
// No Redis: sessions fall back to Medusa's in-process store, events go through the local event
// bus and the cache is in memory. Only scheduled jobs are unavailable, and storeflow uses none.

const path = require("node:path");

const isProduction = process.env.NODE_ENV === "production";

function required(name, fallbackForDevelopment) {
  const value = process.env[name];
  if (value && value.length > 0) return value;
  if (isProduction || fallbackForDevelopment === undefined) {
    throw new Error(`medusa-config: environment variable ${name} must be set`);
  }
  return fallbackForDevelopment;
}

// The Medusa admin (@medusajs/admin 7.1.x), served by Medusa itself under /app on the store's own
// host. Its Admin API calls go to `backend` + "/admin/...": "/" makes them same-origin, so the
// store served at https://shop.example.com/app talks to https://shop.example.com/admin (no
// ADMIN_CORS needed). `autoRebuild: false`: the UI is prebuilt into `outDir` (the image build, or
// the harness once) — `medusa start` only serves it and fails loudly when it is missing.
const ADMIN_PATH = "/app";
const ADMIN_BUILD_DIR = path.resolve(__dirname, process.env.ADMIN_BUILD_DIR || path.join("build", "admin"));
// Medusa's commands that serve nothing (`medusa user`, which storeflow's steps run over exec in
// the store's pod; `seed`; `migrations`, run at container start) load the plugins too, and the
// admin plugin exits when its prebuilt files are missing: only serving (and building) loads it.
const COMMANDS_WITHOUT_ADMIN = ["user", "seed", "migrations", "telemetry", "exec"];
const adminEnabled =
  (process.env.ADMIN_UI || "true").toLowerCase() !== "false" && !COMMANDS_WITHOUT_ADMIN.includes(process.argv[2]);
const adminPlugin = {
  resolve: "@medusajs/admin",
  /** @type {import('@medusajs/admin').PluginOptions} */
  options: {
    serve: true,
    path: ADMIN_PATH,
    autoRebuild: false,
    outDir: ADMIN_BUILD_DIR,
    backend: "/",
  },
};

module.exports = {
  projectConfig: {
    database_url: required("DATABASE_URL"),
    database_type: "postgres",
    store_cors: process.env.STORE_CORS || "",
    admin_cors: process.env.ADMIN_CORS || "",
    jwt_secret: required("JWT_SECRET", "storeflow-dev-jwt-secret"),
    cookie_secret: required("COOKIE_SECRET", "storeflow-dev-cookie-secret"),
  },
  plugins: ["medusa-fulfillment-manual", "medusa-payment-manual", ...(adminEnabled ? [adminPlugin] : [])],
  modules: {
    eventBus: { resolve: "@medusajs/event-bus-local" },
    cacheService: { resolve: "@medusajs/cache-inmemory" },
  },
  // analytics: Medusa's usage tracking; with it on, the admin UI asks each user to opt in to
  // Segment tracking (scripts from cdn.segment.com). Stores send nothing to third parties.
  featureFlags: { analytics: false },
};
