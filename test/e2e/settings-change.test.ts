/**
 * E2E: an operator lowers EDGEMQ_MAX_BODY_BYTES below the body of a request the queue already
 * stores, and restarts the relay with the same state (as a deploy does). The client's re-send of
 * that request after its reconnect, through /v1/connect or a queue link, is answered `accepted`
 * as the stored request it is, and its reply reaches the client: the request runs once, and its
 * client is never told `too_large` about a request that was accepted and ran. A new request over
 * the lowered limit is still refused `too_large`.
 */
import { describe, expect, it } from "vitest";
import { encodeBody, PATHS } from "../../protocol/index.js";
import { useRelay } from "./support/fixture.js";
import type { Fields } from "./support/guards.js";

const QUEUE = "lowered-body-q";
const BODY = "x".repeat(1_000);

function request(id: string): Fields {
  return { type: "request", id, queue: QUEUE, body: encodeBody(BODY), timeout: 120_000 };
}

describe("a lowered body limit across a restart", () => {
  const e2e = useRelay();

  it("answers re-sends of stored requests over the new limit as stored, and delivers their replies", async () => {
    const routes = [
      { path: PATHS.connect, identity: "lb-exchange", id: "lb-1" },
      { path: PATHS.queueConnect(QUEUE), identity: "lb-link", id: "lb-2" },
    ];
    for (const route of routes) {
      const socket = await e2e.raw(route.path, route.identity);
      socket.send(request(route.id));
      const [accepted] = await socket.waitFor((f) => f.id === route.id, 1, 30_000);
      expect(accepted).toMatchObject({ type: "accepted", id: route.id });
      await socket.close();
    }

    await e2e.relay().restart({ EDGEMQ_MAX_BODY_BYTES: "500" });

    const clients = [];
    for (const route of routes) {
      const socket = await e2e.raw(route.path, route.identity);
      socket.send(request(route.id));
      const [answer] = await socket.waitFor((f) => f.id === route.id, 1, 30_000);
      expect(answer).toMatchObject({ type: "accepted", id: route.id });
      clients.push({ socket, id: route.id });
    }

    const fresh = await e2e.raw(PATHS.connect, "lb-new");
    fresh.send(request("lb-3"));
    const [refusal] = await fresh.waitFor((f) => f.id === "lb-3", 1, 30_000);
    expect(refusal).toMatchObject({ type: "error", id: "lb-3", code: "too_large" });
    expect(String(refusal?.message)).toMatch(/over the limit of 500/);

    const server = await e2e.raw(PATHS.serve(QUEUE), "lb-worker");
    server.send({ type: "ready", concurrency: 4 });
    const dispatches = await server.waitFor((f) => f.type === "dispatch", 2, 30_000);
    for (const dispatch of dispatches) {
      server.send({ type: "reply", id: String(dispatch.id), body: encodeBody("done") });
    }
    for (const { socket, id } of clients) {
      const [reply] = await socket.waitFor((f) => f.type === "reply" && f.id === id, 1, 30_000);
      expect(reply?.body).toEqual(encodeBody("done"));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server.frames.filter((f) => f.type === "dispatch")).toHaveLength(2);
  });
});
