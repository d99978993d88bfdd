/**
 * The HTTP transport's retries run up to their give-up time: a backoff delay that would pass it
 * (a large full-jitter draw) is cut so one last try starts just before it, so a relay back in
 * reach before a request's deadline still gets the request, its poll or a server's reply through.
 * HttpLink.retrying under a fake clock, then request() and serve() against a fake fetch.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { type HttpAnswer, HttpLink } from "../../../client/http-link.js";
import { HttpStatus } from "../../../client/http-status.js";
import { connect, type FetchLike, type Peer } from "../../../client/index.js";
import { createAbortController } from "../../../client/platform.js";
import { EdgeMQError } from "../../../protocol/index.js";

/** Every backoff delay is a large draw: half of a 10 s ceiling. */
const SLOW_BACKOFF = { minDelayMs: 10_000, maxDelayMs: 10_000 };

const unusedFetch: FetchLike = async () => {
  throw new TypeError("not called");
};

const ok: HttpAnswer = { status: 200, header: () => undefined, bytes: new Uint8Array() };

let peer: Peer | undefined;
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await peer?.close();
  peer = undefined;
});

/** Runs `retrying` to `giveUpAt` (ms from now), `send` failing on the network until `backAt`. */
async function retryUntil(giveUpIn: number, backIn: number) {
  vi.useFakeTimers();
  vi.spyOn(Math, "random").mockReturnValue(0.5);
  const start = Date.now();
  const tries: number[] = [];
  const link = new HttpLink("http://relay.test", {}, unusedFetch, SLOW_BACKOFF);
  const send = async (): Promise<HttpAnswer> => {
    tries.push(Date.now() - start);
    if (Date.now() - start < backIn) throw new TypeError("fetch failed");
    return ok;
  };
  const options = { signal: createAbortController().signal, giveUpAt: start + giveUpIn };
  const result = link.retrying(new HttpStatus(() => {}), options, send);
  await vi.advanceTimersByTimeAsync(giveUpIn + 10_000);
  return { result: await result, tries };
}

describe("HttpLink.retrying up to the give-up time", () => {
  it("cuts a backoff delay that would pass the give-up time and tries once more before it", async () => {
    const { result, tries } = await retryUntil(1_000, 500);
    expect(result).toBe(ok);
    expect(tries).toHaveLength(2);
    expect(tries[1]).toBeGreaterThanOrEqual(500);
    expect(tries[1]).toBeLessThan(1_000);
  });

  it("ends with timeout once that last try failed too, without a burst of tries", async () => {
    const { result, tries } = await retryUntil(1_000, Number.POSITIVE_INFINITY);
    expect(result).toBeInstanceOf(EdgeMQError);
    expect(result).toMatchObject({ code: "timeout" });
    expect(tries).toHaveLength(2);
    expect(tries.every((at) => at < 1_000)).toBe(true);
  });
});

/** A peer over HTTP with slow backoff whose fetch answers from `script`, recording the paths. */
async function slowPeer(script: (path: string, method: string) => Response): Promise<string[]> {
  vi.spyOn(Math, "random").mockReturnValue(0.5);
  const paths: string[] = [];
  const fetch: FetchLike = async (url, init) => {
    const path = url.slice("http://relay.test".length);
    if (path === "/v1/whoami") {
      return Response.json({ identity: "alice", roles: ["client", "server"], limits: {} });
    }
    paths.push(`${init.method} ${path}`);
    return script(path, init.method);
  };
  peer = await connect("http://relay.test", {
    transport: "http",
    identity: "alice",
    fetch,
    reconnect: SLOW_BACKOFF,
  });
  return paths;
}

describe("the HTTP transport after network errors, before the deadline", () => {
  it("request() posts again before its deadline and resolves with the reply", async () => {
    let posts = 0;
    await slowPeer((_path, method) => {
      if (method !== "POST") return Response.json("done");
      posts += 1;
      if (posts === 1) throw new TypeError("fetch failed");
      return Response.json({ id: "x", deadline: Date.now() + 400 }, { status: 202 });
    });
    await expect(peer?.request("jobs", 1, { timeout: 400 })).resolves.toBe("done");
    expect(posts).toBe(2);
  });

  it("serve() posts its reply again before the request's deadline instead of dropping it", async () => {
    let took = false;
    let replies = 0;
    const paths = await slowPeer((path) => {
      if (path.includes("/take")) {
        if (took) return new Response(null, { status: 204 });
        took = true;
        return new Response("x", {
          status: 200,
          headers: {
            "content-type": "text/plain; charset=utf-8",
            "EdgeMQ-Request-Id": "7",
            "EdgeMQ-From": "bob",
            "EdgeMQ-Deadline": String(Date.now() + 400),
            "EdgeMQ-Attempt": "1",
            "EdgeMQ-Lease-Ms": "10000",
          },
        });
      }
      if (path.includes("/replies/")) {
        replies += 1;
        if (replies === 1) throw new TypeError("fetch failed");
      }
      return new Response(null, { status: 204 });
    });
    peer?.serve("jobs", () => "reply", { concurrency: 1 });
    await expect.poll(() => replies).toBe(2);
    expect(paths.filter((p) => p.startsWith("POST /v1/queues/jobs/replies/7"))).toHaveLength(2);
  });
});
