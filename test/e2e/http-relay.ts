/**
 * A small `wrangler dev` harness for the HTTP API's e2e tests (test/e2e/http-*.test.ts), on its
 * own ports (relay 18940-18959, inspector 19940-19959) so it never meets the main suite's relays.
 * Like relay.ts, it runs a snapshot of the Worker's sources (an edit during the run cannot reload
 * it), in dev mode, with state in a fresh temp dir; wrangler runs in its own process group, and
 * `stop()` kills the whole group and removes the dir. Every wait is bounded.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./relay.js";
import { pickFreePort, sleep } from "./support/ports.js";

const HTTP_RELAY_PORTS = { first: 18940, last: 18959 } as const;
const HTTP_INSPECTOR_PORTS = { first: 19940, last: 19959 } as const;
const APP_FILES = ["wrangler.toml", "package.json", "src", "durable-objects", "protocol"] as const;

export class HttpRelay {
  private readonly log: string[] = [];

  private constructor(
    readonly port: number,
    private readonly baseDir: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {
    const keep = (chunk: Buffer) => {
      this.log.push(chunk.toString("utf8"));
      if (this.log.length > 400) this.log.splice(0, 200);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
  }

  static async start(): Promise<HttpRelay> {
    const port = await pickFreePort(HTTP_RELAY_PORTS);
    const inspector = await pickFreePort(HTTP_INSPECTOR_PORTS);
    const baseDir = mkdtempSync(join(tmpdir(), "edgemq-http-e2e-"));
    const appDir = join(baseDir, "app");
    for (const file of APP_FILES)
      cpSync(join(REPO_ROOT, file), join(appDir, file), { recursive: true });
    symlinkSync(join(REPO_ROOT, "node_modules"), join(appDir, "node_modules"), "dir");
    const wrangler = join(REPO_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
    const child = spawn(
      process.execPath,
      [
        wrangler,
        "dev",
        "--ip",
        "127.0.0.1",
        "--port",
        String(port),
        "--inspector-port",
        String(inspector),
        "--persist-to",
        join(baseDir, "state"),
        "--show-interactive-dev-session=false",
        "--var",
        "EDGEMQ_DEV_MODE:true",
      ],
      {
        cwd: appDir,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          CLOUDFLARE_CF_FETCH_ENABLED: "false",
          WRANGLER_SEND_METRICS: "false",
          WRANGLER_SEND_ERROR_REPORTS: "false",
          NO_COLOR: "1",
        },
      },
    );
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const relay = new HttpRelay(port, baseDir, child, exited);
    try {
      await relay.waitHealthy(90_000);
    } catch (error) {
      await relay.stop();
      throw error;
    }
    return relay;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  logTail(): string {
    return this.log.join("").split("\n").slice(-60).join("\n");
  }

  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined) {
      killGroup(pid, "SIGTERM");
      await Promise.race([this.exited, sleep(5_000)]);
      killGroup(pid, "SIGKILL");
    }
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.child.exitCode !== null) throw new Error(`wrangler exited:\n${this.logTail()}`);
      try {
        const res = await fetch(`${this.httpUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // Not listening yet.
      }
      await sleep(250);
    }
    throw new Error(`relay not healthy within ${timeoutMs} ms:\n${this.logTail()}`);
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
