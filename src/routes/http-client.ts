/**
 * The HTTP API for clients (no WebSocket needed):
 *   POST /v1/queues/:queue/requests[?timeout=ms][&async=true][&failFast=true]
 *     body = the request payload (its Content-Type travels with it, src/http-body.ts).
 *     Waits for the outcome: 200 with the reply's body and Content-Type, or the error's status.
 *     With async=true: 202 {"id","deadline"} at once; the outcome is read with GET below.
 *     An optional EdgeMQ-Request-Id header chooses the id: a retried POST with the same id is
 *     the same request (never run twice; the stored request answers again). An optional
 *     EdgeMQ-Poller header names a poller: the outcome also comes from GET /v1/outcomes
 *     (routes/http-outcomes.ts).
 *   GET /v1/requests/:id[?wait=ms]
 *     200 reply, an error outcome's status, 204 still pending, 404 unknown or expired (ids are
 *     per identity: another identity's id is unknown). An answer that carries the outcome (this,
 *     or the synchronous POST's) reads it: it no longer counts toward the identity's cap, and is
 *     kept 60 s more for a retry (durable-objects/exchange/http-unread.ts).
 *   DELETE /v1/queues/:queue/requests/:id
 *     Cancels one of your requests: it ends in `cancelled` (unless it already ended). 204, or 429
 *     when the identity's bucket in the queue object is empty (a cancel takes a token).
 * Requests go through the identity's ExchangeDO (submit / awaitOutcome) and the same queue path
 * as WebSocket requests, so a WebSocket or HTTP server may answer them.
 */
import type { Context } from "hono";
import { exchangeName } from "../../durable-objects/shared/contracts.js";
import {
  type HttpSubmitInput,
  OUTCOME_GRACE_MS,
} from "../../durable-objects/shared/http-contracts.js";
import { readSettings } from "../../durable-objects/shared/settings.js";
import { waitWithinToken } from "../../durable-objects/shared/token-expiry.js";
import {
  EdgeMQError,
  ERROR_CODE,
  HTTP_API_HEADERS,
  type Principal,
  type RequestFrame,
} from "../../protocol/index.js";
import type { Env } from "../env.js";
import { wireBodyFromHttp } from "../http-body.js";
import { readBoundedBody } from "../http-body-reader.js";
import {
  readFlag,
  readFrameHeaders,
  readPoller,
  readQueue,
  readRequestId,
  readTimeout,
  readWait,
} from "../http-params.js";
import { noContent, outcomeResponse, refusalResponse } from "../http-responses.js";
import { establishPrincipal, requireQueue, requireRole } from "../identity.js";
import { clientQueueStub } from "../partitions.js";

type HttpContext = Context<{ Bindings: Env }>;

/** The ExchangeDO that holds `identity`'s HTTP requests (its shard). */
export function exchangeFor(env: Env, identity: string) {
  return env.EXCHANGE.getByName(exchangeName(identity, readSettings(env).exchangeShards));
}

