/** Admission of a new request: timeout, body and header sizes, failFast, depth and per-client bounds. */
import { describe, expect, it } from "vitest";
import {
  type AdmissionContext,
  admit,
  MEMORY_QUEUE_CHARS,
} from "../../../durable-objects/queue/enqueue-rules.js";
import { DEFAULT_LIMITS, type RequestFrame } from "../../../protocol/index.js";

const base: AdmissionContext = {
  now: 1_000,
  limits: { ...DEFAULT_LIMITS },
  depth: 0,
  clientInFlight: 0,
  serverConnected: true,
};

const req = (extra: Partial<RequestFrame> = {}): RequestFrame => ({
  type: "request",
  id: "r",
  queue: "q",
  body: { enc: "utf8", data: "hi" },
  ...extra,
});

function codeOf(request: RequestFrame, ctx: Partial<AdmissionContext> = {}): string {
  const result = admit(request, { ...base, ...ctx });
  return result.ok ? `ok:${result.value}` : result.error.code;
}

describe("admit", () => {
  it("gives the default timeout when the request names none", () => {
    expect(codeOf(req())).toBe(`ok:${1_000 + DEFAULT_LIMITS.defaultTimeoutMs}`);
  });

  it("accepts the maximum timeout and refuses one over it with bad_request", () => {
    expect(codeOf(req({ timeout: DEFAULT_LIMITS.maxTimeoutMs }))).toMatch(/^ok:/);
    expect(codeOf(req({ timeout: DEFAULT_LIMITS.maxTimeoutMs + 1 }))).toBe("bad_request");
  });

  it("refuses a body over the size limit with too_large", () => {
    const data = "x".repeat(DEFAULT_LIMITS.maxBodyBytes + 1);
    expect(codeOf(req({ body: { enc: "utf8", data } }))).toBe("too_large");
  });

  it("refuses headers over the relay's configured limits (below the codec's) with bad_request", () => {
    const limits = { ...DEFAULT_LIMITS, maxHeaders: 2, maxHeaderBytes: 10 };
    expect(codeOf(req({ headers: { a: "1", b: "2" } }), { limits })).toMatch(/^ok:/);
    expect(codeOf(req({ headers: { a: "1", b: "2", c: "3" } }), { limits })).toBe("bad_request");
    // Size counts names and UTF-8 values: "a" + "é".repeat(5) is 11 bytes.
    expect(codeOf(req({ headers: { a: "é".repeat(4) } }), { limits })).toMatch(/^ok:/);
    expect(codeOf(req({ headers: { a: "é".repeat(5) } }), { limits })).toBe("bad_request");
  });

  it("refuses failFast with no_responders only when no server is connected", () => {
    expect(codeOf(req({ failFast: true }), { serverConnected: false })).toBe("no_responders");
    expect(codeOf(req({ failFast: true }), { serverConnected: true })).toMatch(/^ok:/);
    expect(codeOf(req(), { serverConnected: false })).toMatch(/^ok:/);
  });

  it("refuses with queue_full once the queue holds maxQueueDepth live requests", () => {
    expect(codeOf(req(), { depth: DEFAULT_LIMITS.maxQueueDepth - 1 })).toMatch(/^ok:/);
    expect(codeOf(req(), { depth: DEFAULT_LIMITS.maxQueueDepth })).toBe("queue_full");
  });

  it("refuses with queue_full a body that would take a memory queue past its memory budget", () => {
    const body = { enc: "utf8" as const, data: "x".repeat(1_000) };
    expect(codeOf(req({ body }), { memoryChars: MEMORY_QUEUE_CHARS - 1_000 })).toMatch(/^ok:/);
    expect(codeOf(req({ body }), { memoryChars: MEMORY_QUEUE_CHARS - 999 })).toBe("queue_full");
    // An empty memory queue takes any body the size limit allows; a durable one has no budget.
    expect(codeOf(req({ body }), { memoryChars: 0 })).toMatch(/^ok:/);
    expect(codeOf(req({ body }), { memoryChars: undefined })).toMatch(/^ok:/);
  });

  // A newcomer probe: "the queue holds 3 requests" and "this client has 2 requests in flight in
  // the queue" said neither that this was the limit nor what to do about it.
  it("says which limit a queue_full or too_many_in_flight refusal hit, and what to do", () => {
    const limits = { ...DEFAULT_LIMITS, maxQueueDepth: 3, maxInFlightPerClient: 2 };
    const messageOf = (ctx: Partial<AdmissionContext>): string => {
      const result = admit(req(), { ...base, limits, ...ctx });
      return result.ok ? "ok" : result.error.message;
    };
    expect(messageOf({ depth: 3 })).toBe(
      "the queue holds 3 requests, its limit (maxQueueDepth, EDGEMQ_MAX_QUEUE_DEPTH): retry when it has drained",
    );
    expect(messageOf({ clientInFlight: 2 })).toBe(
      "this client has 2 requests in flight in the queue, its limit (maxInFlightPerClient, EDGEMQ_MAX_IN_FLIGHT_PER_CLIENT): retry when one has ended",
    );
  });

  // The limits hold per partition: "the queue holds 3 requests" read as the whole queue's count
  // when a partitioned queue held more across its partitions.
  it("names the partition, not the queue, when the queue is partitioned", () => {
    const limits = { ...DEFAULT_LIMITS, maxQueueDepth: 3 };
    const messageOf = (ctx: Partial<AdmissionContext>, request = req()): string => {
      const result = admit(request, { ...base, limits, ...ctx });
      return result.ok ? "ok" : result.error.message;
    };
    expect(messageOf({ depth: 3, partitions: 4 })).toBe(
      "this client's partition of the queue (one of 4) holds 3 requests, its limit (maxQueueDepth, EDGEMQ_MAX_QUEUE_DEPTH, per partition): retry when it has drained",
    );
    expect(messageOf({ depth: 3, partitions: 1 })).toMatch(/^the queue holds 3 requests/);
    const full = { memoryChars: MEMORY_QUEUE_CHARS, partitions: 2 };
    expect(messageOf(full)).toMatch(
      /^this client's partition of the queue \(one of 2\) holds 32 Mi/,
    );
    const noServer = { serverConnected: false, partitions: 2 };
    expect(messageOf(noServer, req({ failFast: true }))).toBe(
      "no server is connected to this client's partition of the queue (one of 2)",
    );
  });

  it("refuses with too_many_in_flight once the client has its maximum live requests", () => {
    const limit = DEFAULT_LIMITS.maxInFlightPerClient;
    expect(codeOf(req(), { clientInFlight: limit - 1 })).toMatch(/^ok:/);
    expect(codeOf(req(), { clientInFlight: limit })).toBe("too_many_in_flight");
  });
});
