/**
 * An HTTP request's timeout counted from when the front door received the POST, not from when
 * the exchange got to it. Pure; used by http-clients.ts.
 */
import type { RequestFrame } from "../../protocol/index.js";

/**
 * The POST's request with its timeout counted from when the front door received it: under load a
 * POST waits for this object, and a deadline counted from now would come late by that wait (a
 * probe: 300 concurrent POSTs waited ~0.7 s each). At least 1 ms is left; a receipt time ahead
 * of this clock counts as no wait.
 */
export function requestFromReceipt(
  input: { request: RequestFrame; receivedAt?: number | undefined },
  defaultTimeoutMs: number,
  now: number,
): RequestFrame {
  const { request, receivedAt } = input;
  const waited = receivedAt === undefined ? 0 : Math.max(0, now - receivedAt);
  if (waited === 0) return request;
  const timeout = request.timeout ?? defaultTimeoutMs;
  return { ...request, timeout: Math.max(1, timeout - waited) };
}
