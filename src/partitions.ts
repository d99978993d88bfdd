/**
 * The front door's view of partitioned queues (docs/scaling.md): how many partitions a queue
 * has, the `partition` parameter of server routes (validated against that count; `bad_request`
 * otherwise), and the queue object a client's requests or a server's partition reach. Used by
 * routes/serve.ts, routes/http-server.ts and routes/http-client.ts.
 */
import {
  clientQueueObject,
  partitionCount,
  queueObjectName,
} from "../durable-objects/shared/queue-partitions.js";
import { readSettings } from "../durable-objects/shared/settings.js";
import type { Env } from "./env.js";

/** How many partitions `queue` has (EDGEMQ_QUEUE_PARTITIONS; 1 by default). */
export function partitionsOf(env: Env, queue: string): number {
  return partitionCount(readSettings(env).queuePartitions, queue);
}

export { requirePartition } from "./partition-ids.js";

/** The stub of `queue`'s partition `partition`. */
export function partitionStub(env: Env, queue: string, partition: number) {
  return env.QUEUE.getByName(queueObjectName(queue, partition));
}

/** The stub of the partition of `queue` that holds `identity`'s requests. */
export function clientQueueStub(env: Env, queue: string, identity: string) {
  return env.QUEUE.getByName(clientQueueObject(readSettings(env).queuePartitions, queue, identity));
}
