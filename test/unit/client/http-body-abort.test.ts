/**
 * A call's body read ends when its signal aborts: Node 20's fetch (undici) can leave
 * arrayBuffer() unsettled for good when a signal several calls share aborts while their bodies
 * are read. An HTTP service's take loops share one: the first take refused (a token without the
 * server role) aborted the others mid-read, and peer.close() never resolved (a Node program
 * then exited with code 13, its top-level await unsettled).
 */
import { describe, expect, it } from "vitest";
import { connect, type FetchLike } from "../../../client/index.js";

const REFUSAL = JSON.stringify({
  error: { code: "forbidden", message: "this token does not allow the server role" },
});

describe("HTTP body reads and aborts", () => {
  it("closes a peer whose refused service's other takes never finish reading their bodies", async () => {
    let takes = 0;
    const fetch: FetchLike = async (url) => {
      if (url.endsWith("/v1/whoami")) {
        return Response.json({ identity: "alice", roles: ["client"], limits: {} });
      }
      takes++;
      const headers = new Headers({ "content-type": "application/json" });
      // The first take is refused at once; the others' bodies never arrive (the undici hang).
      const arrayBuffer =
        takes === 1
          ? async () => new TextEncoder().encode(REFUSAL).buffer as ArrayBuffer
          : () => new Promise<ArrayBuffer>(() => {});
      return { status: 403, headers, arrayBuffer };
    };
    const peer = await connect("http://relay.test", {
      transport: "http",
      identity: "alice",
      fetch,
    });
    const service = peer.serve("q", async () => 1, { concurrency: 4 });
    await expect(service.ready).rejects.toMatchObject({ code: "forbidden" });
    expect(takes).toBeGreaterThan(1);
    const closed = peer.close().then(() => "closed");
    const late = new Promise((resolve) => setTimeout(() => resolve("still open"), 2_000));
    await expect(Promise.race([closed, late])).resolves.toBe("closed");
  });
});
