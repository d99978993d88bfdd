/**
 * EDGEMQ_MAX_CONCURRENCY in workerd: a server that announces more concurrency than the relay's
 * setting holds at most that many dispatches (docs/settings.md: "a larger `ready` is capped to
 * this value"). The wire codec refuses a `ready` over the default 1,000, so the setting is
 * lowered: inside runInDurableObject the test constructs the queue's class over the same state
 * with the lowered variable (as hibernation.test.ts does for a wake-up) and hands it the server
 * socket's messages as workerd would.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { QueueDO } from "../../durable-objects/queue/queue-do.js";
import { SERVER_TAG } from "../../durable-objects/queue/server-attachment.js";
import type { Frame } from "../../protocol/index.js";
import type { Env } from "../../src/env.js";
import { request, TestServer } from "./queue-test-server.js";

const CAP = 2;
const cappedEnv: Env & { EDGEMQ_MAX_CONCURRENCY: string } = {
  ...env,
  EDGEMQ_MAX_CONCURRENCY: String(CAP),
};

/** The dispatches `server` got before its next `error` frame (the answer to a bad frame). */
async function dispatchesBeforeError(server: TestServer): Promise<Frame[]> {
  await server.next("error");
  return server.pending("dispatch");
}

describe("EDGEMQ_MAX_CONCURRENCY", () => {
  it("gives a server that asks for more than the setting at most the setting's number of requests", async () => {
    const queue = "cap-concurrency";
    const server = await TestServer.connect(queue, "w-cap", 0);
    await runInDurableObject(env.QUEUE.getByName(queue), async (_instance, state) => {
      const relay = new QueueDO(state, cappedEnv);
      const requests = Array.from({ length: 6 }, (_, i) => request(`r${i}`, queue));
      const answers = await relay.enqueue({ queue, from: "cap-client", requests });
      expect(answers.every((a) => a.ok)).toBe(true);
      const [ws, ...others] = state.getWebSockets(SERVER_TAG);
      if (ws === undefined || others.length > 0) throw new Error("expected one server socket");
      await relay.webSocketMessage(ws, JSON.stringify({ type: "ready", concurrency: 5 }));
      // Answered with an error after every dispatch that `ready` brought.
      await relay.webSocketMessage(ws, JSON.stringify({ type: "barrier" }));
    });
    const dispatched = await dispatchesBeforeError(server);
    expect(dispatched).toHaveLength(CAP);
    const leased = await runInDurableObject(env.QUEUE.getByName(queue), (_instance, state) =>
      state.storage.sql.exec("SELECT COUNT(*) AS n FROM requests WHERE state = 'leased'").one(),
    );
    expect(leased.n).toBe(CAP);
    server.close();
  });
});
