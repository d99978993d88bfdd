/**
 * The checks a QueueDO makes on a WebSocket upgrade the front door forwarded (a server's, or a
 * client's queue link): it is an upgrade, the forwarded identity, queue and principal are
 * valid, and the principal has `role` and the queue; then that this object serves that queue,
 * and a WebSocket pair for it (`openUpgrade`). Used by server-upgrade.ts and link-upgrade.ts.
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
import type { QueueState } from "./queue-state.js";
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

export interface OpenedUpgrade extends CheckedUpgrade {
  /** The queue name this object had recorded before (undefined: none yet). */
  known: string | undefined;
  client: WebSocket;
  server: WebSocket;
}

/**
 * `checkUpgrade`, then the object's store chosen for the queue, a refusal if this object serves
 * another queue, and the WebSocket pair to accept.
 */
export function openUpgrade(
  state: QueueState,
  request: Request,
  role: TokenRole,
  refusal: (queue: string) => string,
): OpenedUpgrade | Response {
  const checked = checkUpgrade(request, state.settings.devMode, role, refusal);
  if (checked instanceof Response) return checked;
  state.chooseStore(checked.queue);
  const known = state.store.queueName();
  if (known !== undefined && known !== checked.queue) {
    return httpError(ERROR_CODE.badRequest, "this object serves another queue");
  }
  const [client, server] = Object.values(new WebSocketPair());
  if (client === undefined || server === undefined) {
    return httpError(ERROR_CODE.internal, "could not create a WebSocket pair");
  }
  return { ...checked, known, client, server };
}
