/**
 * Test projects: `unit` (pure modules, Node, milliseconds), `workers` (the Worker and its
 * Durable Objects inside workerd via @cloudflare/vitest-pool-workers), `e2e` (a real
 * `wrangler dev` with SDK peers in separate Node processes), and `faults` (the same, with processes
 * killed, paused and cut off mid-flight); `browser` (the SDK in headless Chromium, Bun and Deno; run on
 * its own with `npm run test:browser`: it needs Debian's chromium package and Linux x64).
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { ensurePoolHandlerOrder } from "./test/support/pool-handler-order.js";

// The pool's Durable Object wrapper may start handlers out of order (test/support/pool-handler-order.ts).
ensurePoolHandlerOrder();

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          environment: "node",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        plugins: [
          cloudflareTest({
            main: "./src/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            // Queues named mem-* run in the memory delivery mode (queue-memory-mode.test.ts).
            miniflare: {
              bindings: {
                EDGEMQ_DEV_MODE: "true",
                EDGEMQ_QUEUE_MODES: "mem-*=memory",
                EDGEMQ_QUEUE_PARTITIONS: "part-*=2",
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts", "test/security/**/*.test.ts"],
          // A bound for hangs, not a time asserted: vitest's 5 s default failed a test doing a
          // dozen round trips once, on 2 cores shared with a browser test run.
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "faults",
          environment: "node",
          include: ["test/faults/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "browser",
          environment: "node",
          include: ["test/browser/**/*.test.ts", "test/runtimes/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
