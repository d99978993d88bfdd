/**
 * The bench workloads, each bounded in count and time, run against one target: the relay (SDK
 * client and server peers) or the echo baseline (raw `ws` clients). Every peer is its own Node
 * process. Each function returns plain figures (microseconds, per second, KiB) for the report.
 */
import { PeerProcess } from "./peers.mjs";
import { phase } from "./progress.mjs";
import { cpuMeter, percentile } from "./stats.mjs";
import { readRssKiB, sleep } from "./wrangler.mjs";

const PEER_START_MS = 60_000;

/** CPU meter over the target's processes, grouped as workerd (Worker), workerd proxy, wrangler. */
function processCpu(target) {
  const workerd = target.server.workerdPid();
  const proxy = target.server.proxyPid();
  const others = target.server
    .groupPids()
    .filter((m) => m.comm === "node")
    .map((m) => m.pid);
  const pids = [workerd, proxy, ...others].filter((pid) => pid !== undefined);
  const read = cpuMeter(pids);
  return () => {
    const used = read();
    return {
      workerdUs: workerd === undefined ? 0 : (used[workerd] ?? 0),
      proxyUs: proxy === undefined ? 0 : (used[proxy] ?? 0),
      wranglerUs: others.reduce((sum, pid) => sum + (used[pid] ?? 0), 0),
    };
  };
}

async function startServers(target, queue, count, concurrency) {
  if (target.kind !== "relay") return [];
  const servers = Array.from(
    { length: count },
    (_, i) =>
      new PeerProcess("server.mjs", {
        url: target.server.wsUrl,
        queue,
        identity: `${queue}-server-${i}`,
        concurrency,
      }),
  );
  await Promise.all(servers.map((s) => s.expect("ready", PEER_START_MS)));
  return servers;
}

/**
 * Closed-loop load: `clients` processes with `inFlight` each, `servers` relay servers, `total`
 * requests after `warmup` each. Returns rate, latency percentiles and CPU per request.
 */
export async function runLoad(target, name, options) {
  const session = await openLoad(target, name, options);
  try {
    return await session.measure();
  } finally {
    await session.close();
  }
}

/**
 * The same load, kept open for `options.windows` measurement windows of `total` requests each
 * (serial-rounds.mjs interleaves targets between windows): the peers connect and warm up once,
 * on the first `measure()`, and keep their connections and warm code between windows.
 */
export async function openLoad(target, name, options) {
  const windows = options.windows ?? 1;
  const queue = `bench-${name}-${target.mode}`;
  const servers = await startServers(target, queue, options.servers, options.concurrency);
  const perClient = Math.ceil(options.total / options.clients);
  const processes = Math.ceil(options.clients / options.peersPerProcess);
  const clients = Array.from(
    { length: processes },
    (_, i) =>
      new PeerProcess("load.mjs", {
        target: target.kind,
        url: target.server.wsUrl,
        path: options.path,
        queue,
        identity: `${queue}-client-${i}`,
        peers: Math.min(options.peersPerProcess, options.clients - i * options.peersPerProcess),
        bodyBytes: options.bodyBytes,
        inFlight: options.inFlight,
        count: perClient,
        warmup: options.warmup,
        windows,
        timeLimitMs: options.timeLimitMs,
        record: true,
      }),
  );
  const close = () => Promise.all([...clients, ...servers].map((p) => p.stop()));
  try {
    await Promise.all(clients.map((c) => c.expect("ready", PEER_START_MS)));
  } catch (error) {
    await close();
    throw error;
  }
  let measured = 0;
  const measure = async () => {
    if (measured >= windows) throw new Error(`${name}: all ${windows} windows measured`);
    const first = measured === 0;
    measured += 1;
    const base = clients.reduce((sum, c) => sum + c.progress, 0);
    const progress = phase(`  ${target.label} ${name}`, perClient * options.clients, () =>
      Math.max(0, clients.reduce((sum, c) => sum + c.progress, 0) - base),
    );
    const cpu = processCpu(target);
    for (const c of clients) c.send({ type: first ? "go" : "measure" });
    const bound = 2 * options.timeLimitMs + 90_000;
    const results = await Promise.all(clients.map((c) => c.expect("result", bound)));
    const used = cpu();
    const done = results.reduce((sum, r) => sum + r.done, 0);
    const errors = results.reduce((sum, r) => sum + r.errors, 0);
    const elapsedUs = Math.max(...results.map((r) => r.elapsedUs));
    const latencies = results.flatMap((r) => r.latencies);
    const timedOut = results.some((r) => r.timedOut);
    progress.end(timedOut ? "(stopped by its time limit)" : "", done + errors);
    // The first window's CPU covers the warm-up too, so it is divided by both counts.
    const finished = Math.max(1, done + (first ? options.warmup * options.clients : 0));
    return {
      requests: done,
      errors,
      firstError: results.find((r) => r.firstError)?.firstError,
      timedOut,
      seconds: elapsedUs / 1e6,
      perSecond: done / (elapsedUs / 1e6),
      p50Us: percentile(latencies, 50),
      p99Us: percentile(latencies, 99),
      cpuUsPerRequest: {
        workerd: used.workerdUs / finished,
        proxy: used.proxyUs / finished,
        wrangler: used.wranglerUs / finished,
      },
    };
  };
  return { measure, close };
}

