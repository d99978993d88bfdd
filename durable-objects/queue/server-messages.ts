/**
 * Handles one WebSocket message from a server connection: `ready` (capacity, and the leases a
 * reconnected server claims: lease-claims.ts), `reply`, `fail` and `extend`. An answer counts only from the lessee, once, before the deadline (lease-rules.ts);
 * anything refused or malformed gets an `error` frame and the connection stays open (unless it
 * sends more malformed frames than it may: unreadable-frames.ts, checked by queue-do.ts).
 * Runs inside the caller's transaction; used by queue-do.ts.
 */
import {
  bodySize,
  cutFailMessage,
  decodeFrames,
  ERROR_CODE,
  type ErrorCode,
  type ErrorFrame,
  type FailFrame,
  type Frame,
  FrameError,
  frameHead,
  headersOverLimits,
  type Limits,
  maxFrameChars,
  overFrameMessage,
  type ReplyFrame,
} from "../../protocol/index.js";
import { collapseUnnamed } from "../shared/unnamed-refusals.js";
import { leaseUntil } from "./deadlines.js";
import { ridOf } from "./dispatch-id.js";
import type { FrameOutbox } from "./frame-outbox.js";
import { claimHeld } from "./lease-claims.js";
import { ALREADY_ENDED, checkAnswer } from "./lease-rules.js";
import { errorFrame as outcomeError, replyFrame } from "./outcome-frames.js";
import type { RequestLifecycle } from "./request-lifecycle.js";
import type { ServerAttachment } from "./server-attachment.js";
import type { ServerRegistry } from "./server-registry.js";
import type { RequestStore, StoredRequest } from "./store-contract.js";

export interface ServerMessageDeps {
  store: RequestStore;
  servers: ServerRegistry;
  lifecycle: RequestLifecycle;
  outbox: FrameOutbox;
  limits: Limits;
  now: number;
}

export const REPLY_TOO_LARGE_MESSAGE = "the server's reply was over the relay's body size limit";
export const REPLY_HEADERS_MESSAGE = "the server's reply was over the relay's header limits";
export const REPLY_MALFORMED_MESSAGE = "the server's reply was malformed";

/**
 * Why the relay refuses a leased request's reply (body or headers over its limits): the code and
 * message its server gets, and the message of the `server_error` its client gets.
 */
function replyRefusal(frame: ReplyFrame, limits: Limits) {
  if (bodySize(frame.body) > limits.maxBodyBytes) {
    const message = `reply body is over ${limits.maxBodyBytes} bytes`;
    return { code: ERROR_CODE.tooLarge, message, client: REPLY_TOO_LARGE_MESSAGE };
  }
  const overHeaders = headersOverLimits(frame.headers, limits);
  if (overHeaders === undefined) return undefined;
  const message = `reply has ${overHeaders}`;
  return { code: ERROR_CODE.badRequest, message, client: REPLY_HEADERS_MESSAGE };
}

/** A server message decoded once (decodeFrames), or undefined when it is over the frame size. */
export type DecodedMessage = ReturnType<typeof decodeFrames> | undefined;

/** Frames of a server message the relay could not read (unreadable-frames.ts). */
export function unreadableFrames(decoded: DecodedMessage): number {
  if (decoded === undefined) return 1;
  let unreadable = 0;
  for (const result of decoded) if (!result.ok) unreadable++;
  return unreadable;
}

export function decodeServerMessage(raw: unknown, limits: Limits): DecodedMessage {
  if (typeof raw === "string" && raw.length > maxFrameChars(limits)) return oversized(raw, limits);
  return decodeFrames(raw);
}

/**
 * A message too large to parse. One that starts as an answer to a dispatch (`reply` or `fail`
 * and its id: frame-size.ts) is a `too_large` answer to that dispatch (failedAnswer); any other
 * is refused whole (undefined).
 */
function oversized(raw: string, limits: Limits): DecodedMessage {
  const head = frameHead(raw);
  if (head === undefined || (head.type !== "reply" && head.type !== "fail")) return undefined;
  const message = overFrameMessage(limits);
  const error = new FrameError(message, head.id, head.type, ERROR_CODE.tooLarge);
  return [{ ok: false, error }];
}

