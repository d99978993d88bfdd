/**
 * Small builders for the SDK's HTTP-transport unit tests: a JSON answer, the headers of a take
 * that hands over request `id` (as the relay's take route answers them), and fake timers with the
 * test's peer closed after each test. Used by test/unit/client/http-*.test.ts.
 */
import { afterEach, beforeEach, vi } from "vitest";
import type { Peer } from "../../../client/index.js";

/**
 * Fake timers for each test of the file; the peer a test puts in `held.peer` is closed after it
 * (its close given 30 s of fake time), then the timers are real again.
 */
export function peerUnderFakeTimers(): { peer: Peer | undefined } {
  const held: { peer: Peer | undefined } = { peer: undefined };
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(async () => {
    const closing = held.peer?.close();
    await vi.advanceTimersByTimeAsync(30_000);
    await closing;
    held.peer = undefined;
    vi.useRealTimers();
  });
  return held;
}

/** A JSON answer with `status` (and extra headers). */
export function json(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** The headers of a take's 200 for request `id`, from bob, due in a minute. */
export function takeHeaders(
  id: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    "content-type": "text/plain; charset=utf-8",
    "EdgeMQ-Request-Id": id,
    "EdgeMQ-From": "bob",
    "EdgeMQ-Deadline": String(Date.now() + 60_000),
    "EdgeMQ-Attempt": "1",
    ...extra,
  };
}
