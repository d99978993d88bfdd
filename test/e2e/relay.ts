/**
 * E2E relay harness: runs a real `wrangler dev` (workerd, local Durable Objects and SQLite) on a
 * free port in 18700-18799 with its inspector in 19700-19799, state in a fresh temp dir.
 * `kill9()` SIGKILLs the whole process group (wrangler and workerd), `restart()` starts it again
 * with the same port and state dir, `stop()` ends it and removes the temp dir. Every wait is
 * bounded. wrangler is started `detached` (own process group) so a group kill reaches workerd.
 * The full log is written to <baseDir>/relay.log; set EDGEMQ_E2E_KEEP=1 to keep the dir.
 *
 * wrangler dev always watches its sources and reloads on any change, which resets every Durable
 * Object and drops every socket. So the relay runs from a snapshot of the Worker's sources taken
 * when the relay is created (<baseDir>/app, node_modules linked): an edit made while the suite
 * runs cannot reset the relay mid-test, and a restart runs the same code as before.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  INSPECTOR_PORTS,
  pickFreePort,
  RELAY_PORTS,
  sleep,
  waitPortFree,
} from "./support/ports.js";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const WRANGLER_BIN = join(REPO_ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

const OFFLINE_ENV = {
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
} as const;

export interface RelayOptions {
  /** Extra `--var NAME:value` settings, e.g. `{ EDGEMQ_LEASE_MS: "5000" }`. */
  vars?: Record<string, string>;
  /** wrangler config file; defaults to the repo's wrangler.toml. */
  config?: string;
  /** Bound on each start (process up and GET /healthz = 200). */
  startTimeoutMs?: number;
  /** Port ranges to pick from (default RELAY_PORTS and INSPECTOR_PORTS). */
  ports?: { relay: PortRange; inspector: PortRange };
}

type PortRange = { first: number; last: number };

/** What the Worker is built from (copied into the snapshot). */
const APP_FILES = ["wrangler.toml", "package.json", "src", "durable-objects", "protocol"] as const;

const LOG_LINES = 300;
/** Process groups still alive, killed on exit if a test forgot to stop its relay. */
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const pid of liveGroups) killGroup(pid, "SIGKILL");
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

export class Relay {
  readonly port: number;
  readonly baseDir: string;
  readonly persistDir: string;
  /** Where wrangler runs: the snapshot of the app, or the dir of an explicit config. */
  private readonly appDir: string;
  private readonly configPath: string;
  private inspectorPort: number;
  private options: RelayOptions;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: string[] = [];

  private constructor(port: number, inspectorPort: number, options: RelayOptions) {
    this.port = port;
    this.inspectorPort = inspectorPort;
    this.options = options;
    this.baseDir = mkdtempSync(join(tmpdir(), "edgemq-e2e-"));
    this.persistDir = join(this.baseDir, "state");
    if (options.config) {
      this.configPath = resolve(options.config);
      this.appDir = dirname(this.configPath);
    } else {
      this.appDir = join(this.baseDir, "app");
      for (const file of APP_FILES) {
        cpSync(join(REPO_ROOT, file), join(this.appDir, file), { recursive: true });
      }
      symlinkSync(join(REPO_ROOT, "node_modules"), join(this.appDir, "node_modules"), "dir");
      this.configPath = join(this.appDir, "wrangler.toml");
    }
  }

  /** Starts a relay on a free port (trying a few ports if one is taken meanwhile). */
  static async start(options: RelayOptions = {}): Promise<Relay> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await pickFreePort(options.ports?.relay ?? RELAY_PORTS);
      const inspector = await pickFreePort(options.ports?.inspector ?? INSPECTOR_PORTS);
      const relay = new Relay(port, inspector, options);
      try {
        await relay.launch();
        return relay;
      } catch (error) {
        lastError = error;
        await relay.stop();
      }
    }
    throw lastError;
  }

  /** WebSocket base URL for the SDK, e.g. ws://127.0.0.1:18712 */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The last lines wrangler and workerd printed (for failure messages). */
  logTail(lines = 60): string {
    return this.log.slice(-lines).join("\n");
  }

  /** SIGKILL wrangler and workerd together; resolves once the port is released. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (child?.pid === undefined) return;
    killGroup(child.pid, "SIGKILL");
    await withTimeout(this.exited, 15_000, "relay did not die after SIGKILL");
    liveGroups.delete(child.pid);
    this.child = undefined;
    await waitPortFree(this.port, 15_000);
  }

  /**
   * Starts the relay again with the same port and state dir (after `kill9` or `stop`). `vars`,
   * when given, replace its settings from then on, as a deploy with new [vars] would.
   */
  async restart(vars?: Record<string, string>): Promise<void> {
    if (this.child) await this.kill9();
    if (vars !== undefined) this.options = { ...this.options, vars };
    await waitPortFree(this.port, 15_000);
    this.inspectorPort = await pickFreePort(this.options.ports?.inspector ?? INSPECTOR_PORTS);
    await this.launch();
  }

  /** Ends the relay (SIGTERM, then SIGKILL if needed) and removes its temp dir. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child?.pid !== undefined) {
      killGroup(child.pid, "SIGTERM");
      await withTimeout(this.exited, 5_000, "relay did not stop on SIGTERM").catch(() => {});
      // Whether or not wrangler stopped in time, make sure nothing of its group (workerd) lives on.
      killGroup(child.pid, "SIGKILL");
      liveGroups.delete(child.pid);
      this.child = undefined;
    }
    if (process.env.EDGEMQ_E2E_KEEP !== "1") rmSync(this.baseDir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    const vars = { EDGEMQ_DEV_MODE: "true", ...this.options.vars };
    const args = [
      WRANGLER_BIN,
      "dev",
      "--config",
      this.configPath,
      "--ip",
      "127.0.0.1",
      "--port",
      String(this.port),
      "--inspector-port",
      String(this.inspectorPort),
      "--persist-to",
      this.persistDir,
      "--show-interactive-dev-session=false",
      "--log-level",
      "log",
    ];
    for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
    const child = spawn(process.execPath, args, {
      cwd: this.appDir,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...OFFLINE_ENV, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    if (child.pid === undefined) throw new Error("wrangler dev did not start");
    liveGroups.add(child.pid);
    this.child = child;
    this.exited = new Promise((resolveExit) => child.once("exit", () => resolveExit()));
    child.stdout?.on("data", (chunk: Buffer) => this.record(chunk));
    child.stderr?.on("data", (chunk: Buffer) => this.record(chunk));
    await this.waitHealthy(child, this.options.startTimeoutMs ?? 90_000);
  }

  private record(chunk: Buffer): void {
    appendFileSync(join(this.baseDir, "relay.log"), chunk);
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      this.log.push(line);
    }
    if (this.log.length > LOG_LINES * 2) this.log.splice(0, this.log.length - LOG_LINES);
  }

  private async waitHealthy(child: ChildProcess, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let exited = false;
    child.once("exit", () => {
      exited = true;
    });
    for (let i = 0; i < 2_000 && Date.now() < until; i++) {
      if (exited) throw new Error(`wrangler dev exited during start:\n${this.logTail()}`);
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

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
