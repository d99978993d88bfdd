import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RELAY_ENDED_MESSAGE } from "../../../client/handler-signal.js";
import { connect, type Peer, reply, type ServeRequest, typed } from "../../../client/index.js";
import { type DispatchFrame, decodeBody, encodeBody } from "../../../protocol/index.js";
import { FakeRelay, type FakeSocket, settle } from "./fake-relay.js";

const SERVE = "/v1/queues/resize/serve";
let relay: FakeRelay;
let peer: Peer;

function dispatch(id: string, body: unknown = null): DispatchFrame {
  return {
    type: "dispatch",
    id,
    from: "alice",
    queue: "resize",
    body: encodeBody(typeof body === "string" ? body : JSON.parse(JSON.stringify(body))),
    headers: { trace: id },
    deadline: Date.now() + 60_000,
    attempt: 1,
  };
}

/** A handler whose calls wait until the test finishes them one by one. */
function gate() {
  const started: ServeRequest[] = [];
  const finishers = new Map<string, (value: string) => void>();
  const handler = (request: ServeRequest) => {
    started.push(request);
    return new Promise<string>((resolve) => finishers.set(request.id, resolve));
  };
  const finish = (id: string, value = `done-${id}`) => finishers.get(id)?.(value);
  return { started, handler, finish };
}

/** The serve socket the service opened after `first` dropped (its reconnect, welcomed). */
async function reconnected(first: FakeSocket): Promise<FakeSocket> {
  await vi.advanceTimersByTimeAsync(50);
  await settle();
  const next = relay.latest(SERVE);
  expect(next).not.toBe(first);
  return next;
}

/** A service of concurrency 3 whose handler holds dispatch r1 until `finish("r1")`. */
async function runningR1() {
  const { handler, finish } = gate();
  peer.serve("resize", handler, { concurrency: 3 });
  const first = relay.latest(SERVE);
  await served(first);
  first.deliver(dispatch("r1"));
  await settle();
  return { first, finish };
}

/** After a reconnect, `second` claims r1 with `ready {holding}`, then gets its reply once done. */
async function expectClaimedThenAnswered(second: FakeSocket, finish: (id: string) => void) {
  expect(second.framesOf("ready")).toEqual([{ type: "ready", concurrency: 3, holding: ["r1"] }]);
  finish("r1");
  await settle();
  expect(second.framesOf("reply").map((frame) => frame.id)).toEqual(["r1"]);
}

async function served(socket: FakeSocket): Promise<void> {
  await settle();
  expect(socket.framesOf("ready").length).toBeGreaterThan(0);
}

beforeEach(async () => {
  vi.useFakeTimers();
  relay = new FakeRelay();
  peer = await connect("ws://relay.test", {
    identity: "worker-1",
    WebSocket: relay.WebSocket,
    reconnect: { minDelayMs: 50, maxDelayMs: 50 },
  });
});
afterEach(async () => {
  await peer.close();
  await vi.runOnlyPendingTimersAsync();
  vi.useRealTimers();
});

