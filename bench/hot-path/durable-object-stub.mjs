/**
 * Stands in for `cloudflare:workers` in the hot-path bench (wrangler.toml's alias): the runtime's
 * DurableObject base checks that its context is a real DurableObjectState, and the bench runs a
 * QueueDO over a fake one, in a plain Worker.
 */
export class DurableObject {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}
