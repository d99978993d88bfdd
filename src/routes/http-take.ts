/**
 * Which partition an HTTP server's take reaches (docs/scaling.md). With `?partition=p` only that
 * one. Without it, on a queue of K > 1 partitions, the take sweeps every partition once without
 * waiting, from a random start (the front door keeps no state, so a random start stands in for
 * round-robin), then long-polls the start partition for `wait`: a request that arrives meanwhile
 * on another partition waits for the next take. The answer names the partition (EdgeMQ-Partition,
 * and the id: partition-ids.ts), which routes its reply, failure and lease calls.
 */
import type { HttpTakeAnswer } from "../../durable-objects/shared/http-contracts.js";
import type { Env } from "../env.js";
import { partitionStub } from "../partitions.js";

export interface PartitionTake {
  answer: HttpTakeAnswer;
  partition: number;
}

export async function takeFromPartitions(
  env: Env,
  input: { queue: string; identity: string; waitMs: number; takeId?: string; leaseMs?: number },
  partitions: number,
  chosen: number | undefined,
  /** Aborted when the caller hangs up: the sweep stops there. */
  signal?: AbortSignal,
): Promise<PartitionTake> {
  const take = (partition: number, waitMs: number) =>
    partitionStub(env, input.queue, partition).take({ ...input, waitMs });
  if (chosen !== undefined || partitions <= 1) {
    const partition = chosen ?? 0;
    return { answer: await take(partition, input.waitMs), partition };
  }
  const start = Math.floor(Math.random() * partitions);
  for (let i = 0; i < partitions; i++) {
    if (signal?.aborted === true) return { answer: { ok: true, dispatch: null }, partition: start };
    const partition = (start + i) % partitions;
    const answer = await take(partition, 0);
    if (!answer.ok || answer.dispatch !== null) return { answer, partition };
  }
  if (input.waitMs === 0 || signal?.aborted === true) {
    return { answer: { ok: true, dispatch: null }, partition: start };
  }
  return { answer: await take(start, input.waitMs), partition: start };
}
