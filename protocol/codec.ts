/**
 * Encodes frames to WebSocket text and decodes text (or anything else) back into typed frames.
 * `decodeFrames` never throws: it returns the frames, or a `bad_request` EdgeMQError that names
 * what was wrong (and the request id, when one could be read, so the error reaches its request).
 */
import { EdgeMQError, ERROR_CODE, isErrorCode } from "./errors.js";
import { type ErrorFrame, FRAME_TYPE, type Frame, type FrameType, ROLE } from "./frames.js";
import {
  DEFAULT_LIMITS,
  IDENTITY_RULE,
  type Limits,
  QUEUE_NAME_RULE,
  REQUEST_ID_RULE,
} from "./limits.js";
import { err, ok, type Result } from "./result.js";
import {
  type Fields,
  isIdentity,
  isNonNegativeInteger,
  isQueueName,
  isRecord,
  isRequestId,
  readHeaders,
  readIds,
  readWireBody,
} from "./validate.js";

/**
 * A frame that failed validation (`bad_request`, or `too_large` for one over the frame size).
 * `id` is set when the frame named a readable request id, and `frameType` when it named a known
 * frame type (so a relay can tell a malformed answer to a dispatch from other garbage).
 */
export class FrameError extends EdgeMQError {
  readonly id: string | undefined;
  readonly frameType: FrameType | undefined;
  constructor(
    message: string,
    id?: string,
    frameType?: FrameType,
    code: typeof ERROR_CODE.badRequest | typeof ERROR_CODE.tooLarge = ERROR_CODE.badRequest,
  ) {
    super(code, message);
    this.id = id;
    this.frameType = frameType;
  }
}

export type DecodeResult = Result<Frame, FrameError>;

/** Most frames one batch may carry. */
export const MAX_BATCH = 1_000;

/** Most characters of a `fail` message the relay keeps (longer ones are cut). */
export const MAX_FAIL_MESSAGE_CHARS = 4_096;

/**
 * `message` cut to MAX_FAIL_MESSAGE_CHARS, never between the two halves of a surrogate pair (a
 * half left over would reach a WebSocket client as a lone surrogate, an HTTP one as U+FFFD).
 */
export function cutFailMessage(message: string): string {
  if (message.length <= MAX_FAIL_MESSAGE_CHARS) return message;
  const last = message.charCodeAt(MAX_FAIL_MESSAGE_CHARS - 1);
  const splitsPair = last >= 0xd800 && last <= 0xdbff;
  return message.slice(0, splitsPair ? MAX_FAIL_MESSAGE_CHARS - 1 : MAX_FAIL_MESSAGE_CHARS);
}

export function encodeFrame(frame: Frame): string {
  return JSON.stringify(frame);
}

/** One message carrying several frames (a JSON array); a single frame is sent bare. */
export function encodeFrames(frames: readonly Frame[]): string {
  return frames.length === 1 ? JSON.stringify(frames[0]) : JSON.stringify(frames);
}

/**
 * Decodes one WebSocket message into frame results. A message that is not JSON, or not an object
 * or array, is a single error; in a batch each frame stands alone, so one bad frame does not
 * spoil its neighbours.
 */
export function decodeFrames(raw: unknown): DecodeResult[] {
  if (typeof raw !== "string") return [err(new FrameError("frames must be JSON text messages"))];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return [err(new FrameError("message is not valid JSON"))];
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) return [err(new FrameError("empty batch"))];
    if (parsed.length > MAX_BATCH) return [err(new FrameError(`batch over ${MAX_BATCH} frames`))];
    return parsed.map(decodeFrameValue);
  }
  return [decodeFrameValue(parsed)];
}

/** Decodes one already-parsed value into a frame. */
export function decodeFrameValue(value: unknown): DecodeResult {
  if (!isRecord(value)) return err(new FrameError("a frame must be a JSON object"));
  const type = value.type;
  if (type === undefined) return err(new FrameError("a frame needs a type"));
  if (typeof type !== "string" || !FRAME_TYPES.has(type)) {
    return err(new FrameError(`unknown frame type ${JSON.stringify(String(type).slice(0, 32))}`));
  }
  const id = isRequestId(value.id) ? value.id : undefined;
  const result = DECODERS[type as FrameType](value);
  if (typeof result === "string") {
    return err(new FrameError(`${type}: ${result}`, id, type as FrameType));
  }
  return ok(result);
}

const FRAME_TYPES: ReadonlySet<string> = new Set(Object.values(FRAME_TYPE));

type Decoder = (f: Fields) => Frame | string;

