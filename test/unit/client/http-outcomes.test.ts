/**
 * The HTTP transport's one poll for all of a peer's outcomes (client/http-outcomes.ts) against a
 * fake relay that speaks `GET /v1/outcomes` as docs/http-api.md says: each POST names the peer's
 * poller, a poll answers that poller's outcomes after its cursor (waiting for one), and requests
 * settle from those answers. Many pending requests hold one poll between them, which is what a
 * browser on HTTP/1.1 (6 connections per host) needs.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { connect, type FetchLike, type Peer, type Status } from "../../../client/index.js";
import { encodeBody, encodeFrame, type Frame } from "../../../protocol/index.js";
import { json } from "./http-fakes.js";

type Outcome = Extract<Frame, { type: "reply" | "error" }>;
/** An outcome frame before it names its request. */
type Fields = Outcome extends infer T ? (T extends unknown ? Omit<T, "id"> : never) : never;

interface Poll {
  poller: string;
  after: number;
  wait: number;
}

/** A relay keeping outcomes per poller in arrival order, numbered from 1. */
class FakeRelay {
  readonly posts: { id: string; poller: string | undefined }[] = [];
  readonly polls: Poll[] = [];
  readonly others: string[] = [];
  pollsUnderWay = 0;
  mostPollsAtOnce = 0;
  /** Answers a poll instead of the relay (a refusal, a proxy's page), when set. */
  pollAnswer: (() => Response) | undefined;
  /** Whether whoami lists the outcomes route (an older relay does not). */
  announces = true;
  /** Cuts polls asking to wait longer than this, as a proxy's idle timeout (on a fake clock). */
  cutAfterMs: number | undefined;
  /** The next poll fails on the network once this resolves, when set. */
  failNextPoll: Promise<void> | undefined;
  /** Answers a POST instead of 202, when set (returning undefined: the usual 202). */
  postAnswer: ((id: string) => Response | undefined | Promise<Response | undefined>) | undefined;
  readonly #outcomes: { seq: number; poller: string; frame: string }[] = [];
  readonly #wakers = new Set<() => void>();
  #seq = 0;

  readonly fetch: FetchLike = async (url, init) => {
    const { pathname, searchParams } = new URL(url);
    if (pathname === "/v1/whoami") {
      const features = this.announces ? ["outcomes"] : [];
      return json(200, { identity: "alice", roles: ["client"], limits: {}, features });
    }
    if (init.method === "POST" && pathname.endsWith("/requests")) {
      const id = init.headers["EdgeMQ-Request-Id"] ?? "";
      this.posts.push({ id, poller: init.headers["EdgeMQ-Poller"] });
      const instead = await this.postAnswer?.(id);
      return instead ?? json(202, { id, deadline: Date.now() + 30_000 });
    }
    if (pathname === "/v1/outcomes") {
      const failing = this.failNextPoll;
      this.failNextPoll = undefined;
      if (failing !== undefined) {
        await failing;
        throw new TypeError("fetch failed");
      }
      if (this.cutAfterMs !== undefined) return this.#behindProxy(searchParams, this.cutAfterMs);
      return this.#poll(searchParams, init.signal);
    }
    this.others.push(`${init.method} ${pathname}`);
    return new Response(null, { status: 204 });
  };

  /** Request `id` ends in `frame` (its poller named by its POST). */
  finish(id: string, frame: Fields): void {
    const poller = this.posts.find((p) => p.id === id)?.poller ?? "";
    this.#seq += 1;
    this.#outcomes.push({ seq: this.#seq, poller, frame: encodeFrame({ ...frame, id } as Frame) });
    for (const wake of [...this.#wakers]) wake();
  }

  /**
   * A poll behind a proxy with an idle timeout of `cutMs`, on the fake clock: a longer poll is
   * cut at it, a shorter one ends empty when its wait runs out.
   */
  async #behindProxy(query: URLSearchParams, cutMs: number): Promise<Response> {
    await new Promise((r) => setTimeout(r, 1)); // a call takes a turn of the event loop
    const wait = Number(query.get("wait"));
    if (wait > cutMs) {
      vi.setSystemTime(Date.now() + cutMs);
      throw new TypeError("socket hang up");
    }
    this.polls.push({ poller: query.get("poller") ?? "", after: 0, wait });
    vi.setSystemTime(Date.now() + wait);
    return json(200, { outcomes: [], after: Number(query.get("after")) });
  }

  async #poll(query: URLSearchParams, signal: AbortSignal | undefined): Promise<Response> {
    const poll = {
      poller: query.get("poller") ?? "",
      after: Number(query.get("after")),
      wait: Number(query.get("wait")),
    };
    this.polls.push(poll);
    if (this.pollAnswer !== undefined) return this.pollAnswer();
    this.pollsUnderWay += 1;
    this.mostPollsAtOnce = Math.max(this.mostPollsAtOnce, this.pollsUnderWay);
    try {
      await this.#until(() => this.#after(poll).length > 0, poll.wait, signal);
    } finally {
      this.pollsUnderWay -= 1;
    }
    const found = this.#after(poll);
    const after = found.at(-1)?.seq ?? poll.after;
    const body = `{"outcomes":[${found.map((o) => o.frame).join(",")}],"after":${after}}`;
    return new Response(body, { headers: { "content-type": "application/json" } });
  }

