/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig, type Plugin } from "vite";

// In development the runtime configuration that the production image writes at container start
// (`/config.json`) is served from the same environment variables, and `/store` is proxied to
// Medusa, exactly like nginx does in the image. Nothing store-specific is baked into a build.
const medusaUpstream = process.env.MEDUSA_UPSTREAM || "http://127.0.0.1:9000";

function devRuntimeConfig(): Plugin {
  return {
    name: "storefront-dev-runtime-config",
    configureServer(server) {
      server.middlewares.use("/config.json", (_req, res) => {
        res.setHeader("Content-Type", "application/json");
        res.setHeader("Cache-Control", "no-store");
        res.end(
          JSON.stringify({
            storeName: process.env.STORE_NAME || "Storefront (dev)",
            backendUrl: process.env.MEDUSA_BACKEND_URL || "",
            publishableKey: process.env.MEDUSA_PUBLISHABLE_KEY || "",
          }),
        );
      });
    },
  };
}

export default defineConfig({
  plugins: [react(), tailwindcss(), devRuntimeConfig()],
  server: {
    port: 3000,
    proxy: { "/store": { target: medusaUpstream, changeOrigin: true } },
  },
  build: {
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: true,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
