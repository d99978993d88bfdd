/**
 * GET /v1/queues/:queue/stats: what a queue holds now, for operators and dashboards (the queue
 * depth a RabbitMQ or NATS user would look up): requests waiting (`queued`) and in a server's
 * hands (`leased`), WebSocket server connections (`servers`) and whether an HTTP server took or
 * said it was present in the last 15 s (`httpServers`), in all and per partition. Any token that
 * allows the queue may ask, whatever its role. Wakes each partition's object.
 */
import type { Context } from "hono";
import type { QueueStats } from "../../durable-objects/queue/queue-do.js";
import type { Env } from "../env.js";
import { readQueue } from "../http-params.js";
import { establishPrincipal, requireQueue } from "../identity.js";
import { partitionStub, partitionsOf } from "../partitions.js";

export async function queueStats(c: Context<{ Bindings: Env }>): Promise<Response> {
  const queue = readQueue(c.req.param("queue"));
  const principal = await establishPrincipal(c.req.raw, c.env);
  requireQueue(principal, queue);
  const count = partitionsOf(c.env, queue);
  const parts: QueueStats[] = await Promise.all(
    Array.from({ length: count }, (_, p) => partitionStub(c.env, queue, p).stats(queue)),
  );
  const sum = (key: "queued" | "leased" | "servers") =>
    parts.reduce((total, part) => total + part[key], 0);
  return c.json({
    queue,
    queued: sum("queued"),
    leased: sum("leased"),
    servers: sum("servers"),
    httpServers: parts.some((part) => part.httpServers),
    partitions: parts.map((part, partition) => ({ partition, ...part })),
  });
}
