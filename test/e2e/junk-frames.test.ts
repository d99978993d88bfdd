/**
 * E2E robustness: one raw-WebSocket peer sends random and malformed messages (invalid JSON,
 * wrong types, unknown types, huge ids, bad base64, junk batches, binary) while SDK peers in other
 * processes keep sending requests. The SDK peers see no error. Within its budget of unreadable
 * frames (UNREADABLE_FRAMES) the junk peer gets `bad_request` error frames (one per frame that
 * names a request, one per message for the rest) and its socket stays up (a valid request on it
 * is then answered); past it, one last `bad_request` and a close with 1008.
 */
import { describe, expect, it } from "vitest";
import { CLOSE_CODE, decodeFrames, UNREADABLE_FRAMES } from "../../protocol/index.js";
import { awaitBurst, connectIdentities, serve, startBurst } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";
import { type JunkMessage, junkGenerator } from "./support/junk.js";
import { sleep } from "./support/ports.js";
import type { RawSocket } from "./support/raw.js";

const QUEUE = "steady";
const JUNK_MESSAGES = 1_000;

describe("malformed frames", () => {
  const e2e = useRelay();

  it("answers junk with bad_request errors on a socket that stays open within its budget and is closed with 1008 past it, while SDK peers' requests all succeed", async () => {
    const server = await e2e.peer("steady-server");
    await serve(server, {
      identity: "steady-worker",
      queue: QUEUE,
      mode: "tagged",
      concurrency: 8,
      name: "s",
    });
    const clients = await Promise.all([e2e.peer("steady-clients-0"), e2e.peer("steady-clients-1")]);
    const identitiesOf = (p: number) => Array.from({ length: 5 }, (_, i) => `steady-${p}-${i}`);
    await Promise.all(clients.map((c, p) => connectIdentities(c, identitiesOf(p))));
    const junkPeer = await e2e.raw("/v1/connect", "junk-peer");

    await Promise.all(
      clients.map((c, p) =>
        startBurst(
          c,
          {
            job: "steady",
            identities: identitiesOf(p),
            perIdentity: 40,
            queue: QUEUE,
            timeout: 60_000,
          },
          30_000,
        ),
      ),
    );

    const next = junkGenerator(20_260_426);
    const expectedErrors = sendWithinBudget(junkPeer, next);
    // Every malformed frame is answered by a bad_request error frame, and the socket stays up.
    const errors = await junkPeer.waitFor((f) => f.type === "error", expectedErrors, 30_000);
    expect(errors.filter((f) => f.code !== "bad_request")).toEqual([]);
    expect(junkPeer.isOpen).toBe(true);
    expect(junkPeer.closeCode).toBeUndefined();

    // ... and it still works: a valid request on it is accepted and answered.
    const payload = { identity: "junk-peer", key: "after-junk" };
    junkPeer.send({
      type: "request",
      id: "after-junk",
      queue: QUEUE,
      timeout: 30_000,
      body: { enc: "json", data: JSON.stringify(payload) },
    });
    const [reply] = await junkPeer.waitFor(
      (f) => f.type === "reply" && f.id === "after-junk",
      1,
      30_000,
    );
    expect(reply).toMatchObject({ type: "reply", id: "after-junk", body: { enc: "json" } });
    // The relay answers a socket's messages in order: every refusal came before that reply.
    expect(junkPeer.frames.filter((f) => f.type === "error")).toHaveLength(expectedErrors);

    // Junk past the budget: the relay says so once and closes the socket with 1008.
    await sendUntilClosed(junkPeer, next);
    expect(junkPeer.closeCode).toBe(CLOSE_CODE.policy);
    const last = junkPeer.frames.filter((f) => f.type === "error").at(-1);
    expect(last).toMatchObject({
      code: "bad_request",
      message: expect.stringMatching(/^too many/),
    });

    // The SDK peers saw none of it.
    const summaries = await Promise.all(clients.map((c) => awaitBurst(c, "steady", 90_000)));
    for (const summary of summaries) {
      expect(summary.samples).toEqual([]);
      expect(summary).toMatchObject({
        sent: 200,
        ok: 200,
        misrouted: 0,
        wrongPayload: 0,
        errors: {},
      });
    }
    for (const c of clients) expect(c.eventsOf("unhandled")).toEqual([]);
  });
});

/**
 * Sends junk within the socket's budget of unreadable frames (half of it: a refill only helps);
 * returns how many error frames it earns.
 */
function sendWithinBudget(junkPeer: RawSocket, next: () => JunkMessage): number {
  let expectedErrors = 0;
  for (let spent = 0; ; ) {
    const message = next();
    // Each text message must be junk by the protocol's own codec; binary is junk by rule.
    const decoded = typeof message === "string" ? decodeFrames(message) : [];
    expect(decoded.every((r) => !r.ok)).toBe(true);
    spent += Math.max(1, decoded.length);
    if (spent > UNREADABLE_FRAMES.burst / 2) return expectedErrors;
    expectedErrors += expectedRefusals(decoded);
    junkPeer.send(message);
  }
}

/** Sends junk (up to JUNK_MESSAGES messages) until the relay closes the socket (bounded wait). */
async function sendUntilClosed(junkPeer: RawSocket, next: () => JunkMessage): Promise<void> {
  for (let i = 0; i < JUNK_MESSAGES && junkPeer.isOpen; i++) {
    junkPeer.send(next());
    if (i % 50 === 49) {
      await junkPeer.drain(5_000);
      await sleep(5);
    }
  }
  for (let i = 0; i < 1_500 && junkPeer.closeCode === undefined; i++) await sleep(20);
}

/**
 * The error frames a junk message earns: one per request or cancel whose id could be read (the
 * only refusals that name an id, client-message.ts), and one for all the others
 * (unnamed-refusals.ts); a binary message (nothing decoded) earns one.
 */
function expectedRefusals(decoded: ReturnType<typeof decodeFrames>): number {
  const named = decoded.filter((r) => !r.ok && r.error.id !== undefined && namesId(r.error)).length;
  return named + (named === decoded.length && decoded.length > 0 ? 0 : 1);
}

function namesId(error: { frameType?: string | undefined }): boolean {
  return error.frameType === "request" || error.frameType === "cancel";
}
