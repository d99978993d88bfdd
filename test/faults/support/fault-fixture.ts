/**
 * The fault suite's fixture and commands: one real `wrangler dev` per test file on the ports
 * reserved for this suite (18600-18699, inspector 19600-19699), fault peers in their own Node
 * processes (test/e2e/peers/fault-peer.mjs) that are always cleaned up (SIGCONT first, in case a
 * test left one stopped), and typed wrappers over the peer's commands.
 *
 * Every relay here lifts the per-identity rate limit and the per-client in-flight limit: the
 * scenarios measure delivery under faults, not admission (which has its own tests).
 */
import { join } from "node:path";
import { expect } from "vitest";
import { REPO_ROOT, type Relay } from "../../e2e/relay.js";
import { useRelay } from "../../e2e/support/fixture.js";
import { counts, list, num, record } from "../../e2e/support/guards.js";
import type { PeerProcess } from "../../e2e/support/peer.js";

const FAULT_PEER = join(REPO_ROOT, "test", "e2e", "peers", "fault-peer.mjs");
const FAULT_PORTS = {
  relay: { first: 18600, last: 18699 },
  inspector: { first: 19600, last: 19699 },
} as const;
const UNLIMITED_ADMISSION = {
  EDGEMQ_RATE_LIMIT_PER_SECOND: "1000000",
  EDGEMQ_RATE_LIMIT_BURST: "1000000",
  EDGEMQ_MAX_IN_FLIGHT_PER_CLIENT: "10000",
  EDGEMQ_MAX_QUEUE_DEPTH: "20000",
} as const;

export interface FaultFixture {
  relay(): Relay;
  /** Forks a fault peer process connected to this file's relay (or to `url`: a proxy to it). */
  peer(label: string, url?: string): Promise<PeerProcess>;
}

export function useFaultRelay(vars: Record<string, string> = {}): FaultFixture {
  const options = { vars: { ...UNLIMITED_ADMISSION, ...vars }, ports: FAULT_PORTS };
  return useRelay(options, { peerProgram: FAULT_PEER });
}

export interface LoadArgs {
  job: string;
  identities: string[];
  perIdentity: number;
  /** Most unfinished requests per identity at once. */
  window: number;
  queue: string;
  timeout: number;
  /** Record the arrival order of every settlement (a counter shared by the peer's loads). */
  keepOrder?: boolean;
  /** Pad each request's payload (echoed in its reply) with this many bytes. */
  padBytes?: number;
}

/** What a load saw, counted per request key by the client process. */
export interface LoadSummary {
  total: number;
  sent: number;
  /** Replies carrying the exact payload sent, routed to the identity that sent it. */
  replied: number;
  /** EdgeMQError rejections, by code. */
  errors: Record<string, number>;
  /** Rejections that were not EdgeMQErrors. */
  untyped: number;
  wrongPayload: number;
  misrouted: number;
  /** Second (or later) settlements of one request key. */
  duplicated: number;
  /** Requests with no settlement when the wait ended. */
  lost: number;
  p50Ms: number;
  p99Ms: number;
  /** identity -> arrival numbers of its settlements (with keepOrder). */
  arrivals: Record<string, number[]>;
  /** `server@attempt` -> replies. */
  replies: Record<string, number>;
  /** Request ids whose outcome reached the client's wire more than once (the SDK ignores repeats). */
  wireDuplicates: number;
  /** Outcome frames a reconnected client socket got before any `accepted`: the outbox replay. */
  replayedOnResume: number;
  samples: string[];
}

/** How fault peers connect: the SDK's `route` and `transport` options (default: the SDK's). */
export interface ConnectOptions {
  route?: "queue" | "exchange";
  transport?: "websocket" | "http";
}

/** Connects SDK peers with `options` (default: queue links over WebSocket). */
export async function connectIdentities(
  peer: PeerProcess,
  identities: string[],
  options: ConnectOptions = {},
): Promise<void> {
  await peer.call("connect", { identities, ...options }, 30_000);
}

export async function serve(
  peer: PeerProcess,
  args: { identity: string; queue: string; concurrency: number; name: string; delayMs?: number },
): Promise<void> {
  await peer.call("serve", { ...args }, 30_000);
}

export async function startLoad(peer: PeerProcess, args: LoadArgs): Promise<void> {
  await peer.call("startLoad", { ...args }, 30_000);
}

export async function progress(peer: PeerProcess, job: string): Promise<number> {
  return num(record(await peer.call("progress", { job }, 10_000), "progress").settled, "settled");
}

/** Replies a load got so far from `server` at `attempt` (its `replies` key `server@attempt`). */
export async function repliesFrom(
  peer: PeerProcess,
  job: string,
  server: string,
  attempt = 1,
): Promise<number> {
  const replies = record(
    record(await peer.call("progress", { job }, 10_000), "progress").replies,
    "replies",
  );
  const count = replies[`${server}@${attempt}`];
  return count === undefined ? 0 : num(count, "replies");
}

