/**
 * E2E, an SDK HTTP server that closes against a real `wrangler dev`: its take loops' long-polls
 * were still waiting at the relay (the local proxy does not pass a hang-up on), and the relay
 * hands waiting takes requests first, so a request sent next went to a take nobody read and
 * waited out its lease. Its service now says it left (`DELETE .../takes`), and the next request
 * goes to the WebSocket server that took over.
 */
import { describe, expect, it } from "vitest";
import { closeServices, request, serve } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";

describe("an HTTP server that closes", () => {
  const e2e = useRelay();

  it("leaves no take waiting at the relay: the next request goes to the server that took over", async () => {
    const leaver = await e2e.peer("http-leaver-process");
    await serve(leaver, { identity: "http-leaver", queue: "leave-q", mode: "echo" });
    // Its loops' takes are waiting at the relay now (up to 25 s each).
    await new Promise((resolve) => setTimeout(resolve, 500));
    await closeServices(leaver);

    const successor = await e2e.peer("ws-successor-process");
    await serve(successor, { identity: "ws-successor", queue: "leave-q", mode: "echo" });
    const client = await e2e.peer("ws-client-process");
    const outcome = await request(
      client,
      { identity: "leave-client", queue: "leave-q", body: "after", options: { timeout: 8_000 } },
      20_000,
    );
    expect(outcome).toEqual({ ok: true, body: "after" });
  });
});
