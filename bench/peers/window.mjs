/**
 * The closed-loop driver shared by load peers: keeps `inFlight` operations outstanding until
 * `count` finished or `timeLimitMs` passed (then it only waits for those in flight), records each
 * latency in microseconds, and reports progress to the parent twice a second (the sum over every
 * window of this process in the "measure" phase, so one process may drive several peers).
 */
import { nowUs, report } from "./ipc.mjs";

let measured = 0;

/**
 * @param {{ count: number, inFlight: number, timeLimitMs: number, record: boolean,
 *   phase: string, op: () => Promise<void> }} options
 */
export function runWindow(options) {
  const latencies = [];
  let started = 0;
  let finished = 0;
  let errors = 0;
  let firstError;
  let inFlight = 0;
  const startUs = nowUs();
  const deadlineUs = startUs + options.timeLimitMs * 1000;
  const progress = setInterval(
    () => report({ type: "progress", phase: options.phase, done: measured }),
    500,
  );
  return new Promise((resolve) => {
    const finish = () => {
      clearInterval(progress);
      const endUs = nowUs();
      resolve({
        done: finished - errors,
        errors,
        firstError,
        elapsedUs: endUs - startUs,
        timedOut: started < options.count,
        latencies: options.record ? latencies : [],
      });
    };
    const launch = () => {
      while (inFlight < options.inFlight && started < options.count && nowUs() < deadlineUs) {
        started += 1;
        inFlight += 1;
        const t0 = nowUs();
        options.op().then(
          () => settle(t0, undefined),
          (error) => settle(t0, error),
        );
      }
      if (inFlight === 0) finish();
    };
    const settle = (t0, error) => {
      inFlight -= 1;
      finished += 1;
      if (options.phase === "measure") measured += 1;
      if (error === undefined) {
        if (options.record) latencies.push(nowUs() - t0);
      } else {
        errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
      launch();
    };
    launch();
  });
}
