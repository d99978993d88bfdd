/**
 * The HTTP API for servers (no WebSocket needed):
 *   POST /v1/queues/:queue/take[?wait=ms]
 *     200 with the next request's body and Content-Type, and EdgeMQ-Request-Id (the relay id to
 *     reply to), EdgeMQ-From, EdgeMQ-Deadline, EdgeMQ-Attempt; 204 when none came within `wait`.
 *     The request is leased to this identity's HTTP connection for leaseMs (as a dispatch is).
 *   POST /v1/queues/:queue/replies/:id
 *     body = the reply (its Content-Type travels). 204 accepted; 404 not dispatched to this
 *     server, 409 already answered, 410 deadline passed.
 * Both go to the queue's QueueDO (take / httpReply); see durable-objects/queue/http-takers.ts.
 */
import type { Context } from "hono";
import { readSettings } from "../../durable-objects/shared/settings.js";
import type { Env } from "../env.js";
import { wireBodyFromHttp } from "../http-body.js";
import { readBoundedBody } from "../http-body-reader.js";
import { readQueue, readRequestId, readWait } from "../http-params.js";
import { dispatchResponse, noContent, refusalResponse } from "../http-responses.js";
import { establishPrincipal, requireQueue, requireRole } from "../identity.js";

type HttpContext = Context<{ Bindings: Env }>;

export async function take(c: HttpContext): Promise<Response> {
  const queue = readQueue(c.req.param("queue"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "server");
  requireQueue(principal, queue);
  const waitMs = readWait(c.req.query("wait"));
  const identity = principal.identity;
  const answer = await c.env.QUEUE.getByName(queue).take({ queue, identity, waitMs });
  if (!answer.ok) return refusalResponse(answer.error);
  return answer.dispatch === null ? noContent() : dispatchResponse(answer.dispatch);
}

export async function postReply(c: HttpContext): Promise<Response> {
  const queue = readQueue(c.req.param("queue"));
  const id = readRequestId(c.req.param("id"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "server");
  requireQueue(principal, queue);
  const { limits } = readSettings(c.env);
  const bytes = await readBoundedBody(c.req.raw, limits.maxBodyBytes);
  const body = wireBodyFromHttp(c.req.header("Content-Type") ?? null, bytes);
  const identity = principal.identity;
  const answer = await c.env.QUEUE.getByName(queue).httpReply({ queue, identity, id, body });
  return answer.ok ? noContent() : refusalResponse(answer.error, id);
}
