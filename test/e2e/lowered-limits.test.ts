/**
 * E2E: limits an operator lowers with settings (docs/settings.md) are the limits in force. The
 * relay announces them in `welcome`, refuses a request over the header limits with
 * `bad_request`, refuses a server's reply over them (its client gets `server_error`), and an SDK
 * server that asks for more concurrency than the relay allows serves with the relay's maximum.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { encodeBody, PATHS } from "../../protocol/index.js";
import { request, serve } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";
import type { PeerProcess } from "./support/peer.js";

const SERVED = "low-served";

describe("lowered limits", () => {
  const e2e = useRelay({
    vars: {
      EDGEMQ_MAX_HEADERS: "2",
      EDGEMQ_MAX_HEADER_BYTES: "100",
      EDGEMQ_MAX_CONCURRENCY: "4",
    },
  });
  let client: PeerProcess;

  beforeAll(async () => {
    const server = await e2e.peer("low-server");
    // No concurrency given: the SDK's default (16) is over the relay's 4, and still serves.
    await serve(server, { identity: "low-worker", queue: SERVED, mode: "echo" });
    client = await e2e.peer("low-client");
  });

  const ask = (queue: string, headers: Record<string, string>) =>
    request(client, { identity: "low-client", queue, body: "hi", options: { headers } }, 60_000);

  it("announces the lowered limits in welcome", async () => {
    const raw = await e2e.raw(PATHS.connect, "low-watcher");
    const [welcome] = await raw.waitFor((f) => f.type === "welcome", 1, 10_000);
    expect(welcome?.limits).toMatchObject({
      maxHeaders: 2,
      maxHeaderBytes: 100,
      maxConcurrency: 4,
    });
  });

  it("serves a request within the limits, and refuses requests over them with bad_request", async () => {
    expect(await ask(SERVED, { a: "1", b: "2" })).toEqual({ ok: true, body: "hi" });
    const tooMany = await ask(SERVED, { a: "1", b: "2", c: "3" });
    expect(tooMany).toMatchObject({ ok: false, code: "bad_request" });
    expect(tooMany.ok ? "" : tooMany.message).toMatch(/3 headers, over the limit of 2/);
    const tooLarge = await ask(SERVED, { a: "x".repeat(120) });
    expect(tooLarge).toMatchObject({ ok: false, code: "bad_request" });
    expect(tooLarge.ok ? "" : tooLarge.message).toMatch(/over the limit of 100/);
  });

  it("refuses a server's reply over the header limits, and its client gets server_error", async () => {
    const queue = "low-raw";
    const server = await e2e.raw(PATHS.serve(queue), "low-raw-worker");
    server.send({ type: "ready", concurrency: 1 });
    const pending = ask(queue, {});
    const [dispatch] = await server.waitFor((f) => f.type === "dispatch", 1, 30_000);
    const id = String(dispatch?.id);
    const headers = { a: "1", b: "2", c: "3" };
    server.send({ type: "reply", id, body: encodeBody("answer"), headers });
    const [refusal] = await server.waitFor((f) => f.type === "error", 1, 10_000);
    expect(refusal).toMatchObject({ id, code: "bad_request" });
    expect(await pending).toMatchObject({ ok: false, code: "server_error" });
  });
});
