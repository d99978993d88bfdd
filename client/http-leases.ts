/**
 * The lease calls of an HTTP service's running handlers, batched: one
 * `POST /v1/queues/{q}/leases` per partition and round, naming every handler due within half its
 * interval, instead of one call per handler (each call is a Worker request and an object
 * transaction, billed on Cloudflare). A handler is due every min(lease / 3, CANCEL_CHECK_MS): the
 * call renews its lease and is how it hears that its request ended (cancelled by its client, or
 * the lease lost), which it then hears within that interval. Once a lease runs to the deadline,
 * only that check goes on. A relay without the route (404 or 405 for the whole call) gets the
 * one-id calls (`.../leases/{id}`). Each call asks for the service's lease (`?lease=`,
 * HTTP_SERVER_LEASE_MS) where the relay takes it. Used by http-service.ts.
 */
import { HTTP_API_HEADERS } from "../protocol/index.js";
import type { HttpAnswer, HttpLink } from "./http-link.js";
import { startTimer, stopTimer, type TimerHandle } from "./platform.js";

/**
 * How often an HTTP server's handler asks after its request (a lease call), at most: a cancel
 * reaches its signal no later than this after the relay took it.
 */
export const CANCEL_CHECK_MS = 2_000;

/**
 * The lease an HTTP server asks for (`?lease=` of its takes and lease calls), from a relay that
 * lists the "lease" feature: a server that dies (SIGKILL, a lost machine) holds its requests only
 * this long, where the relay's whole leaseMs (30 s, the default timeout too) would see them end in
 * `timeout` unrun. A WebSocket server's requests come back when its socket closes; over HTTP the
 * relay hears of the crash only when the lease runs out. Renewed every CANCEL_CHECK_MS, so five
 * renewals go out before a lease ends.
 */
export const HTTP_SERVER_LEASE_MS = 10_000;

/** Most ids in one lease call (the relay's limit). */
const MAX_IDS = 1_000;

/** What a lease call said of one lease: ended, renewed up to the deadline, or renew again. */
export type LeaseResult = "lost" | "to-deadline" | "renew";

/** A running handler's lease, as the service holds it here. */
export interface HeldLease {
  /** The id its take answered (`EdgeMQ-Request-Id`). */
  readonly id: string;
  readonly partition: number;
  /** `?partition=p` for its calls ("" on an unpartitioned relay). */
  readonly partitionQuery: string;
  readonly deadline: number;
  /** Its renewal interval (ms). */
  readonly every: number;
  /** When it is next due (epoch ms). */
  due: number;
  /** The relay ended the request, or the lease is not this server's any more. */
  lost(): void;
}

export class HttpLeases {
  readonly #link: HttpLink;
  readonly #base: string;
  readonly #seen: (partition: number) => void;
  readonly #held = new Set<HeldLease>();
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  /** `lease=<ms>` for the calls' query ("" from a relay that does not take it). */
  readonly #lease: string;
  /** False once the relay answered that it has no batch route. */
  #batch = true;

  /**
   * `base` is the queue's path (`/v1/queues/{q}`); `seen` notes a partition that answered;
   * `leaseMs` is the lease to ask for (`?lease=`), undefined from a relay without the feature.
   */
  constructor(
    link: HttpLink,
    base: string,
    seen: (partition: number) => void,
    leaseMs: number | undefined,
  ) {
    this.#link = link;
    this.#base = base;
    this.#seen = seen;
    this.#lease = leaseMs === undefined ? "" : `lease=${leaseMs}`;
  }

  /** A call's query: its partition's (`?partition=p` or "") and the lease asked for. */
  #query(partitionQuery: string): string {
    if (this.#lease === "") return partitionQuery;
    return partitionQuery === "" ? `?${this.#lease}` : `${partitionQuery}&${this.#lease}`;
  }

