/**
 * A socket whose state the relay cannot read (its attachment lost or corrupt) is closed with
 * 1011 `lostState`, which tells the SDK to reconnect, never with a code it takes as final.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { closeFailure } from "../../client/close-reasons.js";
import { CLOSE_CODE } from "../../protocol/index.js";
import { TestSocket } from "./exchange-test-socket.js";

/** Overwrites the attachment of every hibernatable socket of `stub`'s object. */
async function loseAttachments(stub: DurableObjectStub): Promise<number> {
  return runInDurableObject(stub, (_instance, state) => {
    const sockets = state.getWebSockets();
    for (const ws of sockets) ws.serializeAttachment({ corrupt: true });
    return sockets.length;
  });
}

describe("a socket whose state is lost", () => {
  it("is closed by the exchange with 1011, which the SDK reconnects after", async () => {
    const { socket } = await TestSocket.client("lost-state-client");
    expect(await loseAttachments(env.EXCHANGE.getByName("exchange"))).toBeGreaterThan(0);
    socket.send({ type: "ack", ids: ["x"] });
    const closed = await socket.closed;
    expect(closed.code).toBe(CLOSE_CODE.lostState);
    expect(closeFailure(closed.code, undefined)).toBeUndefined();
  });

  it("is closed by the queue with 1011, which the SDK reconnects after", async () => {
    const queue = "lost-state-queue";
    // Nothing sent yet: the queue reads the attachment at the first message (then caches it).
    const server = await TestSocket.open(`/v1/queues/${queue}/serve?identity=lost-state-server`);
    expect(await server.next()).toMatchObject({ type: "welcome", role: "server" });
    expect(await loseAttachments(env.QUEUE.getByName(queue))).toBe(1);
    server.send({ type: "ready", concurrency: 1 });
    const closed = await server.closed;
    expect(closed.code).toBe(CLOSE_CODE.lostState);
    expect(closeFailure(closed.code, undefined)).toBeUndefined();
  });
});
