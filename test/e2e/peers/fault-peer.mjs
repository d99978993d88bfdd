/**
 * An SDK peer for the fault-injection suite (test/faults), in its own Node process, driven over
 * IPC like peer.mjs (`{ seq, cmd, args }` in, one `{ seq, ok, result | error }` out).
 *
 * Its WebSockets are the `ws` package's, tapped: every frame the relay sends is counted by request
 * id (so a test sees what reached the wire, not only what the SDK let through), and `dropSockets`
 * can terminate an identity's client socket under the SDK's feet and keep it away for a while
 * (its reconnects dial a closed port until then). Servers report every request they run as a
 * `ran` event (key, attempt, server) before answering, so the log survives a SIGKILL.
 *
 * Commands: connect, serve, startLoad, progress, awaitLoad, openSockets, dropSockets, wire, close.
 * A load sends `perIdentity` requests per identity, at most `window` unfinished per identity,
 * each with a unique payload, and counts every settlement per request key.
 */
import { isDeepStrictEqual } from "node:util";
import { connect, EdgeMQError } from "edgemq/client";
import WebSocket from "ws";
import { emit, serveCommands } from "./ipc.mjs";

const url = process.env.EDGEMQ_URL;
if (!url) throw new Error("EDGEMQ_URL is required");

/** Where a socket kept "away" dials instead of the relay: nothing listens on port 1. */
const DEAD_URL_BASE = "ws://127.0.0.1:1";
const RECONNECT = { minDelayMs: 50, maxDelayMs: 500 };

const peers = new Map();
const services = [];
const loads = new Map();
/** identity -> epoch ms until which its client socket may not reach the relay */
const awayUntil = new Map();
/** identity -> open tapped client sockets */
const clientSockets = new Map();
const wire = {
  /** request id -> outcome frames (reply / error) seen on client sockets */
  outcomes: new Map(),
  /** outcome frames a new client socket got before any `accepted`: the outbox replay */
  replayedOnResume: 0,
  /** error frames with an id that servers got (answers the relay refused), by code */
  refusedAnswers: {},
  /** `accepted` frames and `error` frames (by code) seen on client sockets */
  accepted: 0,
  clientErrors: {},
};
let arrival = 0;

function tappedWebSocket(identity) {
  return class TappedWebSocket extends WebSocket {
    constructor(address, protocols) {
      const away = Date.now() < (awayUntil.get(identity) ?? 0);
      const target = away ? DEAD_URL_BASE + new URL(address).pathname : address;
      super(target, protocols);
      // A client socket: the exchange's (/v1/connect) or a queue link (/v1/queues/<q>/connect).
      const isClient = new URL(address).pathname.endsWith("/connect");
      const tap = { accepted: false, resumed: (clientSockets.get(identity)?.opened ?? 0) > 0 };
      if (isClient) {
        const entry = clientSockets.get(identity) ?? { open: new Set(), opened: 0 };
        entry.open.add(this);
        entry.opened++;
        clientSockets.set(identity, entry);
        this.addEventListener("close", () => entry.open.delete(this));
      }
      this.addEventListener("message", (event) => observe(event.data, isClient, tap));
    }
  };
}

function observe(data, isClient, tap) {
  if (typeof data !== "string" || data === "pong") return;
  let parsed;
  try {
    parsed = JSON.parse(data);
  } catch {
    return;
  }
  for (const frame of Array.isArray(parsed) ? parsed : [parsed]) {
    if (typeof frame?.id !== "string") continue;
    if (isClient) observeClientFrame(frame, tap);
    else if (frame.type === "error") {
      wire.refusedAnswers[frame.code] = (wire.refusedAnswers[frame.code] ?? 0) + 1;
    }
  }
}

function observeClientFrame(frame, tap) {
  if (frame.type === "accepted") {
    tap.accepted = true;
    wire.accepted++;
  }
  if (frame.type === "error") {
    wire.clientErrors[frame.code] = (wire.clientErrors[frame.code] ?? 0) + 1;
  }
  if (frame.type !== "reply" && frame.type !== "error") return;
  wire.outcomes.set(frame.id, (wire.outcomes.get(frame.id) ?? 0) + 1);
  if (tap.resumed && !tap.accepted) wire.replayedOnResume++;
}

async function peerFor(identity, route, transport) {
  const existing = peers.get(identity);
  if (existing) return existing;
  const peer = await connect(url, {
    identity,
    WebSocket: tappedWebSocket(identity),
    reconnect: RECONNECT,
    ...(route === undefined ? {} : { route }),
    ...(transport === undefined ? {} : { transport }),
  });
  peers.set(identity, peer);
  return peer;
}

function serveHandler(name, delayMs) {
  return async (req) => {
    const key = typeof req.body?.key === "string" ? req.body.key : undefined;
    emit({ event: "ran", key, attempt: req.attempt, server: name, from: req.from });
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return { from: req.from, payload: req.body, server: name, attempt: req.attempt };
  };
}

