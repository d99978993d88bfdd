/**
 * A reconnect refused where the platform hides the HTTP status (browsers, Deno, Bun, Node 22's
 * global WebSocket: a failed upgrade is a bare close 1006): the peer asks `GET /v1/whoami` with the
 * same credentials and, on a refusal, ends as it does when `ws` reports the status, instead of
 * retrying forever. Against the fake relay (answer `hidden`) and a stubbed global fetch.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type ConnectOptions, connect, type Peer } from "../../../client/index.js";
import { type EdgeMQError, encodeBody } from "../../../protocol/index.js";
import { closePeers, collect, FakeRelay, failure, settle } from "./fake-relay.js";

const CONNECT = "/v1/connect";
let relay: FakeRelay;
let peers: Peer[];
/** The URLs and Authorization headers the peer fetched. */
let fetched: { url: string; authorization: string | undefined }[];
/** How the stubbed fetch answers whoami; throwing is a network error. */
let whoami: () => Response;

async function open(options: ConnectOptions = {}): Promise<Peer> {
  const peer = await connect("ws://relay.test", {
    token: "expiring-token",
    route: "exchange",
    WebSocket: relay.WebSocket,
    reconnect: { minDelayMs: 100, maxDelayMs: 100 },
    ...options,
  });
  peers.push(peer);
  return peer;
}

/** How `promise` has settled so far (it is left running). */
function track(promise: Promise<unknown>): { error: EdgeMQError | undefined; done: boolean } {
  const state: { error: EdgeMQError | undefined; done: boolean } = {
    error: undefined,
    done: false,
  };
  failure(promise).then(
    (error) => {
      state.error = error;
      state.done = true;
    },
    () => {
      state.done = true;
    },
  );
  return state;
}

const refusedToken = () =>
  Response.json(
    { error: { code: "unauthorized", message: "token expired" } },
    { status: 401, headers: { "content-type": "application/json" } },
  );

beforeEach(() => {
  vi.useFakeTimers();
  relay = new FakeRelay();
  peers = [];
  fetched = [];
  whoami = () => Response.json({ identity: "alice", roles: ["client"], limits: {} });
  vi.stubGlobal("fetch", async (url: string, init: { headers?: Record<string, string> }) => {
    fetched.push({ url, authorization: init.headers?.Authorization });
    return whoami();
  });
});
afterEach(async () => {
  await closePeers(peers);
  vi.unstubAllGlobals();
});

