/**
 * Typed wrappers over the peer-process commands (see test/e2e/peers/peer.mjs): each sends one
 * command, bounds its wait, and checks the shape of the answer before handing it to a test.
 */
import { counts, list, num, record, str } from "./guards.js";
import type { PeerProcess } from "./peer.js";

export type RequestOutcome =
  | { ok: true; body: unknown }
  | { ok: false; isEdgeMQError: boolean; code: string | undefined; message: string };

export interface RequestOptions {
  timeout?: number;
  failFast?: boolean;
  headers?: Record<string, string>;
}

export interface BurstArgs {
  identities: string[];
  perIdentity: number;
  queue: string;
  timeout: number;
}

export interface BurstSummary {
  sent: number;
  ok: number;
  misrouted: number;
  wrongPayload: number;
  errors: Record<string, number>;
  samples: string[];
  /** How many replies came from each attempt number (as the server reported it). */
  attempts: Record<string, number>;
}

export type ServerMode = "echo" | "tagged" | "script" | "hold";

export interface ServeArgs {
  identity: string;
  queue: string;
  mode: ServerMode;
  /** Omitted: the SDK's default. */
  concurrency?: number;
  name?: string;
  delayMs?: number;
}

export interface HandledRecord {
  id: string;
  from: string;
  attempt: number;
  key: string | undefined;
}

export interface ReceivedBody {
  kind: string;
  size: number;
  sha256: string;
}

export interface ServerStats {
  handled: number;
  byAttempt: Record<string, number>;
  /** Requests handled per queue partition (`req.partition`). */
  byPartition: Record<string, number>;
  records: HandledRecord[];
  received: ReceivedBody[];
}

export async function connectIdentities(
  peer: PeerProcess,
  identities: string[],
  timeoutMs = 30_000,
): Promise<void> {
  await peer.call("connect", { identities }, timeoutMs);
}

/** The transport each identity's peer connected with ("websocket" or "http"). */
export async function transports(
  peer: PeerProcess,
  identities: string[],
  timeoutMs = 30_000,
): Promise<Record<string, string>> {
  return (await peer.call("transports", { identities }, timeoutMs)) as Record<string, string>;
}

export async function request(
  peer: PeerProcess,
  args: { identity: string; queue: string; body: unknown; options: RequestOptions },
  timeoutMs: number,
): Promise<RequestOutcome> {
  const r = record(await peer.call("request", { ...args }, timeoutMs), "request result");
  if (r.ok === true) return { ok: true, body: r.body };
  return {
    ok: false,
    isEdgeMQError: r.isEdgeMQError === true,
    code: typeof r.code === "string" ? r.code : undefined,
    message: str(r.message, "error message"),
  };
}

/** A requestReply() outcome: the whole reply, or the error (as RequestOutcome's). */
export type ReplyOutcome =
  | { ok: true; reply: { body: unknown; contentType: string | undefined; headers: unknown } }
  | Extract<RequestOutcome, { ok: false }>;

export async function requestReply(
  peer: PeerProcess,
  args: { identity: string; queue: string; body: unknown; options: RequestOptions },
  timeoutMs: number,
): Promise<ReplyOutcome> {
  const r = record(await peer.call("requestReply", { ...args }, timeoutMs), "requestReply result");
  if (r.ok === true) {
    const reply = record(r.reply, "requestReply reply");
    const contentType =
      reply.contentType === undefined ? undefined : str(reply.contentType, "contentType");
    return {
      ok: true,
      reply: { body: reply.body, contentType, headers: record(reply.headers, "headers") },
    };
  }
  return {
    ok: false,
    isEdgeMQError: r.isEdgeMQError === true,
    code: typeof r.code === "string" ? r.code : undefined,
    message: str(r.message, "error message"),
  };
}

export async function burst(
  peer: PeerProcess,
  args: BurstArgs,
  timeoutMs: number,
): Promise<BurstSummary> {
  return readBurst(await peer.call("burst", { ...args }, timeoutMs));
}

/** Issues every request of a burst and returns once they were all handed to the SDK. */
export async function startBurst(
  peer: PeerProcess,
  args: BurstArgs & { job: string },
  timeoutMs: number,
): Promise<number> {
  const r = record(await peer.call("startBurst", { ...args }, timeoutMs), "startBurst result");
  return num(r.sent, "startBurst.sent");
}

export async function awaitBurst(
  peer: PeerProcess,
  job: string,
  timeoutMs: number,
): Promise<BurstSummary> {
  return readBurst(await peer.call("awaitBurst", { job }, timeoutMs));
}

export async function serve(peer: PeerProcess, args: ServeArgs, timeoutMs = 30_000): Promise<void> {
  await peer.call("serve", { ...args }, timeoutMs);
}

export async function closeServices(peer: PeerProcess, timeoutMs = 10_000): Promise<void> {
  await peer.call("closeServices", {}, timeoutMs);
}

export async function serverStats(peer: PeerProcess): Promise<ServerStats> {
  const r = record(await peer.call("stats", {}, 10_000), "stats");
  return {
    handled: num(r.handled, "stats.handled"),
    byAttempt: counts(r.byAttempt, "stats.byAttempt"),
    byPartition: counts(r.byPartition ?? {}, "stats.byPartition"),
    records: list(r.records, "stats.records").map((v, i) => {
      const f = record(v, `stats.records[${i}]`);
      return {
        id: str(f.id, "record.id"),
        from: str(f.from, "record.from"),
        attempt: num(f.attempt, "record.attempt"),
        key: typeof f.key === "string" ? f.key : undefined,
      };
    }),
    received: list(r.received, "stats.received").map((v, i) => {
      const f = record(v, `stats.received[${i}]`);
      return {
        kind: str(f.kind, "received.kind"),
        size: num(f.size, "received.size"),
        sha256: str(f.sha256, "received.sha256"),
      };
    }),
  };
}

function readBurst(value: unknown): BurstSummary {
  const r = record(value, "burst summary");
  return {
    sent: num(r.sent, "burst.sent"),
    ok: num(r.ok, "burst.ok"),
    misrouted: num(r.misrouted, "burst.misrouted"),
    wrongPayload: num(r.wrongPayload, "burst.wrongPayload"),
    errors: counts(r.errors, "burst.errors"),
    samples: list(r.samples, "burst.samples").map((s) => str(s, "burst sample")),
    attempts: counts(r.attempts, "burst.attempts"),
  };
}
