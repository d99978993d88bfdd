/**
 * Bench baseline: a minimal hibernating Durable Object that echoes every WebSocket message, with
 * the same "ping"/"pong" auto-response the relay sets. GET /echo upgrades into the object named
 * "echo"; GET /stats reports how often the object was constructed (kept in SQLite, so it survives
 * hibernation) and how many webSocketMessage calls it ran since it was last constructed;
 * POST /http answers with the request's body from inside the object (the HTTP baseline).
 */
import { DurableObject } from "cloudflare:workers";

export class EchoDO extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.messages = 0;
    this.constructedAt = Date.now();
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    const sql = ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS wakes (n INTEGER NOT NULL)");
    sql.exec("INSERT INTO wakes (n) VALUES (?)", this.constructedAt);
  }

  async fetch(request) {
    if (new URL(request.url).pathname === "/stats") {
      const row = this.ctx.storage.sql.exec("SELECT count(*) AS n FROM wakes").one();
      return Response.json({
        constructions: row.n,
        constructedAt: this.constructedAt,
        messagesSinceConstruct: this.messages,
        sockets: this.ctx.getWebSockets().length,
      });
    }
    if (new URL(request.url).pathname === "/http") return new Response(await request.text());
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  async webSocketMessage(ws, message) {
    this.messages += 1;
    ws.send(message);
  }

  async webSocketClose(ws, code, reason) {
    try {
      ws.close(code, reason);
    } catch {
      // Already closed.
    }
  }
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/healthz") return new Response("ok");
    if (path !== "/echo" && path !== "/stats" && path !== "/http") {
      return new Response("not found", { status: 404 });
    }
    if (path === "/echo" && request.headers.get("Upgrade") !== "websocket") {
      return new Response("upgrade required", { status: 426 });
    }
    return env.ECHO.getByName("echo").fetch(request);
  },
};