describe("a reconnect refused behind a bare close 1006", () => {
  it("ends the peer with the relay's unauthorized: pending and new requests, and an error status", async () => {
    const peer = await open();
    const statuses = collect(peer);
    const pending = track(peer.request("q", "a", { timeout: 60_000 }));
    await settle();
    whoami = refusedToken;
    relay.fallback = { kind: "hidden" };
    relay.latest(CONNECT).drop(1006, "");
    await vi.advanceTimersByTimeAsync(5_000);

    expect(pending.error?.code).toBe("unauthorized");
    expect((await failure(peer.request("q", "b"))).code).toBe("unauthorized");
    const errors = statuses.filter((status) => status.type === "error");
    expect(errors.map((status) => status.error.code)).toEqual(["unauthorized"]);
    expect(fetched[0]).toEqual({
      url: "http://relay.test/v1/whoami",
      authorization: "Bearer expiring-token",
    });

    const sockets = relay.sockets.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(relay.sockets).toHaveLength(sockets);
  });

  it("ends a served queue whose server socket's reconnects are refused, with an error status", async () => {
    const peer = await open();
    const statuses = collect(peer);
    peer.serve("jobs", () => "done");
    await settle();
    const serve = "/v1/queues/jobs/serve";
    whoami = refusedToken;
    relay.fallback = { kind: "hidden" };
    relay.latest(serve).drop(1006, "");
    await vi.advanceTimersByTimeAsync(5_000);

    const errors = statuses.filter((status) => status.type === "error");
    expect(errors.map((status) => [status.error.code, status.queue])).toEqual([
      ["unauthorized", "jobs"],
    ]);
    const sockets = relay.sockets.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(relay.sockets).toHaveLength(sockets);
  });

  it("ends a service its token does not allow (no server role), which whoami cannot tell, from the serve route's answer", async () => {
    // A browser tab with a client-only token retried its serve socket forever (a console error
    // per try): whoami accepts the token, and only the serve route refuses it.
    const peer = await open();
    const statuses = collect(peer);
    const serve = "/v1/queues/jobs/serve";
    relay.answersAt(serve).push(...Array.from({ length: 50 }, () => ({ kind: "hidden" as const })));
    vi.stubGlobal("fetch", async (url: string) => {
      fetched.push({ url, authorization: undefined });
      if (!url.endsWith(serve)) return whoami();
      const error = { code: "forbidden", message: "this token does not allow the server role" };
      return Response.json({ error }, { status: 403 });
    });
    const service = peer.serve("jobs", () => "done");
    const ready = track(service.ready);
    await vi.advanceTimersByTimeAsync(10_000);

    const errors = statuses.filter((status) => status.type === "error");
    expect(errors.map((status) => [status.error.code, status.error.message, status.queue])).toEqual(
      [["forbidden", "this token does not allow the server role", "jobs"]],
    );
    expect(ready.error?.code).toBe("forbidden");
    expect(fetched.map((f) => f.url)).toContain(`http://relay.test${serve}`);
    const sockets = relay.socketsAt(serve).length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(relay.socketsAt(serve)).toHaveLength(sockets);
  });

  it("gives up a queue link its token does not allow, from the link route's answer", async () => {
    // A server-only token in a browser: its queue link was refused (403, shown as 1006) and
    // retried until it went idle, a console error per try.
    const peer = await open({ route: "queue" });
    const link = "/v1/queues/jobs/connect";
    relay.answersAt(link).push(...Array.from({ length: 50 }, () => ({ kind: "hidden" as const })));
    vi.stubGlobal("fetch", async (url: string) => {
      fetched.push({ url, authorization: undefined });
      if (!url.endsWith(link)) return whoami();
      const error = { code: "forbidden", message: "this token does not allow the client role" };
      return Response.json({ error }, { status: 403 });
    });
    peer.request("jobs", "hi", { timeout: 60_000 }).catch(() => {});
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fetched.map((f) => f.url)).toContain(`http://relay.test${link}`);
    const sockets = relay.socketsAt(link).length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(relay.socketsAt(link)).toHaveLength(sockets);
  });

  it("keeps retrying a service when its serve route would take the upgrade (426)", async () => {
    const peer = await open();
    const serve = "/v1/queues/jobs/serve";
    relay.answersAt(serve).push(...Array.from({ length: 4 }, () => ({ kind: "hidden" as const })));
    vi.stubGlobal("fetch", async (url: string) => {
      if (!url.endsWith(serve)) return whoami();
      const error = { code: "bad_request", message: "this route needs a WebSocket upgrade" };
      return Response.json({ error }, { status: 426 });
    });
    const service = peer.serve("jobs", () => "done");
    await vi.advanceTimersByTimeAsync(20_000);
    await expect(service.ready).resolves.toBeUndefined();
  });

  it("ends the peer with forbidden when whoami answers 403", async () => {
    const peer = await open();
    const statuses = collect(peer);
    whoami = () =>
      Response.json({ error: { code: "forbidden", message: "no client role" } }, { status: 403 });
    relay.fallback = { kind: "hidden" };
    relay.latest(CONNECT).drop(1006, "");
    await vi.advanceTimersByTimeAsync(5_000);
    const errors = statuses.filter((status) => status.type === "error");
    expect(errors.map((status) => status.error.code)).toEqual(["forbidden"]);
  });

  it("keeps retrying while whoami cannot reach the relay, then reconnects and re-sends", async () => {
    const peer = await open();
    const statuses = collect(peer);
    const reply = peer.request("q", "a", { timeout: 60_000 });
    await settle();
    whoami = () => {
      throw new TypeError("fetch failed");
    };
    relay.fallback = { kind: "hidden" };
    relay.latest(CONNECT).drop(1006, "");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(fetched.length).toBeGreaterThan(0);
    expect(statuses.some((status) => status.type === "error")).toBe(false);

    relay.fallback = { kind: "welcome" };
    await vi.advanceTimersByTimeAsync(1_000);
    const socket = relay.latest(CONNECT);
    const [request] = socket.framesOf("request");
    socket.deliver({ type: "reply", id: request?.id ?? "", body: encodeBody("done") });
    await expect(reply).resolves.toBe("done");
    expect(statuses.at(-1)?.type).toBe("connected");
  });

  it("keeps retrying when whoami accepts the credentials (the drop was transient)", async () => {
    const peer = await open();
    const statuses = collect(peer);
    relay.fallback = { kind: "hidden" };
    relay.latest(CONNECT).drop(1006, "");
    await vi.advanceTimersByTimeAsync(5_000);
    expect(fetched.length).toBeGreaterThan(0);
    const sockets = relay.sockets.length;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(relay.sockets.length).toBeGreaterThan(sockets);
    expect(statuses.some((status) => status.type === "error")).toBe(false);
  });

  it("does not ask whoami for a single failed reconnect", async () => {
    const peer = await open();
    const statuses = collect(peer);
    relay.answers.push({ kind: "hidden" });
    relay.latest(CONNECT).drop(1006, "");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(statuses.at(-1)?.type).toBe("connected");
    expect(fetched).toEqual([]);
  });

  it("does not ask whoami when the status is reported: the refusal ends the peer at once", async () => {
    const peer = await open();
    const pending = track(peer.request("q", "a", { timeout: 60_000 }));
    await settle();
    relay.fallback = { kind: "http", status: 401 };
    relay.latest(CONNECT).drop(1006, "");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pending.error?.code).toBe("unauthorized");
    expect(fetched).toEqual([]);
  });

  it("neither reconnects nor reports an error when closed while whoami is in flight", async () => {
    const peer = await open();
    const statuses = collect(peer);
    let answer: (response: Response) => void = () => {};
    whoami = () => {
      throw new Error("replaced below");
    };
    vi.stubGlobal("fetch", (url: string) => {
      fetched.push({ url, authorization: undefined });
      return new Promise<Response>((resolve) => {
        answer = resolve;
      });
    });
    relay.fallback = { kind: "hidden" };
    relay.latest(CONNECT).drop(1006, "");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fetched).toHaveLength(1);
    const sockets = relay.sockets.length;
    const closing = peer.close();
    await vi.advanceTimersByTimeAsync(1_000);
    await closing;
    answer(refusedToken());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(relay.sockets).toHaveLength(sockets);
    expect(statuses.some((status) => status.type === "error")).toBe(false);
    expect(statuses.at(-1)?.type).toBe("closed");
  });
});

