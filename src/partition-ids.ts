/**
 * Dispatch ids of partitioned queues over HTTP. Each partition numbers its own requests, so two
 * partitions hand out the same dispatch ids; a take from a queue of K > 1 partitions therefore
 * answers `p<partition>.<id>`, and a reply, failure or lease call finds its partition in that id.
 * A bare id (a take from before K > 1, or one built by hand) needs `?partition=` on such a queue:
 * sent to the wrong partition, it could answer another client's request there. Pure; used by
 * routes/http-server.ts.
 */
import { readPartition } from "../durable-objects/shared/queue-partitions.js";
import { EdgeMQError, ERROR_CODE } from "../protocol/index.js";

/** The `partition` query parameter: undefined when absent, `bad_request` when out of range. */
export function requirePartition(value: string | undefined, count: number): number | undefined {
  const partition = readPartition(value, count);
  if (typeof partition === "string") throw badRequest(partition);
  return partition;
}

const PARTITIONED_ID = /^p([0-9]{1,3})\.(.+)$/;

/** The id a take from partition `partition` of a queue of `count` partitions answers. */
export function takenId(id: string, partition: number, count: number): string {
  return count > 1 ? `p${partition}.${id}` : id;
}

/**
 * The partition and the partition's own id that a server's answer names: from a `p<n>.` id,
 * else from `?partition=` (`query`), else partition 0 on an unpartitioned queue. `bad_request`
 * when the two disagree, when either is out of range, or when a partitioned queue gets neither.
 */
export function answeredId(
  id: string,
  query: string | undefined,
  count: number,
): { id: string; partition: number } {
  const fromQuery = requirePartition(query, count);
  const match = PARTITIONED_ID.exec(id);
  if (match !== null) {
    const partition = requirePartition(match[1], count);
    if (fromQuery !== undefined && fromQuery !== partition) {
      throw badRequest(`id ${id} names partition ${partition}, not ${fromQuery}`);
    }
    return { id: match[2] ?? "", partition: partition ?? 0 };
  }
  if (fromQuery !== undefined) return { id, partition: fromQuery };
  if (count > 1) {
    throw badRequest(
      `this queue has ${count} partitions: answer with the EdgeMQ-Request-Id its take gave (p<n>.<id>), or pass ?partition=`,
    );
  }
  return { id, partition: 0 };
}

function badRequest(message: string): EdgeMQError {
  return new EdgeMQError(ERROR_CODE.badRequest, message);
}
