/**
 * The IPC side every bench peer shares: reads its spec (JSON in argv[2]), reports to the parent
 * (run.mjs) with process.send, waits for commands, and exits by itself if the parent goes away or
 * a hard time limit passes, so no peer outlives a run.
 */
export const spec = JSON.parse(process.argv[2] ?? "{}");

const HARD_LIMIT_MS = Number(spec.hardLimitMs ?? 15 * 60_000);
setTimeout(() => {
  report({ type: "fatal", message: `peer hit its hard limit of ${HARD_LIMIT_MS} ms` });
  process.exit(3);
}, HARD_LIMIT_MS).unref();
process.on("disconnect", () => process.exit(0));

export function report(message) {
  if (process.send) process.send(message);
}

/** Resolves with the next parent command of `type`. */
export function command(type) {
  return new Promise((resolve) => {
    const listener = (message) => {
      if (message && message.type === type) {
        process.off("message", listener);
        resolve(message);
      }
    };
    process.on("message", listener);
  });
}

/** Microseconds since an arbitrary origin, from the monotonic clock. */
export function nowUs() {
  return Number(process.hrtime.bigint() / 1000n);
}

/** A 100-character ASCII body (100 bytes in UTF-8), the size every workload sends. */
export function body(bytes) {
  return "x".repeat(bytes);
}

export function fail(error) {
  report({ type: "fatal", message: error instanceof Error ? error.message : String(error) });
  setTimeout(() => process.exit(2), 100);
}
