/**
 * Bench baseline: a minimal hibernating Durable Object that echoes every WebSocket message, with
 * the same "ping"/"pong" auto-response the relay sets. GET /echo upgrades into the object named
 * "echo"; GET /stats reports how often the object was constructed (kept in SQLite, so it survives
 * hibernation) and how many webSocketMessage calls it ran since it was last constructed;
 * POST /http answers with the request's body from inside the object (the HTTP baseline).
 * GET /echo-commit upgrades into EchoCommitDO, which writes each message to SQLite (one
 * transaction) before echoing it: the echo's round trip plus one storage commit, so the bench
 * measures what one commit costs in the same run (the durable serial target).
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

/** The echo with one SQLite commit on the path: the answer waits for the write (output gate). */
export class EchoCommitDO extends EchoDO {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (body TEXT NOT NULL)");
  }

  async webSocketMessage(ws, message) {
    this.ctx.storage.transactionSync(() =>
      this.ctx.storage.sql.exec("INSERT INTO messages (body) VALUES (?)", String(message)),
    );
    ws.send(message);
  }
}

export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/healthz") return new Response("ok");
    if (path !== "/echo" && path !== "/echo-commit" && path !== "/stats" && path !== "/http") {
      return new Response("not found", { status: 404 });
    }
    if (path.startsWith("/echo") && request.headers.get("Upgrade") !== "websocket") {
      return new Response("upgrade required", { status: 426 });
    }
    if (path === "/echo-commit") return env.ECHO_COMMIT.getByName("commit").fetch(request);
    return env.ECHO.getByName("echo").fetch(request);
  },
};
