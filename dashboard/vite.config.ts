/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig } from "vite";

// The dashboard is served by the API on its own origin (STOREFLOW_DASHBOARD_DIR), so every call
// is relative (`/api/v1/...`). In development Vite proxies /api to a running `storeflow up`.
const api = process.env.STOREFLOW_API || "http://127.0.0.1:3001";

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    port: 5173,
    proxy: { "/api": { target: api, changeOrigin: false } },
  },
  build: {
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    // The page's Content-Security-Policy allows only same-origin scripts: no inline module
    // preload polyfill.
    modulePreload: { polyfill: false },
  },
  test: {
    include: ["src/**/*.test.{ts,tsx}"],
    environment: "happy-dom",
    setupFiles: ["src/test/setup.ts"],
    restoreMocks: true,
  },
});