/**
 * The `fail` a refused answer to a dispatch stands for: a `reply` or `fail` naming a dispatch id
 * that is over the frame size or malformed ends that request with server_error, as a reply over
 * the body or header limits does, so its client hears at once instead of at the lease's end.
 */
function failedAnswer(error: FrameError): FailFrame | undefined {
  if (error.id === undefined) return undefined;
  if (error.frameType !== "reply" && error.frameType !== "fail") return undefined;
  const message =
    error.code === ERROR_CODE.tooLarge
      ? REPLY_TOO_LARGE_MESSAGE
      : cutFailMessage(`${REPLY_MALFORMED_MESSAGE} (${error.message})`);
  return { type: "fail", id: error.id, message };
}

/**
 * Carries out a decoded server message. `answered` lists dispatch ids whose answer was already
 * taken (sent early to the client, early-finishes.ts): that `reply`/`fail` frame is skipped, and
 * any later answer to the same id in this message is refused as the request's second answer.
 */
export function handleServerMessage(
  deps: ServerMessageDeps,
  ws: WebSocket,
  conn: ServerAttachment,
  decoded: DecodedMessage,
  answered: ReadonlySet<string> = NONE,
): void {
  // Refusals that name no dispatch go as one frame after the message (unnamed-refusals.ts).
  let unnamed: ErrorFrame[] | undefined;
  const refuse = (code: ErrorCode, message: string, id?: string) => {
    if (id !== undefined) deps.outbox.push(ws, { type: "error", id, code, message });
    else {
      unnamed ??= [];
      unnamed.push({ type: "error", code, message });
    }
  };
  if (decoded === undefined) {
    const message = overFrameMessage(deps.limits);
    deps.outbox.push(ws, { type: "error", code: ERROR_CODE.tooLarge, message });
    return;
  }
  const skipped = answered.size > 0 ? new Set<string>() : undefined;
  for (const result of decoded) {
    if (!result.ok) {
      // An answer taken early from this message ended that request already: only refuse this one.
      const early = result.error.id !== undefined && isAnswered(result.error.id, answered);
      refuseFrame(deps, ws, conn, result.error, refuse, !early);
      continue;
    }
    const frame = result.value;
    const answer = frame.type === "reply" || frame.type === "fail" ? frame : undefined;
    if (answer === undefined || !isAnswered(answer.id, answered)) {
      handleFrame(deps, ws, conn, frame, refuse);
    } else if (skipped?.has(answer.id)) {
      refuse(ALREADY_ENDED.code, ALREADY_ENDED.message, answer.id);
    } else skipped?.add(answer.id);
  }
  sendCollapsed(deps.outbox, ws, unnamed);
}

/**
 * Tells the server why a frame was refused; a refused answer to a dispatch ends it (failedAnswer)
 * unless `mayEnd` is false (another answer in the message ended it already).
 */
function refuseFrame(
  deps: ServerMessageDeps,
  ws: WebSocket,
  conn: ServerAttachment,
  error: FrameError,
  refuse: Refuse,
  mayEnd: boolean,
): void {
  refuse(error.code, error.message, error.id);
  const failed = mayEnd ? failedAnswer(error) : undefined;
  // The server heard why above; a fail it may not give (not its dispatch) adds nothing.
  if (failed !== undefined) handleFrame(deps, ws, conn, failed, () => {});
}

/** Sends the refusals that named no dispatch, if any, as one frame (unnamed-refusals.ts). */
function sendCollapsed(outbox: FrameOutbox, ws: WebSocket, unnamed: ErrorFrame[] | undefined) {
  for (const frame of collapseUnnamed(unnamed ?? [])) outbox.push(ws, frame);
}

const NONE: ReadonlySet<string> = new Set();

function isAnswered(id: string, answered: ReadonlySet<string>): boolean {
  // Checked for size first: a lookup by a fresh string key interns it (V8), even in an empty set.
  return answered.size > 0 && answered.has(id);
}

/**
 * The answers in a server message that may end their request at once: each `reply` (within the
 * body limit) or `fail` this connection may give, with its request and the client's frame.
 * Read-only: the same checks the transaction makes (answerable, body size).
 */
