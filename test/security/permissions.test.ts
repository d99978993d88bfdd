/**
 * Roles and queues: a client sends only to the queues its token lists, a server serves only its
 * queues and answers only the requests dispatched to it.
 */
import { describe, expect, it } from "vitest";
import { app } from "../../src/app.js";
import {
  call,
  errorBody,
  jsonOf,
  mint,
  Peer,
  request,
  signedEnv,
  upgrade,
} from "./signed-relay.js";

describe("roles and queues", () => {
  it("refuses a server token for queue X on queue Y with 403", async () => {
    const token = await mint({ sub: "x-srv", role: "server", queues: ["perm-x"] });
    const response = await upgrade("/v1/queues/perm-y/serve", token);
    expect(response.status).toBe(403);
    expect((await errorBody(response)).code).toBe("forbidden");
  });

  it("lets a prefix pattern serve every queue under the prefix and none other", async () => {
    const token = await mint({ sub: "img-srv", role: "server", queues: ["img.*"] });
    const allowed = await Peer.open(upgrade("/v1/queues/img.thumbs/serve", token));
    allowed.close();
    const refused = await upgrade("/v1/queues/imgx/serve", token);
    expect(refused.status).toBe(403);
  });

  it("refuses a client-only token on a serve route with 403", async () => {
    const token = await mint({ sub: "c-only", role: "client", queues: ["perm-x"] });
    const response = await upgrade("/v1/queues/perm-x/serve", token);
    expect(response.status).toBe(403);
    expect((await errorBody(response)).code).toBe("forbidden");
  });

  it("answers a plain GET on a serve route with the upgrade's refusal, so a browser can learn it", async () => {
    // A browser reports a refused upgrade as a bare close 1006: the SDK asks this way why.
    const get = (path: string, token: string) =>
      app.request(path, { headers: { Authorization: `Bearer ${token}` } }, signedEnv);
    const clientOnly = await mint({ sub: "c-get", role: "client", queues: ["perm-x"] });
    const server = await mint({ sub: "s-get", role: "server", queues: ["perm-x"] });
    const refused = await get("/v1/queues/perm-x/serve", clientOnly);
    expect(refused.status).toBe(403);
    expect(await errorBody(refused)).toMatchObject({
      code: "forbidden",
      message: "this token does not allow the server role",
    });
    expect((await get("/v1/queues/perm-y/serve", server)).status).toBe(403);
    expect((await get("/v1/queues/perm-x/serve", server)).status).toBe(426);
    // A queue link's route likewise: a server-only token may not open one.
    expect((await get("/v1/queues/perm-x/connect", server)).status).toBe(403);
    expect((await get("/v1/queues/perm-y/connect", clientOnly)).status).toBe(403);
    expect((await get("/v1/queues/perm-x/connect", clientOnly)).status).toBe(426);
  });

  it("lets only a token with the client role poll outcomes, and never without a token", async () => {
    const poll = (headers: Record<string, string>) => call("/v1/outcomes?poller=perm-tab", headers);
    const serverOnly = await mint({ sub: "s-poll", role: "server", queues: ["perm-x"] });
    const client = await mint({ sub: "c-poll", role: "client", queues: ["perm-x"] });
    expect((await errorBody(await poll({}))).code).toBe("unauthorized");
    const refused = await poll({ Authorization: `Bearer ${serverOnly}` });
    expect(refused.status).toBe(403);
    expect((await errorBody(refused)).code).toBe("forbidden");
    const allowed = await poll({ Authorization: `Bearer ${client}` });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ outcomes: [], after: 0 });
  });

  it("refuses a presence call from a client-only token or for a queue outside the token with 403", async () => {
    const presence = (queue: string, token: string) =>
      app.request(
        `/v1/queues/${queue}/presence`,
        { method: "POST", headers: { Authorization: `Bearer ${token}` } },
        signedEnv,
      );
    const clientOnly = await mint({ sub: "c-pres", role: "client", queues: ["perm-x"] });
    const server = await mint({ sub: "s-pres", role: "server", queues: ["perm-x"] });
    expect((await errorBody(await presence("perm-x", clientOnly))).code).toBe("forbidden");
    expect((await errorBody(await presence("perm-y", server))).code).toBe("forbidden");
    expect((await presence("perm-x", server)).status).toBe(204);
  });

  it("lets a server-only token open its client socket but refuses every request and cancel it sends with forbidden", async () => {
    const serverOnly = await Peer.client(
      await mint({ sub: "s-only", role: "server", queues: ["perm-x"] }),
    );
    serverOnly.send({ ...request("sneaky", "perm-x"), failFast: true });
    expect(await serverOnly.next("error", "sneaky")).toMatchObject({
      code: "forbidden",
      message: "this token does not allow the client role",
    });
    serverOnly.send({ type: "cancel", id: "someone-elses", queue: "perm-x" });
    expect(await serverOnly.next("error", "someone-elses")).toMatchObject({ code: "forbidden" });
    serverOnly.close();
  });

  it("answers a request for a queue outside the token with forbidden, and lets the rest of the batch through", async () => {
    const client = await Peer.client(
      await mint({ sub: "perm-client", role: "client", queues: ["perm-ok"] }),
    );
    client.send([
      { ...request("in", "perm-ok"), failFast: true },
      { ...request("out", "perm-secret"), failFast: true },
    ]);
    expect(await client.next("error", "out")).toMatchObject({ code: "forbidden" });
    // Allowed, so it reached the queue: no server there, failFast answers no_responders.
    expect(await client.next("error", "in")).toMatchObject({ code: "no_responders" });
    client.close();
  });

  it("refuses a cancel for a queue outside the token", async () => {
    const client = await Peer.client(
      await mint({ sub: "perm-canceller", role: "client", queues: ["perm-ok"] }),
    );
    client.send({ type: "cancel", id: "r9", queue: "perm-secret" });
    expect(await client.next("error", "r9")).toMatchObject({ code: "forbidden", about: "cancel" });
    client.close();
  });

  it("refuses a server's reply to a request dispatched to another server", async () => {
    const serverToken = (sub: string) => mint({ sub, role: "server", queues: ["perm-lease"] });
    const holder = await Peer.server("perm-lease", await serverToken("holder"));
    const thief = await Peer.server("perm-lease", await serverToken("thief"), 0);
    const client = await Peer.client(
      await mint({ sub: "perm-asker", role: "client", queues: ["perm-lease"] }),
    );
    client.send(request("r1", "perm-lease"));
    const dispatch = await holder.next("dispatch");

    thief.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: '"stolen"' } });
    expect(await thief.next("error", dispatch.id)).toMatchObject({ code: "forbidden" });

    holder.send({ type: "reply", id: dispatch.id, body: { enc: "json", data: '"genuine"' } });
    expect(jsonOf(await client.next("reply", "r1"))).toBe("genuine");
    for (const peer of [client, holder, thief]) peer.close();
  });

  it("refuses a queue link for a queue the client token does not list with 403", async () => {
    const token = await mint({ sub: "lnk-c", role: "client", queues: ["perm-x"] });
    const response = await upgrade("/v1/queues/perm-y/connect", token);
    expect(response.status).toBe(403);
    expect((await errorBody(response)).code).toBe("forbidden");
    const allowed = await Peer.open(upgrade("/v1/queues/perm-x/connect", token));
    await allowed.next("welcome");
    allowed.close();
  });

  it("refuses a queue link to a server-only token with 403", async () => {
    const token = await mint({ sub: "lnk-s", role: "server", queues: ["perm-x"] });
    const response = await upgrade("/v1/queues/perm-x/connect", token);
    expect(response.status).toBe(403);
    expect((await errorBody(response)).code).toBe("forbidden");
  });

  it("refuses a queue link without a token with 401", async () => {
    const response = await call("/v1/queues/perm-x/connect", { Upgrade: "websocket" });
    expect(response.status).toBe(401);
  });
});
