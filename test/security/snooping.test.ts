/**
 * Snooping: clients on one queue; whatever B sends (acks, cancels and resends of A's request
 * ids), B never receives A's replies, and A's request is neither cancelled nor forgotten by B;
 * a third client's request with A's id is its own.
 */
import { describe, expect, it } from "vitest";
import { jsonOf, mint, Peer, request } from "./signed-relay.js";

const queue = "snoop-q";

describe("one client cannot see another's replies", () => {
  it("keeps A's reply from B even when B acks, cancels and resends A's request id", async () => {
    const server = await Peer.server(
      queue,
      await mint({ sub: "snoop-srv", role: "server", queues: [queue] }),
    );
    const clientToken = (sub: string) =>
      mint({ sub, role: "client", queues: [queue, "snoop-empty"] });
    const a = await Peer.client(await clientToken("snoop-a"));
    const b = await Peer.client(await clientToken("snoop-b"));

    a.send(request("shared-id", queue, "from A"));
    await a.next("accepted", "shared-id");
    const forA = await server.next("dispatch");
    expect(forA.from).toBe("snoop-a");

    // B tries every handle on A's request id: cancel and ack. The probe's answer comes only once
    // the cancel in the same message was carried out by the queue.
    b.send([
      { type: "cancel", id: "shared-id", queue },
      { type: "ack", ids: ["shared-id"] },
      { ...request("probe", "snoop-empty"), failFast: true },
    ]);
    expect(await b.next("error", "probe")).toMatchObject({ code: "no_responders" });
    // A request of B's own with that id is refused: B's cancel named it first (a cancel that
    // overtook its request, early-cancels.ts). B's cancel ended nothing of A's.
    b.send(request("shared-id", queue, "from B"));
    expect(await b.next("error", "shared-id")).toMatchObject({ code: "cancelled" });
    // A third client's request with A's id is its own request, not A's.
    const c = await Peer.client(await clientToken("snoop-c"));
    c.send(request("shared-id", queue, "from C"));
    await c.next("accepted", "shared-id");
    const forC = await server.next("dispatch");
    expect(forC.from).toBe("snoop-c");
    expect(jsonOf(forC)).toBe("from C");

    server.send({ type: "reply", id: forA.id, body: { enc: "json", data: '"secret for A"' } });
    expect(jsonOf(await a.next("reply", "shared-id"))).toBe("secret for A");
    server.send({ type: "reply", id: forC.id, body: { enc: "json", data: '"for C"' } });
    expect(jsonOf(await c.next("reply", "shared-id"))).toBe("for C");

    expect(b.received.filter((f) => f.type === "reply")).toEqual([]);
    const seenByC = c.received.filter((f) => f.type === "reply").map((f) => jsonOf(f));
    expect(seenByC).toEqual(["for C"]);
    // B's cancel named no request of B's, and never A's: A was not cancelled, nor its server told.
    expect(a.received.some((f) => f.type === "error")).toBe(false);
    expect(server.received.some((f) => f.type === "cancel")).toBe(false);
    for (const peer of [a, b, c, server]) peer.close();
  });

  it("gives a reconnecting client only its own outbox", async () => {
    const server = await Peer.server(
      "snoop-outbox",
      await mint({ sub: "snoop-srv2", role: "server", queues: ["snoop-outbox"] }),
    );
    const aToken = await mint({ sub: "snoop-a2", role: "client", queues: ["snoop-outbox"] });
    const a = await Peer.client(aToken);
    a.send(request("r1", "snoop-outbox"));
    await a.next("accepted", "r1");
    a.close();
    await a.closed;
    const dispatch = await server.next("dispatch");
    server.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: '"kept for A"' } });

    const b = await Peer.client(
      await mint({ sub: "snoop-b2", role: "client", queues: ["snoop-outbox"] }),
    );
    const again = await Peer.client(aToken);
    expect(jsonOf(await again.next("reply", "r1"))).toBe("kept for A");
    expect(b.received.filter((f) => f.type === "reply")).toEqual([]);
    for (const peer of [again, b, server]) peer.close();
  });
});
