/**
 * E2E `npm start` (scripts/start.mjs) on a port already in use, say by a relay started earlier:
 * it must not announce that relay as its own (its /healthz answers 200 there), and must stop
 * with a line naming the port, before wrangler starts. A bad PORT is refused with code 2, and so
 * is a secret on the command line, also written `--var EDGEMQ_SECRET=...` (which wrangler would
 * take as a variable of that name, value and all).
 */
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./relay.js";
import { pickFreePort, RELAY_PORTS } from "./support/ports.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/start.mjs with `env` and `args`; kills its group if still running after `ms`. */
function runStart(env: Record<string, string>, ms: number, args: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, "scripts", "start.mjs"), ...args], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGINT");
    }, ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("npm start", () => {
  let other: Server | undefined;

  afterEach(async () => {
    const server = other;
    other = undefined;
    if (server) await new Promise((resolve) => server.close(resolve));
  });

  it("refuses a port another relay listens on, and never announces that relay as its own", async () => {
    const port = await pickFreePort(RELAY_PORTS);
    // Stands for a relay already running there: its /healthz answers 200.
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, protocol: 1 }));
    });
    other = server;
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    const run = await runStart({ PORT: String(port) }, 60_000);
    expect(run.stdout).not.toMatch(/listening on/);
    expect(run.stderr).toContain(`PORT: 127.0.0.1:${port} is in use`);
    expect(run.code).toBe(1);
  });

  it("refuses a PORT that is not a port number in decimal digits with code 2", async () => {
    for (const bad of ["80a", "0x2000", "1e3"]) {
      const run = await runStart({ PORT: bad }, 30_000);
      expect(run.stderr).toContain(`PORT must be a port number from 1 to 65535, got "${bad}"`);
      expect(run.code).toBe(2);
    }
  });

  it("refuses a secret given with --var, as NAME:value or NAME=value, with code 2", async () => {
    for (const binding of ["EDGEMQ_SECRET:x", "EDGEMQ_SECRET=x", "EDGEMQ_SECRET_PREVIOUS=x"]) {
      const run = await runStart({ PORT: "80a" }, 30_000, ["--var", binding]);
      expect(run.stderr, binding).toMatch(/^do not pass EDGEMQ_SECRET(_PREVIOUS)? with --var/);
      expect(run.code, binding).toBe(2);
    }
  });
});
