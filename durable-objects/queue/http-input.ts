/**
 * Re-validates what the front door hands a QueueDO for an HTTP server (a queue object trusts no
 * caller blindly): identity and queue names, that this object serves that queue, the lease asked
 * for (take and lease calls), and, for a reply, the relay id, the body (shape and size) and its
 * headers. Pure; used by http-server-rpc.ts.
 */
import {
  bodyFrameRefusal,
  bodySize,
  ERROR_CODE,
  headersOverLimits,
  isIdentity,
  isQueueName,
  isRequestId,
  type Limits,
  readHeaders,
  readWireBody,
  type WireError,
} from "../../protocol/index.js";

/** The refusal for `input`, or undefined when it may proceed. */
export function httpInputRefusal(
  input: {
    queue: unknown;
    identity: unknown;
    id?: unknown;
    body?: unknown;
    headers?: unknown;
    leaseMs?: unknown;
  },
  knownQueue: string | undefined,
  limits?: Limits,
): WireError | undefined {
  if (!isQueueName(input.queue) || !isIdentity(input.identity)) {
    return { code: ERROR_CODE.badRequest, message: "invalid queue or identity" };
  }
  if (input.leaseMs !== undefined && !isAskedLease(input.leaseMs)) {
    return { code: ERROR_CODE.badRequest, message: "leaseMs must be a positive integer" };
  }
  if (knownQueue !== undefined && knownQueue !== input.queue) {
    return { code: ERROR_CODE.badRequest, message: "this object serves another queue" };
  }
  if (limits === undefined) return undefined;
  if (!isRequestId(input.id)) {
    return { code: ERROR_CODE.notFound, message: "not dispatched to this server (bad id)" };
  }
  const body = readWireBody(input.body);
  if (typeof body === "string") return { code: ERROR_CODE.badRequest, message: body };
  if (bodySize(body) > limits.maxBodyBytes) {
    return {
      code: ERROR_CODE.tooLarge,
      message: `reply body is over ${limits.maxBodyBytes} bytes`,
    };
  }
  // Its outcome is stored and sent as one frame, which escaping must not take past the limit.
  const overFrame = bodyFrameRefusal(body, limits);
  if (overFrame !== undefined) return { code: ERROR_CODE.tooLarge, message: `reply ${overFrame}` };
  return input.headers === undefined ? undefined : headersRefusal(input.headers, limits);
}

/** A lease asked for (`?lease=`, granted by the front door): a positive whole number of ms. */
function isAskedLease(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/** Why a reply's headers cannot go on (shape, then the relay's limits), or undefined. */
function headersRefusal(value: unknown, limits: Limits): WireError | undefined {
  const headers = readHeaders(value);
  const problem = typeof headers === "string" ? headers : headersOverLimits(headers, limits);
  return problem === undefined ? undefined : { code: ERROR_CODE.badRequest, message: problem };
}
