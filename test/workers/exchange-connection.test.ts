/** ExchangeDO connections in workerd: welcome, takeover, refusals, malformed frames, keep-alive. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, encodeBody, isRecord, PROTOCOL_VERSION } from "../../protocol/index.js";
import { TestSocket } from "./exchange-test-socket.js";

describe("exchange connections", () => {
  it("greets a client with a welcome frame carrying its identity and the limits in force", async () => {
    const { socket, welcome } = await TestSocket.client("alice");
    expect(welcome).toEqual({
      type: "welcome",
      v: PROTOCOL_VERSION,
      identity: "alice",
      role: "client",
      limits: DEFAULT_LIMITS,
    });
    socket.close();
  });

  it("closes the older socket of an identity with 4001 when a newer one connects", async () => {
    const first = await TestSocket.client("takeover");
    const second = await TestSocket.client("takeover");
    const closed = await first.socket.closed;
    expect(closed.code).toBe(4001);
    expect(closed.reason).toContain("replaced");
    second.socket.send("not json");
    expect(await second.socket.next()).toMatchObject({ type: "error", code: "bad_request" });
    second.socket.close();
  });

  it("leaves other identities connected when one identity reconnects", async () => {
    const bob = await TestSocket.client("bob-stays");
    const carol = await TestSocket.client("carol-moves");
    const carolAgain = await TestSocket.client("carol-moves");
    expect((await carol.socket.closed).code).toBe(4001);
    bob.socket.send({ type: "bogus" });
    expect(await bob.socket.next()).toMatchObject({ type: "error", code: "bad_request" });
    bob.socket.close();
    carolAgain.socket.close();
  });

  it("answers malformed frames with bad_request and keeps the socket open", async () => {
    const { socket } = await TestSocket.client("sloppy");
    socket.send("{not json");
    socket.send({ type: "teleport" });
    socket.send({ type: "request", id: "r1", queue: "bad queue", body: encodeBody("x") });
    socket.send({ type: "reply", id: "r2", body: encodeBody("x") });
    socket.ws.send(new Uint8Array([1, 2, 3]));
    const errors = await socket.take(5);
    for (const frame of errors) expect(frame).toMatchObject({ type: "error", code: "bad_request" });
    // Each message is answered; answers to separate messages may be reordered by the runtime's
    // output gate when another connection's storage write is in flight on the same object.
    // Only the request's refusal names its id: the reply's would read as the end of request r2.
    const ids = errors.map((frame) => (isRecord(frame) ? frame.id : undefined));
    expect(ids.filter((id) => id !== undefined)).toEqual(["r1"]);
    socket.send([{ type: "cancel", id: "r3" }]);
    expect(await socket.next()).toMatchObject({ type: "error", code: "bad_request", id: "r3" });
    expect(socket.ws.readyState).toBe(WebSocket.READY_STATE_OPEN);
    socket.close();
  });

  it("refuses a request whose body is over maxBodyBytes with too_large and its id", async () => {
    const { socket } = await TestSocket.client("big-sender");
    const body = encodeBody("x".repeat(DEFAULT_LIMITS.maxBodyBytes + 1));
    socket.send({ type: "request", id: "huge", queue: "jobs", body });
    expect(await socket.next()).toMatchObject({ type: "error", code: "too_large", id: "huge" });
    socket.close();
  });

  it("refuses with too_large and its id a request within maxBodyBytes that JSON escaping takes past the frame size", async () => {
    const { socket } = await TestSocket.client("escaping-sender");
    const body = { enc: "utf8", data: '"'.repeat(DEFAULT_LIMITS.maxBodyBytes) };
    socket.send({ type: "request", id: "quoted", queue: "jobs", body });
    expect(await socket.next()).toMatchObject({ type: "error", code: "too_large", id: "quoted" });
    socket.close();
  });

  it("answers the keep-alive ping with pong", async () => {
    const { socket } = await TestSocket.client("pinger");
    socket.send("ping");
    expect(await socket.next()).toBe("pong");
    socket.close();
  });

  it("refuses an upgrade that reaches the object without X-EdgeMQ-Identity with 400", async () => {
    const stub = env.EXCHANGE.getByName("exchange");
    const response = await stub.fetch("https://exchange/", { headers: { Upgrade: "websocket" } });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: { code: "bad_request", message: expect.stringContaining("X-EdgeMQ-Identity") },
    });
  });
});
