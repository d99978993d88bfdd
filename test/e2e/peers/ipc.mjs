/**
 * The IPC side shared by the peer programs (peer.mjs, fault-peer.mjs): events to the test
 * (`emit`), unhandled errors reported as `unhandled` events, and the command loop (`{ seq, cmd,
 * args }` in, one `{ seq, ok, result | error }` out; exit when the test disconnects).
 */

export function emit(event) {
  process.send?.(event);
}

process.on("unhandledRejection", (reason) => {
  emit({ event: "unhandled", message: String(reason?.stack ?? reason) });
});
process.on("uncaughtException", (error) => {
  emit({ event: "unhandled", message: String(error?.stack ?? error) });
});

/** Answers the test's commands with `commands[cmd](args)`, then reports `started`. */
export function serveCommands(commands) {
  process.on("message", async (message) => {
    const { seq, cmd, args } = message;
    const command = commands[cmd];
    try {
      if (!command) throw new Error(`unknown command ${cmd}`);
      const result = await command(args ?? {});
      process.send?.({ seq, ok: true, result });
    } catch (error) {
      process.send?.({ seq, ok: false, error: String(error?.stack ?? error) });
    }
  });
  process.on("disconnect", () => process.exit(0));
  emit({ event: "started", pid: process.pid });
}
