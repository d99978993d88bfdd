/**
 * An HTTP peer's calls share one link to the relay: a retry waiting out its backoff after the relay
 * was out of reach goes as soon as another call of the link gets an answer from the relay (it is
 * back: a restart), as a WebSocket peer's frames all go once its socket reconnects, instead of
 * each call sleeping its own draw of up to 10 s. An answer that is no sign of a relay at work (a
 * 5xx, a 429) wakes nothing, and a retry woken once that fails again waits out its backoff.
 * HttpLink under a fake clock and a fake fetch.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { type FetchLike, type HttpAnswer, HttpLink } from "../../../client/http-link.js";
import { HttpStatus } from "../../../client/http-status.js";
import { createAbortController } from "../../../client/platform.js";

/** Every backoff delay is half of a 10 s ceiling: 5 s (Math.random is 0.5). */
const SLOW_BACKOFF = { minDelayMs: 10_000, maxDelayMs: 10_000 };

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/**
 * A link whose fetch answers `answer(path)` (a status), or fails on the network where it gives
 * undefined; records when each path was tried (ms from the start).
 */
function fakeRelay(answer: (path: string) => number | undefined) {
  vi.useFakeTimers();
  vi.spyOn(Math, "random").mockReturnValue(0.5);
  const start = Date.now();
  const tries: Record<string, number[]> = {};
  const fetch: FetchLike = async (url) => {
    const path = url.slice("http://relay.test".length);
    const at = Date.now() - start;
    tries[path] = [...(tries[path] ?? []), at];
    const status = answer(path);
    if (status === undefined) throw new TypeError("fetch failed");
    return new Response(status === 204 ? null : "{}", { status });
  };
  const link = new HttpLink("http://relay.test", {}, fetch, SLOW_BACKOFF);
  const status = new HttpStatus(() => {});
  const retrying = (path: string): Promise<HttpAnswer | unknown> => {
    const options = { signal: createAbortController().signal, giveUpAt: start + 60_000 };
    return link.retrying(status, options, () => link.call("GET", path));
  };
  return { link, tries, retrying };
}

describe("HttpLink retries after the relay was out of reach", () => {
  it("go as soon as another call of the link gets an answer from the relay", async () => {
    let up = false;
    const { link, tries, retrying } = fakeRelay(() => (up ? 200 : undefined));
    const reply = retrying("/reply");
    await vi.advanceTimersByTimeAsync(1_000);
    up = true;
    // The relay is back: a take (or any call) gets its answer.
    expect((await link.call("GET", "/take")).status).toBe(200);
    await vi.advanceTimersByTimeAsync(10);
    // Its backoff would have kept it waiting until 5 s.
    expect(tries["/reply"]).toEqual([0, 1_000]);
    await expect(reply).resolves.toMatchObject({ status: 200 });
  });

  it("are not woken by a 5xx or a 429, nor woken again when they fail again", async () => {
    const { link, tries, retrying } = fakeRelay((path) => {
      if (path === "/proxy") return 503;
      if (path === "/busy") return 429;
      return path === "/take" ? 200 : undefined;
    });
    void retrying("/reply");
    await vi.advanceTimersByTimeAsync(500);
    await link.call("GET", "/proxy");
    await link.call("GET", "/busy");
    await vi.advanceTimersByTimeAsync(500);
    expect(tries["/reply"]).toEqual([0]);
    await link.call("GET", "/take");
    await vi.advanceTimersByTimeAsync(1_000);
    await link.call("GET", "/take");
    await vi.advanceTimersByTimeAsync(1_000);
    await link.call("GET", "/take");
    // Woken once at 1 s; failing again, it waits its 5 s backoff (no burst of tries).
    await vi.advanceTimersByTimeAsync(3_100);
    expect(tries["/reply"]).toEqual([0, 1_000, 6_000]);
  });
});
