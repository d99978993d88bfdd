/**
 * A relay whose settings cannot all be read (settings.ts `problems`: a typo, a non-number, an
 * unknown delivery mode) refuses every call with `internal` naming each such setting, and
 * `/healthz` answers 503 with their names, rather than running on defaults the operator did not
 * choose. What is wrong with each value is logged (once per isolate), never told to callers:
 * a value may be something the operator would not publish.
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
  const { problems, misread } = readSettings(c.env);
  if (problems.length === 0) {
    await next();
    return undefined;
  }
  if (!logged.has(c.env)) {
    logged.add(c.env);
    console.error(JSON.stringify({ evt: "settings_invalid", problems }));
  }
  if (c.req.path === PATHS.health) {
    return c.json({ ok: false, protocol: PROTOCOL_VERSION, misread }, 503);
  }
  const message = `relay misconfigured: invalid ${misread.join(", ")} (the relay's log says why, in a settings_invalid line; see docs/settings.md)`;
  throw new EdgeMQError(ERROR_CODE.internal, message);
}
