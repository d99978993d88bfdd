/**
 * The HTTP API's outcome poll (docs/http-api.md):
 *   GET /v1/outcomes?poller=tag[&after=n][&wait=ms]
 *     200 {"outcomes":[...],"after":n}: the outcomes (reply and error frames with their ids) of
 *     your requests posted with `EdgeMQ-Poller: tag`, after the cursor `after`, in the order they
 *     ended; when none is there, waits up to `wait` for one (an empty list then keeps `after`).
 *     An `after` past every outcome number the exchange gave is refused `bad_request`.
 * One long-poll for all of a client's pending requests, where one per request would hold one of a
 * browser's 6 connections per host each (HTTP/1.1). The identity's ExchangeDO answers it
 * (pollOutcomes); the answer's JSON is written here from the frames it stores
 * (protocol/outcomes-answer.ts).
 */
import type { Context } from "hono";
import { waitWithinToken } from "../../durable-objects/shared/token-expiry.js";
import { EdgeMQError, ERROR_CODE, encodeOutcomesAnswer } from "../../protocol/index.js";
import type { Env } from "../env.js";
import { readAfter, readPollerParam, readWait } from "../http-params.js";
import { establishPrincipal, requireRole } from "../identity.js";
import { exchangeFor } from "./http-client.js";

export async function getOutcomes(c: Context<{ Bindings: Env }>): Promise<Response> {
  const poller = readPollerParam(c.req.query("poller"));
  const after = readAfter(c.req.query("after"));
  const wait = readWait(c.req.query("wait"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireRole(principal, "client");
  // A poll ends by the time its token no longer holds: what comes later needs a valid one.
  const waitMs = waitWithinToken(wait, principal.expiresAt, Date.now());
  const identity = principal.identity;
  const answer = await exchangeFor(c.env, identity).pollOutcomes({
    identity,
    poller,
    after,
    waitMs,
  });
  if (answer.ahead === true) {
    const message = `after ${after} is past every outcome number this relay gave: pass 0, or the after of the previous answer`;
    throw new EdgeMQError(ERROR_CODE.badRequest, message);
  }
  return new Response(encodeOutcomesAnswer(answer.frames, answer.after), {
    status: 200,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
}
