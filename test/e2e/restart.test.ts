/**
 * E2E relay restart: 200 requests wait in a queue with no server; the relay is killed with
 * SIGKILL and started again on the same port with the same state dir; then a server connects and
 * every request is answered, to the client that sent it.
 *
 * How we know the requests were accepted before the kill: the SDK gives no per-request "accepted"
 * signal and the relay exposes no queue depth over HTTP, so (1) the client processes report when
 * every request() call was made, and (2) a raw-socket "witness" client then sends 20 more requests
 * and waits for the relay's `accepted` frame for each. The exchange handles messages in arrival
 * order, so once the witness's later requests are accepted the SDK clients' earlier ones almost
 * surely are too (and if one was not, the SDK re-sends it after reconnecting, which the queue
 * deduplicates). The witness never re-sends anything: its 20 replies can only arrive if accepted
 * requests survived the SIGKILL, which is the durability claim itself.
 */
import { describe, expect, it } from "vitest";
import {
  awaitBurst,
  connectIdentities,
  serve,
  serverStats,
  startBurst,
} from "./support/commands.js";
import { useRelay } from "./support/fixture.js";
import { str } from "./support/guards.js";
import { RawSocket } from "./support/raw.js";

const QUEUE = "restart-q";
const WITNESS = "witness";
const WITNESS_REQUESTS = 20;

describe("relay restart", () => {
  const e2e = useRelay();

  it("answers every request queued before a SIGKILL of the relay once it restarts and a server connects", async () => {
    const relay = e2e.relay();
    const clients = await Promise.all([
      e2e.peer("restart-clients-0"),
      e2e.peer("restart-clients-1"),
    ]);
    const identitiesOf = (p: number) => Array.from({ length: 5 }, (_, i) => `rc-${p}-${i}`);
    await Promise.all(clients.map((c, p) => connectIdentities(c, identitiesOf(p))));
    const sent = await Promise.all(
      clients.map((c, p) =>
        startBurst(
          c,
          {
            job: "queued",
            identities: identitiesOf(p),
            perIdentity: 20,
            queue: QUEUE,
            timeout: 120_000,
          },
          30_000,
        ),
      ),
    );
    expect(sent).toEqual([100, 100]);

    const witness = await RawSocket.open(relay.url, "/v1/connect", WITNESS);
    const ids = Array.from({ length: WITNESS_REQUESTS }, (_, i) => `w-${i}`);
    for (const id of ids) {
      const payload = { identity: WITNESS, key: id };
      witness.send({
        type: "request",
        id,
        queue: QUEUE,
        timeout: 120_000,
        body: { enc: "json", data: JSON.stringify(payload) },
      });
    }
    const accepted = await witness.waitFor((f) => f.type === "accepted", WITNESS_REQUESTS, 30_000);
    expect(new Set(accepted.map((f) => f.id))).toEqual(new Set(ids));

    await relay.kill9();
    await relay.restart();

    const witnessAgain = await e2e.raw("/v1/connect", WITNESS);
    const server = await e2e.peer("restart-server");
    await serve(server, {
      identity: "restart-worker",
      queue: QUEUE,
      mode: "tagged",
      concurrency: 16,
      name: "w",
    });

    const summaries = await Promise.all(clients.map((c) => awaitBurst(c, "queued", 110_000)));
    for (const summary of summaries) {
      expect(summary.samples).toEqual([]);
      expect(summary).toMatchObject({
        sent: 100,
        ok: 100,
        misrouted: 0,
        wrongPayload: 0,
        errors: {},
      });
    }

    const replies = await witnessAgain.waitFor((f) => f.type === "reply", WITNESS_REQUESTS, 60_000);
    expect(new Set(replies.map((f) => f.id))).toEqual(new Set(ids));
    for (const reply of replies) {
      const body: unknown = reply.body;
      expect(body).toMatchObject({ enc: "json" });
      const data = typeof body === "object" && body !== null && "data" in body ? body.data : "";
      expect(JSON.parse(str(data, "reply body data"))).toMatchObject({
        from: WITNESS,
        payload: { identity: WITNESS, key: reply.id },
      });
    }
    witnessAgain.send({ type: "ack", ids });
    await witness.close();

    // Each stored request ran once: a re-sent request is deduplicated, not run twice.
    const stats = await serverStats(server);
    expect(stats.handled).toBe(200 + WITNESS_REQUESTS);
    expect(new Set(stats.records.map((r) => `${r.from}/${r.key}`)).size).toBe(
      200 + WITNESS_REQUESTS,
    );
  }, 170_000);
});
