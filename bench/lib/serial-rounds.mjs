/**
 * The serial workload, interleaved: the echo (plain and with one commit per message) and every
 * relay mode are up at once, each with its peers connected, and `rounds` rounds each measure a
 * share of the serial requests on every target in turn (the order rotates each round). The
 * peers warm up once and keep their connections between rounds (workloads.mjs openLoad).
 * Each figure is the median over the rounds, and each round also gives its own relay/echo
 * ratio. Run one after the other, minutes apart, single serial runs of identical code gave
 * memory ratios from 2.67 to 3.95 on this 2-core machine (bench/README.md): the machine's state
 * drifts, and interleaving puts every target in the same conditions. While one target is
 * measured, the other targets' `wrangler dev` process groups are frozen (SIGSTOP), so each
 * measurement runs beside one `wrangler dev`, as a user's relay does.
 */
import { median } from "./stats.mjs";

/**
 * @param {{ rounds: number, total: number, echo: object, relays: object[],
 *   open: (target: object, extra: object) => Promise<{ measure: () => Promise<object>,
 *     close: () => Promise<unknown> }> }} options
 * @returns {Promise<{ echo: object, echoCommit: object, relays: Record<string, object> }>}
 */
export async function interleavedSerial(options) {
  const { rounds, echo, relays, open } = options;
  const extra = { total: Math.ceil(options.total / rounds), windows: rounds };
  const jobs = [
    { key: "echo", target: echo, extra },
    {
      key: "echoCommit",
      target: { ...echo, label: `${echo.label} /echo-commit` },
      extra: { ...extra, path: "/echo-commit" },
    },
    ...relays.map((target) => ({ key: target.mode, target, extra })),
  ];
  /** @type {Record<string, object[]>} */
  const results = Object.fromEntries(jobs.map((job) => [job.key, []]));
  const servers = [echo.server, ...relays.map((target) => target.server)];
  const sessions = [];
  try {
    // Every target's peers connect first; each warms up in its first window.
    for (const job of jobs) {
      job.session = await open(job.target, job.extra);
      sessions.push(job.session);
    }
    for (let round = 0; round < rounds; round++) {
      console.log(`serial round ${round + 1}/${rounds}`);
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[(i + round) % jobs.length];
        // Only the measured target's `wrangler dev` runs; the others are frozen meanwhile.
        for (const server of servers) if (server !== job.target.server) server.pause();
        job.target.server.resume();
        results[job.key].push(await job.session.measure());
      }
    }
  } finally {
    for (const server of servers) server.resume();
    await Promise.all(sessions.map((session) => session.close()));
  }
  const echoP50s = results.echo.map((r) => r.p50Us);
  const combined = (key) => combine(results[key], echoP50s);
  return {
    echo: combined("echo"),
    echoCommit: combined("echoCommit"),
    relays: Object.fromEntries(relays.map((target) => [target.mode, combined(target.mode)])),
  };
}

/** One target's rounds as one figure: medians, sums, and each round's ratio to its echo. */
function combine(results, echoP50s) {
  const p50s = results.map((r) => r.p50Us);
  return {
    rounds: results.length,
    roundP50sUs: p50s,
    roundRatios: p50s.map((p50, i) => p50 / echoP50s[i]),
    p50Us: median(p50s),
    p99Us: median(results.map((r) => r.p99Us)),
    perSecond: median(results.map((r) => r.perSecond)),
    requests: results.reduce((sum, r) => sum + r.requests, 0),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    firstError: results.find((r) => r.firstError)?.firstError,
    timedOut: results.some((r) => r.timedOut),
    cpuUsPerRequest: { workerd: median(results.map((r) => r.cpuUsPerRequest.workerd)) },
  };
}