describe("peer.serve()", () => {
  it("opens the queue's serve socket with the identity and sends ready {concurrency} after the welcome", async () => {
    const service = peer.serve("resize", () => null, { concurrency: 8 });
    await service.ready;
    await settle();
    const socket = relay.latest(SERVE);
    expect(socket.url).toBe("ws://relay.test/v1/queues/resize/serve?identity=worker-1");
    expect(socket.framesOf("ready")).toEqual([{ type: "ready", concurrency: 8 }]);
  });

  it("caps the concurrency it asks for (default 16) to the relay's maxConcurrency", async () => {
    relay.limits = { ...relay.limits, maxConcurrency: 4 };
    const capped = await connect("ws://relay.test", {
      identity: "worker-2",
      WebSocket: relay.WebSocket,
    });
    const service = capped.serve("resize", () => null);
    await service.ready;
    await settle();
    expect(relay.latest(SERVE).framesOf("ready")).toEqual([{ type: "ready", concurrency: 4 }]);
    // Past the protocol's own maximum is still the caller's mistake.
    expect(() => capped.serve("other", () => null, { concurrency: 1_001 })).toThrow(/concurrency/);
    await capped.close();
  });

  it("gives the handler the request's fields and replies with its return value", async () => {
    const seen: ServeRequest[] = [];
    peer.serve("resize", (request) => {
      seen.push(request);
      const body = request.body;
      return body instanceof Uint8Array || body === undefined ? null : { ok: true, echo: body };
    });
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("r1", { url: "u" }));
    await settle();
    expect(seen[0]).toMatchObject({
      id: "r1",
      from: "alice",
      queue: "resize",
      body: { url: "u" },
      headers: { trace: "r1" },
      attempt: 1,
    });
    const [reply] = socket.framesOf("reply");
    expect(reply?.id).toBe("r1");
    expect(reply && decodeBody(reply.body)).toEqual({ ok: true, echo: { url: "u" } });
  });

  it("runs at most `concurrency` handlers at once and starts the next when one finishes", async () => {
    const { started, handler, finish } = gate();
    peer.serve("resize", handler, { concurrency: 2 });
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("a"), dispatch("b"), dispatch("c"));
    await settle();
    expect(started.map((request) => request.id)).toEqual(["a", "b"]);
    finish("a");
    await settle();
    expect(started.map((request) => request.id)).toEqual(["a", "b", "c"]);
    expect(socket.framesOf("reply").map((frame) => frame.id)).toEqual(["a"]);
    finish("b");
    finish("c");
    await settle();
    expect(socket.framesOf("reply").map((frame) => frame.id)).toEqual(["a", "b", "c"]);
  });

  it("sends fail with the error's message, never its stack, when the handler throws", async () => {
    peer.serve("resize", () => {
      throw new Error("image too wide");
    });
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("r1"));
    await settle();
    expect(socket.framesOf("fail")).toEqual([
      { type: "fail", id: "r1", message: "image too wide" },
    ]);
    expect(socket.sent.join("")).not.toContain("at ");
  });

  it("fails a reply JSON cannot serialise (a cycle, nesting past the stack) as a request body is refused, and serves the next", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    let deep: unknown[] = [1];
    for (let depth = 0; depth < 200_000; depth++) deep = [deep];
    peer.serve("resize", (request) =>
      request.id === "cycle" ? cyclic : request.id === "deep" ? deep : "ok",
    );
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("cycle"), dispatch("deep"), dispatch("plain"));
    await settle();
    const messages = socket.framesOf("fail").map((frame) => [frame.id, frame.message]);
    expect(messages).toEqual([
      [
        "cycle",
        expect.stringMatching(/^body is not serialisable as JSON: Converting circular structure/),
      ],
      [
        "deep",
        expect.stringMatching(
          /^body is not serialisable as JSON: Maximum call stack size exceeded/,
        ),
      ],
    ]);
    expect(socket.framesOf("reply").map((frame) => frame.id)).toEqual(["plain"]);
  });

  it("sends fail instead of a reply that JSON escaping would take past the relay's frame size", async () => {
    peer.serve("resize", (request) => (request.id === "quotes" ? '"'.repeat(1_040_000) : "ok"));
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("quotes"), dispatch("plain"));
    await settle();
    expect(socket.framesOf("fail")).toEqual([
      { type: "fail", id: "quotes", message: expect.stringContaining("escaped as JSON") },
    ]);
    expect(socket.framesOf("reply").map((frame) => frame.id)).toEqual(["plain"]);
  });

  it("gives the handler the body's media type (its kind's when none was named), and typed() puts it on the reply", async () => {
    const seen: string[] = [];
    peer.serve("resize", (request) => {
      seen.push(request.contentType);
      return typed(request.body, request.contentType);
    });
    const socket = relay.latest(SERVE);
    await served(socket);
    const png = { enc: "base64", data: "iVBORw0KGgo=", type: "image/png" } as const;
    socket.deliver({ ...dispatch("typed"), body: png }, dispatch("plain", "hi"));
    await settle();
    // A body its sender named no type for gets its kind's, as over HTTP.
    expect(seen).toEqual(["image/png", "text/plain; charset=utf-8"]);
    expect(socket.framesOf("reply").map((frame) => frame.body)).toEqual([
      png,
      { enc: "utf8", data: "hi", type: "text/plain; charset=utf-8" },
    ]);
  });

  it("fails a request whose handler names an invalid media type, and serves the next", async () => {
    peer.serve("resize", (request) =>
      request.id === "bad" ? typed("x", "text/plain\r\nX-Evil: 1") : typed("ok", "text/csv"),
    );
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("bad"), dispatch("good"));
    await settle();
    expect(socket.framesOf("fail")).toEqual([
      {
        type: "fail",
        id: "bad",
        message: "content type must be at most 256 printable ASCII characters",
      },
    ]);
    expect(socket.framesOf("reply")).toEqual([
      { type: "reply", id: "good", body: { enc: "utf8", data: "ok", type: "text/csv" } },
    ]);
  });

  it("puts reply()'s headers and media type on the reply frame, and none for a plain body", async () => {
    peer.serve("resize", (request) =>
      request.id === "plain"
        ? "hi"
        : reply(
            { ok: true },
            { headers: { "trace-id": request.headers.trace ?? "" }, contentType: "text/plain" },
          ),
    );
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("with"), dispatch("plain"));
    await settle();
    expect(socket.framesOf("reply")).toEqual([
      {
        type: "reply",
        id: "with",
        body: { enc: "utf8", data: '{"ok":true}', type: "text/plain" },
        headers: { "trace-id": "with" },
      },
      { type: "reply", id: "plain", body: { enc: "utf8", data: "hi" } },
    ]);
  });

  it("fails a reply whose headers the relay would refuse (invalid, or over its lowered limits), and serves the next", async () => {
    relay.limits = { ...relay.limits, maxHeaders: 2 };
    const three = { a: "1", b: "2", c: "3" };
    peer.serve("resize", (request) => {
      if (request.id === "bad-name") return reply("x", { headers: { "bad name": "1" } });
      if (request.id === "too-many") return reply("x", { headers: three });
      return reply("ok", { headers: { a: "1" } });
    });
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("bad-name"), dispatch("too-many"), dispatch("good"));
    await settle();
    expect(socket.framesOf("fail")).toEqual([
      {
        type: "fail",
        id: "bad-name",
        message: 'reply headers refused: bad header name "bad name"',
      },
      {
        type: "fail",
        id: "too-many",
        message: "reply headers refused: 3 headers, over the limit of 2",
      },
    ]);
    expect(socket.framesOf("reply").map((frame) => frame.id)).toEqual(["good"]);
  });

  it("extends the lease of a handler every third of leaseMs while it runs", async () => {
    relay.limits = { ...relay.limits, leaseMs: 1_000 };
    const { handler, finish } = gate();
    peer.serve("resize", handler);
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("slow"));
    await settle();
    expect(socket.framesOf("extend")).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_100);
    expect(socket.framesOf("extend")).toEqual([
      { type: "extend", ids: ["slow"] },
      { type: "extend", ids: ["slow"] },
      { type: "extend", ids: ["slow"] },
    ]);
    finish("slow");
    await settle();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(socket.framesOf("extend")).toHaveLength(3);
  });

  it("extends the lease of a dispatch waiting for a handler slot as well as the running one", async () => {
    relay.limits = { ...relay.limits, leaseMs: 1_000 };
    const { handler, finish } = gate();
    peer.serve("resize", handler, { concurrency: 1 });
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("running"), dispatch("waiting"));
    await settle();
    await vi.advanceTimersByTimeAsync(600);
    expect(socket.framesOf("extend")).toEqual([{ type: "extend", ids: ["running", "waiting"] }]);
    finish("running");
    await settle();
    finish("waiting");
    await settle();
  });

  it("aborts req.signal when the relay cancels the request, and sends no reply for it", async () => {
    const { started, handler, finish } = gate();
    peer.serve("resize", handler);
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("r1"));
    await settle();
    expect(started[0]?.signal.aborted).toBe(false);
    socket.deliver({ type: "cancel", id: "r1" });
    await settle();
    expect(started[0]?.signal.aborted).toBe(true);
    // The same reason an HTTP service's handler gets (http-renewal.test.ts).
    expect(started[0]?.signal.reason).toMatchObject({
      code: "cancelled",
      message: RELAY_ENDED_MESSAGE,
    });
    finish("r1");
    await settle();
    expect(socket.framesOf("reply")).toEqual([]);
  });

  it("runs a new dispatch at once in the slot a cancelled run held, though its handler ignores req.signal", async () => {
    const { started, handler, finish } = gate();
    const service = peer.serve("resize", handler, { concurrency: 1 });
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("r1"));
    await settle();
    // The relay frees r1's slot when it cancels it, and may dispatch the next request at once.
    socket.deliver({ type: "cancel", id: "r1" }, dispatch("r2"));
    await settle();
    expect(started.map((request) => request.id)).toEqual(["r1", "r2"]);
    expect(service.inHand).toBe(2); // r1's handler still runs: it ignores its signal
    finish("r2");
    await settle();
    expect(socket.framesOf("reply").map((frame) => frame.id)).toEqual(["r2"]);
    // r1 ending late frees nothing more: the next dispatch runs in r2's slot, one at a time.
    finish("r1");
    socket.deliver(dispatch("r3"), dispatch("r4"));
    await settle();
    expect(started.map((request) => request.id)).toEqual(["r1", "r2", "r3"]);
    finish("r3");
    await settle();
    expect(started.map((request) => request.id)).toEqual(["r1", "r2", "r3", "r4"]);
    finish("r4");
    await settle();
  });

  it("stops extending a cancelled request whose handler ignores req.signal and runs on", async () => {
    relay.limits = { ...relay.limits, leaseMs: 1_000 };
    const { handler, finish } = gate();
    peer.serve("resize", handler, { concurrency: 2 });
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("r1"), dispatch("r2"));
    await settle();
    socket.deliver({ type: "cancel", id: "r1" });
    await settle();
    await vi.advanceTimersByTimeAsync(1_100);
    // r1's handler still runs, but the relay ended it: only r2's lease is worth renewing.
    expect(socket.framesOf("extend")).toEqual([
      { type: "extend", ids: ["r2"] },
      { type: "extend", ids: ["r2"] },
      { type: "extend", ids: ["r2"] },
    ]);
    finish("r2");
    await settle();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(socket.framesOf("extend")).toHaveLength(3);
    finish("r1");
    await settle();
  });

  it("answers the relay's cancels with one ready, so a server whose lease ran out is heard again", async () => {
    const { handler } = gate();
    peer.serve("resize", handler, { concurrency: 3 });
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("r1"), dispatch("r2"));
    await settle();
    const before = socket.framesOf("ready").length;
    // Two leases ran out while the process was busy: one message, two cancels, one ready.
    socket.deliver({ type: "cancel", id: "r1" }, { type: "cancel", id: "r2" });
    await settle();
    expect(socket.framesOf("ready").slice(before)).toEqual([{ type: "ready", concurrency: 3 }]);
    // A cancel of a request this service does not hold says nothing.
    socket.deliver({ type: "cancel", id: "unknown" });
    await settle();
    expect(socket.framesOf("ready").slice(before)).toHaveLength(1);
  });

  it("keeps extending a request dispatched again to it after a cancel, when the first run ends", async () => {
    relay.limits = { ...relay.limits, leaseMs: 1_000 };
    const runs: { request: ServeRequest; finish: (value: string) => void }[] = [];
    const handler = (request: ServeRequest) =>
      new Promise<string>((finish) => runs.push({ request, finish }));
    const service = peer.serve("resize", handler);
    const socket = relay.latest(SERVE);
    await served(socket);
    // A stalled run's lease ran out: the relay cancels it and dispatches the request again.
    socket.deliver(dispatch("r1"));
    await settle();
    socket.deliver({ type: "cancel", id: "r1" }, { ...dispatch("r1"), attempt: 2 });
    await settle();
    expect(runs.map((r) => r.request.attempt)).toEqual([1, 2]);
    runs[0]?.finish("stale"); // the first run ends late
    await settle();
    expect(service.inHand).toBe(1);
    const before = socket.framesOf("extend").length;
    await vi.advanceTimersByTimeAsync(400);
    expect(socket.framesOf("extend").slice(before)).toEqual([{ type: "extend", ids: ["r1"] }]);
    runs[1]?.finish("fresh");
    await settle();
    expect(socket.framesOf("reply")).toEqual([
      { type: "reply", id: "r1", body: encodeBody("fresh") },
    ]);
  });

  it("re-sends ready claiming the running request after its socket reconnects, then sends its reply", async () => {
    const { first, finish } = await runningR1();
    first.drop(1006, "network");
    await expectClaimedThenAnswered(await reconnected(first), finish);
  });

  it("finds its socket gone silent within 15 s while a handler runs, and reconnects claiming the request", async () => {
    const { first, finish } = await runningR1();
    relay.autoPong = false;
    await vi.advanceTimersByTimeAsync(15_000);
    await settle();
    expect(first.terminated).toBe(true);
    relay.autoPong = true;
    await expectClaimedThenAnswered(await reconnected(first), finish);
  });

  it("finds its socket gone silent within 15 s even while idle (a dispatch may be on its way)", async () => {
    peer.serve("resize", () => "ok", { concurrency: 3 });
    const first = relay.latest(SERVE);
    await served(first);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(relay.socketsAt(SERVE)).toHaveLength(1);
    relay.autoPong = false;
    await vi.advanceTimersByTimeAsync(15_000);
    await settle();
    expect(first.terminated).toBe(true);
    relay.autoPong = true;
    const second = await reconnected(first);
    expect(second.framesOf("ready")).toEqual([{ type: "ready", concurrency: 3 }]);
  });

  it("keeps a reply finished while disconnected and sends it after the ready that claims it", async () => {
    const { handler, finish } = gate();
    peer.serve("resize", handler, { concurrency: 3 });
    const first = relay.latest(SERVE);
    await served(first);
    first.deliver(dispatch("r1"));
    first.deliver(dispatch("r2"));
    await settle();
    first.drop(1006, "network");
    finish("r1");
    await settle();
    const second = await reconnected(first);
    const sent = second.frames().filter((f) => f.type === "ready" || f.type === "reply");
    expect(sent.map((f) => f.type)).toEqual(["ready", "reply"]);
    expect(second.framesOf("ready")[0]?.holding?.sort()).toEqual(["r1", "r2"]);
    expect(second.framesOf("reply").map((frame) => frame.id)).toEqual(["r1"]);
    finish("r2");
    await settle();
  });

  it("claims and sends again a reply handed to a socket that then dropped (it may not have gone out)", async () => {
    const { first, finish } = await runningR1();
    finish("r1");
    await settle();
    expect(first.framesOf("reply").map((frame) => frame.id)).toEqual(["r1"]);
    first.drop(1006, "relay gone");
    const second = await reconnected(first);
    expect(second.framesOf("ready")).toEqual([{ type: "ready", concurrency: 3, holding: ["r1"] }]);
    expect(second.framesOf("reply").map((frame) => frame.id)).toEqual(["r1"]);
  });

  it("ignores an error frame about one of its replies (not leased any more)", async () => {
    peer.serve("resize", () => "ok");
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver({ type: "error", id: "r9", code: "conflict", message: "not leased" });
    await settle();
    socket.deliver(dispatch("r10"));
    await settle();
    expect(socket.framesOf("reply").map((frame) => frame.id)).toEqual(["r10"]);
  });

  it("rejects a bad queue name or concurrency with bad_request", () => {
    expect(() => peer.serve("bad name", () => null)).toThrow(/queue/);
    expect(() => peer.serve("resize", () => null, { concurrency: 0 })).toThrow(/concurrency/);
  });

  it("throws a TypeError for a handler that is not a function, opening no socket", () => {
    const notAHandler: unknown = 42;
    expect(() => Reflect.apply(peer.serve, peer, ["resize", notAHandler])).toThrow(TypeError);
    expect(relay.socketsAt(SERVE)).toHaveLength(0);
  });

  it("refuses to serve a queue it serves already, until that service's close() resolved", async () => {
    const first = peer.serve("resize", () => "first");
    const socket = relay.latest(SERVE);
    await served(socket);
    expect(() => peer.serve("resize", () => "second")).toThrow(
      expect.objectContaining({ code: "bad_request", message: expect.stringMatching(/already/) }),
    );
    const closing = first.close();
    expect(() => peer.serve("resize", () => "second")).toThrow(/already serving queue resize/);
    await closing;
    peer.serve("resize", () => "second");
    const next = relay.latest(SERVE);
    expect(next).not.toBe(socket);
    await served(next);
  });
});