/**
 * Idle connections: RSS of the Worker's workerd before and after `count` sockets are open, then
 * one keep-alive "ping" on each and whether anything but "pong" came back. `wakeCheck` wraps the
 * ping phase with the target's own evidence of whether the object ran (see bench/README.md).
 */
export async function runIdle(target, options, wakeCheck) {
  const workerd = target.server.workerdPid();
  // Straight to the Worker's workerd: wrangler's dev proxy would need ~6 descriptors per socket.
  const direct = await target.server.directWsUrl();
  const rssBefore = readRssKiB(workerd);
  const idle = new PeerProcess("idle.mjs", {
    target: target.kind,
    url: direct ?? target.server.wsUrl,
    prefix: `idle-${target.mode}`,
    count: options.count,
    connectConcurrency: options.connectConcurrency,
  });
  try {
    const progress = phase(`  ${target.label} idle connect`, options.count, () => idle.progress);
    const ready = await idle.expect("ready", options.timeLimitMs);
    progress.end(
      ready.failed > 0 ? `(${ready.failed} failed: ${ready.firstFailure})` : "",
      ready.open,
    );
    await sleep(options.settleMs);
    const rssAfter = readRssKiB(workerd);
    const check = await wakeCheck.before();
    const pingPhase = phase(`  ${target.label} idle ping`, undefined, () => 0);
    idle.send({ type: "ping" });
    const pinged = await idle.expect("pinged", 60_000);
    pingPhase.end(`pong ${pinged.pong}, other ${pinged.other}, unanswered ${pinged.unanswered}`);
    const woke = await wakeCheck.after(check);
    return {
      route: direct === undefined ? "wrangler dev proxy" : "the Worker's workerd, direct",
      connections: ready.open,
      failedConnects: ready.failed,
      firstFailure: ready.firstFailure,
      rssBeforeKiB: rssBefore,
      rssAfterKiB: rssAfter,
      kibPerConnection:
        rssBefore !== undefined && rssAfter !== undefined
          ? (rssAfter - rssBefore) / ready.open
          : undefined,
      pongs: pinged.pong,
      otherAnswers: pinged.other,
      unanswered: pinged.unanswered,
      otherSample: pinged.sample,
      ...woke,
    };
  } finally {
    await idle.stop(10_000);
  }
}

/** HTTP: `concurrency` keep-alive loops POSTing to `path`; a 404 means the route is not there. */
export async function runHttp(target, path, options) {
  const queue = `bench-http-${target.mode}`;
  const servers = await startServers(target, queue, 1, options.serverConcurrency);
  const client = new PeerProcess("http.mjs", {
    url: target.server.url,
    path: path.replace("{queue}", queue),
    identity: `${queue}-client`,
    bodyBytes: options.bodyBytes,
    concurrency: options.concurrency,
    count: options.total,
    warmup: options.warmup,
    timeLimitMs: options.timeLimitMs,
  });
  try {
    await client.expect("ready", PEER_START_MS);
    const progress = phase(`  ${target.label} http`, options.total, () => client.progress);
    client.send({ type: "go" });
    const result = await client.expect("result", 2 * options.timeLimitMs + 90_000);
    progress.end(
      result.firstError ? `(first error: ${result.firstError})` : "",
      result.done + result.errors,
    );
    return {
      requests: result.done,
      errors: result.errors,
      firstError: result.firstError,
      perSecond: result.done / (result.elapsedUs / 1e6),
      p99Us: percentile(result.latencies, 99),
    };
  } finally {
    await Promise.all([client, ...servers].map((p) => p.stop()));
  }
}
