/**
 * On a queue link the relay holds a request's `accepted` for up to 10 ms (ACCEPTED_HOLD_MS), so a
 * request answered by then gets its `accepted` and its outcome in one batch message, in that
 * order; a slower one gets `accepted` alone (docs/protocol.md, `accepted`). Checked on the raw
 * messages the client's socket receives. The quick answer here is the request's own `cancel`,
 * sent in the same message: its outcome exists before any timer can run, so the test does not
 * depend on how fast a server answers. The queue has stored a request before, so the request's
 * writes are held (held-writes.ts) and its outcome goes out when they are written, after
 * HOLD_WRITES_MS: inside the 10 ms. (The hold is "up to" 10 ms: one timer serves all held frames,
 * so an `accepted` held while an earlier one's timer runs may go sooner, alone.)
 */
import { describe, expect, it } from "vitest";
import { encodeBody } from "../../protocol/index.js";
import { idOf, linkSocket, serverSocket, type TestSocket } from "./exchange-test-socket.js";

/** The raw messages `socket` received that carry a frame about request `id`, parsed. */
function messagesAbout(socket: TestSocket, id: string): unknown[] {
  return socket.messages
    .map((text): unknown => JSON.parse(text))
    .filter((message) =>
      (Array.isArray(message) ? message : [message]).some((f) => idOf(f) === id),
    );
}

/** Frames of `socket` until the `error` for request `id` (returned). */
async function errorFor(socket: TestSocket, id: string): Promise<unknown> {
  for (;;) {
    const frame = await socket.next();
    if (idOf(frame) === id && (frame as { type?: unknown }).type === "error") return frame;
  }
}

describe("queue links: `accepted` held for the outcome", () => {
  it("sends a request's accepted and an outcome that came within the hold in one message, in that order", async () => {
    const q = "lnk-hold-quick";
    const client = await linkSocket(q, "lnk-hold-ann");
    // A first request stores the queue's name: later quiet requests have their writes held.
    // (A cancel in the request's own message would answer it unstored: client-message.ts.)
    client.send({ type: "request", id: "r0", queue: q, body: encodeBody(0) });
    client.send({ type: "cancel", id: "r0", queue: q });
    expect(await errorFor(client, "r0")).toMatchObject({ code: "cancelled" });
    // One timer sends every link's held frames, set by the first one held (link-registry.ts):
    // r0's timer is done before r1 comes, so r1's `accepted` may wait its full 10 ms.
    await new Promise((resolve) => setTimeout(resolve, 50));

    client.send({ type: "request", id: "r1", queue: q, body: encodeBody(1) });
    client.send({ type: "cancel", id: "r1", queue: q });
    const outcome = await errorFor(client, "r1");
    expect(outcome).toMatchObject({ type: "error", id: "r1", code: "cancelled" });
    const [message, ...others] = messagesAbout(client, "r1");
    expect(others).toEqual([]);
    expect(message).toEqual([
      { type: "accepted", id: "r1", deadline: expect.any(Number) },
      outcome,
    ]);
    client.close();
  });

  it("sends accepted alone when the outcome is not there within the hold", async () => {
    const q = "lnk-hold-slow";
    const worker = await serverSocket(q, "lnk-hold-worker");
    const client = await linkSocket(q, "lnk-hold-bo");
    client.send({ type: "request", id: "r1", queue: q, body: encodeBody(1) });
    const dispatch = await worker.next();
    const accepted = await client.next();
    expect(accepted).toMatchObject({ type: "accepted", id: "r1" });
    // The server answers only once the client has its `accepted`.
    worker.send({ type: "reply", id: idOf(dispatch), body: encodeBody(2) });
    const reply = await client.next();
    expect(reply).toMatchObject({ type: "reply", id: "r1" });
    expect(messagesAbout(client, "r1")).toEqual([accepted, reply]);
    client.close();
    worker.close();
  });
});
