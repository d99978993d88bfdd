/**
 * Handles one WebSocket message from a server connection: `ready` (capacity), `reply`, `fail`
 * and `extend`. An answer counts only from the lessee, once, before the deadline (lease-rules.ts);
 * anything refused or malformed gets an `error` frame and the connection stays open.
 * Runs inside the caller's transaction; used by queue-do.ts.
 */
import {
  bodySize,
  decodeFrames,
  ERROR_CODE,
  type ErrorCode,
  type Frame,
  type Limits,
  maxFrameChars,
} from "../../protocol/index.js";
import { leaseUntil } from "./deadlines.js";
import type { FrameOutbox } from "./frame-outbox.js";
import { checkAnswer } from "./lease-rules.js";
import { replyFrame } from "./outcome-frames.js";
import type { RequestLifecycle } from "./request-lifecycle.js";
import type { RequestStore, StoredRequest } from "./request-store.js";
import type { ServerAttachment } from "./server-attachment.js";
import type { ServerRegistry } from "./server-registry.js";

export interface ServerMessageDeps {
  store: RequestStore;
  servers: ServerRegistry;
  lifecycle: RequestLifecycle;
  outbox: FrameOutbox;
  limits: Limits;
  now: number;
}

export const REPLY_TOO_LARGE_MESSAGE = "the server's reply was over the relay's body size limit";

export function handleServerMessage(
  deps: ServerMessageDeps,
  ws: WebSocket,
  conn: ServerAttachment,
  raw: unknown,
): void {
  const refuse = (code: ErrorCode, message: string, id?: string) =>
    deps.outbox.push(
      ws,
      id === undefined ? { type: "error", code, message } : { type: "error", id, code, message },
    );
  if (typeof raw === "string" && raw.length > maxFrameChars(deps.limits)) {
    refuse(ERROR_CODE.tooLarge, "message is over the relay's frame size");
    return;
  }
  for (const result of decodeFrames(raw)) {
    if (!result.ok) refuse(ERROR_CODE.badRequest, result.error.message, result.error.id);
    else handleFrame(deps, ws, conn, result.value, refuse);
  }
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
      return;
    }
    case "reply": {
      const row = answerable(deps, conn, frame.id, refuse);
      if (row === undefined) return;
      if (bodySize(frame.body) > deps.limits.maxBodyBytes) {
        refuse(
          ERROR_CODE.tooLarge,
          `reply body is over ${deps.limits.maxBodyBytes} bytes`,
          frame.id,
        );
        deps.lifecycle.fail(
          row,
          ERROR_CODE.serverError,
          REPLY_TOO_LARGE_MESSAGE,
          deps.now,
          conn.connId,
        );
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
  deps: ServerMessageDeps,
  conn: ServerAttachment,
  id: string,
  refuse: Refuse,
): StoredRequest | undefined {
  const rid = /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : undefined;
  const row = rid === undefined ? undefined : deps.store.get(rid);
  const check = checkAnswer(row, conn.connId, deps.now);
  if (!check.ok) {
    refuse(check.error.code, check.error.message, id);
    return undefined;
  }
  return row;
}