export async function postRequest(c: HttpContext): Promise<Response> {
  const receivedAt = Date.now();
  const queue = readQueue(c.req.param("queue"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "client");
  requireQueue(principal, queue);
  const { limits } = readSettings(c.env);
  const timeout = readTimeout(c.req.query("timeout"), limits.maxTimeoutMs);
  const isAsync = readFlag(c.req.query("async"), "async");
  const failFast = readFlag(c.req.query("failFast"), "failFast");
  const pollerHeader = c.req.header(HTTP_API_HEADERS.poller);
  const poller =
    pollerHeader === undefined ? undefined : readPoller(pollerHeader, HTTP_API_HEADERS.poller);
  const bytes = await readBoundedBody(c.req.raw, limits.maxBodyBytes);
  const body = wireBodyFromHttp(c.req.header("Content-Type") ?? null, bytes);

  const chosen = c.req.header(HTTP_API_HEADERS.requestId);
  const id = chosen === undefined ? crypto.randomUUID() : readRequestId(chosen);
  const request: RequestFrame = { type: "request", id, queue, body };
  const headers = readFrameHeaders(c.req.header(HTTP_API_HEADERS.headers), limits);
  if (headers !== undefined) request.headers = headers;
  if (timeout !== undefined) request.timeout = timeout;
  if (failFast) request.failFast = true;
  const identity = principal.identity;
  const exchange = exchangeFor(c.env, identity);
  const submit: HttpSubmitInput = { identity, queue, request, receivedAt };
  if (poller !== undefined) submit.poller = poller;
  const answer = await exchange.submit(submit);
  // Refused at submit: nothing was stored, but the answer still names the request.
  if (!answer.ok) return refusalResponse(answer.error, id, answer.retryAfterMs);

  const location = `/v1/requests/${id}`;
  if (isAsync) {
    return c.json({ id, deadline: answer.deadline }, 202, {
      Location: location,
      [HTTP_API_HEADERS.requestId]: id,
      [HTTP_API_HEADERS.deadline]: String(answer.deadline),
    });
  }
  const waitMs = Math.max(0, answer.deadline - Date.now()) + OUTCOME_GRACE_MS;
  const outcome = await exchange.awaitOutcome({ identity, id, waitMs });
  if (outcome.state === "done") return outcomeResponse(outcome.frame, id);
  return overdue(id);
}

/**
 * A request with no outcome OUTCOME_GRACE_MS after its deadline: the relay ends every request by
 * then, so its outcome was lost (a memory queue's restart) or is very late. `timeout`, as a
 * request not answered in time.
 */
function overdue(id: string): Response {
  const message = `no outcome by the deadline; it may still come: GET /v1/requests/${id}`;
  return refusalResponse(new EdgeMQError(ERROR_CODE.timeout, message).toWire(), id);
}

export async function getRequest(c: HttpContext): Promise<Response> {
  const id = readRequestId(c.req.param("id"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "client");
  const wait = readWait(c.req.query("wait"));
  const waitMs = waitWithinToken(wait, principal.expiresAt, Date.now());
  const identity = principal.identity;
  const outcome = await exchangeFor(c.env, identity).awaitOutcome({ identity, id, waitMs });
  switch (outcome.state) {
    case "done":
      return outcomeResponse(outcome.frame, id);
    case "pending":
      if (Date.now() >= outcome.deadline + OUTCOME_GRACE_MS) return overdue(id);
      return noContent({
        [HTTP_API_HEADERS.requestId]: id,
        [HTTP_API_HEADERS.deadline]: String(outcome.deadline),
      });
    case "unknown": {
      const message = `no request ${id} of this identity (unknown, or its outcome expired: 5 min past its deadline, or 60 s after an answer first carried it)`;
      return refusalResponse({ code: ERROR_CODE.notFound, message });
    }
  }
}

export async function cancelRequest(c: HttpContext): Promise<Response> {
  const queue = readQueue(c.req.param("queue"));
  const id = readRequestId(c.req.param("id"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  return cancel(c, principal, queue, id);
}

/**
 * `DELETE /v1/requests/{id}`: the URL a 202 gave in `Location`. The exchange knows the queue of
 * an HTTP request while it keeps the request (until its deadline and the resume window): 404
 * after that, or for an id that no HTTP request of this identity has (cancel a WebSocket
 * request's id with its queue in the path).
 */
export async function cancelRequestById(c: HttpContext): Promise<Response> {
  const id = readRequestId(c.req.param("id"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "client");
  const identity = principal.identity;
  const queue = await exchangeFor(c.env, identity).httpRequestQueue({ identity, id });
  if (queue === undefined) {
    const message = `no HTTP request ${id} of this identity (unknown, or its deadline and the 5 min resume window passed, or its outcome was read over 60 s ago): DELETE /v1/queues/{queue}/requests/${id} names its queue`;
    return refusalResponse({ code: ERROR_CODE.notFound, message });
  }
  return cancel(c, principal, queue, id);
}

async function cancel(
  c: HttpContext,
  principal: Principal,
  queue: string,
  id: string,
): Promise<Response> {
  requireRole(principal, "client");
  requireQueue(principal, queue);
  const identity = principal.identity;
  const answer = await clientQueueStub(c.env, queue, identity).httpCancel({
    queue,
    from: identity,
    id,
  });
  if (!answer.ok) return refusalResponse(answer.error, id, answer.retryAfterMs);
  return noContent({ [HTTP_API_HEADERS.requestId]: id });
}
