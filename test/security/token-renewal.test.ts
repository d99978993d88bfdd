/**
 * A peer renews its token with setToken() before the old one expires: when the relay closes its
 * socket as expired (4401), the SDK reconnects with the new token, and requests carry on. The
 * SDK runs in workerd against the signed front door (loopback sockets); tokens are minted 28 s in
 * the past, so with the relay's 30 s clock-skew allowance they lapse within about 2 s.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { connect, type Status } from "../../client/index.js";
import { CLOSE_CODE } from "../../protocol/index.js";
import { app } from "../../src/app.js";
import { loopbackWebSocket } from "../workers/loopback-websocket.js";
import { mint, signedEnv, sleep } from "./signed-relay.js";

const SignedWebSocket = loopbackWebSocket(async (url, headers) =>
  app.request(url, { headers }, signedEnv),
);
const QUEUE = "renew-q";
/** Long enough for a token minted 28 s ago to pass the 30 s allowance. */
const LAPSE_MS = 2_100;

describe("renewing a peer's token", () => {
  it("reconnects a client whose old token expired with the renewed one, and its requests carry on", async () => {
    const options = { WebSocket: SignedWebSocket, route: "exchange" as const };
    const serverToken = await mint({ sub: "renew-srv", role: "server", queues: [QUEUE] });
    const server = await connect("ws://relay.test", { ...options, token: serverToken });
    await server.serve(QUEUE, (req) => ({ from: req.from })).ready;
    const grant = { sub: "renew-cli", role: "client" as const, queues: [QUEUE] };
    const client = await connect("ws://relay.test", {
      ...options,
      token: await mint({ ...grant, ttl: -28 }),
    });
    const statuses: Status[] = [];
    void (async () => {
      for await (const status of client.status()) statuses.push(status);
    })();
    expect(await client.request(QUEUE, "before")).toEqual({ from: "renew-cli" });

    client.setToken(await mint(grant));
    await sleep(LAPSE_MS);
    // The exchange's alarm closes sockets whose token expired.
    await runDurableObjectAlarm(env.EXCHANGE.getByName("exchange"));
    expect(await client.request(QUEUE, "after")).toEqual({ from: "renew-cli" });
    expect(statuses).toContainEqual(
      expect.objectContaining({ type: "disconnected", code: CLOSE_CODE.unauthorized }),
    );
    expect(statuses.filter((s) => s.type === "error")).toEqual([]);
    await client.close();
    await server.close();
  });
});
