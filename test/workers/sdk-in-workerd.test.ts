/**
 * The SDK running inside workerd (the Workers runtime): a client and a server peer made with
 * `connect()` in the same isolate as the relay. workerd's outbound `new WebSocket(url)` would dial
 * the network, so the peers get a WebSocket that dials the Worker under test through
 * `exports.default.fetch` instead; everything above the socket is the SDK as published.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { connect } from "../../client/index.js";
import { loopbackWebSocket } from "./loopback-websocket.js";

/** The SDK's sockets dial this Worker in-process. */
const LoopbackWebSocket = loopbackWebSocket((url, headers) =>
  exports.default.fetch(url, { headers }),
);

describe("the SDK inside workerd", () => {
  it("serves and answers requests between two peers running in the Workers runtime", async () => {
    const options = { WebSocket: LoopbackWebSocket };
    const server = await connect("ws://relay.test", { ...options, identity: "workerd-server" });
    const service = server.serve("in-workerd", (req) => ({
      from: req.from,
      body: req.body instanceof Uint8Array ? "bytes" : (req.body ?? null),
    }));
    await service.ready;
    const client = await connect("ws://relay.test", { ...options, identity: "workerd-client" });

    expect(await client.request("in-workerd", { n: 1 })).toEqual({
      from: "workerd-client",
      body: { n: 1 },
    });
    expect(await client.request("in-workerd", "text")).toEqual({
      from: "workerd-client",
      body: "text",
    });

    await client.close();
    await service.close();
    await server.close();
  });
});