  #after(poll: Poll) {
    return this.#outcomes.filter((o) => o.poller === poll.poller && o.seq > poll.after);
  }

  /** Resolves once `ready()` holds or after `ms`; rejects when `signal` aborts, as fetch does. */
  #until(ready: () => boolean, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      if (ready()) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(check);
        signal?.removeEventListener("abort", aborted);
      };
      const check = () => {
        if (!ready()) return;
        done();
        resolve();
      };
      const aborted = () => {
        done();
        reject(signal?.reason ?? new Error("aborted"));
      };
      const timer = setTimeout(() => {
        done();
        resolve();
      }, ms);
      this.#wakers.add(check);
      signal?.addEventListener("abort", aborted, { once: true });
    });
  }
}

let peer: Peer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

async function httpPeer(relay: FakeRelay): Promise<Peer> {
  peer = await connect("http://relay.test", {
    transport: "http",
    identity: "alice",
    fetch: relay.fetch,
    reconnect: { minDelayMs: 1, maxDelayMs: 5 },
  });
  return peer;
}

function reply(data: unknown): Fields {
  return { type: "reply", body: encodeBody(data as Parameters<typeof encodeBody>[0]) };
}

/** Resolves once `check()` holds (polled every millisecond). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 1));
}

describe("request() over HTTP: one poll for all outcomes", () => {
  it("settles many pending requests from one poll at a time, each with its own reply", async () => {
    const relay = new FakeRelay();
    const alice = await httpPeer(relay);
    const results = Array.from({ length: 20 }, (_, n) => alice.request("jobs", { n }));
    await until(() => relay.posts.length === 20 && relay.pollsUnderWay === 1);
    // Finished out of order, in three bunches: each request gets its own.
    for (const post of [...relay.posts].reverse()) {
      relay.finish(post.id, reply({ echo: relay.posts.indexOf(post) }));
    }
    await expect(Promise.all(results)).resolves.toEqual(
      Array.from({ length: 20 }, (_, n) => ({ echo: n })),
    );
    expect(relay.mostPollsAtOnce).toBe(1);
    expect(relay.others).toEqual([]); // no GET /v1/requests/{id}
    const poller = relay.polls[0]?.poller;
    expect(poller).toMatch(/^[A-Za-z0-9._:@+=-]{1,128}$/);
    for (const post of relay.posts) expect(post.poller).toBe(poller);
    for (const poll of relay.polls) expect(poll.poller).toBe(poller);
  });

  it("resolves requestReply() with a polled reply's headers and media type (its encoding's when it names none)", async () => {
    const relay = new FakeRelay();
    const alice = await httpPeer(relay);
    const typedReply = alice.requestReply("jobs", "a");
    const plainReply = alice.requestReply("jobs", "b");
    const bodyOnly = alice.request("jobs", "c");
    await until(() => relay.posts.length === 3 && relay.pollsUnderWay === 1);
    const [a, b, c] = relay.posts.map((post) => post.id);
    const headers = { "trace-id": "4bf92f", "Content-Language": "en" };
    const csv = { ...encodeBody("a,b\n"), type: "text/csv" };
    relay.finish(a ?? "", { type: "reply", body: csv, headers });
    relay.finish(b ?? "", reply({ ok: true }));
    relay.finish(c ?? "", { type: "reply", body: encodeBody("C"), headers });
    await expect(typedReply).resolves.toEqual({ body: "a,b\n", contentType: "text/csv", headers });
    await expect(plainReply).resolves.toEqual({
      body: { ok: true },
      contentType: "application/json",
      headers: {},
    });
    await expect(bodyOnly).resolves.toBe("C");
  });

  it("asks each poll after the last outcome it got", async () => {
    const relay = new FakeRelay();
    const alice = await httpPeer(relay);
    const first = alice.request("jobs", "a");
    await until(() => relay.pollsUnderWay === 1);
    relay.finish(relay.posts[0]?.id ?? "", reply("A"));
    await expect(first).resolves.toBe("A");
    const second = alice.request("jobs", "b");
    await until(() => relay.posts.length === 2 && relay.pollsUnderWay === 1);
    relay.finish(relay.posts[1]?.id ?? "", reply("B"));
    await expect(second).resolves.toBe("B");
    expect(relay.polls.map((p) => p.after)).toEqual([0, 1]);
    expect(relay.polls[0]?.wait).toBeGreaterThan(0);
  });

  it("settles a request whose outcome a poll brings before its POST's 202 does", async () => {
    const relay = new FakeRelay();
    const alice = await httpPeer(relay);
    const slow = alice.request("jobs", "first");
    await until(() => relay.pollsUnderWay === 1);
    let release: () => void = () => {};
    relay.postAnswer = (id) => {
      // The outcome ends the poll under way while this POST's answer is still held back.
      relay.finish(id, reply("fast"));
      return new Promise<undefined>((resolve) => {
        release = () => resolve(undefined);
      });
    };
    const fast = alice.request("jobs", "second");
    await until(() => relay.polls.length === 2);
    release();
    await expect(fast).resolves.toBe("fast");
    relay.finish(relay.posts[0]?.id ?? "", reply("slow"));
    await expect(slow).resolves.toBe("slow");
  });

  it("resolves with a reply made in time when every answer to its POST was lost until past the deadline", async () => {
    // The relay stored the request (its server replied in time) but the connection was cut
    // before each 202 came back, until after the deadline: the POST gives up, and the outcome
    // still comes from the poll before the backstop, as the WebSocket SDK's comes from the outbox.
    const relay = new FakeRelay();
    relay.postAnswer = () => {
      throw new TypeError("fetch failed");
    };
    const alice = await httpPeer(relay);
    const deadline = Date.now() + 200;
    const result = alice.request("jobs", "a", { timeout: 200 });
    await until(() => relay.posts.length > 0 && Date.now() > deadline + 50);
    relay.finish(relay.posts[0]?.id ?? "", reply("made in time"));
    await expect(result).resolves.toBe("made in time");
  });

  it("rejects with an error outcome's code, and decodes text, JSON and bytes", async () => {
    const relay = new FakeRelay();
    const alice = await httpPeer(relay);
    const failed = alice.request("jobs", 1);
    const text = alice.request("jobs", 2);
    const bytes = alice.request("jobs", 3);
    await until(() => relay.posts.length === 3);
    const [a, b, c] = relay.posts.map((p) => p.id);
    relay.finish(a ?? "", { type: "error", code: "no_responders", message: "none" });
    relay.finish(b ?? "", reply("héllo"));
    relay.finish(c ?? "", reply(new Uint8Array([0, 255])));
    await expect(failed).rejects.toMatchObject({ code: "no_responders", message: "none" });
    await expect(text).resolves.toBe("héllo");
    await expect(bytes).resolves.toEqual(new Uint8Array([0, 255]));
  });

  it("rejects only the request whose POST is refused too_many_in_flight (outcomes unread at the relay), posting it once; the others and the poll carry on", async () => {
    const relay = new FakeRelay();
    const capped = "2 outcomes (64 bytes) of this client's HTTP requests are unread";
    relay.postAnswer = (id) =>
      relay.posts.length === 2
        ? json(
            429,
            { error: { code: "too_many_in_flight", message: capped } },
            {
              "EdgeMQ-Request-Id": id,
            },
          )
        : undefined;
    const alice = await httpPeer(relay);
    const statuses: Status[] = [];
    void (async () => {
      for await (const status of alice.status()) statuses.push(status);
    })();
    const waiting = alice.request("jobs", 1);
    await until(() => relay.pollsUnderWay === 1);
    // As over WebSocket: the request's own outcome, a typed error, not a retry or a broken peer.
    await expect(alice.request("jobs", 2)).rejects.toMatchObject({
      code: "too_many_in_flight",
      message: capped,
    });
    expect(relay.posts).toHaveLength(2);
    relay.finish(relay.posts[0]?.id ?? "", reply("one"));
    await expect(waiting).resolves.toBe("one");
    const later = alice.request("jobs", 3);
    await until(() => relay.posts.length === 3 && relay.pollsUnderWay === 1);
    relay.finish(relay.posts[2]?.id ?? "", reply("three"));
    await expect(later).resolves.toBe("three");
    expect(statuses.filter((status) => status.type === "error")).toEqual([]);
  });

  it("keeps polling while one request waits after another was aborted; stops with the last", async () => {
    const relay = new FakeRelay();
    const alice = await httpPeer(relay);
    const first = new AbortController();
    const second = new AbortController();
    const one = alice.request("jobs", 1, { signal: first.signal });
    const two = alice.request("jobs", 2, { signal: second.signal });
    await until(() => relay.posts.length === 2 && relay.pollsUnderWay === 1);
    first.abort();
    await expect(one).rejects.toMatchObject({ code: "cancelled" });
    await new Promise((r) => setTimeout(r, 20));
    expect(relay.pollsUnderWay).toBe(1);
    second.abort();
    await expect(two).rejects.toMatchObject({ code: "cancelled" });
    await until(() => relay.pollsUnderWay === 0);
    expect(relay.polls).toHaveLength(1);
  });

  it("posts every waiting request again (same ids) once a poll got through after failing", async () => {
    const relay = new FakeRelay();
    // The first poll fails on the network once both requests are posted (the relay went away).
    relay.failNextPoll = until(() => relay.posts.length === 2);
    const alice = await httpPeer(relay);
    const results = [alice.request("jobs", 1), alice.request("jobs", 2)];
    await until(() => relay.posts.length === 4);
    const ids = relay.posts.map((p) => p.id);
    expect(ids.slice(2).sort()).toEqual(ids.slice(0, 2).sort());
    relay.finish(ids[0] ?? "", reply("one"));
    relay.finish(ids[1] ?? "", reply("two"));
    await expect(Promise.all(results)).resolves.toEqual(["one", "two"]);
    // The retry (the failed poll never reached the relay) asks without waiting.
    expect(relay.polls[0]?.wait).toBe(0);
  });

  it("polls for less than a proxy's idle timeout once two polls in a row were cut at it", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const relay = new FakeRelay();
      relay.cutAfterMs = 3_000;
      const alice = await httpPeer(relay);
      const results = [alice.request("jobs", 1), alice.request("jobs", 2)];
      await until(() => relay.polls.some((p) => p.wait > 0));
      // Each cut posted both requests again (the relay might have lost them); then no more cuts.
      expect(relay.posts).toHaveLength(2 + 2 * 2);
      const waits = relay.polls.map((p) => p.wait).filter((w) => w > 0);
      expect(waits[0]).toBeLessThan(3_000);
      expect(waits[0]).toBeGreaterThanOrEqual(2_000);
      for (const post of relay.posts.slice(0, 2)) relay.finish(post.id, reply(post.id));
      relay.cutAfterMs = undefined;
      await expect(Promise.all(results)).resolves.toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("falls back to each request's own long-poll on a relay without the route, from then on", async () => {
    const relay = new FakeRelay();
    relay.pollAnswer = () =>
      json(404, { error: { code: "not_found", message: "no route for GET /v1/outcomes" } });
    const fetch = relay.fetch;
    relay.others.length = 0;
    let gets = 0;
    const older: FetchLike = async (url, init) => {
      if (url.includes("/v1/requests/")) {
        gets += 1;
        return json(200, { answer: gets });
      }
      return fetch(url, init);
    };
    peer = await connect("http://relay.test", {
      transport: "http",
      identity: "alice",
      fetch: older,
    });
    await expect(peer.request("jobs", 1)).resolves.toEqual({ answer: 1 });
    await expect(peer.request("jobs", 2)).resolves.toEqual({ answer: 2 });
    expect(relay.polls).toHaveLength(1);
    expect(relay.posts[1]?.poller).toBeUndefined();
  });

  it("never polls a relay whose whoami does not list the route, nor sends it a poller", async () => {
    const relay = new FakeRelay();
    relay.announces = false; // its CORS may refuse EdgeMQ-Poller in a page of another origin
    const fetch = relay.fetch;
    const older: FetchLike = async (url, init) =>
      url.includes("/v1/requests/") ? json(200, "by id") : fetch(url, init);
    peer = await connect("http://relay.test", {
      transport: "http",
      identity: "alice",
      fetch: older,
    });
    await expect(peer.request("jobs", 1)).resolves.toBe("by id");
    expect(relay.polls).toEqual([]);
    expect(relay.posts.map((p) => p.poller)).toEqual([undefined]);
  });

  it("rejects the waiting requests with the relay's refusal of the poll, shown as a status", async () => {
    const relay = new FakeRelay();
    relay.pollAnswer = () =>
      json(401, { error: { code: "unauthorized", message: "token expired" } });
    const alice = await httpPeer(relay);
    const statuses: Status[] = [];
    void (async () => {
      for await (const status of alice.status()) statuses.push(status);
    })();
    await expect(alice.request("jobs", 1)).rejects.toMatchObject({ code: "unauthorized" });
    // As a WebSocket peer's expired token shows (4401), not only in the rejected requests.
    expect(statuses).toContainEqual({
      type: "error",
      error: expect.objectContaining({ code: "unauthorized" }),
    });
  });

  it("rejects with internal on an answer that is not the relay's (a proxy's page)", async () => {
    const relay = new FakeRelay();
    relay.pollAnswer = () =>
      new Response("<html>sign in</html>", { headers: { "content-type": "text/html" } });
    const alice = await httpPeer(relay);
    await expect(alice.request("jobs", 1)).rejects.toMatchObject({ code: "internal" });
  });
});
