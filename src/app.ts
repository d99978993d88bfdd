/**
 * The Hono front door: wires routes and error mapping, nothing else. WebSocket routes carry no
 * header middleware, because the objects' 101 responses must pass through untouched.
 */
import { Hono } from "hono";
import { EdgeMQError, ERROR_CODE, PATHS } from "../protocol/index.js";
import type { Env } from "./env.js";
import { errorResponse } from "./http-error.js";
import { connect } from "./routes/connect.js";
import { health } from "./routes/health.js";
import { serve } from "./routes/serve.js";

export const app = new Hono<{ Bindings: Env }>();

app.get(PATHS.health, health);
app.get(PATHS.connect, connect);
app.get("/v1/queues/:queue/serve", serve);

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
