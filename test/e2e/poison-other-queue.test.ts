/**
 * E2E poison request beside another queue of the same server process, over each transport: the
 * process serves `<prefix>-b` (an innocent request that sleeps 2 s) and `<prefix>-a` (a poison
 * request, whose handler kills the process). Each queue is its own Durable Object and sees only
 * its own connections, so the relay alone cannot keep the poison request's lone last attempt
 * from running beside the innocent one's; the SDK's peer-wide lone gate does. The server is
 * restarted (the same identity) each time it dies, serving `-b` first, so the innocent request
 * is running when the poison one arrives: the crashes take both down until their last attempts,
 * when the poison request waits for the innocent one to be answered, then crashes alone and ends
 * in `server_error`. Without the gate the innocent request ends in `server_error` too.
 */
import { describe, expect, it } from "vitest";
import { connectIdentities, request, serve, serverStats } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";
import type { PeerProcess } from "./support/peer.js";

/** Waits (up to 20 s) until `server` started a handler, or `done()` says the test is over. */
async function handlerStarted(server: PeerProcess, done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) {
    if ((await serverStats(server)).handled > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("a poison request on another queue of the same process", () => {
  const e2e = useRelay();

  it.each([
    ["WebSocket", "lone-server", "lone"],
    ["HTTP", "http-lone-server", "http-lone"],
  ])(
    "ends alone in server_error; the innocent request's last attempt is answered (%s)",
    async (_, identity, prefix) => {
      const client = await e2e.peer("lone-client");
      await connectIdentities(client, ["lone-client"]);
      const ask = (queue: string, body: unknown) =>
        request(
          client,
          { identity: "lone-client", queue, body, options: { timeout: 90_000 } },
          120_000,
        );
      const innocent = ask(`${prefix}-b`, { op: "sleep", ms: 2_000 });
      const poison = ask(`${prefix}-a`, { op: "crash" });

      let settled = false;
      const all = Promise.all([poison, innocent]).finally(() => {
        settled = true;
      });
      const lives: PeerProcess[] = [];
      for (let life = 0; life < 6 && !settled; life++) {
        const server = await e2e.peer(`${identity}-${life}`);
        lives.push(server);
        const args = { identity, mode: "script", concurrency: 8 } as const;
        await serve(server, { ...args, queue: `${prefix}-b` });
        // The innocent request runs first (and is running when the poison one arrives).
        await handlerStarted(server, () => settled);
        await serve(server, { ...args, queue: `${prefix}-a` }).catch(() => {});
        await Promise.race([server.whenExited(), all]);
      }
      const [poisoned, answered] = await all;
      expect(poisoned).toMatchObject({ ok: false, isEdgeMQError: true, code: "server_error" });
      expect(answered).toMatchObject({ ok: true });
      // Over WebSocket three crashes: two with both in hand, the third with the poison one alone.
      const crashes = lives.filter((life) => life.pid === undefined).length;
      if (identity === "lone-server") expect(crashes).toBe(3);
    },
  );
});
