/**
 * The checks a QueueDO makes on a WebSocket upgrade the front door forwarded (a server's, or a
 * client's queue link): it is an upgrade, the forwarded identity, queue and principal are
 * valid, and the principal has `role` and the queue. Used by server-upgrade.ts and
 * link-upgrade.ts.
 */
import {
  allowsQueue,
  ERROR_CODE,
  isIdentity,
  isQueueName,
  type Principal,
  type TokenRole,
} from "../../protocol/index.js";
import { FORWARD_HEADERS } from "../shared/contracts.js";
import { forwardedPrincipal } from "../shared/principal-header.js";
import { httpError } from "./server-socket.js";

export interface CheckedUpgrade {
  identity: string;
  queue: string;
  principal: Principal;
}

/** The upgrade's identity, queue and principal, or the refusal (`refusal` names the act). */
export function checkUpgrade(
  request: Request,
  devMode: boolean,
  role: TokenRole,
  refusal: (queue: string) => string,
): CheckedUpgrade | Response {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    return httpError(ERROR_CODE.badRequest, "expected a WebSocket upgrade");
  }
  const identity = request.headers.get(FORWARD_HEADERS.identity);
  const queue = request.headers.get(FORWARD_HEADERS.queue);
  if (!isIdentity(identity) || !isQueueName(queue)) {
    return httpError(ERROR_CODE.badRequest, "missing or invalid identity or queue");
  }
  const principalHeader = request.headers.get(FORWARD_HEADERS.principal);
  const principal = forwardedPrincipal(principalHeader, identity, devMode);
  if (principal === undefined) {
    return httpError(ERROR_CODE.unauthorized, `missing or invalid ${FORWARD_HEADERS.principal}`);
  }
  if (!principal.roles.has(role) || !allowsQueue(principal, queue)) {
    return httpError(ERROR_CODE.forbidden, refusal(queue));
  }
  return { identity, queue, principal };
}
