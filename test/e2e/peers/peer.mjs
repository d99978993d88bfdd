/**
 * An SDK peer in its own Node process, driven by the e2e tests over IPC (child_process.fork with
 * `serialization: "advanced"`, so Uint8Array bodies cross intact). It imports the SDK the way a
 * consumer does (`edgemq/client`, the package's own `exports`). Each message from the test is
 * `{ seq, cmd, args }` and gets one answer `{ seq, ok, result | error }`; unsolicited events
 * (`{ event, ... }`) report what servers see and any unhandled error.
 * Commands: connect, transports, request, requestReply, burst / startBurst / awaitBurst, serve, stats, closeServices, close.
 */

import { connect, EdgeMQError } from "edgemq/client";
import { runBurst } from "./client-jobs.mjs";
import { emit, serveCommands } from "./ipc.mjs";
import { createStats, makeHandler } from "./server-jobs.mjs";

const url = process.env.EDGEMQ_URL;
if (!url) throw new Error("EDGEMQ_URL is required");

/** identity -> connected SDK peer */
const peers = new Map();
const services = [];
const bursts = new Map();
const stats = createStats();

async function peerFor(identity) {
  const existing = peers.get(identity);
  if (existing) return existing;
  // Identities named `http-*` use the SDK's HTTP transport (test/e2e/http-sdk.test.ts), and
  // `auto-*` let it choose (test/e2e/auto-transport.test.ts).
  const transport = identity.startsWith("http-")
    ? "http"
    : identity.startsWith("auto-")
      ? "auto"
      : "websocket";
  const peer = await connect(url, { identity, transport });
  peers.set(identity, peer);
  return peer;
}

/** An error as plain data: its code when it is an EdgeMQError. */
export function describeError(error) {
  return {
    isEdgeMQError: error instanceof EdgeMQError,
    code: typeof error?.code === "string" ? error.code : undefined,
    message: String(error?.message ?? error),
  };
}

const commands = {
  async connect({ identities }) {
    await Promise.all(identities.map((identity) => peerFor(identity)));
    return { connected: identities.length };
  },

  /** The transport each identity's peer connected with. */
  async transports({ identities }) {
    const peersById = await connectAll(identities);
    return Object.fromEntries([...peersById].map(([id, peer]) => [id, peer.transport]));
  },

  async request({ identity, queue, body, options }) {
    const peer = await peerFor(identity);
    try {
      const reply = await peer.request(queue, body, options);
      return { ok: true, body: reply };
    } catch (error) {
      return { ok: false, ...describeError(error) };
    }
  },

  /** requestReply(): the whole reply (body, contentType, headers), or the error. */
  async requestReply({ identity, queue, body, options }) {
    const peer = await peerFor(identity);
    try {
      const reply = await peer.requestReply(queue, body, options);
      return { ok: true, reply: { ...reply } };
    } catch (error) {
      return { ok: false, ...describeError(error) };
    }
  },

  async burst(args) {
    const peersById = await connectAll(args.identities);
    return runBurst(peersById, args, describeError).done;
  },

  async startBurst(args) {
    const peersById = await connectAll(args.identities);
    const burst = runBurst(peersById, args, describeError);
    bursts.set(args.job, burst);
    await burst.sent;
    return { job: args.job, sent: burst.count };
  },

  async awaitBurst({ job }) {
    const burst = bursts.get(job);
    if (!burst) throw new Error(`no burst ${job}`);
    return burst.done;
  },

  async serve({ identity, queue, mode, concurrency, name, delayMs }) {
    const peer = await peerFor(identity);
    const handler = makeHandler({ mode, name, delayMs: delayMs ?? 0, stats, emit });
    const service = peer.serve(queue, handler, { concurrency });
    if (service && typeof service.ready?.then === "function") await service.ready;
    services.push(service);
    return { serving: queue };
  },

  stats() {
    return stats.snapshot();
  },

  async closeServices() {
    await Promise.all(services.splice(0).map((s) => s.close()));
    return { closed: true };
  },

  async close() {
    await Promise.all(services.splice(0).map((s) => s.close()));
    await Promise.all([...peers.values()].map((p) => p.close()));
    peers.clear();
    return { closed: true };
  },
};

async function connectAll(identities) {
  const entries = await Promise.all(identities.map(async (id) => [id, await peerFor(id)]));
  return new Map(entries);
}

serveCommands(commands);