  /** Keeps `lease` renewed from its `due` on; the function returned stops (handler finished). */
  hold(lease: HeldLease): () => void {
    this.#held.add(lease);
    this.#arm();
    return () => {
      this.#held.delete(lease);
      if (this.#held.size === 0) this.#disarm();
    };
  }

  #arm(): void {
    let at = Number.POSITIVE_INFINITY;
    for (const lease of this.#held) at = Math.min(at, lease.due);
    if (at >= this.#timerAt) return;
    this.#disarm();
    if (at === Number.POSITIVE_INFINITY) return;
    this.#timerAt = at;
    this.#timer = startTimer(() => this.#round(), Math.max(0, at - Date.now()));
  }

  #disarm(): void {
    stopTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /** One round: every lease due within half its interval, one call per partition. */
  #round(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    const groups = new Map<string, HeldLease[]>();
    for (const lease of this.#held) {
      if (lease.due - lease.every / 2 > now) continue;
      if (now >= lease.deadline) {
        // The relay ends the request at its deadline: no lease is left to keep.
        this.#held.delete(lease);
        continue;
      }
      lease.due = Number.POSITIVE_INFINITY;
      groups.set(lease.partitionQuery, [...(groups.get(lease.partitionQuery) ?? []), lease]);
    }
    for (const [query, leases] of groups) {
      for (let i = 0; i < leases.length; i += MAX_IDS) {
        void this.#renew(query, leases.slice(i, i + MAX_IDS));
      }
    }
    this.#arm();
  }

  async #renew(query: string, leases: HeldLease[]): Promise<void> {
    let results: LeaseResult[];
    try {
      results = await this.#call(query, leases);
    } catch {
      results = leases.map(() => "renew");
    }
    const now = Date.now();
    leases.forEach((lease, i) => {
      if (!this.#held.has(lease)) return;
      const result = results[i] ?? "renew";
      if (result === "lost") {
        this.#held.delete(lease);
        lease.lost();
      } else {
        lease.due = now + (result === "renew" ? lease.every : CANCEL_CHECK_MS);
      }
    });
    this.#arm();
  }

  /** Each lease's result, from one batch call, or one call each on a relay without it. */
  async #call(query: string, leases: readonly HeldLease[]): Promise<LeaseResult[]> {
    if (this.#batch) {
      const body = JSON.stringify({ ids: leases.map((lease) => lease.id) });
      const headers = { "Content-Type": "application/json" };
      const path = `${this.#base}/leases${this.#query(query)}`;
      const answer = await this.#link.call("POST", path, {
        body,
        headers,
      });
      if (answer.status !== 404 && answer.status !== 405) return this.#batchResults(answer, leases);
      this.#batch = false;
    }
    return Promise.all(leases.map((lease) => this.#callOne(lease)));
  }

  #batchResults(answer: HttpAnswer, leases: readonly HeldLease[]): LeaseResult[] {
    // The whole call refused (a bad or expired token, a partition K no longer has): as the
    // one-id route's refusal of each would be.
    if (answer.status !== 200) return leases.map(() => resultOf(answer.status, Number.NaN, 0));
    const entries = readEntries(answer);
    if (entries === undefined) return leases.map(() => "renew");
    const first = leases[0];
    if (first !== undefined && entries.some((entry) => entry.status < 300)) {
      this.#seen(first.partition);
    }
    return leases.map((lease, i) => {
      const entry = entries[i];
      return entry === undefined ? "renew" : resultOf(entry.status, entry.leaseMs, lease.deadline);
    });
  }

  async #callOne(lease: HeldLease): Promise<LeaseResult> {
    const id = encodeURIComponent(lease.id);
    const path = `${this.#base}/leases/${id}${this.#query(lease.partitionQuery)}`;
    try {
      const answer = await this.#link.call("POST", path);
      if (answer.status < 300) this.#seen(lease.partition);
      const leaseMs = Number(answer.header(HTTP_API_HEADERS.leaseMs));
      return resultOf(answer.status, leaseMs, lease.deadline);
    } catch {
      return "renew";
    }
  }
}

interface Entry {
  status: number;
  leaseMs: number;
}

/** The `leases` of a batch call's answer, in order; undefined when it is not one. */
function readEntries(answer: HttpAnswer): Entry[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(answer.bytes));
  } catch {
    return undefined;
  }
  const leases: unknown =
    typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "leases") : undefined;
  if (!Array.isArray(leases)) return undefined;
  return leases.map((entry: unknown) => {
    const field = (name: string): unknown =>
      typeof entry === "object" && entry !== null ? Reflect.get(entry, name) : undefined;
    const status = field("status");
    const leaseMs = field("leaseMs");
    return {
      status: typeof status === "number" ? status : 500,
      leaseMs: typeof leaseMs === "number" ? leaseMs : Number.NaN,
    };
  });
}

/**
 * What one lease's answer means: `lost` (a 4xx other than 429: the request ended, cancelled or
 * past its deadline, or is not this server's any more), `to-deadline` (renewed up to the
 * deadline: only the cancel check goes on), else `renew` again later.
 */
function resultOf(status: number, leaseMs: number, deadline: number): LeaseResult {
  if (status >= 400 && status < 500 && status !== 429) return "lost";
  if (status < 300 && reachesDeadline(leaseMs, deadline)) return "to-deadline";
  return "renew";
}

/** Whether a lease of `leaseMs` from now already runs to `deadline` (no renewal can extend it). */
export function reachesDeadline(leaseMs: number, deadline: number): boolean {
  return Date.now() + leaseMs >= deadline;
}
