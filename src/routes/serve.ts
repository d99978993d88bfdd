/**
 * GET /v1/queues/:queue/serve[?partition=p]: a server's WebSocket for one queue (one partition of
 * it: 0 by default; docs/scaling.md). Validates the queue name and partition, establishes the
 * identity and forwards the upgrade to the partition's object, whose 101 response is returned
 * untouched. A plain GET (no upgrade) gets the refusal the upgrade would (401, 403), else 426: a
 * browser hides a refused upgrade's status, and the SDK asks this way why (client/refusal.ts).
 */
import type { Context } from "hono";
import { FORWARD_HEADERS } from "../../durable-objects/shared/contracts.js";
import { encodePrincipalHeader } from "../../durable-objects/shared/principal-header.js";
import { EdgeMQError, ERROR_CODE, isQueueName, QUEUE_NAME_RULE } from "../../protocol/index.js";
import type { Env } from "../env.js";
import { forwardRequest } from "../forward.js";
import { isWebSocketUpgrade, upgradeRequired } from "../http-error.js";
import { establishPrincipal, requireQueue, requireRole } from "../identity.js";
import { partitionStub, partitionsOf, requirePartition } from "../partitions.js";

export async function serve(c: Context<{ Bindings: Env }>): Promise<Response> {
  const queue = c.req.param("queue");
  if (!isQueueName(queue)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, `queue must be ${QUEUE_NAME_RULE}`);
  }
  // A queue of K partitions has K objects; `?partition=p` picks one (default 0).
  const partition = requirePartition(c.req.query("partition"), partitionsOf(c.env, queue)) ?? 0;
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "server");
  requireQueue(principal, queue);
  if (!isWebSocketUpgrade(c.req.raw)) return upgradeRequired();
  const identity = principal.identity;
  const forwarded = forwardRequest(c.req.raw, {
    [FORWARD_HEADERS.identity]: identity,
    [FORWARD_HEADERS.queue]: queue,
    [FORWARD_HEADERS.partition]: String(partition),
    [FORWARD_HEADERS.principal]: encodePrincipalHeader(principal),
  });
  return partitionStub(c.env, queue, partition).fetch(forwarded);
}