export function earlyOutcomes(
  deps: Pick<ServerMessageDeps, "store" | "limits" | "now">,
  conn: ServerAttachment,
  decoded: DecodedMessage,
): EarlyOutcome[] {
  const early: EarlyOutcome[] = [];
  // Only a request's first answer in the message may go early; the transaction refuses the rest.
  const seen = new Set<string>();
  for (const result of decoded ?? []) {
    if (!result.ok) continue;
    const frame = result.value;
    if (frame.type !== "reply" && frame.type !== "fail") continue;
    if (seen.has(frame.id)) continue;
    seen.add(frame.id);
    const outcome = earlyOutcome(deps, conn, frame);
    if (outcome !== undefined) early.push(outcome);
  }
  return early;
}

type EarlyOutcome = { id: string; row: StoredRequest; frame: ReplyFrame | ErrorFrame };

/** The client's frame for one answer, if it may end its request now. */
function earlyOutcome(
  deps: Pick<ServerMessageDeps, "store" | "limits" | "now">,
  conn: ServerAttachment,
  frame: ReplyFrame | FailFrame,
): EarlyOutcome | undefined {
  if (frame.type === "reply" && replyRefusal(frame, deps.limits) !== undefined) return undefined;
  const row = answerable(deps, conn, frame.id, () => {});
  if (row === undefined || row.state !== "leased") return undefined;
  const out =
    frame.type === "reply"
      ? replyFrame(row.clientId, frame.body, frame.headers)
      : outcomeError(row.clientId, ERROR_CODE.serverError, frame.message);
  return { id: frame.id, row, frame: out };
}

type Refuse = (code: ErrorCode, message: string, id?: string) => void;

function handleFrame(
  deps: ServerMessageDeps,
  ws: WebSocket,
  conn: ServerAttachment,
  frame: Frame,
  refuse: Refuse,
): void {
  switch (frame.type) {
    case "ready": {
      const concurrency = Math.min(frame.concurrency, deps.limits.maxConcurrency);
      ws.serializeAttachment({ ...conn, concurrency } satisfies ServerAttachment);
      conn.concurrency = concurrency;
      deps.servers.invalidate();
      if (frame.holding !== undefined) claimHeld(deps, ws, conn, frame.holding);
      deps.lifecycle.dropGoneConnections(conn.identity, deps.now);
      return;
    }
    case "reply": {
      const row = answerable(deps, conn, frame.id, refuse);
      if (row === undefined) return;
      const refusal = replyRefusal(frame, deps.limits);
      if (refusal !== undefined) {
        refuse(refusal.code, refusal.message, frame.id);
        deps.lifecycle.fail(row, ERROR_CODE.serverError, refusal.client, deps.now, conn.connId);
        return;
      }
      const out = replyFrame(row.clientId, frame.body, frame.headers);
      deps.lifecycle.finish(row, out, deps.now, conn.connId);
      return;
    }
    case "fail": {
      const row = answerable(deps, conn, frame.id, refuse);
      if (row)
        deps.lifecycle.fail(row, ERROR_CODE.serverError, frame.message, deps.now, conn.connId);
      return;
    }
    case "extend":
      for (const id of frame.ids) {
        const row = answerable(deps, conn, id, refuse);
        if (row)
          deps.store.extend(row.rid, leaseUntil(deps.now, row.deadline, deps.limits.leaseMs));
      }
      return;
    default:
      refuse(ERROR_CODE.badRequest, `${frame.type} is not a server frame`);
  }
}

/** The request `id` names, when this connection may answer it; otherwise refuses and returns undefined. */
function answerable(
  deps: Pick<ServerMessageDeps, "store" | "now">,
  conn: ServerAttachment,
  id: string,
  refuse: Refuse,
): StoredRequest | undefined {
  const rid = ridOf(id);
  const row = rid === undefined ? undefined : deps.store.get(rid);
  const check = checkAnswer(row, conn.connId, deps.now);
  if (!check.ok) {
    refuse(check.error.code, check.error.message, id);
    return undefined;
  }
  return row;
}