function startLoad(args) {
  const { job, identities, perIdentity, window, queue, timeout, keepOrder } = args;
  const pad = args.padBytes > 0 ? "x".repeat(args.padBytes) : undefined;
  const nonce = `${process.pid}-${job}`;
  const state = {
    sent: 0,
    replied: 0,
    errors: {},
    untyped: 0,
    wrongPayload: 0,
    misrouted: 0,
    duplicated: 0,
    settled: new Map(),
    latencies: [],
    arrivals: {},
    replies: {},
    samples: [],
  };
  const total = identities.length * perIdentity;
  /** identity -> sends its next request (each settlement frees a slot in its window) */
  const senders = new Map();
  let finished = 0;
  let resolveDone;
  const done = new Promise((resolve) => {
    resolveDone = resolve;
  });
  if (total === 0) resolveDone();
  const settle = (identity, key, started, outcome) => {
    const count = state.settled.get(key) ?? 0;
    state.settled.set(key, count + 1);
    if (count > 0) {
      state.duplicated++;
      return;
    }
    finished++;
    state.latencies.push(performance.now() - started);
    if (keepOrder) {
      arrival++;
      const order = state.arrivals[identity] ?? [];
      order.push(arrival);
      state.arrivals[identity] = order;
    }
    outcome();
    senders.get(identity)?.();
    if (finished === total) resolveDone();
  };
  for (const identity of identities) {
    const peer = peers.get(identity);
    if (!peer) throw new Error(`${identity} is not connected`);
    let next = 0;
    const send = () => {
      if (next >= perIdentity) return;
      const seq = next++;
      const key = `${identity}#${seq}`;
      const payload = { key, identity, seq, nonce };
      if (pad !== undefined) payload.pad = pad;
      const started = performance.now();
      state.sent++;
      peer.request(queue, payload, { timeout }).then(
        (reply) =>
          settle(identity, key, started, () => {
            if (reply?.from !== identity) state.misrouted++;
            else if (!isDeepStrictEqual(reply.payload, payload)) state.wrongPayload++;
            else state.replied++;
            const tag = `${reply?.server}@${reply?.attempt}`;
            state.replies[tag] = (state.replies[tag] ?? 0) + 1;
          }),
        (error) =>
          settle(identity, key, started, () => {
            if (error instanceof EdgeMQError) {
              state.errors[error.code] = (state.errors[error.code] ?? 0) + 1;
            } else state.untyped++;
            if (state.samples.length < 10) state.samples.push(String(error?.message ?? error));
          }),
      );
    };
    senders.set(identity, send);
  }
  for (const identity of identities) {
    const send = senders.get(identity);
    for (let i = 0; i < Math.min(window, perIdentity); i++) send();
  }
  const load = { state, total, done, finished: () => finished };
  loads.set(job, load);
  return load;
}

function summary(job) {
  const { state, total } = job;
  const sorted = [...state.latencies].sort((a, b) => a - b);
  const p = (q) =>
    sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const wireDuplicates = [...wire.outcomes.values()].filter((n) => n > 1).length;
  return {
    total,
    sent: state.sent,
    replied: state.replied,
    errors: state.errors,
    untyped: state.untyped,
    wrongPayload: state.wrongPayload,
    misrouted: state.misrouted,
    duplicated: state.duplicated,
    lost: total - job.finished(),
    p50Ms: Math.round(p(0.5)),
    p99Ms: Math.round(p(0.99)),
    arrivals: state.arrivals,
    replies: state.replies,
    wireDuplicates,
    replayedOnResume: wire.replayedOnResume,
    samples: state.samples,
  };
}

const commands = {
  async connect({ identities, route, transport }) {
    await Promise.all(identities.map((identity) => peerFor(identity, route, transport)));
    return { connected: identities.length };
  },

  async serve({ identity, queue, concurrency, name, delayMs }) {
    const peer = await peerFor(identity);
    const service = peer.serve(queue, serveHandler(name, delayMs ?? 0), { concurrency });
    await service.ready;
    services.push(service);
    return { serving: queue };
  },

  startLoad(args) {
    const job = startLoad(args);
    return { job: args.job, sent: job.state.sent };
  },

  progress({ job }) {
    const load = loads.get(job);
    if (!load) throw new Error(`no load ${job}`);
    return { settled: load.finished(), replied: load.state.replied, replies: load.state.replies };
  },

  async awaitLoad({ job, maxWaitMs }) {
    const load = loads.get(job);
    if (!load) throw new Error(`no load ${job}`);
    let timer;
    const bound = new Promise((resolve) => {
      timer = setTimeout(resolve, maxWaitMs);
    });
    await Promise.race([load.done, bound]);
    clearTimeout(timer);
    return summary(load);
  },

  openSockets({ identity }) {
    const sockets = [...(clientSockets.get(identity)?.open ?? [])];
    return { open: sockets.filter((socket) => socket.readyState === WebSocket.OPEN).length };
  },

  dropSockets({ identity, awayMs }) {
    awayUntil.set(identity, Date.now() + (awayMs ?? 0));
    const open = [...(clientSockets.get(identity)?.open ?? [])];
    for (const socket of open) socket.terminate();
    return { dropped: open.length };
  },

  wire() {
    return {
      refusedAnswers: wire.refusedAnswers,
      accepted: wire.accepted,
      clientErrors: wire.clientErrors,
      replayedOnResume: wire.replayedOnResume,
      outcomes: Object.fromEntries(wire.outcomes),
    };
  },

  async close() {
    await Promise.all(services.splice(0).map((s) => s.close()));
    await Promise.all([...peers.values()].map((p) => p.close()));
    peers.clear();
    return { closed: true };
  },
};

serveCommands(commands);
