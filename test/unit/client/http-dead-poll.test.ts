/**
 * HTTP long-polls on a connection that died silently (a NAT or proxy dropped it: no answer, no
 * error, ever): a take, or the outcome poll, not answered within its wait plus 15 s is given up
 * and tried again, as a WebSocket's heartbeat gives up a dead socket. A probe through a proxy that
 * stopped forwarding: the HTTP server's take hung for minutes (Node fetch's 300 s headers timeout)
 * and every request failed `no_responders`. Fake fetch whose dead calls end only when aborted.
 * The bound listens to the service's abort signal, which all its take loops share: one listener
 * for them all (abort-listeners.ts), as for the waits between their takes.
 */
import { describe, expect, it, vi } from "vitest";
import {
  connect,
  type FetchLike,
  type HttpRequestInit,
  type Status,
} from "../../../client/index.js";
import { encodeBody, encodeFrame } from "../../../protocol/index.js";
import { json, peerUnderFakeTimers, takeHeaders } from "./http-fakes.js";

const BASE = "http://relay.test";
const PLACEMENT = { "EdgeMQ-Partition": "0", "EdgeMQ-Partitions": "1" };

/** A call on a dead connection: never answered, rejected with the signal's reason when aborted. */
function dead(init: HttpRequestInit): Promise<Response> {
  return new Promise((_resolve, reject) => {
    const signal = init.signal;
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/** Collects a peer's statuses. */
function collect(statuses: AsyncIterable<Status>): Status[] {
  const seen: Status[] = [];
  void (async () => {
    for await (const status of statuses) seen.push(status);
  })();
  return seen;
}

const held = peerUnderFakeTimers();

describe("an HTTP long-poll on a dead connection", () => {
  it("is a take given up after its wait plus 15 s: the next take brings the request", async () => {
    const replied: string[] = [];
    let longPolls = 0;
    /** A take: 204 at once to learn the partitions; the first long-poll's connection dies. */
    const take = async (path: string, init: HttpRequestInit): Promise<Response> => {
      const wait = Number(new URLSearchParams(path.split("?")[1]).get("wait"));
      if (wait === 0) return new Response(null, { status: 204, headers: PLACEMENT });
      longPolls += 1;
      if (longPolls === 1) return dead(init);
      if (longPolls === 2) {
        return new Response("job", { status: 200, headers: takeHeaders("r1", PLACEMENT) });
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      return new Response(null, { status: 204, headers: PLACEMENT });
    };
    const fetch: FetchLike = async (url, init) => {
      const path = url.slice(BASE.length);
      if (path === "/v1/whoami") {
        return json(200, { identity: "alice", roles: ["server"], limits: { leaseMs: 30_000 } });
      }
      if (path.startsWith("/v1/queues/jobs/replies/")) replied.push(path);
      if (path.includes("/take?")) return take(path, init);
      return new Response(null, { status: 204 });
    };
    held.peer = await connect(BASE, { transport: "http", identity: "alice", fetch });
    const statuses = collect(held.peer.status());
    held.peer.serve("jobs", () => "done", { concurrency: 1 });
    await vi.advanceTimersByTimeAsync(1_000 + 25_000 + 14_000);
    expect(longPolls).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000 + 1_000);
    expect(longPolls).toBeGreaterThanOrEqual(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(replied.map((path) => path.split("?")[0])).toEqual(["/v1/queues/jobs/replies/r1"]);
    expect(statuses).toContainEqual(
      expect.objectContaining({
        type: "disconnected",
        queue: "jobs",
        reason: expect.stringMatching(/no answer to a long-poll within 40000 ms/),
      }),
    );
  });

  it("is bounded for a service's 16 take loops at once without a MaxListenersExceededWarning", async () => {
    // Real timers: the loops' calls and waits overlap as they do against a relay.
    vi.useRealTimers();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      let takes = 0;
      const fetch: FetchLike = async (url) => {
        const path = url.slice(BASE.length);
        if (path === "/v1/whoami") {
          return json(200, { identity: "alice", roles: ["server"], limits: { leaseMs: 30_000 } });
        }
        if (path.includes("/take?")) takes += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
        return new Response(null, { status: 204, headers: PLACEMENT });
      };
      const peer = await connect(BASE, { transport: "http", identity: "alice", fetch });
      peer.serve("jobs", () => "done", { concurrency: 16 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(takes).toBeGreaterThanOrEqual(16);
      await peer.close();
      expect(warnings).not.toContain("MaxListenersExceededWarning");
    } finally {
      process.off("warning", onWarning);
      vi.useFakeTimers();
    }
  });

  it("is the outcome poll given up after its wait plus 15 s: the next poll brings the reply", async () => {
    let polls = 0;
    let posted = "";
    const fetch: FetchLike = async (url, init) => {
      const { pathname, searchParams } = new URL(url);
      if (pathname === "/v1/whoami") {
        return json(200, {
          identity: "alice",
          roles: ["client"],
          limits: {},
          features: ["outcomes"],
        });
      }
      if (init.method === "POST") {
        posted = init.headers["EdgeMQ-Request-Id"] ?? "";
        return json(202, { id: posted, deadline: Date.now() + 60_000 });
      }
      if (pathname !== "/v1/outcomes") return new Response(null, { status: 204 });
      polls += 1;
      if (polls === 1) return dead(init);
      const reply = encodeFrame({ type: "reply", id: posted, body: encodeBody("pong") });
      return json(200, {
        outcomes: [JSON.parse(reply)],
        after: Number(searchParams.get("after")) + 1,
      });
    };
    held.peer = await connect(BASE, { transport: "http", identity: "alice", fetch });
    let settled: unknown;
    held.peer.request("jobs", "ping", { timeout: 60_000 }).then(
      (reply) => {
        settled = reply;
      },
      (error: unknown) => {
        settled = error;
      },
    );
    await vi.advanceTimersByTimeAsync(25_000 + 14_000);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(3_000);
    expect(settled).toBe("pong");
  });
});