const DECODERS: Record<FrameType, Decoder> = {
  welcome: decodeWelcome,
  request: decodeRequest,
  accepted: (f) => {
    if (!isRequestId(f.id)) return `id must be ${REQUEST_ID_RULE}`;
    if (!isNonNegativeInteger(f.deadline)) return "deadline must be epoch milliseconds";
    return { type: "accepted", id: f.id, deadline: f.deadline };
  },
  reply: (f) => {
    if (!isRequestId(f.id)) return `id must be ${REQUEST_ID_RULE}`;
    const body = readWireBody(f.body);
    if (typeof body === "string") return body;
    const headers = f.headers === undefined ? undefined : readHeaders(f.headers);
    if (typeof headers === "string") return headers;
    return headers ? { type: "reply", id: f.id, body, headers } : { type: "reply", id: f.id, body };
  },
  error: (f) => {
    if (!isErrorCode(f.code)) return "code must be a known error code";
    if (typeof f.message !== "string") return "message must be a string";
    if (f.id !== undefined && !isRequestId(f.id)) return `id must be ${REQUEST_ID_RULE}`;
    if (f.about !== undefined && (typeof f.about !== "string" || f.about.length > 64)) {
      return "about must be a short string";
    }
    const frame: ErrorFrame = { type: "error", code: f.code, message: f.message };
    if (f.id !== undefined) frame.id = f.id;
    if (f.about !== undefined) frame.about = f.about;
    return frame;
  },
  ack: (f) => {
    const ids = readIds(f.ids);
    return typeof ids === "string" ? ids : { type: "ack", ids };
  },
  cancel: (f) => {
    if (!isRequestId(f.id)) return `id must be ${REQUEST_ID_RULE}`;
    if (f.queue === undefined) return { type: "cancel", id: f.id };
    if (!isQueueName(f.queue)) return `queue must be ${QUEUE_NAME_RULE}`;
    return { type: "cancel", id: f.id, queue: f.queue };
  },
  ready: (f) => {
    if (!isNonNegativeInteger(f.concurrency) || f.concurrency > DEFAULT_LIMITS.maxConcurrency) {
      return `concurrency must be an integer from 0 to ${DEFAULT_LIMITS.maxConcurrency}`;
    }
    if (f.holding === undefined) return { type: "ready", concurrency: f.concurrency };
    const holding = readIds(f.holding);
    if (typeof holding === "string") return `holding: ${holding}`;
    return { type: "ready", concurrency: f.concurrency, holding };
  },
  dispatch: decodeDispatch,
  fail: (f) => {
    if (!isRequestId(f.id)) return `id must be ${REQUEST_ID_RULE}`;
    if (typeof f.message !== "string") return "message must be a string";
    return { type: "fail", id: f.id, message: cutFailMessage(f.message) };
  },
  extend: (f) => {
    const ids = readIds(f.ids);
    return typeof ids === "string" ? ids : { type: "extend", ids };
  },
};

function decodeRequest(f: Fields): Frame | string {
  if (!isRequestId(f.id)) return `id must be ${REQUEST_ID_RULE}`;
  if (!isQueueName(f.queue)) return `queue must be ${QUEUE_NAME_RULE}`;
  const body = readWireBody(f.body);
  if (typeof body === "string") return body;
  const frame: Frame = { type: "request", id: f.id, queue: f.queue, body };
  if (f.headers !== undefined) {
    const headers = readHeaders(f.headers);
    if (typeof headers === "string") return headers;
    frame.headers = headers;
  }
  if (f.timeout !== undefined) {
    if (!isNonNegativeInteger(f.timeout) || f.timeout === 0) {
      return "timeout must be a positive integer of milliseconds";
    }
    frame.timeout = f.timeout;
  }
  if (f.failFast !== undefined) {
    if (typeof f.failFast !== "boolean") return "failFast must be a boolean";
    frame.failFast = f.failFast;
  }
  return frame;
}

function decodeDispatch(f: Fields): Frame | string {
  if (!isRequestId(f.id)) return `id must be ${REQUEST_ID_RULE}`;
  if (!isIdentity(f.from)) return `from must be ${IDENTITY_RULE}`;
  if (!isQueueName(f.queue)) return `queue must be ${QUEUE_NAME_RULE}`;
  const body = readWireBody(f.body);
  if (typeof body === "string") return body;
  if (!isNonNegativeInteger(f.deadline)) return "deadline must be epoch milliseconds";
  if (!isNonNegativeInteger(f.attempt) || f.attempt < 1) return "attempt must be 1 or more";
  const frame: Frame = {
    type: "dispatch",
    id: f.id,
    from: f.from,
    queue: f.queue,
    body,
    deadline: f.deadline,
    attempt: f.attempt,
  };
  if (f.headers !== undefined) {
    const headers = readHeaders(f.headers);
    if (typeof headers === "string") return headers;
    frame.headers = headers;
  }
  return frame;
}

function decodeWelcome(f: Fields): Frame | string {
  if (!isNonNegativeInteger(f.v)) return "v must be the protocol version";
  if (!isIdentity(f.identity)) return `identity must be ${IDENTITY_RULE}`;
  if (f.role !== ROLE.client && f.role !== ROLE.server) return "role must be client or server";
  const limits = readLimits(f.limits);
  if (typeof limits === "string") return limits;
  const frame: Frame = { type: "welcome", v: f.v, identity: f.identity, role: f.role, limits };
  if (f.queue !== undefined) {
    if (!isQueueName(f.queue)) return `queue must be ${QUEUE_NAME_RULE}`;
    frame.queue = f.queue;
  }
  const placement = readPlacement(f);
  if (typeof placement === "string") return placement;
  if (placement !== undefined) Object.assign(frame, placement);
  return frame;
}

/** A server welcome's optional `partition` and `partitions` (both or neither). */
function readPlacement(f: Fields): { partition: number; partitions: number } | string | undefined {
  const { partition, partitions } = f;
  if (partition === undefined && partitions === undefined) return undefined;
  if (!isNonNegativeInteger(partitions) || partitions < 1) return "partitions must be >= 1";
  if (!isNonNegativeInteger(partition) || partition >= partitions) {
    return "partition must be 0 to partitions - 1";
  }
  return { partition, partitions };
}

function readLimits(value: unknown): Limits | string {
  if (!isRecord(value)) return "limits must be an object";
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const v = value[key];
    if (v === undefined) continue;
    if (!isNonNegativeInteger(v)) return `limits.${key} must be a non-negative integer`;
    limits[key] = v;
  }
  return limits;
}
