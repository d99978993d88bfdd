/**
 * Bench-only Worker for bench/hot-path/run.mjs: what the relay's own JavaScript costs on a
 * memory-mode serial round trip through a queue link, warm, in workerd's V8 (the V8 the relay
 * runs on: Node's differs, see bench/README.md). No sockets and no other processes: a QueueDO
 * runs over fakes, a context whose SQLite answers only what a fresh queue asks, and sockets that
 * keep what is sent to them. One round trip: the client's link message [ack, request] in, the
 * `dispatch` out, the server's `reply` in, the client's [accepted, reply] out. GET /?n=N runs N
 * after a warm-up, on a fresh object, and answers { n, usPerRoundTrip }. The clock only moves
 * between I/O here, so the time is read across a timer before and after the loop.
 */
import { QueueDO } from "../../durable-objects/queue/queue-do.ts";

const WARMUP = 3_000;
const QUEUE = "hot";
const BODY = { enc: "utf8", data: "x".repeat(100) };
const ALL = 8_640_000_000_000_000;

class FakeSocket {
  constructor(attachment, tag) {
    this.attachment = attachment;
    this.tag = tag;
    this.readyState = 1;
    this.sent = [];
  }
  send(message) {
    this.sent.push(message);
  }
  close() {}
  deserializeAttachment() {
    return this.attachment;
  }
  serializeAttachment(value) {
    this.attachment = value;
  }
}

/** SQLite as a fresh queue sees it: migrated, named QUEUE, no rows. */
function fakeSql() {
  return {
    exec(query) {
      const row = query.includes("MAX(version)") ? { v: 2 } : { value: QUEUE };
      const rows = query.includes("FROM meta") ? [row] : [];
      return {
        one: () => row,
        toArray: () => rows,
        raw: () => rows.map(Object.values)[Symbol.iterator](),
        [Symbol.iterator]: () => rows[Symbol.iterator](),
        rowsRead: 0,
        rowsWritten: 0,
      };
    },
  };
}

function newRelay() {
  const principal = { roles: ["client", "server"], queues: ["*"], expiresAt: ALL };
  const link = new FakeSocket(
    { v: 1, kind: "link", connId: "link-1", identity: "client-1", queue: QUEUE, principal },
    "link",
  );
  const server = new FakeSocket(
    { v: 1, connId: "server-1", identity: "server-1", queue: QUEUE, concurrency: 16 },
    "server",
  );
  const ctx = {
    storage: {
      sql: fakeSql(),
      transactionSync: (fn) => fn(),
      getAlarm: async () => null,
      setAlarm: async () => {},
      deleteAlarm: async () => {},
    },
    getWebSockets: (tag) => [link, server].filter((ws) => tag === undefined || ws.tag === tag),
    setWebSocketAutoResponse: () => {},
    blockConcurrencyWhile: (fn) => fn(),
    waitUntil: () => {},
    acceptWebSocket: () => {},
  };
  const env = {
    EDGEMQ_DEV_MODE: "true",
    EDGEMQ_QUEUE_MODES: "*=memory",
    EDGEMQ_RATE_LIMIT_PER_SECOND: "1000000",
    EDGEMQ_RATE_LIMIT_BURST: "1000000",
  };
  return { queue: new QueueDO(ctx, env), link, server };
}

async function roundTrip(relay, i, lastId) {
  const id = `0mx21fgg000d3ed74447d4291b1e6.${String(i).padStart(8, "0")}`;
  const request = JSON.stringify({
    type: "request",
    id,
    queue: QUEUE,
    body: BODY,
    timeout: 60_000,
  });
  const message =
    lastId === undefined ? request : `[{"type":"ack","ids":["${lastId}"]},${request}]`;
  await relay.queue.webSocketMessage(relay.link, message);
  const dispatch = relay.server.sent.pop();
  if (dispatch === undefined) throw new Error(`no dispatch for request ${i}`);
  const { id: relayId, body } = JSON.parse(dispatch);
  await relay.queue.webSocketMessage(
    relay.server,
    JSON.stringify({ type: "reply", id: relayId, body }),
  );
  const outcome = relay.link.sent.pop();
  if (outcome === undefined || !outcome.includes('"reply"')) {
    throw new Error(`no reply for request ${i}: ${outcome}`);
  }
  return id;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function run(n) {
  const relay = newRelay();
  let last;
  for (let i = 0; i < WARMUP; i++) last = await roundTrip(relay, i, last);
  await tick();
  const start = Date.now();
  for (let i = WARMUP; i < WARMUP + n; i++) last = await roundTrip(relay, i, last);
  await tick();
  return { n, usPerRoundTrip: ((Date.now() - start) * 1000) / n };
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    const n = Number(url.searchParams.get("n") ?? 20_000);
    if (!Number.isSafeInteger(n) || n < 1) return new Response("bad n", { status: 400 });
    try {
      return Response.json(await run(n));
    } catch (error) {
      return new Response(String(error?.stack ?? error), { status: 500 });
    }
  },
};