describe("service.close()", () => {
  it("is what await using does at the end of the service's scope", async () => {
    let socket: FakeSocket | undefined;
    {
      await using service = peer.serve("resize", () => null);
      socket = relay.latest(SERVE);
      await served(socket);
      expect(service.queue).toBe("resize");
    }
    expect(socket.framesOf("ready").at(-1)).toEqual({ type: "ready", concurrency: 0 });
    expect(socket.closedBy?.code).toBe(1000);
  });

  it("sends ready 0, finishes and replies to the requests in hand, then closes the socket", async () => {
    const { handler, finish } = gate();
    const service = peer.serve("resize", handler);
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("r1"));
    await settle();
    let closed = false;
    const closing = service.close().then(() => {
      closed = true;
    });
    await settle();
    expect(socket.framesOf("ready").at(-1)).toEqual({ type: "ready", concurrency: 0 });
    expect(closed).toBe(false);
    expect(socket.closedBy).toBeUndefined();
    finish("r1");
    await closing;
    expect(socket.framesOf("reply").map((frame) => frame.id)).toEqual(["r1"]);
    expect(socket.closedBy?.code).toBe(1000);
  });

  it("waits, while its socket is down, to send a reply finished during close() after the next welcome", async () => {
    const { handler, finish } = gate();
    const service = peer.serve("resize", handler);
    const first = relay.latest(SERVE);
    await served(first);
    first.deliver(dispatch("r1"));
    await settle();
    relay.answersAt(SERVE).push({ kind: "pending" }); // the relay is out of reach a while
    first.drop(1006, "network");
    let closed = false;
    const closing = service.close().then(() => {
      closed = true;
    });
    finish("r1");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(closed).toBe(false);
    const second = relay.latest(SERVE);
    expect(second).not.toBe(first);
    second.open();
    await closing;
    expect(second.framesOf("ready")).toEqual([{ type: "ready", concurrency: 0, holding: ["r1"] }]);
    expect(second.framesOf("reply").map((frame) => frame.id)).toEqual(["r1"]);
  });

  it("does not wait, while its socket is down, for a reply that went out before the drop", async () => {
    const { handler, finish } = gate();
    const service = peer.serve("resize", handler);
    const first = relay.latest(SERVE);
    await served(first);
    // A long deadline: close() used to wait for all of it, its client long since answered.
    first.deliver({ ...dispatch("r1"), deadline: Date.now() + 300_000 });
    await settle();
    finish("r1");
    await settle();
    expect(first.framesOf("reply").map((frame) => frame.id)).toEqual(["r1"]);
    relay.fallback = { kind: "pending" }; // the relay does not come back
    first.drop(1006, "relay gone");
    let closed = false;
    const closing = service.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(closed).toBe(true);
    await closing;
  });

  it("gives up on a reply finished while its socket is down once the request's deadline passed", async () => {
    const { handler, finish } = gate();
    const service = peer.serve("resize", handler);
    const first = relay.latest(SERVE);
    await served(first);
    first.deliver({ ...dispatch("r1"), deadline: Date.now() + 5_000 });
    await settle();
    relay.fallback = { kind: "pending" }; // the relay does not come back
    first.drop(1006, "network");
    let closed = false;
    const closing = service.close().then(() => {
      closed = true;
    });
    finish("r1");
    await vi.advanceTimersByTimeAsync(4_000);
    expect(closed).toBe(false);
    await vi.advanceTimersByTimeAsync(2_000);
    relay.latest(SERVE).open(); // only to let the socket's close handshake end
    relay.fallback = { kind: "welcome" };
    await closing;
    expect(relay.latest(SERVE).framesOf("reply")).toEqual([]);
  });

  it("does not wait for a handler that ignores req.signal after the relay cancelled its request", async () => {
    const { handler, finish } = gate();
    const service = peer.serve("resize", handler);
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("stalled"), dispatch("r2"));
    await settle();
    socket.deliver({ type: "cancel", id: "stalled" }); // its client timed out; it runs on
    await settle();
    let closed = false;
    const closing = service.close().then(() => {
      closed = true;
    });
    await settle();
    expect(closed).toBe(false); // r2 is still held
    finish("r2");
    await closing;
    expect(socket.framesOf("reply").map((frame) => frame.id)).toEqual(["r2"]);
    expect(socket.closedBy?.code).toBe(1000);
  });

  it("stops waiting for a handler once its request's deadline passed, with no cancel heard", async () => {
    const { handler } = gate();
    const service = peer.serve("resize", handler);
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver({ ...dispatch("r1"), deadline: Date.now() + 5_000 });
    await settle();
    let closed = false;
    const closing = service.close().then(() => {
      closed = true;
    });
    await vi.advanceTimersByTimeAsync(4_000);
    expect(closed).toBe(false);
    await vi.advanceTimersByTimeAsync(1_100);
    await closing;
    expect(socket.framesOf("reply")).toEqual([]);
    expect(socket.closedBy?.code).toBe(1000);
  });

  it("is waited for by peer.close()", async () => {
    const { handler, finish } = gate();
    peer.serve("resize", handler);
    const socket = relay.latest(SERVE);
    await served(socket);
    socket.deliver(dispatch("r1"));
    await settle();
    const closing = peer.close();
    await settle();
    expect(socket.closedBy).toBeUndefined();
    finish("r1");
    await closing;
    expect(socket.framesOf("reply").map((frame) => frame.id)).toEqual(["r1"]);
    expect(socket.closedBy?.code).toBe(1000);
  });
});
