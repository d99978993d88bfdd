/**
 * The Hono front door: wires routes and error mapping, nothing else. WebSocket upgrades get no
 * header middleware (CORS skips them), because the objects' 101 responses must pass through
 * untouched.
 */
import { type Handler, Hono, type MiddlewareHandler } from "hono";
import { EdgeMQError, ERROR_CODE, PATHS } from "../protocol/index.js";
import { httpApiCors } from "./cors.js";
import type { Env } from "./env.js";
import { errorResponse } from "./http-error.js";
import { refuseMisconfigured } from "./misconfigured.js";
import { connect } from "./routes/connect.js";
import { health } from "./routes/health.js";
import { cancelRequest, cancelRequestById, getRequest, postRequest } from "./routes/http-client.js";
import { getOutcomes } from "./routes/http-outcomes.js";
import {
  deleteTakes,
  postFailure,
  postLease,
  postLeases,
  postPresence,
  postReply,
  take,
} from "./routes/http-server.js";
import { queueConnect } from "./routes/queue-connect.js";
import { serve } from "./routes/serve.js";
import { queueStats } from "./routes/stats.js";
import { whoami } from "./routes/whoami.js";

export const app = new Hono<{ Bindings: Env }>();

app.use("/v1/*", httpApiCors);
// A browser status page may read /healthz too (its 503s included).
app.use(PATHS.health, httpApiCors);
app.use("*", refuseMisconfigured);
/**
 * Every route: its method, path, handler, and the query parameters it reads besides `identity`
 * (undefined: any, for /healthz, which monitors may decorate). Another parameter is refused with
 * `bad_request` rather than ignored (`?asynch=true` would silently block). A known path asked with
 * another method gets 405.
 */
const ROUTES: readonly Route[] = [
  ["GET", PATHS.health, health, undefined],
  ["GET", PATHS.connect, connect, []],
  ["GET", "/v1/queues/:queue/serve", serve, ["partition"]],
  ["GET", "/v1/queues/:queue/connect", queueConnect, []],
  // The HTTP API (docs/http-api.md): clients and servers that cannot open a WebSocket.
  ["POST", "/v1/queues/:queue/requests", postRequest, ["async", "timeout", "failFast"]],
  ["GET", "/v1/requests/:id", getRequest, ["wait"]],
  ["DELETE", "/v1/requests/:id", cancelRequestById, []],
  ["GET", "/v1/outcomes", getOutcomes, ["poller", "after", "wait"]],
  ["POST", "/v1/queues/:queue/take", take, ["wait", "partition", "lease"]],
  ["POST", "/v1/queues/:queue/replies/:id", postReply, ["partition"]],
  ["POST", "/v1/queues/:queue/failures/:id", postFailure, ["partition"]],
  ["POST", "/v1/queues/:queue/leases/:id", postLease, ["partition", "lease"]],
  ["POST", "/v1/queues/:queue/leases", postLeases, ["partition", "lease"]],
  ["POST", "/v1/queues/:queue/presence", postPresence, ["partition"]],
  ["DELETE", "/v1/queues/:queue/takes", deleteTakes, ["partition"]],
  ["DELETE", "/v1/queues/:queue/requests/:id", cancelRequest, []],
  ["GET", "/v1/queues/:queue/stats", queueStats, []],
  ["GET", "/v1/whoami", whoami, []],
];

for (const [method, path, handler, params] of ROUTES) {
  if (params === undefined) app.on(method, path, handler);
  else app.on(method, path, requireKnownParams(params), handler);
}
for (const [path, allowed] of allowedMethods(ROUTES)) {
  app.all(path, (c) => methodNotAllowed(c.req.method, c.req.path, allowed));
}

app.notFound((c) =>
  errorResponse(
    new EdgeMQError(
      ERROR_CODE.notFound,
      `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`,
    ),
  ),
);

app.onError((error, c) => {
  if (error instanceof EdgeMQError) return errorResponse(error, error.httpStatus, c.req.raw);
  console.error(JSON.stringify({ evt: "front_door_fault", error: String(error) }));
  return errorResponse(EdgeMQError.from(error));
});

type Method = "GET" | "POST" | "DELETE";
type Route = [Method, string, Handler<{ Bindings: Env }>, readonly string[] | undefined];

/**
 * Refuses a query parameter the route does not read, naming the ones it does, and one given more
 * than once (the routes read the first value: `failFast=true&failFast=false` would run as true).
 */
function requireKnownParams(params: readonly string[]): MiddlewareHandler {
  const known = new Set(["identity", ...params]);
  return async (c, next) => {
    const query = new URL(c.req.url).searchParams;
    for (const name of query.keys()) {
      if (known.has(name)) {
        const count = query.getAll(name).length;
        if (count === 1) continue;
        const message = `query parameter ${name} is given ${count} times: give it once`;
        throw new EdgeMQError(ERROR_CODE.badRequest, message);
      }
      const near = [...known].find((k) => k.toLowerCase() === name.toLowerCase());
      const hint = near === undefined ? "" : ` (did you mean ${near}?)`;
      const takes = [...known].join(", ");
      const message = `unknown query parameter ${name.slice(0, 64)}${hint}: this route takes ${takes}`;
      throw new EdgeMQError(ERROR_CODE.badRequest, message);
    }
    await next();
  };
}

/** The methods each path answers, in the order the routes list them (HEAD with GET, as Hono does). */
function allowedMethods(routes: typeof ROUTES): Map<string, string[]> {
  const allowed = new Map<string, string[]>();
  for (const [method, path] of routes) {
    const methods = method === "GET" ? ["GET", "HEAD"] : [method];
    allowed.set(path, [...(allowed.get(path) ?? []), ...methods]);
  }
  return allowed;
}

/** 405 with `Allow`, for a known path asked with a method it does not answer. */
function methodNotAllowed(method: string, path: string, allowed: readonly string[]): Response {
  const list = allowed.join(", ");
  const message = `${method} is not allowed on ${path.slice(0, 200)}: use ${list} (docs/http-api.md)`;
  const response = errorResponse(new EdgeMQError(ERROR_CODE.badRequest, message), 405);
  response.headers.set("Allow", list);
  return response;
}
