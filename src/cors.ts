/**
 * CORS for the HTTP API, so a browser page on any origin can use it (the SDK's HTTP transport, or
 * explaining a refused WebSocket). Credentials are bearer tokens in a header, never cookies, so any
 * origin may call. WebSocket upgrades pass untouched: their 101 responses come from a Durable
 * Object and must not be modified. Used by app.ts.
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { HEADERS, HTTP_API_HEADERS } from "../protocol/index.js";
import type { Env } from "./env.js";
import { isWebSocketUpgrade } from "./http-error.js";

/** Response headers a browser script may read. */
const EXPOSED = [...Object.values(HTTP_API_HEADERS), "Retry-After"];

const httpCors = cors({
  origin: "*",
  allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
  allowHeaders: [
    "Authorization",
    "Content-Type",
    HEADERS.identity,
    HTTP_API_HEADERS.requestId,
    HTTP_API_HEADERS.headers,
    HTTP_API_HEADERS.poller,
  ],
  exposeHeaders: EXPOSED,
  maxAge: 600,
});

export const httpApiCors: MiddlewareHandler<{ Bindings: Env }> = (c, next) =>
  isWebSocketUpgrade(c.req.raw) ? next() : httpCors(c, next);
