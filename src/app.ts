/**
 * The Hono front door: wires routes and error mapping, nothing else. WebSocket upgrades get no
 * header middleware (CORS skips them), because the objects' 101 responses must pass through
 * untouched.
 */
import { type Handler, Hono } from "hono";
import { EdgeMQError, ERROR_CODE, PATHS } from "../protocol/index.js";
import { httpApiCors } from "./cors.js";
import type { Env } from "./env.js";
import { errorResponse } from "./http-error.js";
import { refuseMisconfigured } from "./misconfigured.js";
import { connect } from "./routes/connect.js";
import { health } from "./routes/health.js";
import { cancelRequest, cancelRequestById, getRequest, postRequest } from "./routes/http-client.js";
import { postFailure, postLease, postPresence, postReply, take } from "./routes/http-server.js";
import { queueConnect } from "./routes/queue-connect.js";
import { serve } from "./routes/serve.js";
import { queueStats } from "./routes/stats.js";
import { whoami } from "./routes/whoami.js";

export const app = new Hono<{ Bindings: Env }>();

app.use("/v1/*", httpApiCors);
app.use("*", refuseMisconfigured);
/** Every route: its method, path and handler. A known path asked with another method gets 405. */
const ROUTES: readonly [Method, string, Handler<{ Bindings: Env }>][] = [
  ["GET", PATHS.health, health],
  ["GET", PATHS.connect, connect],
  ["GET", "/v1/queues/:queue/serve", serve],
  ["GET", "/v1/queues/:queue/connect", queueConnect],
  // The HTTP API (docs/http-api.md): clients and servers that cannot open a WebSocket.
  ["POST", "/v1/queues/:queue/requests", postRequest],
  ["GET", "/v1/requests/:id", getRequest],
  ["DELETE", "/v1/requests/:id", cancelRequestById],
  ["POST", "/v1/queues/:queue/take", take],
  ["POST", "/v1/queues/:queue/replies/:id", postReply],
  ["POST", "/v1/queues/:queue/failures/:id", postFailure],
  ["POST", "/v1/queues/:queue/leases/:id", postLease],
  ["POST", "/v1/queues/:queue/presence", postPresence],
  ["DELETE", "/v1/queues/:queue/requests/:id", cancelRequest],
  ["GET", "/v1/queues/:queue/stats", queueStats],
  ["GET", "/v1/whoami", whoami],
];

for (const [method, path, handler] of ROUTES) app.on(method, path, handler);
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

app.onError((error) => {
  if (error instanceof EdgeMQError) return errorResponse(error);
  console.error(JSON.stringify({ evt: "front_door_fault", error: String(error) }));
  return errorResponse(EdgeMQError.from(error));
});

type Method = "GET" | "POST" | "DELETE";

/** The methods each path answers, in the order the routes list them. */
function allowedMethods(routes: typeof ROUTES): Map<string, Method[]> {
  const allowed = new Map<string, Method[]>();
  for (const [method, path] of routes) allowed.set(path, [...(allowed.get(path) ?? []), method]);
  return allowed;
}

/** 405 with `Allow`, for a known path asked with a method it does not answer. */
function methodNotAllowed(method: string, path: string, allowed: readonly Method[]): Response {
  const list = allowed.join(", ");
  const message = `${method} is not allowed on ${path.slice(0, 200)}: use ${list} (docs/http-api.md)`;
  const response = errorResponse(new EdgeMQError(ERROR_CODE.badRequest, message), 405);
  response.headers.set("Allow", list);
  return response;
}
