/**
 * Makes @cloudflare/vitest-pool-workers 0.15.1 start a Durable Object's handlers in the order
 * workerd invoked them. Its wrapper around each object awaits a call to its runner object (to
 * import the Worker's module) before every `webSocketMessage`, `webSocketClose`, `alarm`, `fetch`
 * and RPC call, and those awaits finish in any order: two messages sent one after the other on a
 * socket reached the relay's handlers reversed in about one run in ten (an `ack` after the
 * `request` that followed it, a `reply` before the `ready` that claimed its lease). workerd and
 * Cloudflare deliver them in order; only the test harness reorders them. Fixed upstream in
 * workers-sdk pull request 14061 (later pool versions, which need a wrangler that does not run on
 * Node 20). vitest.config.ts calls this before any test runs: it chains the wrapper's instance
 * lookups so each handler starts only after the one invoked before it started. Idempotent; does
 * nothing for another pool version.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const PATCHED_VERSION = "0.15.1";
const MARKER = "EdgeMQ: handlers start in invocation order";
const ANCHOR = "\tWrapper.prototype.fetch = async function(request) {\n";
const PATCH = `\t{
\t\t// ${MARKER} (test/support/pool-handler-order.ts).
\t\tconst unordered = Wrapper.prototype[kEnsureInstance];
\t\tconst kStarts = Symbol("kStarts");
\t\tWrapper.prototype[kEnsureInstance] = function() {
\t\t\tconst started = (this[kStarts] ?? Promise.resolve()).then(() => unordered.call(this));
\t\t\tthis[kStarts] = started.then(() => {}, () => {});
\t\t\treturn started;
\t\t};
\t}
`;

export function ensurePoolHandlerOrder(): void {
  // The package's entry is dist/pool/index.mjs (it exports no package.json).
  const root = fileURLToPath(
    new URL("../../", import.meta.resolve("@cloudflare/vitest-pool-workers")),
  );
  const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  if ((packageJson as { version?: unknown }).version !== PATCHED_VERSION) return;
  const file = join(root, "dist/worker/lib/cloudflare/test-internal.mjs");
  const source = readFileSync(file, "utf8");
  if (source.includes(MARKER)) return;
  const at = source.indexOf(ANCHOR);
  if (at < 0 || source.indexOf(ANCHOR, at + 1) >= 0) {
    throw new Error(`${file}: cannot find the Durable Object wrapper to patch (${MARKER})`);
  }
  writeFileSync(file, source.slice(0, at) + PATCH + source.slice(at));
}
