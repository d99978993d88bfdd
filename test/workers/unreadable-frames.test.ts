/**
 * A socket that sends more frames the relay cannot read than UNREADABLE_FRAMES allows (100 at
 * once, then one a second) gets one last `bad_request` saying so, its message refused whole, and
 * is closed with 1008; under that, its junk gets the usual refusals and it stays open. On every
 * socket kind: a client's `/v1/connect`, a queue link and a server socket, whose request in hand
 * goes to another server. Other peers see nothing of it.
 */
import { describe, expect, it } from "vitest";
import { CLOSE_CODE, encodeBody, UNREADABLE_FRAMES } from "../../protocol/index.js";
import { linkSocket, serverSocket, TestSocket } from "./exchange-test-socket.js";
import { request } from "./queue-test-server.js";

const junk = (n: number) => Array.from({ length: n }, () => ({ type: "nonsense" }));

/** Sends `socket` a message of the whole budget plus one, with a request: refused, then closed. */
async function expectClosedForJunk(socket: TestSocket, extra: unknown[] = []): Promise<void> {
  socket.send([...junk(UNREADABLE_FRAMES.burst + 1), ...extra]);
  expect(await socket.next()).toEqual({
    type: "error",
    code: "bad_request",
    message: expect.stringMatching(/^too many frames the relay could not read .*\(1008\)$/),
  });
  expect(await socket.closed).toMatchObject({ code: CLOSE_CODE.policy });
}

describe("a socket that keeps sending frames the relay cannot read", () => {
  it("stays open within its budget, and is closed with 1008 past it: /v1/connect", async () => {
    const { socket } = await TestSocket.client("unreadable-ann");
    const { socket: bystander } = await TestSocket.client("unreadable-bea");
    socket.send(junk(60));
    expect(await socket.next()).toMatchObject({ type: "error", code: "bad_request" });
    // 60 of 100 spent: 41 more close it.
    socket.send(junk(41));
    expect(await socket.next()).toMatchObject({ message: expect.stringMatching(/^too many/) });
    expect(await socket.closed).toMatchObject({ code: CLOSE_CODE.policy });
    // Another client of the same exchange is not touched.
    bystander.send(junk(1));
    expect(await bystander.next()).toMatchObject({ type: "error", code: "bad_request" });
    bystander.close();
  });

  it("refuses the closing message whole on a queue link: its request is never accepted", async () => {
    const link = await linkSocket("unreadable-q", "unreadable-cy");
    await expectClosedForJunk(link, [request("r1", "unreadable-q")]);
    // A new link of the same client works, and r1 is unknown to the queue: it runs when sent.
    const again = await linkSocket("unreadable-q", "unreadable-cy");
    const server = await serverSocket("unreadable-q", "unreadable-srv0");
    again.send(request("r1", "unreadable-q"));
    expect(await again.next()).toMatchObject({ type: "accepted", id: "r1" });
    const dispatch = await server.next();
    expect(dispatch).toMatchObject({ type: "dispatch", from: "unreadable-cy" });
    again.close();
    server.close();
  });

  it("closes a server past its budget, and gives its request in hand to another server", async () => {
    const queue = "unreadable-srv-q";
    const bad = await serverSocket(queue, "unreadable-srv1");
    const { socket: client } = await TestSocket.client("unreadable-dee");
    client.send(request("r1", queue));
    expect(await client.next()).toMatchObject({ type: "accepted", id: "r1" });
    const held = (await bad.next()) as { type: string; id: string };
    expect(held).toMatchObject({ type: "dispatch" });
    const good = await serverSocket(queue, "unreadable-srv2");
    await expectClosedForJunk(bad);
    const again = (await good.next()) as { type: string; id: string; attempt: number };
    expect(again).toMatchObject({ type: "dispatch", attempt: 2 });
    good.send({ type: "reply", id: again.id, body: encodeBody("ok") });
    expect(await client.next()).toMatchObject({ type: "reply", id: "r1" });
    client.close();
    good.close();
  });
  it("ignores a peer's keep-alive pong on every socket kind: no refusal, nothing spent", async () => {
    // docs/protocol.md: `ping` and `pong` are matched before the codec sees them.
    const queue = "unreadable-pong-q";
    const { socket: client } = await TestSocket.client("unreadable-pong-cli");
    const link = await linkSocket(queue, "unreadable-pong-link");
    const server = await serverSocket(queue, "unreadable-pong-srv");
    for (const socket of [client, link, server]) {
      for (let i = 0; i < UNREADABLE_FRAMES.burst + 20; i++) socket.send("pong");
      // The next thing it hears is the answer to its ping: no error came before it.
      socket.send("ping");
      expect(await socket.next()).toBe("pong");
      // Its budget is whole: one junk frame is refused, and the socket stays open.
      socket.send(junk(1));
      expect(await socket.next()).toMatchObject({ type: "error", code: "bad_request" });
    }
    link.send(request("p1", queue));
    expect(await link.next()).toMatchObject({ type: "accepted", id: "p1" });
    expect(await server.next()).toMatchObject({ type: "dispatch", id: expect.any(String) });
    for (const socket of [client, link, server]) socket.close();
  });
});
