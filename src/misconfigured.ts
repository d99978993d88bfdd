/**
 * A relay whose settings cannot all be read (settings.ts `problems`: a typo, a non-number, an
 * unknown delivery mode) refuses every call with `internal` naming each problem, and `/healthz`
 * answers 503 with them, rather than running on defaults the operator did not choose. The
 * problems are logged once per isolate.
 */
import type { Context, Next } from "hono";
import { readSettings } from "../durable-objects/shared/settings.js";
import { EdgeMQError, ERROR_CODE, PATHS, PROTOCOL_VERSION } from "../protocol/index.js";
import type { Env } from "./env.js";

const logged = new WeakSet<object>();

export async function refuseMisconfigured(
  c: Context<{ Bindings: Env }>,
  next: Next,
): Promise<Response | undefined> {
  const { problems } = readSettings(c.env);
  if (problems.length === 0) {
    await next();
    return undefined;
  }
  if (!logged.has(c.env)) {
    logged.add(c.env);
    console.error(JSON.stringify({ evt: "settings_invalid", problems }));
  }
  if (c.req.path === PATHS.health) {
    return c.json({ ok: false, protocol: PROTOCOL_VERSION, problems }, 503);
  }
  const message = `relay misconfigured: ${problems.join("; ")} (see docs/settings.md)`;
  throw new EdgeMQError(ERROR_CODE.internal, message);
}
