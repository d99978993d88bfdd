/**
 * The Worker entry: the Hono front door as the default export, and the two Durable Object classes
 * wrangler binds (QUEUE, EXCHANGE).
 */
import { app } from "./app.js";

export { ExchangeDO } from "../durable-objects/exchange/exchange-do.js";
export { QueueDO } from "../durable-objects/queue/queue-do.js";

export default app;
