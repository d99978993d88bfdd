/**
 * Pure triage of one WebSocket message from a client: which requests go to which queue, which
 * outbox entries are acked, which requests are cancelled, and which frames are refused at once
 * (malformed, not a client frame, a message over the frame size). A body over maxBodyBytes is
 * the queue's to refuse (enqueue-rules.ts): only it knows whether the request is a re-send of
 * one it already stores, which is answered as stored even after the limit was lowered. No I/O;
 * exchange-do.ts and the queue links (link-messages.ts) carry out the plan.
 */
import {
  decodeFrames,
  ERROR_CODE,
  type ErrorCode,
  type ErrorFrame,
  type Frame,
  type FrameError,
  frameHead,
  type Limits,
  maxFrameChars,
  overFrameMessage,
  type RequestFrame,
} from "../../protocol/index.js";
import { collapseUnnamed } from "../shared/unnamed-refusals.js";

export interface ClientPlan {
  /** Error frames to send back: refused frames, with the request id when one was readable. */
  refused: ErrorFrame[];
  /** Requests to hand to queues, grouped by queue name, in arrival order. */
  enqueues: Map<string, RequestFrame[]>;
  /** Outbox ids the client has received. */
  acks: string[];
  /** Requests the client gives up. */
  cancels: { id: string; queue: string }[];
  /** Frames the relay could not read (unreadable-frames.ts): malformed, or over the frame size. */
  unreadable: number;
}

export function errorFrame(code: ErrorCode, message: string, id?: string): ErrorFrame {
  return id === undefined ? { type: "error", code, message } : { type: "error", id, code, message };
}

/** The refusal of a cancel of request `id`: not its outcome, which still comes (protocol.md). */
export function cancelRefusal(code: ErrorCode, message: string, id: string): ErrorFrame {
  return { type: "error", id, code, message, about: "cancel" };
}

/** Decodes and sorts one client message. Never throws. */
export function planClientMessage(raw: unknown, limits: Limits): ClientPlan {
  const plan: ClientPlan = {
    refused: [],
    enqueues: new Map(),
    acks: [],
    cancels: [],
    unreadable: 0,
  };
  if (typeof raw === "string" && raw.length > maxFrameChars(limits)) {
    // Too large to parse; a request's id at its start still gets its refusal (frame-size.ts).
    const head = frameHead(raw);
    const id = head?.type === "request" ? head.id : undefined;
    plan.refused.push(errorFrame(ERROR_CODE.tooLarge, overFrameMessage(limits), id));
    plan.unreadable = 1;
    return plan;
  }
  for (const result of decodeFrames(raw)) {
    if (result.ok) addFrame(plan, result.value);
    else {
      plan.refused.push(malformedRefusal(result.error));
      plan.unreadable++;
    }
  }
  if (plan.cancels.length > 0) dropCancelledRequests(plan);
  plan.refused = collapseUnnamed(plan.refused);
  return plan;
}

function addFrame(plan: ClientPlan, frame: Frame): void {
  switch (frame.type) {
    case "request":
      addRequest(plan, frame);
      return;
    case "ack":
      plan.acks.push(...frame.ids);
      return;
    case "cancel":
      if (frame.queue === undefined) {
        plan.refused.push(
          cancelRefusal(ERROR_CODE.badRequest, "cancel: queue is required by the relay", frame.id),
        );
      } else {
        plan.cancels.push({ id: frame.id, queue: frame.queue });
      }
      return;
    default:
      // No id: to a client an error with an id ends (or refuses) the request of that id.
      plan.refused.push(errorFrame(ERROR_CODE.badRequest, `${frame.type} is not a client frame`));
  }
}

/**
 * The refusal of a frame the codec could not read. Only a request's names its id (it comes in
 * place of that request's `accepted`); a cancel's is about the cancel, as for any refused
 * cancel, since the request it names goes on; any other frame's names no id, so a client never
 * takes it for the end of its request of that id (protocol.md, `error`).
 */
function malformedRefusal(error: FrameError): ErrorFrame {
  const { id, frameType, message } = error;
  if (id !== undefined && frameType === "cancel") {
    return cancelRefusal(ERROR_CODE.badRequest, message, id);
  }
  return errorFrame(ERROR_CODE.badRequest, message, frameType === "request" ? id : undefined);
}

/**
 * Groups a request by queue. Its body size is checked by the queue, after it has looked for a
 * stored request of that id: a re-send of a request stored before the operator lowered
 * EDGEMQ_MAX_BODY_BYTES is answered as stored (and its reply comes), not refused `too_large`.
 */
function addRequest(plan: ClientPlan, frame: RequestFrame): void {
  const group = plan.enqueues.get(frame.queue);
  if (group) group.push(frame);
  else plan.enqueues.set(frame.queue, [frame]);
}

/**
 * A request whose cancel comes later in the same message (an abort right after `request()`) is
 * not enqueued: it is answered `cancelled` here, so no server starts it. Its cancel still goes
 * to the queue, which then refuses a re-send of it (early-cancels.ts).
 */
function dropCancelledRequests(plan: ClientPlan): void {
  for (const { id, queue } of plan.cancels) {
    const group = plan.enqueues.get(queue);
    const at = group?.findIndex((r) => r.id === id) ?? -1;
    if (group === undefined || at < 0) continue;
    group.splice(at, 1);
    if (group.length === 0) plan.enqueues.delete(queue);
    plan.refused.push(errorFrame(ERROR_CODE.cancelled, CANCELLED_IN_MESSAGE, id));
  }
}

const CANCELLED_IN_MESSAGE = "the request was cancelled by its client in the message that sent it";