describe("a first connect refused with its status (Node's ws reports it)", () => {
  it("rejects with the relay's own message from whoami, which names what is wrong", async () => {
    relay.fallback = { kind: "http", status: 401 };
    whoami = () =>
      Response.json(
        { error: { code: "unauthorized", message: "dev mode: declare an identity" } },
        { status: 401 },
      );
    const error = await failure(open());
    expect(error.code).toBe("unauthorized");
    expect(error.message).toContain("dev mode: declare an identity");
    expect(fetched.map((f) => f.url)).toEqual(["http://relay.test/v1/whoami"]);
  });

  it("keeps the status's own error when whoami accepts the credentials", async () => {
    relay.fallback = { kind: "http", status: 403 };
    const error = await failure(open());
    expect(error.code).toBe("forbidden");
    expect(error.message).toContain("HTTP 403");
  });

  it("keeps the status's own error when whoami never answers, so connect never hangs", async () => {
    relay.fallback = { kind: "http", status: 401 };
    vi.stubGlobal("fetch", () => new Promise(() => {}));
    const connecting = track(open());
    await vi.advanceTimersByTimeAsync(2_900);
    expect(connecting.done).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(connecting.error?.code).toBe("unauthorized");
    expect(connecting.error?.message).toContain("HTTP 401");
  });
});
