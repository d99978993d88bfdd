/**
 * Bench configuration: workload sizes (full and --quick), ports, and the relay's delivery modes.
 * `MODES` lists the relay's delivery modes to measure (EDGEMQ_QUEUE_MODES, docs/settings.md); each
 * starts its own relay with `vars`.
 */
export const MODES = [
  { name: "durable", vars: {} },
  { name: "memory", vars: { EDGEMQ_QUEUE_MODES: "*=memory" } },
];

/**
 * Partition counts for the partitioned-queue sweep (bench/lib/partitions.mjs): the fan-in workload
 * on a durable queue split over K objects (EDGEMQ_QUEUE_PARTITIONS, docs/scaling.md).
 */
export const PARTITIONS = [1, 2, 4];

/**
 * Vars every bench relay gets: the per-identity rate limit (100/s by default) is lifted, since
 * the bench measures capacity and each workload uses a handful of identities.
 */
export const BENCH_VARS = {
  EDGEMQ_RATE_LIMIT_PER_SECOND: "1000000",
  EDGEMQ_RATE_LIMIT_BURST: "1000000",
};

export const PORTS = { relay: 18970, echo: 18971, relayInspector: 19970, echoInspector: 19971 };

/**
 * The interleaved serial rounds (bench/lib/serial-rounds.mjs) run every relay mode at once, each
 * on its own ports, beside the echo.
 */
export const SERIAL_PORTS = {
  durable: { port: 18972, inspector: 19972 },
  memory: { port: 18973, inspector: 19973 },
  floor: { port: 18974, inspector: 19974 },
};

/** Path of the HTTP API's synchronous request route; `{queue}` is filled in. */
export const HTTP_PATH = "/v1/queues/{queue}/requests";

const BODY_BYTES = 100;

export const FULL = {
  bodyBytes: BODY_BYTES,
  serial: { clients: 1, peersPerProcess: 1, inFlight: 1, servers: 1, total: 5_000, warmup: 1_000 },
  pipelined: {
    clients: 1,
    peersPerProcess: 1,
    inFlight: 100,
    servers: 1,
    total: 50_000,
    warmup: 1_000,
  },
  fanin: { clients: 50, peersPerProcess: 10, inFlight: 10, servers: 2, total: 25_000, warmup: 20 },
  idle: { count: 5_000, connectConcurrency: 20, settleMs: 3_000, timeLimitMs: 180_000 },
  http: {
    concurrency: 50,
    total: 10_000,
    warmup: 200,
    serverConcurrency: 256,
    timeLimitMs: 60_000,
  },
  profile: { clients: 1, peersPerProcess: 1, inFlight: 100, servers: 1, total: 5_000, warmup: 200 },
  serverConcurrency: 256,
  /** The serial workload's requests are split over this many interleaved rounds. */
  serialRounds: 5,
  timeLimitMs: { serial: 60_000, pipelined: 120_000, fanin: 90_000, profile: 30_000 },
};

export const QUICK = {
  bodyBytes: BODY_BYTES,
  serial: { ...FULL.serial, total: 200, warmup: 20 },
  pipelined: { ...FULL.pipelined, total: 1_000, warmup: 100 },
  fanin: { ...FULL.fanin, clients: 10, peersPerProcess: 5, total: 1_000, warmup: 5 },
  idle: { ...FULL.idle, count: 200, settleMs: 500, timeLimitMs: 30_000 },
  http: { ...FULL.http, concurrency: 10, total: 200, warmup: 10, timeLimitMs: 10_000 },
  profile: { ...FULL.profile, total: 500, warmup: 20 },
  serverConcurrency: 256,
  serialRounds: 2,
  timeLimitMs: { serial: 10_000, pipelined: 10_000, fanin: 10_000, profile: 5_000 },
};
