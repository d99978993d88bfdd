/**
 * Per-file e2e fixture: one relay started in `beforeAll`, peer processes and raw sockets that are
 * always cleaned up in `afterAll` (processes killed, relay stopped, temp state removed), and the
 * relay's last log lines printed when a test fails. The fault suite builds its fixture on this one
 * (test/faults/support/fault-fixture.ts) with its own peer program.
 */
import { afterAll, afterEach, beforeAll } from "vitest";
import { Relay, type RelayOptions } from "../relay.js";
import { PeerProcess } from "./peer.js";
import { RawSocket } from "./raw.js";

export interface E2EFixture {
  relay(): Relay;
  /** Forks an SDK peer process connected to this file's relay (or to `url`: a proxy to it). */
  peer(label: string, url?: string): Promise<PeerProcess>;
  /** Opens a raw WebSocket to this file's relay and waits for its welcome frame. */
  raw(path: string, identity: string): Promise<RawSocket>;
}

/** Which program `peer()` forks (default test/e2e/peers/peer.mjs). */
export interface PeerOptions {
  peerProgram?: string;
}

export function useRelay(options: RelayOptions = {}, peerOptions: PeerOptions = {}): E2EFixture {
  let current: Relay | undefined;
  const peers: PeerProcess[] = [];
  const sockets: RawSocket[] = [];

  beforeAll(async () => {
    current = await Relay.start(options);
  });

  afterEach((context) => {
    if (context.task.result?.state === "fail" && current) {
      console.error(`--- relay log (last lines) ---\n${current.logTail(80)}`);
      for (const p of peers) {
        const unhandled = p.eventsOf("unhandled");
        if (unhandled.length > 0) console.error(`${p.label} unhandled:`, unhandled.slice(0, 5));
      }
    }
  });

  afterAll(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
    // A fault test may have left a peer stopped (SIGSTOP): let it run so it can be stopped.
    for (const p of peers) p.signal("SIGCONT");
    await Promise.all(peers.splice(0).map((p) => p.stop()));
    await current?.stop();
  });

  const relay = (): Relay => {
    if (!current) throw new Error("the relay is not running (beforeAll failed?)");
    return current;
  };

  return {
    relay,
    async peer(label, url) {
      const p = await PeerProcess.start(label, url ?? relay().url, peerOptions.peerProgram);
      peers.push(p);
      return p;
    },
    async raw(path, identity) {
      const s = await RawSocket.open(relay().url, path, identity);
      sockets.push(s);
      return s;
    },
  };
}
