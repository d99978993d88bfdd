/**
 * The Worker's bindings and variables: the single `Env` type for the front door and both
 * Durable Object classes.
 */
import type { ExchangeDO } from "../durable-objects/exchange/exchange-do.js";
import type { QueueDO } from "../durable-objects/queue/queue-do.js";

export interface Env {
  QUEUE: DurableObjectNamespace<QueueDO>;
  EXCHANGE: DurableObjectNamespace<ExchangeDO>;
  /** "true" (or TOML `true`) only under `npm start`: peers declare their identity without a token. */
  EDGEMQ_DEV_MODE?: string | boolean;
  /** HS256 secret for peer tokens (issue: security). */
  EDGEMQ_SECRET?: string;
  /**
   * The secret EDGEMQ_SECRET replaced, during a rotation: tokens it signed stay valid until it
   * is removed (README, Rotating the secret).
   */
  EDGEMQ_SECRET_PREVIOUS?: string;
  EDGEMQ_EXCHANGE_SHARDS?: string | number;
}
