/**
 * Parent side of the bench peers: forks bench/peers/*.mjs as separate Node processes, passes each
 * its spec, collects its IPC messages (ready, progress, result, fatal) and makes sure every child
 * is gone at the end. Every wait is bounded.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const PEERS_DIR = fileURLToPath(new URL("../peers/", import.meta.url));
const live = new Set();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export class PeerProcess {
  /** @param {string} script file name in bench/peers  @param {object} spec */
  constructor(script, spec, execArgv = []) {
    this.progress = 0;
    this.messages = [];
    this.waiters = [];
    this.child = fork(`${PEERS_DIR}${script}`, [JSON.stringify(spec)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv,
    });
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code) => {
        live.delete(this.child);
        this.gone = true;
        this.#deliver({ type: "exit", code });
        resolve(code);
      });
    });
    this.child.on("message", (message) => {
      if (message.type === "progress") this.progress = message.done;
      else this.#deliver(message);
    });
  }

  #deliver(message) {
    this.messages.push(message);
    const waiters = this.waiters;
    this.waiters = [];
    for (const check of waiters) check();
  }

  /** Resolves with the first message of `type`; rejects on fatal, exit or after `timeoutMs`. */
  expect(type, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`peer: no "${type}" in ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = () => {
        const index = this.messages.findIndex(
          (m) => m.type === type || m.type === "fatal" || m.type === "exit",
        );
        if (index < 0) {
          this.waiters.push(check);
          return;
        }
        const [message] = this.messages.splice(index, 1);
        clearTimeout(timer);
        if (message.type === type) resolve(message);
        else reject(new Error(`peer ${message.type}: ${message.message ?? message.code}`));
      };
      check();
    });
  }

  send(message) {
    if (!this.gone) this.child.send(message);
  }

  /** Asks the peer to stop, then kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000) {
    this.send({ type: "stop" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
