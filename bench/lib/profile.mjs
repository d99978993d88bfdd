/**
 * CPU profile of the relay's isolate through wrangler dev's inspector (Profiler.start/stop), and
 * its summary: self time per part of the relay. wrangler bundles the Worker into one file whose
 * esbuild comments (`// durable-objects/queue/queue-do.ts`) mark where each source file starts, so
 * a sample's line in the bundle tells which source file (and so which part) it ran in.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** The newest bundle wrangler wrote under `<appDir>/.wrangler/tmp`, or undefined. */
export function findBundle(appDir) {
  const root = join(appDir, ".wrangler", "tmp");
  let best;
  const walk = (dir) => {
    let entries = [];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name === "index.js") {
        const mtime = statSync(path).mtimeMs;
        if (!best || mtime > best.mtime) best = { path, mtime };
      }
    }
  };
  walk(root);
  return best?.path;
}

/** For each bundle line, the source file it came from (from esbuild's `// path` comments). */
function lineSources(bundleText) {
  const sources = [];
  let current = "(bundle prelude)";
  for (const line of bundleText.split("\n")) {
    const match = /^\/\/ ((?:\.\.\/)*[\w@./-]+\.(?:[cm]?[jt]s))$/.exec(line);
    if (match?.[1]) current = match[1];
    sources.push(current);
  }
  return sources;
}

function partOf(source) {
  if (source.includes("durable-objects/queue/")) return "QueueDO (JS)";
  if (source.includes("durable-objects/exchange/")) return "ExchangeDO (JS)";
  if (source.includes("durable-objects/shared/")) return "DO shared settings/contracts (JS)";
  if (source.startsWith("src/") || source.includes("node_modules/hono"))
    return "front door (Hono, JS)";
  if (source.includes("protocol/")) return "protocol: frame encode/decode/validate (JS)";
  return "wrangler dev glue / other bundled JS";
}

const NATIVE = {
  "(idle)": "idle",
  "(program)": "runtime outside JS (program)",
  "(garbage collector)": "garbage collector",
  parse: "JSON.parse (native)",
  stringify: "JSON.stringify (native)",
  exec: "sql.exec (SQLite, synchronous part)",
  send: "WebSocket send (native)",
};

/** The part a profile frame's self time counts for: a native builtin, or a source file's. */
function partOfFrame({ functionName, url, lineNumber }, sources) {
  if (url === "" || url === undefined) return NATIVE[functionName] ?? "other native builtins";
  return sources.length > 0 ? partOf(sources[lineNumber] ?? "") : "user JS (no bundle map)";
}

/** Self time (ms) per part, from a DevTools CPU profile. */
export function summarize(profile, bundleText) {
  const sources = bundleText ? lineSources(bundleText) : [];
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parts = new Map();
  const functions = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = nodes.get(profile.samples[i]);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const part = partOfFrame(node.callFrame, sources);
    parts.set(part, (parts.get(part) ?? 0) + ms);
    const key = `${functionName || "(anonymous)"} ${sources[lineNumber] ?? url}`;
    if (url) functions.set(key, (functions.get(key) ?? 0) + ms);
  }
  const sorted = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .map(([name, ms]) => ({ name, ms: Math.round(ms * 10) / 10 }));
  return { parts: sorted(parts), topFunctions: sorted(functions).slice(0, 15) };
}

/** Read a file, or undefined. */
export function readText(path) {
  try {
    return path ? readFileSync(path, "utf8") : undefined;
  } catch {
    return undefined;
  }
}
