/**
 * Gathers the requests bound for one queue across client messages: while an `enqueueBatch` call
 * to that queue is in flight, requests that arrive (from any client of this exchange) wait and go
 * together in the next call, as soon as it returns. A lone request goes at once, so a quiet relay
 * adds no delay; under load, many small client messages become one RPC and one queue
 * transaction (one commit) instead of one each. A cancel waits for the requests handed over
 * before it (`settled`), so it never overtakes its request. Used by exchange-do.ts.
 */
import type { EnqueueInput, EnqueueOutcome } from "../shared/contracts.js";

/** Calls `enqueueBatch` on the queue object named `object`. */
export type EnqueueBatchCall = (
  object: string,
  inputs: EnqueueInput[],
) => Promise<EnqueueOutcome[][]>;

interface Waiting {
  input: EnqueueInput;
  /** Its answer (or failure), settled when its call ends. */
  answer: Promise<EnqueueOutcome[]>;
  settled: boolean;
  resolve: (outcomes: EnqueueOutcome[]) => void;
  reject: (error: unknown) => void;
}

/** Most inputs (client messages) carried by one call. */
const MAX_INPUTS = 256;

export class EnqueueBatcher {
  private readonly waiting = new Map<string, Waiting[]>();
  /** The call in flight per queue object. */
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly call: EnqueueBatchCall) {}

  /**
   * Enqueues `input` on the queue object named `object` (a queue, or one of its partitions).
   * The call is always made by a caller that is itself waiting for its answer (never from a
   * finished event's continuation): when the call in flight ends, the first waiter still
   * unanswered sends everything waiting, its own input included.
   */
  async enqueue(object: string, input: EnqueueInput): Promise<EnqueueOutcome[]> {
    let resolve: (outcomes: EnqueueOutcome[]) => void = () => undefined;
    let reject: (error: unknown) => void = () => undefined;
    const answer = new Promise<EnqueueOutcome[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Waiting = { input, answer, settled: false, resolve, reject };
    const list = this.waiting.get(object);
    if (list) list.push(entry);
    else this.waiting.set(object, [entry]);
    while (!entry.settled) {
      const busy = this.inFlight.get(object);
      if (busy === undefined) await this.send(object);
      else await busy.catch(() => undefined);
    }
    return answer;
  }

  /**
   * Resolves once every enqueue already handed over for `object` (waiting or in flight) has
   * its answer: a cancel sent after this cannot overtake the request it names.
   */
  async settled(object: string): Promise<void> {
    const waiting = (this.waiting.get(object) ?? []).map((w) => w.answer);
    await Promise.allSettled([...waiting, this.inFlight.get(object)]);
  }

  private async send(object: string): Promise<void> {
    const all = this.waiting.get(object) ?? [];
    const batch = all.splice(0, MAX_INPUTS);
    if (all.length === 0) this.waiting.delete(object);
    if (batch.length === 0) return;
    const settle = (fn: (w: Waiting, i: number) => void) =>
      batch.forEach((w, i) => {
        w.settled = true;
        fn(w, i);
      });
    let call: Promise<EnqueueOutcome[][]>;
    try {
      call = this.call(
        object,
        batch.map((w) => w.input),
      );
    } catch (error) {
      settle((w) => w.reject(error));
      return;
    }
    this.inFlight.set(object, call);
    try {
      const answers = await call;
      settle((w, i) => w.resolve(answers[i] ?? []));
    } catch (error) {
      settle((w) => w.reject(error));
    } finally {
      this.inFlight.delete(object);
    }
  }
}
