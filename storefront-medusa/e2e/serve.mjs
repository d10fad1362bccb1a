// A small production-like server for the built storefront, used by the end-to-end tests. It mirrors
// the nginx configuration of the image (docker/nginx.conf.template):
//   /config.json   the runtime configuration, never cached
//   /assets/*      hashed files, cached for a year
//   /store/*       proxied to Medusa, path and query unchanged
//   /admin*        404, never proxied
//   anything else  the file if it exists, else index.html (history fallback), never cached
//
// Usage as a module: startStorefrontServer({ distDir, upstream, config, port }) → { url, close() }.
// Usage as a script: node e2e/serve.mjs --upstream http://127.0.0.1:9000 [--port 8080]
//                    (STORE_NAME, MEDUSA_BACKEND_URL, MEDUSA_PUBLISHABLE_KEY as in the image)

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

export function startStorefrontServer({ distDir, upstream, config, port = 0, host = "127.0.0.1" }) {
  const root = path.resolve(distDir);
  const upstreamUrl = new URL(upstream);
  const indexHtml = fs.readFileSync(path.join(root, "index.html"));
  const configBody = JSON.stringify(config);

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const pathname = decodeURIComponent(url.pathname);

    if (pathname.startsWith("/store/")) {
      const proxied = http.request(
        {
          hostname: upstreamUrl.hostname,
          port: upstreamUrl.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstreamUrl.host, "x-forwarded-proto": "http" },
        },
        (upstreamRes) => {
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      proxied.on("error", () => {
        if (!res.headersSent) res.writeHead(502, { "Content-Type": "text/html" });
        res.end("<html><body>502 Bad Gateway</body></html>");
      });
      req.pipe(proxied);
      return;
    }

    if (pathname === "/admin" || pathname.startsWith("/admin/")) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("Not found\n");
      return;
    }

    if (pathname === "/config.json") {
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(configBody);
      return;
    }

    const file = path.join(root, pathname);
    if (file.startsWith(root + path.sep) && fs.existsSync(file) && fs.statSync(file).isFile() && pathname !== "/index.html") {
      const immutable = pathname.startsWith("/assets/");
      res.writeHead(200, {
        "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream",
        "Cache-Control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
      });
      fs.createReadStream(file).pipe(res);
      return;
    }
    if (pathname.startsWith("/assets/")) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("Not found\n");
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[".html"], "Cache-Control": "no-cache" });
    res.end(indexHtml);
  });

  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({
        url: `http://${host}:${address.port}`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const arg = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const here = path.dirname(fileURLToPath(import.meta.url));
  const server = await startStorefrontServer({
    distDir: arg("--dist", path.join(here, "..", "dist")),
    upstream: arg("--upstream", process.env.MEDUSA_UPSTREAM ?? "http://127.0.0.1:9000"),
    port: Number(arg("--port", "8080")),
    config: {
      storeName: process.env.STORE_NAME || "Storefront",
      backendUrl: process.env.MEDUSA_BACKEND_URL || "",
      publishableKey: process.env.MEDUSA_PUBLISHABLE_KEY || "",
    },
  });
  process.stderr.write(`storefront on ${server.url}\n`);
}
