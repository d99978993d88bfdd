/**
 * Test-side handle on an SDK peer process (test/e2e/peers/peer.mjs): forks it with IPC
 * ("advanced" serialization keeps Uint8Array bodies intact), sends it commands and waits for
 * their answers (each bounded in time), and collects the events it emits. `kill9()` SIGKILLs it.
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../relay.js";
import { isRecord } from "./guards.js";

const PEER_SCRIPT = join(REPO_ROOT, "test", "e2e", "peers", "peer.mjs");

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export class PeerProcess {
  readonly label: string;
  readonly events: Record<string, unknown>[] = [];
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private readonly output: string[] = [];
  private readonly exited: Promise<void>;
  private seq = 0;
  private alive = true;

  private constructor(label: string, relayUrl: string, script: string) {
    this.label = label;
    this.child = fork(script, [label], {
      cwd: REPO_ROOT,
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: { ...process.env, EDGEMQ_URL: relayUrl },
    });
    this.child.stdout?.on("data", (c: Buffer) => this.keep(c));
    this.child.stderr?.on("data", (c: Buffer) => this.keep(c));
    this.child.on("message", (message: unknown) => this.onMessage(message));
    this.exited = new Promise((resolve) => {
      this.child.once("exit", () => {
        this.alive = false;
        for (const p of this.pending.values()) p.reject(new Error(`${label} exited`));
        this.pending.clear();
        resolve();
      });
    });
  }

  /**
   * Forks a peer process for the relay at `relayUrl` and waits for it to start. `script` is the
   * peer program (default peers/peer.mjs; the fault suite uses peers/fault-peer.mjs).
   */
  static async start(label: string, relayUrl: string, script = PEER_SCRIPT): Promise<PeerProcess> {
    const peer = new PeerProcess(label, relayUrl, script);
    await peer.waitForEvent((e) => e.event === "started", 20_000);
    return peer;
  }

  /** Runs one command in the peer; rejects on its error, its exit, or after `timeoutMs`. */
  call(cmd: string, args: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (!this.alive) return Promise.reject(new Error(`${this.label} is not running`));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`${this.label}: ${cmd} gave no answer in ${timeoutMs} ms${this.tail()}`));
      }, timeoutMs);
      this.pending.set(seq, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ seq, cmd, args });
    });
  }

  /** Waits (bounded) for an event matching `match`, including events already received. */
  async waitForEvent(
    match: (event: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const until = Date.now() + timeoutMs;
    for (let i = 0; i < 100_000 && Date.now() < until; i++) {
      const found = this.events.find(match);
      if (found) return found;
      if (!this.alive) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${this.label}: expected event not seen in ${timeoutMs} ms${this.tail()}`);
  }

  /** Events of one kind, e.g. "held" or "unhandled". */
  eventsOf(kind: string): Record<string, unknown>[] {
    return this.events.filter((e) => e.event === kind);
  }

  /** The peer's process id (for SIGSTOP / SIGCONT), while it runs. */
  get pid(): number | undefined {
    return this.alive ? this.child.pid : undefined;
  }

  /** Sends a signal to the peer process (e.g. SIGSTOP, SIGCONT); false when it is not running. */
  signal(signal: NodeJS.Signals): boolean {
    return this.alive && this.child.kill(signal);
  }

  /** Resolves when the peer process has exited, whatever ended it. */
  whenExited(): Promise<void> {
    return this.exited;
  }

  kill9(): Promise<void> {
    if (this.alive && this.child.pid !== undefined) this.child.kill("SIGKILL");
    return this.exited;
  }

  /** Asks the peer to close its connections (bounded), then ends the process. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    try {
      await this.call("close", {}, 5_000);
    } catch {
      // A peer that cannot close cleanly is killed below.
    }
    if (this.alive) this.child.kill("SIGKILL");
    await this.exited;
  }

  private onMessage(message: unknown): void {
    if (!isRecord(message)) return;
    if (typeof message.event === "string") {
      this.events.push(message);
      return;
    }
    if (typeof message.seq !== "number") return;
    const pending = this.pending.get(message.seq);
    if (!pending) return;
    this.pending.delete(message.seq);
    if (message.ok === true) pending.resolve(message.result);
    else pending.reject(new Error(`${this.label}: ${String(message.error)}`));
  }

  private keep(chunk: Buffer): void {
    this.output.push(chunk.toString("utf8"));
    if (this.output.length > 200) this.output.splice(0, 100);
  }

  private tail(): string {
    const text = this.output.join("").slice(-3_000);
    return text ? `\n--- ${this.label} output ---\n${text}` : "";
  }
}
