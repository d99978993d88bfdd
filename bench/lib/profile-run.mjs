/**
 * Profile before optimising: a CPU profile of the relay's isolate (front door and both Durable
 * Objects, one workerd isolate) over a short pipelined run, taken through wrangler dev's inspector.
 * Reports JS self time per part of the relay in microseconds per request, next to the CPU the
 * processes used per request (from /proc), so what JS does not explain (SQLite commits, socket
 * I/O, the runtime) shows as the difference. Profiling slows the run; its rate is not a result.
 */
import { openInspector } from "./inspector.mjs";
import { findBundle, readText, summarize } from "./profile.mjs";

const SAMPLING_INTERVAL_US = 100;

export async function profileRelay(target, config, load) {
  const inspector = await openInspector(target.server.inspectorPort);
  try {
    await inspector.call("Profiler.enable");
    await inspector
      .call("Profiler.setSamplingInterval", { interval: SAMPLING_INTERVAL_US })
      .catch(() => {});
    await inspector.call("Profiler.start");
    const run = await load(target, "profile");
    const { profile } = await inspector.call("Profiler.stop");
    const summary = summarize(profile, readText(findBundle(target.server.appDir)));
    const finished = run.requests + config.profile.warmup;
    const perRequest = (ms) => Math.round(((ms * 1000) / finished) * 10) / 10;
    const sampledMs = summary.parts.reduce((sum, part) => sum + part.ms, 0);
    return {
      requests: finished,
      perSecondWhileProfiling: run.perSecond,
      sampledMs,
      cpuUsPerRequest: run.cpuUsPerRequest,
      parts: summary.parts.map((part) => ({ ...part, usPerRequest: perRequest(part.ms) })),
      topFunctions: summary.topFunctions.map((fn) => ({ ...fn, usPerRequest: perRequest(fn.ms) })),
    };
  } finally {
    inspector.close();
  }
}
