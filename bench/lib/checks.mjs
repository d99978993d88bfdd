/**
 * Evidence of whether keep-alive pings woke a Durable Object, per target (see bench/README.md).
 * echo: its /stats endpoint (constructor runs kept in SQLite; webSocketMessage calls in memory).
 * relay: no counter exists, so a CPU profile of the Worker's isolate is taken over the ping
 * phase: 5,000 handler runs would show as user JS samples; none means no handler ran. Together
 * with "every answer was pong" (a handled "ping" would get an `error` frame: it is not JSON).
 */
import { openInspector, summarizeUserJs } from "./inspector-checks.mjs";

export function echoWakeCheck(server) {
  const stats = async () => (await fetch(`${server.url}/stats`)).json();
  return {
    before: () => stats(),
    async after(before) {
      const after = await stats();
      const reconstructed = after.constructions - before.constructions;
      const handlerCalls =
        reconstructed === 0
          ? after.messagesSinceConstruct - before.messagesSinceConstruct
          : after.messagesSinceConstruct;
      return { evidence: "echo /stats", constructorRuns: reconstructed, handlerCalls };
    },
  };
}

export function relayWakeCheck(server) {
  return {
    async before() {
      const inspector = await openInspector(server.inspectorPort);
      await inspector.call("Profiler.enable");
      await inspector.call("Profiler.start");
      return inspector;
    },
    async after(inspector) {
      const { profile } = await inspector.call("Profiler.stop");
      inspector.close();
      const user = summarizeUserJs(profile);
      return {
        evidence: "CPU profile of the relay isolate over the ping phase",
        userJsMs: user.ms,
        userJsFunctions: user.functions,
        handlerCalls: user.ms === 0 ? 0 : undefined,
      };
    },
  };
}
