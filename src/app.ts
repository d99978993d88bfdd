/**
 * The Hono front door: wires routes and error mapping, nothing else. WebSocket upgrades get no
 * header middleware (CORS skips them), because the objects' 101 responses must pass through
 * untouched.
 */
import { Hono } from "hono";
import { EdgeMQError, ERROR_CODE, PATHS } from "../protocol/index.js";
import { httpApiCors } from "./cors.js";
import type { Env } from "./env.js";
import { errorResponse } from "./http-error.js";
import { refuseMisconfigured } from "./misconfigured.js";
import { connect } from "./routes/connect.js";
import { health } from "./routes/health.js";
import { cancelRequest, getRequest, postRequest } from "./routes/http-client.js";
import { postFailure, postLease, postPresence, postReply, take } from "./routes/http-server.js";
import { queueConnect } from "./routes/queue-connect.js";
import { serve } from "./routes/serve.js";
import { queueStats } from "./routes/stats.js";
import { whoami } from "./routes/whoami.js";

export const app = new Hono<{ Bindings: Env }>();

app.use("/v1/*", httpApiCors);
app.use("*", refuseMisconfigured);
app.get(PATHS.health, health);
app.get(PATHS.connect, connect);
app.get("/v1/queues/:queue/serve", serve);
app.get("/v1/queues/:queue/connect", queueConnect);
// The HTTP API (docs/http-api.md): clients and servers that cannot open a WebSocket.
app.post("/v1/queues/:queue/requests", postRequest);
app.get("/v1/requests/:id", getRequest);
app.post("/v1/queues/:queue/take", take);
app.post("/v1/queues/:queue/replies/:id", postReply);
app.post("/v1/queues/:queue/failures/:id", postFailure);
app.post("/v1/queues/:queue/leases/:id", postLease);
app.post("/v1/queues/:queue/presence", postPresence);
app.delete("/v1/queues/:queue/requests/:id", cancelRequest);
app.get("/v1/queues/:queue/stats", queueStats);
app.get("/v1/whoami", whoami);

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
