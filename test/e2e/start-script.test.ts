/**
 * E2E `npm start` (scripts/start.mjs) on a port already in use, say by a relay started earlier:
 * it must not announce that relay as its own (its /healthz answers 200 there), and must stop
 * with a line naming the port, before wrangler starts. A bad PORT is refused with code 2, and so
 * is a secret on the command line, also written `--var EDGEMQ_SECRET=...` (which wrangler would
 * take as a variable of that name, value and all). `EDGEMQ_*` settings in the environment reach
 * the relay; an SDK program's or a test's variables do not. Relays on two ports keep separate
 * state, and a relay restarted on its port finds what it stored.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./relay.js";
import { INSPECTOR_PORTS, pickFreePort, RELAY_PORTS } from "./support/ports.js";

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

/** Starts scripts/start.mjs with `env`; `listening` resolves at its "listening on" line. */
function startListening(env: Record<string, string>) {
  const child = spawn(process.execPath, [join(REPO_ROOT, "scripts", "start.mjs")], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  let output = "";
  const listening = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (/listening on/.test(output)) resolve();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`npm start exited (${code}):\n${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, "SIGINT");
    await exited;
  };
  return { listening, stop };
}

/** Removes what a relay on `port` stored (npm start keeps it in .wrangler/state/<port>). */
function removeState(port: number): void {
  rmSync(join(REPO_ROOT, ".wrangler", "state", String(port)), { recursive: true, force: true });
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

  it("passes EDGEMQ_* settings from the environment to the relay, but not an SDK's or a test's", async () => {
    const port = await pickFreePort(RELAY_PORTS);
    const inspector = await pickFreePort(INSPECTOR_PORTS);
    const env = {
      PORT: String(port),
      INSPECTOR_PORT: String(inspector),
      EDGEMQ_DEFAULT_TIMEOUT_MS: "4321",
      // Not settings: passed on, the relay would refuse to start with a settings problem.
      EDGEMQ_E2E_KEEP: "1",
      EDGEMQ_SDK: "/nowhere",
    };
    const run = startListening(env);
    try {
      await run.listening;
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const whoami = await fetch(`${base}/v1/whoami`, {
        headers: { "EdgeMQ-Identity": "env-probe" },
      });
      const { limits } = (await whoami.json()) as { limits: { defaultTimeoutMs: number } };
      expect(limits.defaultTimeoutMs).toBe(4321);
    } finally {
      await run.stop();
      removeState(port);
    }
  });

  it("refuses a PORT that is not a port number in decimal digits with code 2", async () => {
    for (const bad of ["80a", "0x2000", "1e3"]) {
      const run = await runStart({ PORT: bad }, 30_000);
      expect(run.stderr).toContain(`PORT must be a port number from 1 to 65535, got "${bad}"`);
      expect(run.code).toBe(2);
    }
  });

  // A newcomer probe: PORT=9533 INSPECTOR_PORT=9533 passed both free-port checks, then workerd
  // died with "Fatal uncaught kj::Exception ... Address already in use" and a native stack.
  it("refuses an INSPECTOR_PORT equal to PORT with code 2, before wrangler starts", async () => {
    const port = await pickFreePort(RELAY_PORTS);
    const run = await runStart({ PORT: String(port), INSPECTOR_PORT: String(port) }, 30_000);
    expect(run.stderr).toContain(
      `INSPECTOR_PORT: ${port} is PORT too; the relay and its inspector need a port each`,
    );
    expect(run.stderr).not.toMatch(/kj::Exception/);
    expect(run.code).toBe(2);
  });

  it("refuses a secret given with --var, as NAME:value or NAME=value, with code 2", async () => {
    for (const binding of ["EDGEMQ_SECRET:x", "EDGEMQ_SECRET=x", "EDGEMQ_SECRET_PREVIOUS=x"]) {
      const run = await runStart({ PORT: "80a" }, 30_000, ["--var", binding]);
      expect(run.stderr, binding).toMatch(/^do not pass EDGEMQ_SECRET(_PREVIOUS)? with --var/);
      expect(run.code, binding).toBe(2);
    }
  });

  it("keeps each port's state apart, and a port's state across a restart", async () => {
    const a = await pickFreePort(RELAY_PORTS);
    const b = await pickFreePort(RELAY_PORTS, new Set([a]));
    const exclude = new Set<number>();
    const env = async (port: number) => {
      const inspector = await pickFreePort(INSPECTOR_PORTS, exclude);
      exclude.add(inspector);
      return { PORT: String(port), INSPECTOR_PORT: String(inspector) };
    };
    const headers = { "EdgeMQ-Identity": "state-probe" };
    const queued = async (port: number) => {
      const stats = await fetch(`http://127.0.0.1:${port}/v1/queues/state-probe/stats`, {
        headers,
      });
      return ((await stats.json()) as { queued: number }).queued;
    };
    const first = startListening(await env(a));
    const second = startListening(await env(b));
    try {
      await Promise.all([first.listening, second.listening]);
      const posted = await fetch(
        `http://127.0.0.1:${a}/v1/queues/state-probe/requests?async=true&timeout=120000`,
        { method: "POST", headers, body: "stored" },
      );
      expect(posted.status).toBe(202);
      expect(await queued(a)).toBe(1);
      // Sharing one state directory, the other relay saw (and would hand out) this request.
      expect(await queued(b)).toBe(0);
      await first.stop();
      const again = startListening(await env(a));
      try {
        await again.listening;
        expect(await queued(a)).toBe(1);
      } finally {
        await again.stop();
      }
    } finally {
      await first.stop();
      await second.stop();
      removeState(a);
      removeState(b);
    }
  }, 120_000);
});
