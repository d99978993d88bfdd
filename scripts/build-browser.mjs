/**
 * `npm run build:browser` (also the last step of `npm run build`): bundles the SDK (client/index.ts)
 * into one ES module for browsers, dist/browser/edgemq.js, with a source map. Pages import it
 * directly (`import { connect } from "/dist/browser/edgemq.js"`), with no bundler of their own;
 * examples/browser is one. Browsers have a WebSocket, so the `ws` package the SDK loads on demand
 * in Node 20 is swapped for a stub that refuses, and the output is checked to name nothing of
 * Node's (`require`, `node:` modules, `ws`). Beside it, edgemq.d.ts gives the bundle the SDK's
 * types (tsc's declarations in dist/client), so a TypeScript page or a Deno program that
 * imports the bundle is typed as one that imports edgemq/client.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const outfile = join(root, "dist", "browser", "edgemq.js");

/** What the `ws` import becomes: never reached where globalThis.WebSocket exists. */
const NO_WS = 'export {}; throw new Error("no WebSocket here (the browser build has no ws)");';

/** Resolves `ws` to NO_WS instead of node_modules/ws (which needs Node's net, tls, http). */
const withoutWs = {
  name: "edgemq-without-ws",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^ws$/ }, () => ({ path: "ws", namespace: "edgemq-no-ws" }));
    pluginBuild.onLoad({ filter: /.*/, namespace: "edgemq-no-ws" }, () => ({ contents: NO_WS }));
  },
};

/** Traces of Node in a browser bundle: each one would fail to load or to run in a page. */
const NODE_ONLY = [
  /\brequire\s*\(/,
  /\b__require\s*\(\s*["']/,
  /["']node:/,
  /\bfrom\s*["']ws["']/,
  /\bimport\s*\(\s*["']ws["']/,
];

await build({
  entryPoints: [join(root, "client", "index.ts")],
  outfile,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  sourcemap: true,
  plugins: [withoutWs],
  logLevel: "warning",
});

const found = NODE_ONLY.filter((pattern) => pattern.test(readFileSync(outfile, "utf8")));
if (found.length > 0) {
  console.error(`${outfile} refers to Node-only code: ${found.join(", ")}`);
  process.exit(1);
}

/** The bundle exports what client/index.ts does: its types are tsc's (npm run build ran it). */
writeFileSync(
  join(root, "dist", "browser", "edgemq.d.ts"),
  '/** The EdgeMQ SDK as one ES module for pages: the API of edgemq/client. */\nexport * from "../client/index.js";\n',
);
