/**
 * The SDK's HTTP transport (connect(url, { transport: "http" })) against a scripted fake fetch:
 * request() posts with a client-chosen id and long-polls the outcome, retries keep that id, error
 * bodies become EdgeMQError codes; serve() takes, runs the handler (with the take's Content-Type),
 * replies (under typed()'s Content-Type) or posts the failure, and close() drains the handlers in
 * hand. Its whoami lists no features (an older relay), so each request polls its own
 * `GET /v1/requests/{id}`; http-outcomes.test.ts tests the one poll for all.
 */
import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type Body,
  connect,
  EdgeMQError,
  type FetchLike,
  type HttpRequestInit,
  type Peer,
  type ReplyBody,
  reply,
  typed,
} from "../../../client/index.js";
import { bodyFrameRefusal, DEFAULT_LIMITS } from "../../../protocol/index.js";
import { fakeToken } from "./fake-relay.js";
import { json } from "./http-fakes.js";

interface Call {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
  keepalive: boolean | undefined;
}

type Script = (call: Call) => Response | Promise<Response>;

const BASE = "http://relay.test";

/** A fetch that records every call and answers from `script`; whoami answers for alice. */
function fakeFetch(script: Script): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url: string, init: HttpRequestInit) => {
    const call: Call = {
      method: init.method,
      path: url.slice(BASE.length),
      headers: init.headers,
      body: init.body,
      keepalive: init.keepalive,
    };
    calls.push(call);
    if (call.path === "/v1/whoami") {
      return json(200, { identity: "alice", roles: ["client", "server"], limits: { leaseMs: 40 } });
    }
    return script(call);
  };
  return { fetch, calls };
}

function errorBody(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } });
}

function noContent(): Response {
  return new Response(null, { status: 204 });
}

function taken(
  id: string,
  body: string,
  contentType = "text/plain; charset=utf-8",
  deadlineInMs = 60_000,
  extra: Record<string, string> = {},
): Response {
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": contentType,
      "EdgeMQ-Request-Id": id,
      "EdgeMQ-From": "bob",
      "EdgeMQ-Deadline": String(Date.now() + deadlineInMs),
      "EdgeMQ-Attempt": "1",
      "EdgeMQ-Lease-Ms": "40",
      ...extra,
    },
  });
}

/** A value the Body type rules out but a caller without types can pass. */
function untypedBody(value: unknown): Body {
  return value as Body;
}

let peer: Peer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

async function httpPeer(fetch: FetchLike): Promise<Peer> {
  peer = await connect(BASE, {
    transport: "http",
    identity: "alice",
    fetch,
    reconnect: { minDelayMs: 1, maxDelayMs: 5 },
  });
  return peer;
}

