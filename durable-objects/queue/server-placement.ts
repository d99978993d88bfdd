/**
 * Which partition of its queue a server socket reaches (docs/scaling.md): the front door names it
 * in X-EdgeMQ-Partition after checking it against the queue's partition count; a QueueDO reads it
 * back (a Durable Object does not know its own name) to tell the server in its welcome. A header
 * that is absent or out of range means partition 0. Pure; used by server-upgrade.ts.
 */
import { partitionCount, type QueuePartitions } from "../shared/queue-partitions.js";
import type { Placement } from "./server-socket.js";

export function serverPlacement(
  partitions: Pick<QueuePartitions, "rules">,
  queue: string,
  header: string | null,
): Placement {
  const count = partitionCount(partitions, queue);
  const partition = header !== null && /^[0-9]{1,3}$/.test(header) ? Number(header) : 0;
  return { partition: partition < count ? partition : 0, partitions: count };
}
