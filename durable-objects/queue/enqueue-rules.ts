/**
 * Pure admission rules for one new request entering a queue: timeout within the maximum, body
 * within the size limit (the only check of it: a re-send of a stored request, which enqueue.ts
 * answers as stored, may be over a limit lowered since) and, once
 * JSON escapes it, within one frame (an HTTP body reaches here unframed), headers
 * within the relay's configured limits (the codec checks only the protocol's), failFast with
 * no server, queue depth, a memory queue's memory budget and per-client in-flight bounds. Used
 * by queue-do.ts; unit-tested.
 */
import {
  bodyFrameRefusal,
  bodySize,
  ERROR_CODE,
  err,
  headersOverLimits,
  type Limits,
  ok,
  type RequestFrame,
  type Result,
  type WireError,
} from "../../protocol/index.js";

/**
 * Characters of request bodies and outcomes a memory-mode queue (partition) holds at most before
 * it refuses new requests with `queue_full`: it holds them all in its object's memory, which is
 * 128 MB per isolate on Cloudflare (shared with other objects), and an object past that is reset,
 * losing every request it held. Outcomes are never refused: servers' work is kept.
 */
export const MEMORY_QUEUE_CHARS = 32 * 1024 * 1024;

/** What the queue knows when it admits a request. */
export interface AdmissionContext {
  now: number;
  limits: Limits;
  /** Live (queued or leased) requests in the queue. */
  depth: number;
  /** Live requests of the sending client in the queue. */
  clientInFlight: number;
  /** Whether any server connection is open. */
  serverConnected: boolean;
  /** Characters held in memory (a memory-mode queue), or undefined (bodies are in SQLite). */
  memoryChars?: number | undefined;
  /** Partitions of the queue (its limits hold per partition); absent: 1. */
  partitions?: number | undefined;
}

/** Admits a request (giving its deadline) or refuses it with a typed error. */
export function admit(request: RequestFrame, ctx: AdmissionContext): Result<number, WireError> {
  const { limits } = ctx;
  const timeout = request.timeout ?? limits.defaultTimeoutMs;
  if (!Number.isSafeInteger(timeout) || timeout <= 0 || timeout > limits.maxTimeoutMs) {
    return refuse(ERROR_CODE.badRequest, `timeout must be 1 to ${limits.maxTimeoutMs} ms`);
  }
  const size = bodySize(request.body);
  if (size > limits.maxBodyBytes) {
    return refuse(
      ERROR_CODE.tooLarge,
      `body is ${size} bytes, over the limit of ${limits.maxBodyBytes}`,
    );
  }
  const overFrame = bodyFrameRefusal(request.body, limits);
  if (overFrame !== undefined) return refuse(ERROR_CODE.tooLarge, overFrame);
  const overHeaders = headersOverLimits(request.headers, limits);
  if (overHeaders !== undefined) return refuse(ERROR_CODE.badRequest, overHeaders);
  if (request.failFast === true && !ctx.serverConnected) {
    return refuse(ERROR_CODE.noResponders, `no server is connected to ${where(ctx)}`);
  }
  if (ctx.depth >= limits.maxQueueDepth) {
    const perPartition = (ctx.partitions ?? 1) > 1 ? ", per partition" : "";
    return refuse(
      ERROR_CODE.queueFull,
      `${where(ctx)} holds ${limits.maxQueueDepth} requests, its limit (maxQueueDepth, EDGEMQ_MAX_QUEUE_DEPTH${perPartition}): retry when it has drained`,
    );
  }
  if (overMemory(ctx.memoryChars, request.body.data.length)) {
    const mi = MEMORY_QUEUE_CHARS / (1024 * 1024);
    const message = `${where(ctx)} holds ${mi} Mi characters of bodies and outcomes in memory (memory mode; bytes count as base64): retry when it has drained`;
    return refuse(ERROR_CODE.queueFull, message);
  }
  if (ctx.clientInFlight >= limits.maxInFlightPerClient) {
    return refuse(
      ERROR_CODE.tooManyInFlight,
      `this client has ${limits.maxInFlightPerClient} requests in flight in the queue, its limit (maxInFlightPerClient, EDGEMQ_MAX_IN_FLIGHT_PER_CLIENT): retry when one has ended`,
    );
  }
  return ok(ctx.now + timeout);
}

/** What holds the request: a queue, or on a partitioned queue the client's partition of it. */
function where(ctx: AdmissionContext): string {
  const partitions = ctx.partitions ?? 1;
  return partitions > 1
    ? `this client's partition of the queue (one of ${partitions})`
    : "the queue";
}

function refuse(code: WireError["code"], message: string): Result<number, WireError> {
  return err({ code, message });
}

/** Whether a body of `chars` would take a memory queue holding `held` past its budget. */
function overMemory(held: number | undefined, chars: number): boolean {
  return held !== undefined && held > 0 && held + chars > MEMORY_QUEUE_CHARS;
}