/** Waits (bounded by `maxWaitMs` in the peer) for a load to settle, then reads its summary. */
export async function awaitLoad(
  peer: PeerProcess,
  job: string,
  maxWaitMs: number,
): Promise<LoadSummary> {
  const r = record(await peer.call("awaitLoad", { job, maxWaitMs }, maxWaitMs + 15_000), "load");
  const arrivals: Record<string, number[]> = {};
  for (const [identity, order] of Object.entries(record(r.arrivals, "arrivals"))) {
    arrivals[identity] = list(order, "arrivals").map((n) => num(n, "arrival"));
  }
  return {
    total: num(r.total, "total"),
    sent: num(r.sent, "sent"),
    replied: num(r.replied, "replied"),
    errors: counts(r.errors, "errors"),
    untyped: num(r.untyped, "untyped"),
    wrongPayload: num(r.wrongPayload, "wrongPayload"),
    misrouted: num(r.misrouted, "misrouted"),
    duplicated: num(r.duplicated, "duplicated"),
    lost: num(r.lost, "lost"),
    p50Ms: num(r.p50Ms, "p50Ms"),
    p99Ms: num(r.p99Ms, "p99Ms"),
    arrivals,
    replies: counts(r.replies, "replies"),
    wireDuplicates: num(r.wireDuplicates, "wireDuplicates"),
    replayedOnResume: num(r.replayedOnResume, "replayedOnResume"),
    samples: list(r.samples, "samples").map(String),
  };
}

/** Terminates `identity`'s client socket under the SDK and keeps it away for `awayMs`. */
/** How many client sockets (exchange socket, queue links) of `identity` are open in the peer. */
export async function openClientSockets(peer: PeerProcess, identity: string): Promise<number> {
  const r = record(await peer.call("openSockets", { identity }, 10_000), "openSockets");
  return num(r.open, "open");
}

export async function dropClientSocket(
  peer: PeerProcess,
  identity: string,
  awayMs: number,
): Promise<number> {
  const r = record(await peer.call("dropSockets", { identity, awayMs }, 10_000), "dropSockets");
  return num(r.dropped, "dropped");
}

/** Error frames with an id the peer's server sockets received (refused answers), by code. */
export async function refusedAnswers(peer: PeerProcess): Promise<Record<string, number>> {
  const r = record(await peer.call("wire", {}, 10_000), "wire");
  return counts(r.refusedAnswers, "refusedAnswers");
}

/** What the peer's client sockets received: `accepted` frames, and `error` frames by code. */
export async function clientWire(
  peer: PeerProcess,
): Promise<{ accepted: number; errors: Record<string, number> }> {
  const r = record(await peer.call("wire", {}, 10_000), "wire");
  return { accepted: num(r.accepted, "accepted"), errors: counts(r.clientErrors, "clientErrors") };
}

/** Keys of the requests servers ran, with their attempts, from the peers' `ran` events. */
export function ranLog(servers: readonly PeerProcess[]): { key: string; attempt: number }[] {
  return servers.flatMap((p) =>
    p.eventsOf("ran").map((e) => ({ key: String(e.key), attempt: num(e.attempt, "attempt") })),
  );
}

/** Waits (bounded in count and time) until `check` holds. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < until; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The exactly-once verdict shared by every scenario. */
export function exactlyOnce(summary: LoadSummary): Record<string, number> {
  const typed = Object.values(summary.errors).reduce((a, b) => a + b, 0);
  return {
    sent: summary.sent,
    settled: summary.replied + typed + summary.untyped + summary.wrongPayload + summary.misrouted,
    lost: summary.lost,
    duplicated: summary.duplicated,
    untyped: summary.untyped,
    wrongPayload: summary.wrongPayload,
    misrouted: summary.misrouted,
  };
}

/** The exactly-once verdict of a load of `total` requests that all settled: none lost or doubled. */
export function settledOnce(total: number): Record<string, number> {
  return {
    sent: total,
    settled: total,
    lost: 0,
    duplicated: 0,
    untyped: 0,
    wrongPayload: 0,
    misrouted: 0,
  };
}

/**
 * Kills the relay once `job` has settled `killAt` requests, restarts it, and checks that all
 * `total` then settle exactly once with their replies, each run by one of `servers` (re-runs
 * after the kill are allowed). Returns the load's summary and how many had settled at the kill.
 */
export async function killAndSettle(
  faults: FaultFixture,
  peers: { client: PeerProcess; servers: PeerProcess[] },
  job: { name: string; total: number; killAt: number },
): Promise<{ summary: LoadSummary; settledAtKill: number }> {
  const { client, servers } = peers;
  await waitUntil(
    async () => (await progress(client, job.name)) >= job.killAt,
    60_000,
    `${job.killAt} settled requests`,
  );
  const relay = faults.relay();
  await relay.kill9();
  const settledAtKill = await progress(client, job.name);
  expect(settledAtKill).toBeLessThan(job.total);
  await relay.restart();

  const summary = await awaitLoad(client, job.name, 120_000);
  expect(summary.samples).toEqual([]);
  expect(exactlyOnce(summary)).toEqual(settledOnce(job.total));
  expect(summary.replied).toBe(job.total);
  expect(new Set(ranLog(servers).map((r) => r.key)).size).toBe(job.total);
  return { summary, settledAtKill };
}