describe("request() over HTTP", () => {
  it("posts async with its own id, polls through 204 and resolves with the reply's JSON", async () => {
    let polls = 0;
    const { fetch, calls } = fakeFetch((call) => {
      if (call.method === "POST") return json(202, { id: "x", deadline: Date.now() + 30_000 });
      polls++;
      return polls === 1 ? noContent() : json(200, { ok: true });
    });
    const alice = await httpPeer(fetch);
    await expect(alice.request("jobs", { n: 1 }, { timeout: 5_000 })).resolves.toEqual({
      ok: true,
    });
    const post = calls.find((c) => c.method === "POST");
    const id = post?.headers["EdgeMQ-Request-Id"];
    expect(post?.path).toBe("/v1/queues/jobs/requests?async=true&timeout=5000");
    expect(post?.headers["Content-Type"]).toBe("application/json");
    expect(post?.headers["EdgeMQ-Identity"]).toBe("alice");
    expect(post?.body).toBe('{"n":1}');
    const gets = calls.filter((c) => c.method === "GET" && c.path.startsWith("/v1/requests/"));
    expect(gets).toHaveLength(2);
    for (const get of gets) expect(get.path.startsWith(`/v1/requests/${id}?wait=`)).toBe(true);
  });

  it("sends strings as text and bytes as octet-stream, and gets the same kinds back", async () => {
    const { fetch, calls } = fakeFetch((call) => {
      if (call.method === "POST") return json(202, { id: "x", deadline: 0 });
      const post = calls.findLast((c) => c.method === "POST");
      return new Response(post?.body, {
        status: 200,
        headers: { "content-type": post?.headers["Content-Type"] ?? "" },
      });
    });
    const alice = await httpPeer(fetch);
    await expect(alice.request("echo", "héllo")).resolves.toBe("héllo");
    expect(calls.findLast((c) => c.method === "POST")?.headers["Content-Type"]).toBe(
      "text/plain; charset=utf-8",
    );
    const bytes = new Uint8Array([0, 255, 7]);
    await expect(alice.request("echo", bytes)).resolves.toEqual(bytes);
    expect(calls.findLast((c) => c.method === "POST")?.headers["Content-Type"]).toBe(
      "application/octet-stream",
    );
  });

  it("rejects with the error body's code and message", async () => {
    const { fetch } = fakeFetch((call) =>
      call.method === "POST"
        ? json(202, { id: "x", deadline: 0 })
        : errorBody(502, "server_error", "handler exploded"),
    );
    const alice = await httpPeer(fetch);
    const error = await alice.request("jobs", 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeMQError);
    expect(error).toMatchObject({ code: "server_error", message: "handler exploded" });
  });

  it("resolves requestReply() with the reply's body, Content-Type and EdgeMQ-Headers, and request() with the body", async () => {
    const answers = [
      () =>
        new Response("a,b\n", {
          headers: { "content-type": "text/csv", "EdgeMQ-Headers": '{"Trace-Id":"caf\\u00e9"}' },
        }),
      () => json(200, { ok: true }),
      () => new Response("c", { headers: { "EdgeMQ-Headers": '{"a":"1"}' } }),
    ];
    const { fetch } = fakeFetch((call) =>
      call.method === "POST"
        ? json(202, { id: "x", deadline: 0 })
        : (answers.shift() ?? noContent)(),
    );
    const alice = await httpPeer(fetch);
    await expect(alice.requestReply("jobs", 1)).resolves.toEqual({
      body: "a,b\n",
      contentType: "text/csv",
      headers: { "Trace-Id": "café" },
    });
    await expect(alice.requestReply("jobs", 2)).resolves.toEqual({
      body: { ok: true },
      contentType: "application/json",
      headers: {},
    });
    await expect(alice.request("jobs", 3)).resolves.toBe("c");
  });

  it("resolves requestReply() from a reply the POST itself answers (200)", async () => {
    const { fetch } = fakeFetch(
      () =>
        new Response("hi", {
          headers: { "content-type": "text/plain", "EdgeMQ-Headers": '{"x":"y"}' },
        }),
    );
    const alice = await httpPeer(fetch);
    await expect(alice.requestReply("jobs", 1)).resolves.toEqual({
      body: "hi",
      contentType: "text/plain",
      headers: { x: "y" },
    });
  });

  it("retries a POST that failed on the network with the same request id", async () => {
    let posts = 0;
    const { fetch, calls } = fakeFetch((call) => {
      if (call.method === "POST") {
        posts++;
        if (posts === 1) throw new TypeError("fetch failed");
        return json(202, { id: "x", deadline: 0 });
      }
      return json(200, "done");
    });
    const alice = await httpPeer(fetch);
    await expect(alice.request("jobs", 1)).resolves.toBe("done");
    const ids = calls.filter((c) => c.method === "POST").map((c) => c.headers["EdgeMQ-Request-Id"]);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
  });

  it("retries a POST with its timeout reduced by the time already spent, default or given", async () => {
    let posts = 0;
    const { fetch, calls } = fakeFetch(async (call) => {
      if (call.method === "POST") {
        posts++;
        if (posts % 2 === 1) {
          await new Promise((resolve) => setTimeout(resolve, 60));
          throw new TypeError("fetch failed");
        }
        return json(202, { id: "x", deadline: 0 });
      }
      return json(200, "done");
    });
    const alice = await httpPeer(fetch);
    await expect(alice.request("jobs", 1, { timeout: 5_000 })).resolves.toBe("done");
    await expect(alice.request("jobs", 2)).resolves.toBe("done");
    const timeouts = calls
      .filter((c) => c.method === "POST")
      .map((c) => Number(new URLSearchParams(c.path.split("?")[1]).get("timeout")));
    expect(timeouts).toHaveLength(4);
    expect(timeouts[0]).toBe(5_000);
    expect(timeouts[1]).toBeLessThanOrEqual(5_000 - 60);
    expect(timeouts[1]).toBeGreaterThan(4_000);
    expect(timeouts[2]).toBe(30_000);
    expect(timeouts[3]).toBeLessThanOrEqual(30_000 - 60);
    expect(timeouts[3]).toBeGreaterThan(29_000);
  });

  it("rejects with rate_limited when the relay refuses the POST with 429, without retrying", async () => {
    const { fetch, calls } = fakeFetch((call) =>
      call.method === "POST"
        ? errorBody(429, "rate_limited", "rate limit exceeded; retry after 100 ms")
        : json(200, "never"),
    );
    const alice = await httpPeer(fetch);
    const error = await alice.request("jobs", 1, { timeout: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EdgeMQError);
    expect(error).toMatchObject({ code: "rate_limited" });
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(1);
  });

  it("still retries a POST refused with internal (queue unavailable)", async () => {
    let posts = 0;
    const { fetch, calls } = fakeFetch((call) => {
      if (call.method === "POST") {
        posts++;
        if (posts === 1)
          return errorBody(500, "internal", "queue jobs is unavailable; retry later");
        return json(202, { id: "x", deadline: 0 });
      }
      return json(200, "done");
    });
    const alice = await httpPeer(fetch);
    await expect(alice.request("jobs", 1)).resolves.toBe("done");
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(2);
  });

  it("sends request headers as EdgeMQ-Headers, JSON with names as given and non-ASCII escaped", async () => {
    const { fetch, calls } = fakeFetch((call) =>
      call.method === "POST" ? json(202, { id: "x", deadline: Date.now() + 30_000 }) : json(200, 1),
    );
    const alice = await httpPeer(fetch);
    await alice.request("jobs", 1, { headers: { "Trace-Id": "t1", note: "café" } });
    const post = calls.find((c) => c.method === "POST");
    expect(post?.headers["EdgeMQ-Headers"]).toBe('{"Trace-Id":"t1","note":"caf\\u00e9"}');
    await alice.request("jobs", 2, { headers: {} });
    expect(calls.findLast((c) => c.method === "POST")?.headers["EdgeMQ-Headers"]).toBeUndefined();
  });

  it("refuses request headers the protocol refuses, before any call", async () => {
    const { fetch, calls } = fakeFetch(() => noContent());
    const alice = await httpPeer(fetch);
    const before = calls.length;
    await expect(alice.request("jobs", 1, { headers: { "bad name": "t" } })).rejects.toMatchObject({
      code: "bad_request",
      message: expect.stringContaining("header"),
    });
    expect(calls).toHaveLength(before);
  });

  it("on abort rejects cancelled and deletes the request at the relay", async () => {
    const { fetch, calls } = fakeFetch((call) => {
      if (call.method === "POST") return json(202, { id: "x", deadline: 0 });
      if (call.method === "DELETE") return noContent();
      return noContent();
    });
    const alice = await httpPeer(fetch);
    const controller = new AbortController();
    const pending = alice.request("jobs", 1, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "cancelled" });
    const id = calls.find((c) => c.method === "POST")?.headers["EdgeMQ-Request-Id"];
    await expect.poll(() => calls.some((c) => c.method === "DELETE")).toBe(true);
    expect(calls.find((c) => c.method === "DELETE")?.path).toBe(`/v1/queues/jobs/requests/${id}`);
    // It outlives the page (a tab that aborts its requests as it closes: a browser probe).
    expect(calls.find((c) => c.method === "DELETE")?.keepalive).toBe(true);
  });

  it("holds one abort listener on a signal many unfinished requests share, and cancels them all when it aborts", async () => {
    const { fetch, calls } = fakeFetch((call) => {
      if (call.method === "POST") return json(202, { id: "x", deadline: 0 });
      return noContent();
    });
    const alice = await httpPeer(fetch);
    // A program's shutdown signal, passed to every request.
    const shutdown = new AbortController();
    const pending = Array.from({ length: 20 }, (_, i) =>
      alice.request("jobs", i, { signal: shutdown.signal }).catch((error: unknown) => error),
    );
    await expect.poll(() => calls.filter((c) => c.method === "POST").length).toBe(20);
    expect(getEventListeners(shutdown.signal, "abort")).toHaveLength(1);
    shutdown.abort();
    for (const error of await Promise.all(pending)) {
      expect(error).toMatchObject({ code: "cancelled" });
    }
    await expect.poll(() => calls.filter((c) => c.method === "DELETE").length).toBe(20);
    expect(getEventListeners(shutdown.signal, "abort")).toHaveLength(0);
  });

  it("on a signal that timed out (AbortSignal.timeout()) rejects timeout and deletes the request at the relay", async () => {
    const { fetch, calls } = fakeFetch((call) => {
      if (call.method === "POST") return json(202, { id: "x", deadline: 0 });
      return noContent();
    });
    const alice = await httpPeer(fetch);
    const controller = new AbortController();
    const pending = alice.request("jobs", 1, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
    await expect(pending).rejects.toMatchObject({ code: "timeout" });
    await expect.poll(() => calls.some((c) => c.method === "DELETE")).toBe(true);
    const already = alice.request("jobs", 2, { signal: AbortSignal.timeout(0) });
    await expect(already).rejects.toMatchObject({ code: "timeout" });
  });

  it("retries the delete of an aborted request while the relay is out of reach, until it is done", async () => {
    let deletes = 0;
    const { fetch, calls } = fakeFetch((call) => {
      if (call.method === "POST") return json(202, { id: "x", deadline: 0 });
      if (call.method === "DELETE") {
        deletes += 1;
        if (deletes <= 2) throw new TypeError("fetch failed");
        return noContent();
      }
      return noContent();
    });
    const alice = await httpPeer(fetch);
    const controller = new AbortController();
    const pending = alice.request("jobs", 1, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "cancelled" });
    await expect.poll(() => deletes).toBe(3);
    const id = calls.find((c) => c.method === "POST")?.headers["EdgeMQ-Request-Id"];
    const paths = calls.filter((c) => c.method === "DELETE").map((c) => c.path);
    expect(new Set(paths)).toEqual(new Set([`/v1/queues/jobs/requests/${id}`]));
  });

  it("stops retrying the delete of an aborted request once the peer is closed", async () => {
    let deletes = 0;
    const { fetch } = fakeFetch((call) => {
      if (call.method === "POST") return json(202, { id: "x", deadline: 0 });
      if (call.method === "DELETE") {
        deletes += 1;
        throw new TypeError("fetch failed");
      }
      return noContent();
    });
    const alice = await httpPeer(fetch);
    const controller = new AbortController();
    const pending = alice.request("jobs", 1, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "cancelled" });
    await expect.poll(() => deletes).toBeGreaterThanOrEqual(2);
    await alice.close();
    const seen = deletes;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(deletes).toBe(seen);
  });

  it("close() waits for the delete of an aborted request already under way, so an exit after it does not lose the cancel", async () => {
    let deleteAnswered = false;
    const { fetch } = fakeFetch(async (call) => {
      if (call.method === "POST") return json(202, { id: "x", deadline: 0 });
      if (call.method === "DELETE") {
        await new Promise((resolve) => setTimeout(resolve, 50));
        deleteAnswered = true;
        return noContent();
      }
      return noContent();
    });
    const alice = await httpPeer(fetch);
    const controller = new AbortController();
    const pending = alice.request("jobs", 1, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: "cancelled" });
    await alice.close();
    expect(deleteAnswered).toBe(true);
  });

  it("holds maxPendingRequests unfinished requests, 10,000 by default: the next rejects with too_many_in_flight, posting nothing", async () => {
    for (const [options, cap] of [
      [{}, 10_000],
      [{ maxPendingRequests: 3 }, 3],
    ] as const) {
      const posts: string[] = [];
      const answers: ((response: Response) => void)[] = [];
      // Every POST waits unanswered until the test answers it.
      const fetch: FetchLike = async (url, init) => {
        if (url === `${BASE}/v1/whoami`) return json(200, { identity: "alice", roles: ["client"] });
        if (init.method === "POST") posts.push(String(init.body));
        return new Promise<Response>((resolve) => answers.push(resolve));
      };
      const alice = await connect(BASE, {
        transport: "http",
        identity: "alice",
        fetch,
        ...options,
      });
      peer = alice;
      const pending = Array.from({ length: cap }, (_, n) =>
        alice.request("jobs", n).catch(() => {}),
      );
      await expect.poll(() => posts.length).toBe(cap);
      const refused = await alice.request("jobs", "one too many").catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(EdgeMQError);
      expect(refused).toMatchObject({ code: "too_many_in_flight" });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(posts).toHaveLength(cap);
      expect(posts).not.toContain('"one too many"');
      for (const answer of answers) answer(errorBody(400, "bad_request", "refused by the test"));
      await Promise.all(pending);
      await alice.close();
      peer = undefined;
    }
  });

  it("rejects a body JSON cannot serialise (a BigInt, a cycle) with bad_request, posting nothing", async () => {
    const { fetch, calls } = fakeFetch(() => noContent());
    const alice = await httpPeer(fetch);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const [body, message] of [
      [{ n: 1n }, /^body holds a BigInt/],
      [
        cyclic,
        /^body is not serialisable as JSON: Converting circular structure to JSON.*property .self. closes the circle/s,
      ],
    ] as const) {
      await expect(alice.request("jobs", untypedBody(body))).rejects.toMatchObject({
        code: "bad_request",
        message: expect.stringMatching(message),
      });
    }
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);
  });
});

