/**
 * The built SDK (dist/, as `npm run build` makes it) under Bun and Deno against a real
 * `wrangler dev`: both runtimes use their own WebSocket and fetch. The binaries come from npm
 * packages installed into test/runtimes/ by `npm run test:browser` (Linux x64 only, so not part
 * of `npm test`).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, Relay } from "../e2e/relay.js";

const HERE = join(REPO_ROOT, "test", "runtimes");
const PORTS = { relay: { first: 18350, last: 18399 }, inspector: { first: 19350, last: 19399 } };
const RUNTIMES = {
  bun: [join(HERE, "node_modules/@oven/bun-linux-x64/bin/bun"), "sdk-check.mjs"],
  deno: [join(HERE, "node_modules/@deno/linux-x64-glibc/deno"), "run", "-A", "sdk-check.mjs"],
} as const;

let relay: Relay;

beforeAll(async () => {
  relay = await Relay.start({ ports: PORTS });
});

afterAll(async () => {
  await relay?.stop();
});

describe.each(Object.entries(RUNTIMES))("the SDK under %s", (runtime, [binary, ...args]) => {
  it("serves and sends JSON and bytes over WebSocket, and requests over HTTP", () => {
    const run = spawnSync(binary, args, {
      cwd: HERE,
      encoding: "utf8",
      timeout: 60_000,
      env: {
        ...process.env,
        EDGEMQ_URL: relay.url,
        EDGEMQ_SDK: join(REPO_ROOT, "dist", "client", "index.js"),
        NO_COLOR: "1",
      },
    });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout.trim().split("\n").pop() ?? "null")).toEqual({
      runtime,
      json: { from: `${runtime}-client`, body: { a: 1 } },
      bytes: { from: `${runtime}-client`, body: { bytes: [0, 1, 255] } },
      viaHttp: { from: `${runtime}-http`, body: "over http" },
    });
  });
});
