/**
 * A TCP proxy in front of the relay that can disturb the connections through it:
 * - `freeze()` makes every connection open at that moment go half-open: its bytes stop moving both
 *   ways, yet no side sees a close (no FIN, no RST), as when a NAT or a Wi-Fi link silently drops
 *   a flow. Writes still succeed into the kernel's buffers. Connections opened later pass.
 * - `holdDownlinks()` / `release()` delay what the relay sends to peers (held, then delivered,
 *   nothing lost), as a slow network or a busy client event loop would.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll } from "vitest";

export interface FreezingProxy {
  /** ws:// URL of the proxy, for peers. */
  url(): string;
  /** Makes every connection open now half-open; returns how many there were. */
  freeze(): number;
  /** Holds the relay-to-peer direction of every connection, open now or later, until release(). */
  holdDownlinks(): void;
  release(): void;
}

interface Pair {
  inbound: Socket;
  outbound: Socket;
}

/** A proxy to the relay at `target()` (a ws:// URL), open for the test file's life. */
export function useFreezingProxy(target: () => string): FreezingProxy {
  let server: Server | undefined;
  let port = 0;
  let holding = false;
  const live = new Set<Pair>();
  const frozen: Pair[] = [];

  beforeAll(async () => {
    const { hostname, port: targetPort } = new URL(target());
    server = createServer((inbound) => {
      const outbound = connect(Number(targetPort), hostname, () => {
        inbound.pipe(outbound);
        outbound.pipe(inbound);
        if (holding) outbound.pause();
      });
      const pair = { inbound, outbound };
      live.add(pair);
      const end = () => {
        live.delete(pair);
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on("error", end).on("close", end);
      outbound.on("error", end).on("close", end);
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("proxy has no port");
    port = address.port;
  });

  afterAll(async () => {
    for (const { inbound, outbound } of [...live, ...frozen]) {
      inbound.destroy();
      outbound.destroy();
    }
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  return {
    url: () => `ws://127.0.0.1:${port}`,
    freeze() {
      const pairs = [...live];
      live.clear();
      for (const pair of pairs) {
        pair.inbound.unpipe(pair.outbound);
        pair.outbound.unpipe(pair.inbound);
        // Read nothing more: what either side writes now waits in the kernel, never delivered.
        pair.inbound.pause();
        pair.outbound.pause();
        pair.inbound.removeAllListeners("close");
        pair.outbound.removeAllListeners("close");
        frozen.push(pair);
      }
      return pairs.length;
    },
    holdDownlinks() {
      holding = true;
      for (const { outbound } of live) outbound.pause();
    },
    release() {
      holding = false;
      for (const { outbound } of live) outbound.resume();
    },
  };
}