describe("connect() over HTTP", () => {
  // A newcomer probe: against a relay not started, the WebSocket transport said "connect
  // ECONNREFUSED 127.0.0.1:9539", the HTTP one only "cannot reach the relay at ...".
  it("rejects with closed naming the network error's causes when the relay cannot be reached", async () => {
    const refused = new Error("connect ECONNREFUSED 127.0.0.1:9539\n    at TCPConnectWrap");
    const fetch: FetchLike = async () => {
      throw new TypeError("fetch failed", { cause: refused });
    };
    const error = await connect(BASE, { transport: "http", identity: "alice", fetch }).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(EdgeMQError);
    expect(error).toMatchObject({
      code: "closed",
      message: `cannot reach the relay at ${BASE} (fetch failed: connect ECONNREFUSED 127.0.0.1:9539)`,
    });
  });

  // A browser probe: a page pointed at its own static server (examples/browser/serve.mjs on 8080,
  // the relay on 8787) was told only "HTTP 404: not found\n", newline included.
  it("says no relay answers at the address when something else does", async () => {
    const fetch: FetchLike = async () =>
      new Response("not found\n", { status: 404, headers: { "content-type": "text/plain" } });
    await expect(
      connect(BASE, { transport: "http", identity: "alice", fetch }),
    ).rejects.toMatchObject({
      code: "not_found",
      message: `no EdgeMQ relay answers at ${BASE} (HTTP 404: not found): is that the relay's address?`,
    });
  });

  // A probe: connect(url, { transport: "http" }) to a port that accepts connections and never
  // answers (a wedged relay, another service's port) hung for Node fetch's 300 s headers timeout
  // (for good in a browser), where a WebSocket upgrade no one answers ends after 15 s.
  it("rejects with closed when the relay's address does not answer within 15 s, aborting the call", async () => {
    vi.useFakeTimers();
    try {
      const aborted: unknown[] = [];
      const fetch: FetchLike = (_url, init) =>
        new Promise((_resolve, reject) => {
          init.signal?.addEventListener("abort", () => {
            aborted.push(init.signal?.reason);
            reject(init.signal?.reason);
          });
        });
      let outcome: unknown;
      connect(BASE, { transport: "http", identity: "alice", fetch }).then(
        () => {
          outcome = "connected";
        },
        (error: unknown) => {
          outcome = error;
        },
      );
      await vi.advanceTimersByTimeAsync(14_900);
      expect(outcome).toBeUndefined();
      await vi.advanceTimersByTimeAsync(200);
      expect(outcome).toBeInstanceOf(EdgeMQError);
      expect(outcome).toMatchObject({
        code: "closed",
        message: `cannot reach the relay at ${BASE} (no answer to GET /v1/whoami within 15000 ms)`,
      });
      expect(aborted).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("fails at connect when the relay refuses the identity", async () => {
    const fetch: FetchLike = async () => errorBody(401, "unauthorized", "bad token");
    await expect(connect(BASE, { transport: "http", token: "t", fetch })).rejects.toMatchObject({
      code: "unauthorized",
    });
  });
});

describe("serve() over HTTP", () => {
  /** Hands out the given takes once each, then 204s. */
  function takes(...answers: (() => Response)[]): Script {
    const queue = [...answers];
    return (call) => {
      if (call.path.includes("/take")) return (queue.shift() ?? noContent)();
      return noContent();
    };
  }

  it("takes a request, runs the handler with the take's headers and posts its reply", async () => {
    const { fetch, calls } = fakeFetch(takes(() => taken("7", "ping")));
    const alice = await httpPeer(fetch);
    const seen: unknown[] = [];
    alice.serve(
      "jobs",
      (req) => {
        seen.push({ id: req.id, from: req.from, attempt: req.attempt, body: req.body });
        return { pong: true };
      },
      { concurrency: 1 },
    );
    await expect.poll(() => calls.some((c) => c.path === "/v1/queues/jobs/replies/7")).toBe(true);
    expect(seen).toEqual([{ id: "7", from: "bob", attempt: 1, body: "ping" }]);
    const reply = calls.find((c) => c.path === "/v1/queues/jobs/replies/7");
    expect(reply?.body).toBe('{"pong":true}');
    expect(reply?.headers["Content-Type"]).toBe("application/json");
  });

  it("gives the handler the request's headers from EdgeMQ-Headers, and {} without it", async () => {
    const withHeaders = () =>
      taken("21", "a", undefined, undefined, { "EdgeMQ-Headers": '{"Trace-Id":"caf\\u00e9"}' });
    const { fetch } = fakeFetch(takes(withHeaders, () => taken("22", "b")));
    const alice = await httpPeer(fetch);
    const seen: unknown[] = [];
    alice.serve(
      "jobs",
      (req) => {
        seen.push(req.headers);
      },
      { concurrency: 1 },
    );
    await expect.poll(() => seen.length).toBe(2);
    expect(seen).toEqual([{ "Trace-Id": "café" }, {}]);
  });

  it("gives the handler the take's Content-Type, and typed() makes it the reply's", async () => {
    const png = () => taken("11", "PNG", "image/png");
    const csv = () => taken("12", "a,b\n1,2", "text/csv");
    const { fetch, calls } = fakeFetch(takes(png, csv));
    const alice = await httpPeer(fetch);
    const seen: unknown[] = [];
    alice.serve(
      "jobs",
      (req) => {
        seen.push({ id: req.id, contentType: req.contentType, body: req.body });
        return typed(req.body, req.contentType);
      },
      { concurrency: 1 },
    );
    await expect.poll(() => calls.some((c) => c.path === "/v1/queues/jobs/replies/12")).toBe(true);
    expect(seen).toEqual([
      { id: "11", contentType: "image/png", body: new Uint8Array([0x50, 0x4e, 0x47]) },
      { id: "12", contentType: "text/csv", body: "a,b\n1,2" },
    ]);
    const replies = calls.filter((c) => c.path.startsWith("/v1/queues/jobs/replies/"));
    expect(replies.map((c) => c.headers["Content-Type"])).toEqual(["image/png", "text/csv"]);
    expect(replies.map((c) => c.body)).toEqual([new Uint8Array([0x50, 0x4e, 0x47]), "a,b\n1,2"]);
  });

  it("posts a failure when the relay refuses a reply for its content", async () => {
    const script = takes(() => taken("13", "x"));
    const { fetch, calls } = fakeFetch((call) =>
      call.path.includes("/replies/")
        ? errorBody(400, "bad_request", "reply headers are over the limit")
        : script(call),
    );
    const alice = await httpPeer(fetch);
    alice.serve("jobs", () => typed(new TextEncoder().encode("[1]"), "application/json"), {
      concurrency: 1,
    });
    await expect.poll(() => calls.some((c) => c.path === "/v1/queues/jobs/failures/13")).toBe(true);
    expect(calls.find((c) => c.path === "/v1/queues/jobs/failures/13")?.body).toBe(
      "reply refused by the relay: reply headers are over the limit",
    );
  });

  // The cross-transport probe: a reply the relay cannot carry reached its client as server_error
  // "the body is not valid JSON (application/json)" / "reply body is N characters once escaped as
  // JSON, ..." from a WebSocket server, but from an HTTP server (after uploading it) as "reply
  // refused by the relay: ..." / "reply body over the relay's limit", which named no cause.
  it("fails a reply the relay could not carry before posting it, in a WebSocket service's words", async () => {
    const script = takes(
      () => taken("14", "x"),
      () => taken("15", "x"),
      () => taken("16", "x"),
    );
    const { fetch, calls } = fakeFetch(script);
    const alice = await httpPeer(fetch);
    const controls = "\u0001".repeat(DEFAULT_LIMITS.maxBodyBytes - 100);
    const replies: Record<string, ReplyBody> = {
      "14": typed(new Uint8Array([1]), "application/json"),
      "15": controls,
      "16": typed(new TextEncoder().encode(controls), "text/csv"),
    };
    alice.serve("jobs", (req) => replies[req.id], { concurrency: 1 });
    const failure = (id: string) => calls.find((c) => c.path === `/v1/queues/jobs/failures/${id}`);
    await expect.poll(() => failure("16") !== undefined).toBe(true);
    const overFrame = `reply ${bodyFrameRefusal({ enc: "utf8", data: controls }, DEFAULT_LIMITS)}`;
    expect(overFrame).toMatch(/^reply body is \d+ characters once escaped as JSON/);
    expect(failure("14")?.body).toBe("the body is not valid JSON (application/json)");
    expect(failure("15")?.body).toBe(overFrame);
    expect(failure("16")?.body).toBe(overFrame);
    expect(calls.filter((c) => c.path.includes("/replies/"))).toEqual([]);
  });

  it("posts reply()'s headers as EdgeMQ-Headers under its Content-Type, and no EdgeMQ-Headers for a plain body", async () => {
    const withHeaders = () =>
      taken("31", "a", undefined, undefined, { "EdgeMQ-Headers": '{"trace":"t-31"}' });
    const { fetch, calls } = fakeFetch(takes(withHeaders, () => taken("32", "b")));
    const alice = await httpPeer(fetch);
    alice.serve(
      "jobs",
      (req) =>
        req.id === "31"
          ? reply(
              { ok: true },
              {
                headers: { "trace-id": req.headers.trace ?? "", "Content-Language": "é" },
                contentType: "text/plain",
              },
            )
          : "plain",
      { concurrency: 1 },
    );
    await expect.poll(() => calls.some((c) => c.path === "/v1/queues/jobs/replies/32")).toBe(true);
    const replies = calls.filter((c) => c.path.startsWith("/v1/queues/jobs/replies/"));
    expect(
      replies.map((c) => [c.body, c.headers["Content-Type"], c.headers["EdgeMQ-Headers"]]),
    ).toEqual([
      ['{"ok":true}', "text/plain", '{"trace-id":"t-31","Content-Language":"\\u00e9"}'],
      ["plain", "text/plain; charset=utf-8", undefined],
    ]);
  });

  it("fails a reply whose headers the relay would refuse (invalid, or over its lowered limits) in a WebSocket service's words", async () => {
    const script = takes(
      () => taken("41", "x"),
      () => taken("42", "x"),
      () => taken("43", "x"),
    );
    const { fetch: base, calls } = fakeFetch(script);
    const fetch: FetchLike = (url, init) =>
      url.endsWith("/v1/whoami")
        ? Promise.resolve(
            json(200, { identity: "alice", roles: ["server"], limits: { maxHeaders: 2 } }),
          )
        : base(url, init);
    const alice = await httpPeer(fetch);
    const three = { a: "1", b: "2", c: "3" };
    alice.serve(
      "jobs",
      (req) => {
        if (req.id === "41") return reply("x", { headers: { "bad name": "1" } });
        if (req.id === "42") return reply("x", { headers: three });
        return reply("ok", { headers: { a: "1" } });
      },
      { concurrency: 1 },
    );
    await expect.poll(() => calls.some((c) => c.path === "/v1/queues/jobs/replies/43")).toBe(true);
    const failure = (id: string) => calls.find((c) => c.path === `/v1/queues/jobs/failures/${id}`);
    expect(failure("41")?.body).toBe('reply headers refused: bad header name "bad name"');
    expect(failure("42")?.body).toBe("reply headers refused: 3 headers, over the limit of 2");
    expect(calls.filter((c) => c.path.includes("/replies/")).map((c) => c.path)).toEqual([
      "/v1/queues/jobs/replies/43",
    ]);
  });

  it("throws a TypeError for a handler that is not a function, taking nothing", async () => {
    const { fetch, calls } = fakeFetch(takes());
    const alice = await httpPeer(fetch);
    const notAHandler: unknown = "echo";
    expect(() => Reflect.apply(alice.serve, alice, ["jobs", notAHandler])).toThrow(TypeError);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls.filter((c) => c.path.includes("/take"))).toHaveLength(0);
  });

  it("refuses to serve a queue it serves already, until that service's close() resolved", async () => {
    const { fetch, calls } = fakeFetch(takes());
    const alice = await httpPeer(fetch);
    const first = alice.serve("jobs", () => "first", { concurrency: 1 });
    expect(() => alice.serve("jobs", () => "second")).toThrow(
      expect.objectContaining({ code: "bad_request", message: expect.stringMatching(/already/) }),
    );
    await first.close();
    const takesBefore = calls.filter((c) => c.path.includes("/take")).length;
    alice.serve("jobs", () => "second", { concurrency: 1 });
    await expect
      .poll(() => calls.filter((c) => c.path.includes("/take")).length)
      .toBeGreaterThan(takesBefore);
  });

  it("posts a throwing handler's message to the failures route", async () => {
    const { fetch, calls } = fakeFetch(takes(() => taken("8", "x")));
    const alice = await httpPeer(fetch);
    alice.serve(
      "jobs",
      () => {
        throw new Error("no such image");
      },
      { concurrency: 1 },
    );
    await expect.poll(() => calls.some((c) => c.path === "/v1/queues/jobs/failures/8")).toBe(true);
    expect(calls.find((c) => c.path === "/v1/queues/jobs/failures/8")?.body).toBe("no such image");
    expect(calls.some((c) => c.path.includes("/replies/"))).toBe(false);
  });

  it("renews the lease while a slow handler runs, using the take's lease length", async () => {
    const { fetch, calls } = fakeFetch(takes(() => taken("9", "x")));
    const alice = await httpPeer(fetch);
    let finish: (value: string) => void = () => {};
    alice.serve("jobs", () => new Promise<string>((resolve) => (finish = resolve)), {
      concurrency: 1,
    });
    // One lease call names every running handler's id (here the one).
    const renewals = () =>
      calls.filter(
        (c) => c.path === "/v1/queues/jobs/leases" && String(c.body) === '{"ids":["9"]}',
      );
    await expect.poll(() => renewals().length).toBeGreaterThanOrEqual(2);
    finish("late");
    await expect.poll(() => calls.some((c) => c.path === "/v1/queues/jobs/replies/9")).toBe(true);
  });

  it("close() stops taking and resolves only after the handler in hand replied", async () => {
    const { fetch, calls } = fakeFetch(takes(() => taken("10", "x")));
    const alice = await httpPeer(fetch);
    let finish: (value: string) => void = () => {};
    const service = alice.serve(
      "jobs",
      () => new Promise<string>((resolve) => (finish = resolve)),
      { concurrency: 2 },
    );
    await expect.poll(() => service.inHand).toBe(1);
    let closed = false;
    const closing = service.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(closed).toBe(false);
    finish("bye");
    await closing;
    expect(calls.find((c) => c.path === "/v1/queues/jobs/replies/10")?.body).toBe("bye");
    const takesAfter = calls.filter((c) => c.path.includes("/take")).length;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls.filter((c) => c.path.includes("/take")).length).toBe(takesAfter);
  });

  it("close() tells the relay the service left, once, so its takes still waiting there end", async () => {
    const { fetch, calls } = fakeFetch(takes());
    const alice = await httpPeer(fetch);
    const service = alice.serve("jobs", () => "x", { concurrency: 2 });
    await expect.poll(() => calls.filter((c) => c.path.includes("/take?")).length).toBe(2);
    await service.close();
    const left = calls.filter((c) => c.path === "/v1/queues/jobs/takes");
    expect(left.map((c) => c.method)).toEqual(["DELETE"]);
  });

  it("is closed by await using at the end of its scope, as close() closes it", async () => {
    const { fetch, calls } = fakeFetch(takes());
    const alice = await httpPeer(fetch);
    {
      await using service = alice.serve("jobs", () => "x");
      await expect.poll(() => calls.some((c) => c.path.includes("/take?"))).toBe(true);
      expect(service.queue).toBe("jobs");
    }
    const left = calls.filter((c) => c.path === "/v1/queues/jobs/takes");
    expect(left.map((c) => c.method)).toEqual(["DELETE"]);
  });

  it("close() does not wait for a handler that ignores req.signal once its request is over", async () => {
    const { fetch, calls } = fakeFetch(
      takes(
        () => taken("14", "x", undefined, 150),
        () => taken("15", "y"),
      ),
    );
    const alice = await httpPeer(fetch);
    let finish: (value: string) => void = () => {};
    const service = alice.serve(
      "jobs",
      (req) =>
        req.id === "14" ? new Promise<string>(() => {}) : new Promise<string>((r) => (finish = r)),
      { concurrency: 2 },
    );
    await expect.poll(() => service.inHand).toBe(2);
    let closed = false;
    const closing = service.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200)); // request 14's deadline passed
    expect(closed).toBe(false); // request 15 is still held
    finish("bye");
    await closing;
    expect(calls.find((c) => c.path === "/v1/queues/jobs/replies/15")?.body).toBe("bye");
    expect(calls.some((c) => /\/(replies|failures)\/14/.test(c.path))).toBe(false);
  });
});

describe("setToken over HTTP", () => {
  const token = (sub: string, n: number) => fakeToken(sub, n);

  it("sends the renewed token on the next call, and refuses one once the peer is closed", async () => {
    const { fetch, calls } = fakeFetch(() => json(200, "ok"));
    const signed = await connect(BASE, { transport: "http", token: token("alice", 1), fetch });
    signed.setToken(token("alice", 2));
    await signed.request("q", "x", { timeout: 5_000 });
    const post = calls.find((c) => c.method === "POST");
    expect(post?.headers.Authorization).toBe(`Bearer ${token("alice", 2)}`);
    await signed.close();
    expect(() => signed.setToken(token("alice", 3))).toThrow(/this peer is closed/);
  });
});
