/**
 * A tiny static server for the browser example, with no dependencies: a relay in dev mode refuses
 * pages opened as files (their Origin is `null`), so the page must come from a loopback address.
 * It serves this directory at / (index.html, app.js) and the SDK bundle at /dist/browser/ (built
 * by `npm run build`), GET and HEAD only, and only .html, .js, .css and .map files: never a path
 * that leaves those two directories.
 *
 *   npm run build && node examples/browser/serve.mjs     # then open http://127.0.0.1:8080
 *
 * PORT chooses the port (default 8080; 0 picks a free one). It listens on 127.0.0.1 only.
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const EXAMPLE_DIR = fileURLToPath(new URL(".", import.meta.url));
const BUNDLE_DIR = fileURLToPath(new URL("../../dist/browser/", import.meta.url));
const BUNDLE_PREFIX = "/dist/browser/";
const HOST = "127.0.0.1";

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

const server = createServer((request, response) => {
  const { status, file, message } = route(request.method, request.url);
  if (file === undefined) return refuse(response, status, message);
  response.writeHead(200, headers(CONTENT_TYPES[extname(file)]));
  if (request.method === "HEAD") return response.end();
  // A file removed between the look above and this read ends the answer, not the server.
  createReadStream(file)
    .on("error", () => response.destroy())
    .pipe(response);
});

server.on("error", (error) => {
  console.error(`cannot serve on ${HOST}: ${error.message} (choose another port with PORT=...)`);
  process.exit(1);
});

server.listen(readPort(), HOST, () => {
  const { port } = server.address();
  console.log(`serving examples/browser on http://${HOST}:${port} (Ctrl-C to stop)`);
  if (!existsSync(join(BUNDLE_DIR, "edgemq.js"))) {
    console.warn("dist/browser/edgemq.js is missing: run `npm run build` first");
  }
});

/** The file a request names, or the status and message refusing it. */
function route(method, url) {
  if (method !== "GET" && method !== "HEAD") return { status: 405, message: "GET or HEAD only" };
  const path = decodedPath(url);
  if (path === undefined) return { status: 400, message: "bad path" };
  const file = fileFor(path);
  if (file === undefined) return { status: 404, message: "not found" };
  if (!isFile(file)) return { status: 404, message: missingHint(path) };
  return { status: 200, file };
}

/** The request's path, percent-decoded; undefined if malformed or if it holds `..`, `\` or NUL. */
function decodedPath(url) {
  let path;
  try {
    path = decodeURIComponent(new URL(url ?? "/", "http://localhost").pathname);
  } catch {
    return undefined;
  }
  if (path.includes("\\") || path.includes("\0")) return undefined;
  if (path.split("/").includes("..")) return undefined;
  return path;
}

/**
 * The file under one of the two served directories for a decoded path (`/` is index.html), or
 * undefined for a type this server does not serve or a path that would leave its directory.
 */
function fileFor(path) {
  const [dir, rest] = path.startsWith(BUNDLE_PREFIX)
    ? [BUNDLE_DIR, path.slice(BUNDLE_PREFIX.length)]
    : [EXAMPLE_DIR, path === "/" ? "index.html" : path.slice(1)];
  const file = resolve(dir, rest);
  if (!file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return undefined;
  return Object.hasOwn(CONTENT_TYPES, extname(file)) ? file : undefined;
}

function isFile(file) {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** A 404's message: for the bundle, how to build it. */
function missingHint(path) {
  return path.startsWith(BUNDLE_PREFIX) ? "not found: run `npm run build` first" : "not found";
}

function headers(contentType) {
  // no-store: a rebuilt bundle or an edited page shows on the next reload.
  return {
    "Content-Type": contentType,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  };
}

function refuse(response, status, message) {
  response.writeHead(status, headers("text/plain; charset=utf-8"));
  response.end(`${message}\n`);
}

function readPort() {
  const raw = process.env.PORT;
  if (raw === undefined || raw === "") return 8080;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`PORT must be a port number from 0 to 65535, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return port;
}
