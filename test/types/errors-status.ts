/**
 * Type-level checks of how a program tells outcomes and statuses apart, as README's "How
 * requests end" and "Status" describe them: EdgeMQError narrows by instanceof and isEdgeMQError,
 * its `code` is a union of ERROR_CODE's literals (a switch narrows it, an unknown string does not
 * compile), a Status narrows by `type` to the fields that kind has, and a handler's request has the
 * fields README lists. Compiled by `npm run typecheck` (tsconfig.types.json); nothing here runs.
 */
import {
  EdgeMQError,
  ERROR_CODE,
  type ErrorCode,
  isEdgeMQError,
  type Peer,
  type ServeRequest,
  type Status,
  type TypedBody,
  typed,
} from "../../client/index.js";

/** What a client does about each outcome; `never` in the default proves the switch exhaustive. */
export function retryable(code: ErrorCode): boolean {
  switch (code) {
    case ERROR_CODE.timeout:
    case ERROR_CODE.noResponders:
    case ERROR_CODE.queueFull:
    case ERROR_CODE.tooManyInFlight:
    case ERROR_CODE.rateLimited:
    case ERROR_CODE.closed:
    case ERROR_CODE.internal:
      return true;
    case "bad_request":
    case "unauthorized":
    case "forbidden":
    case "not_found":
    case "conflict":
    case "expired":
    case "too_large":
    case "server_error":
    case "cancelled":
      return false;
    default: {
      const unhandled: never = code;
      return unhandled;
    }
  }
}

export async function outcomes(peer: Peer): Promise<void> {
  try {
    await peer.request("orders", { kind: "get" }, { signal: AbortSignal.timeout(1_000) });
  } catch (error: unknown) {
    if (error instanceof EdgeMQError) {
      const code: ErrorCode = error.code;
      const status: number = error.httpStatus;
      void [code, status, retryable(error.code)];
      // @ts-expect-error no such code: a typo in a comparison does not compile
      if (error.code === "time_out") return;
    }
    if (isEdgeMQError(error)) {
      const message: string = error.message;
      void message;
    }
  }
  // @ts-expect-error codes are ERROR_CODE's, not any string
  new EdgeMQError("teapot", "no");
}

export async function statuses(peer: Peer): Promise<void> {
  for await (const status of peer.status()) {
    switch (status.type) {
      case "error": {
        const error: EdgeMQError = status.error;
        const queue: string | undefined = status.queue;
        void [error, queue];
        break;
      }
      case "disconnected": {
        const fields: [number, string] = [status.code, status.reason];
        void fields;
        break;
      }
      case "reconnecting": {
        const fields: [number, number] = [status.attempt, status.delayMs];
        void fields;
        break;
      }
      case "connected":
        break;
      case "closed":
        // @ts-expect-error `closed` names no queue
        void status.queue;
        break;
      default: {
        const unhandled: never = status;
        void unhandled;
      }
    }
  }
  const s: Status = { type: "connected" };
  void s;
}

export function serves(peer: Peer): void {
  peer.serve("orders", async (req: ServeRequest) => {
    const fields: [string, string, string, number, number, number] = [
      req.id,
      req.from,
      req.queue,
      req.deadline,
      req.attempt,
      req.partition,
    ];
    const contentType: string = req.contentType;
    const trace: string | undefined = req.headers["trace-id"];
    // The signal is the platform's AbortSignal (DOM here): fetch and AbortSignal.any take it.
    const both: AbortSignal = AbortSignal.any([req.signal, AbortSignal.timeout(1_000)]);
    await fetch("https://example.com", { signal: req.signal });
    void [fields, contentType, trace, both];
    const reply: TypedBody = typed(new Uint8Array([1]), contentType);
    return reply;
  });
}
