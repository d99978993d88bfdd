/**
 * A minimal Chrome DevTools Protocol client over `ws` for wrangler dev's --inspector-port (the
 * Worker's isolate in workerd: the front door and its Durable Objects). Used for CPU profiles
 * (Profiler.start/stop) and precise call counts (Profiler.startPreciseCoverage with callCount).
 */
import WebSocket from "ws";

const CALL_TIMEOUT_MS = 60_000;

export async function openInspector(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let nextId = 1;
  const pending = new Map();
  ws.on("message", (data) => {
    const message = JSON.parse(String(data));
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`${waiter.method}: ${message.error.message}`));
    else waiter.resolve(message.result);
  });
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${method}: no answer in ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      pending.set(id, {
        method,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { call, close: () => ws.close() };
}

/** Call counts per function name (summed over scripts) from a takePreciseCoverage result. */
export function callCounts(coverage) {
  const counts = new Map();
  for (const script of coverage.result) {
    for (const fn of script.functions) {
      const count = fn.ranges[0]?.count ?? 0;
      if (count > 0 && fn.functionName) {
        counts.set(fn.functionName, (counts.get(fn.functionName) ?? 0) + count);
      }
    }
  }
  return counts;
}
