// Medusa v1 configuration for storeflow stores and tests.
//
// Everything store-specific comes from the environment, so one image serves every store:
//   DATABASE_URL   postgres://user:pass@host:5432/db   (required)
//   JWT_SECRET     secret signing customer/admin tokens (required in production)
//   COOKIE_SECRET  secret signing session cookies        (required in production)
//   STORE_CORS     comma-separated origins allowed on /store (default: none besides same origin)
//   ADMIN_CORS     comma-separated origins allowed on /admin (default: none)
//
// No Redis: sessions fall back to Medusa's in-process store, events go through the local event
// bus and the cache is in memory. Only scheduled jobs are unavailable, and storeflow uses none.

const isProduction = process.env.NODE_ENV === "production";

function required(name, fallbackForDevelopment) {
  const value = process.env[name];
  if (value && value.length > 0) return value;
  if (isProduction || fallbackForDevelopment === undefined) {
    throw new Error(`medusa-config: environment variable ${name} must be set`);
  }
  return fallbackForDevelopment;
}

module.exports = {
  projectConfig: {
    database_url: required("DATABASE_URL"),
    database_type: "postgres",
    store_cors: process.env.STORE_CORS || "",
    admin_cors: process.env.ADMIN_CORS || "",
    jwt_secret: required("JWT_SECRET", "storeflow-dev-jwt-secret"),
    cookie_secret: required("COOKIE_SECRET", "storeflow-dev-cookie-secret"),
  },
  plugins: ["medusa-fulfillment-manual", "medusa-payment-manual"],
  modules: {
    eventBus: { resolve: "@medusajs/event-bus-local" },
    cacheService: { resolve: "@medusajs/cache-inmemory" },
  },
  featureFlags: {},
};
