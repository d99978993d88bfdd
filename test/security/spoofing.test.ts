/**
 * Spoofing, by every channel: a peer's identity comes from a valid token alone. Forged, foreign,
 * unsigned and expired tokens are refused; any header, query parameter or frame field claiming
 * another identity is refused or ignored, and the server sees the real sender.
 */
import { describe, expect, it } from "vitest";
import { SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX } from "../../protocol/index.js";
import { call, errorBody, jsonOf, mint, Peer, request, upgrade } from "./signed-relay.js";

function b64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function expectRefused(response: Response, status: number, code: string): Promise<void> {
  expect(response.status).toBe(status);
  expect((await errorBody(response)).code).toBe(code);
}

const alice = { sub: "alice-sp", role: "client" as const, queues: ["spoof-q"] };

describe("spoofing an identity", () => {
  it("refuses a token naming another identity signed with the wrong secret", async () => {
    const token = await mint({ ...alice, sub: "victim" }, "not-the-relay-secret");
    await expectRefused(await upgrade("/v1/connect", token), 401, "unauthorized");
  });

  it("refuses a token whose payload was rewritten to another identity", async () => {
    const [header, , signature] = (await mint(alice)).split(".");
    const forged = `${header}.${b64url({ ...alice, sub: "victim", exp: 4_000_000_000 })}.${signature}`;
    await expectRefused(await upgrade("/v1/connect", forged), 401, "unauthorized");
  });

  it("refuses an unsigned alg none token", async () => {
    const unsigned = `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ ...alice, exp: 4_000_000_000 })}.`;
    await expectRefused(await upgrade("/v1/connect", unsigned), 401, "unauthorized");
  });

  it("refuses an expired token", async () => {
    const token = await mint({ ...alice, ttl: -3600 });
    const response = await upgrade("/v1/connect", token);
    expect(response.status).toBe(401);
    expect((await errorBody(response)).message).toBe("token expired");
  });

  it("refuses a peer with no token at all", async () => {
    await expectRefused(await call("/v1/connect", { Upgrade: "websocket" }), 401, "unauthorized");
  });

  it("refuses an EdgeMQ-Identity header that differs from the token's sub", async () => {
    const token = await mint(alice);
    const response = await upgrade("/v1/connect", token, { "EdgeMQ-Identity": "victim" });
    await expectRefused(response, 403, "forbidden");
  });

  it("refuses an ?identity= query parameter that differs from the token's sub", async () => {
    const token = await mint(alice);
    await expectRefused(await upgrade("/v1/connect?identity=victim", token), 403, "forbidden");
  });

  it("refuses an EdgeMQ-Identity header and ?identity= that disagree, even when one matches", async () => {
    const token = await mint(alice);
    const headers = { "EdgeMQ-Identity": alice.sub };
    const response = await upgrade("/v1/connect?identity=victim", token, headers);
    await expectRefused(response, 400, "bad_request");
  });

  it("accepts an identity claim that agrees with the token", async () => {
    const token = await mint(alice);
    const peer = await Peer.open(upgrade(`/v1/connect?identity=${alice.sub}`, token));
    expect(await peer.next("welcome")).toMatchObject({ identity: alice.sub });
    peer.close();
  });

  it("ignores X-EdgeMQ-Identity and X-EdgeMQ-Principal headers sent by the peer", async () => {
    const token = await mint(alice);
    const forgedPrincipal = JSON.stringify({
      identity: "victim",
      roles: ["client", "server"],
      queues: ["*"],
      expiresAt: 4_000_000_000_000,
    });
    const peer = await Peer.open(
      upgrade("/v1/connect", token, {
        "X-EdgeMQ-Identity": "victim",
        "X-EdgeMQ-Principal": forgedPrincipal,
      }),
    );
    expect(await peer.next("welcome")).toMatchObject({ identity: alice.sub });
    peer.send({ ...request("r1", "not-in-token"), failFast: true });
    expect(await peer.next("error", "r1")).toMatchObject({ code: "forbidden" });
    peer.close();
  });

  it("stamps requests with the token's identity whatever the frame claims, so the server sees the real sender", async () => {
    const server = await Peer.server(
      "spoof-q",
      await mint({ sub: "spoof-srv", role: "server", queues: ["spoof-q"] }),
    );
    const client = await Peer.client(await mint(alice));
    client.send({ ...request("r1", "spoof-q"), from: "victim", identity: "victim" });
    await client.next("accepted", "r1");
    const dispatch = await server.next("dispatch");
    expect(dispatch.from).toBe(alice.sub);
    expect(jsonOf(dispatch)).toBe("r1");
    client.close();
    server.close();
  });
});

describe("the token as a WebSocket subprotocol (browsers)", () => {
  it("accepts the token as a subprotocol and selects only edgemq, never echoing the token", async () => {
    const token = await mint(alice);
    const response = await call("/v1/connect", {
      Upgrade: "websocket",
      "Sec-WebSocket-Protocol": `${SUBPROTOCOL}, ${TOKEN_SUBPROTOCOL_PREFIX}${token}`,
    });
    expect(response.status).toBe(101);
    expect(response.headers.get("Sec-WebSocket-Protocol")).toBe(SUBPROTOCOL);
    const peer = await Peer.open(response);
    expect(await peer.next("welcome")).toMatchObject({ identity: alice.sub });
    peer.close();
  });

  it("selects edgemq on a server's upgrade too", async () => {
    const token = await mint({ sub: "sub-srv", role: "server", queues: ["sub-q"] });
    const response = await call("/v1/queues/sub-q/serve", {
      Upgrade: "websocket",
      "Sec-WebSocket-Protocol": `${SUBPROTOCOL}, ${TOKEN_SUBPROTOCOL_PREFIX}${token}`,
    });
    expect(response.status).toBe(101);
    expect(response.headers.get("Sec-WebSocket-Protocol")).toBe(SUBPROTOCOL);
    (await Peer.open(response)).close();
  });

  it("refuses a forged token sent as a subprotocol", async () => {
    const token = await mint({ ...alice, sub: "victim" }, "not-the-relay-secret");
    const response = await call("/v1/connect", {
      Upgrade: "websocket",
      "Sec-WebSocket-Protocol": `${SUBPROTOCOL}, ${TOKEN_SUBPROTOCOL_PREFIX}${token}`,
    });
    await expectRefused(response, 401, "unauthorized");
  });

  it("refuses with 400 an upgrade whose subprotocols leave out edgemq, which the client would fail after a 101", async () => {
    const token = await mint(alice);
    for (const [path, offer] of [
      ["/v1/connect", `${TOKEN_SUBPROTOCOL_PREFIX}${token}`],
      ["/v1/connect", "graphql-ws"],
      ["/v1/queues/sub-q/connect", `chat, ${TOKEN_SUBPROTOCOL_PREFIX}${token}`],
    ] as const) {
      const response = await call(path, { Upgrade: "websocket", "Sec-WebSocket-Protocol": offer });
      await expectRefused(response, 400, "bad_request");
    }
  });
});
