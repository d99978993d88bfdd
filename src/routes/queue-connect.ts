/**
 * GET /v1/queues/:queue/connect: a client's queue link, a WebSocket for its requests to one queue
 * and their outcomes, held by the queue partition its identity hashes to (the same object that
 * holds its requests sent through /v1/connect). The token must allow the client role and the
 * queue. The upgrade goes to that object, whose 101 response is returned untouched. A plain GET
 * gets the refusal the upgrade would (401, 403), else 426, as on the serve route (serve.ts).
 */
import type { Context } from "hono";
import { FORWARD_HEADERS, LINK_ROLE } from "../../durable-objects/shared/contracts.js";
import { encodePrincipalHeader } from "../../durable-objects/shared/principal-header.js";
import { EdgeMQError, ERROR_CODE, isQueueName, QUEUE_NAME_RULE } from "../../protocol/index.js";
import type { Env } from "../env.js";
import { forwardRequest } from "../forward.js";
import { isWebSocketUpgrade, upgradeRequired } from "../http-error.js";
import { establishPrincipal, requireQueue, requireRole } from "../identity.js";
import { clientQueueStub } from "../partitions.js";

export async function queueConnect(c: Context<{ Bindings: Env }>): Promise<Response> {
  const queue = c.req.param("queue");
  if (!isQueueName(queue)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, `queue must be ${QUEUE_NAME_RULE}`);
  }
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "client");
  requireQueue(principal, queue);
  if (!isWebSocketUpgrade(c.req.raw)) return upgradeRequired();
  const forwarded = forwardRequest(c.req.raw, {
    [FORWARD_HEADERS.identity]: principal.identity,
    [FORWARD_HEADERS.queue]: queue,
    [FORWARD_HEADERS.role]: LINK_ROLE,
    [FORWARD_HEADERS.principal]: encodePrincipalHeader(principal),
  });
  return clientQueueStub(c.env, queue, principal.identity).fetch(forwarded);
}
