/**
 * Bench-only Worker measuring the shapes a relayed request can take (bench/hops/run.mjs).
 * HubDO holds a "client" socket (/client) and a "server" socket (/server); SideDO holds a second
 * "server" socket (/side). Messages from the client, by first letter:
 *   e  echo: the hub answers at once (2 WebSocket messages);
 *   o  one object: the hub passes it to its server socket, whose answer (prefixed "r") the hub
 *      passes back (4 messages, the shape of a queue link);
 *   t  two objects: the hub calls SideDO.enqueue, which passes it to its server socket; the
 *      answer comes back by SideDO calling HubDO.deliver (4 messages and 2 calls, the shape of
 *      the exchange route);
 *   w  write, then echo (an SQLite commit before the answer can leave: the output gate);
 *   y  echo, then write (the answer leaves before the write).
 */
import { DurableObject } from "cloudflare:workers";

function accept(ctx, tag) {
  const pair = new WebSocketPair();
  ctx.acceptWebSocket(pair[1], [tag]);
  return new Response(null, { status: 101, webSocket: pair[0] });
}

function sendAll(ctx, tag, text) {
  for (const ws of ctx.getWebSockets(tag)) ws.send(text);
}

export class SideDO extends DurableObject {
  fetch() {
    return accept(this.ctx, "server");
  }
  enqueue(text) {
    sendAll(this.ctx, "server", text);
  }
  webSocketMessage(_ws, message) {
    const hub = this.env.HUB.getByName("hub");
    this.ctx.waitUntil(hub.deliver(String(message).slice(1)));
  }
}

export class HubDO extends DurableObject {
  fetch(request) {
    return accept(this.ctx, new URL(request.url).pathname === "/server" ? "server" : "client");
  }
  deliver(text) {
    sendAll(this.ctx, "client", text);
  }
  async webSocketMessage(ws, message) {
    const text = String(message);
    const sql = this.ctx.storage.sql;
    switch (text[0]) {
      case "e":
        ws.send(text);
        return;
      case "o":
        sendAll(this.ctx, "server", text);
        return;
      case "r":
        sendAll(this.ctx, "client", text.slice(1));
        return;
      case "t":
        await this.env.SIDE.getByName("side").enqueue(text);
        return;
      case "w":
        sql.exec("CREATE TABLE IF NOT EXISTS t (v TEXT)");
        this.ctx.storage.transactionSync(() => sql.exec("INSERT INTO t VALUES (?)", text));
        ws.send(text);
        return;
      case "y":
        sql.exec("CREATE TABLE IF NOT EXISTS t (v TEXT)");
        ws.send(text);
        this.ctx.storage.transactionSync(() => sql.exec("INSERT INTO t VALUES (?)", text));
        return;
      default:
        ws.send(`?${text}`);
    }
  }
}

export default {
  fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/healthz") return Response.json({ ok: true });
    if (path === "/side") return env.SIDE.getByName("side").fetch(request);
    return env.HUB.getByName("hub").fetch(request);
  },
};
