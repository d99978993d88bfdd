/**
 * E2E poison request: a request whose handler kills its server process, sent beside five
 * ordinary ones to a server holding them all at once. The server is restarted (the same
 * identity) each time it dies, as a supervisor would. The first two crashes take every request
 * down and count an attempt for each; their third and last dispatch runs alone, so only the
 * poison request ends in `server_error` and the five others are answered.
 */
import { describe, expect, it } from "vitest";
import { connectIdentities, request, serve } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";
import type { PeerProcess } from "./support/peer.js";

const QUEUE = "poison-q";
const INNOCENT = 5;

describe("a poison request among others", () => {
  const e2e = useRelay();

  it("ends alone in server_error after its third crash; the requests dispatched beside it are answered", async () => {
    const client = await e2e.peer("poison-client");
    await connectIdentities(client, ["poison-client"]);
    const ask = (body: unknown) =>
      request(
        client,
        { identity: "poison-client", queue: QUEUE, body, options: { timeout: 90_000 } },
        120_000,
      );
    // Queued before any server joins, so the first server takes all six at once.
    const innocents = Array.from({ length: INNOCENT }, (_, i) => ask({ op: "echo", value: i }));
    const poison = ask({ op: "crash" });

    let settled = false;
    const all = Promise.all([poison, ...innocents]).finally(() => {
      settled = true;
    });
    const lives: PeerProcess[] = [];
    for (let life = 0; life < 6 && !settled; life++) {
      const server = await e2e.peer(`poison-server-${life}`);
      lives.push(server);
      await serve(server, {
        identity: "poison-server",
        queue: QUEUE,
        mode: "script",
        concurrency: 8,
      });
      await Promise.race([server.whenExited(), all]);
    }
    const [poisoned, ...answered] = await all;
    expect(poisoned).toMatchObject({ ok: false, isEdgeMQError: true, code: "server_error" });
    expect(answered).toEqual(Array.from({ length: INNOCENT }, (_, i) => ({ ok: true, body: i })));
    // Three crashes: two with everything in hand, the third with the poison request alone.
    expect(lives.filter((life) => life.pid === undefined)).toHaveLength(3);
  });
});
