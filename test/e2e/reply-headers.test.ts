/**
 * E2E, whole replies between SDK peers in their own processes, over each of the four client and
 * server transport pairs (WebSocket or HTTP each): a handler's reply(value, { headers,
 * contentType }) reaches the client's requestReply() with those headers (non-ASCII and control
 * characters included, which EdgeMQ-Headers escapes over HTTP), that media type and the value,
 * the request's headers handed back as reply headers; request() still gets the body alone; a
 * plain body comes with no headers; and a handler's invalid reply headers fail its request with
 * `server_error` and the same message whichever transports carried it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { request, requestReply, serve } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";
import type { PeerProcess } from "./support/peer.js";

const e2e = useRelay();
const SERVER_TRANSPORTS = ["websocket", "http"] as const;
/** The peer process's identities named `http-*` use the HTTP transport. */
const CLIENTS = { websocket: "rh-client", http: "http-rh-client" } as const;
const REPLY_HEADERS = { "trace-id": "4bf92f", "Content-Language": "fr", note: 'café "1"\u0001' };
const REQUEST_HEADERS = { tenant: "ß-7" };

let clients: PeerProcess;

beforeAll(async () => {
  const servers = await e2e.peer("reply-header-servers");
  for (const transport of SERVER_TRANSPORTS) {
    const identity = transport === "http" ? "http-rh-server" : "rh-server";
    await serve(servers, { identity, queue: `rh-${transport}`, mode: "script" });
  }
  clients = await e2e.peer("reply-header-clients");
});

const pairs = SERVER_TRANSPORTS.flatMap((server) =>
  (["websocket", "http"] as const).map((client) => ({ client, server })),
);

describe.each(pairs)("a $client client of a $server server", ({ client, server }) => {
  const identity = CLIENTS[client];
  const queue = `rh-${server}`;
  const options = { timeout: 20_000, headers: REQUEST_HEADERS };
  const ask = (body: unknown) => requestReply(clients, { identity, queue, body, options }, 40_000);

  it("reads the handler's reply headers, media type and value with requestReply()", async () => {
    const value = { title: "Not found", status: 404 };
    const body = {
      op: "reply",
      value,
      headers: REPLY_HEADERS,
      contentType: "application/problem+json",
    };
    expect(await ask(body)).toEqual({
      ok: true,
      reply: {
        body: value,
        contentType: "application/problem+json",
        headers: { ...REPLY_HEADERS, "echo-tenant": "ß-7" },
      },
    });
    const bare = await request(clients, { identity, queue, body, options }, 40_000);
    expect(bare).toEqual({ ok: true, body: value });
  });

  it("gets no headers with a plain body", async () => {
    const outcome = await ask({ op: "echo", value: "plain" });
    expect(outcome.ok && outcome.reply.headers).toEqual({});
    expect(outcome.ok && outcome.reply.body).toBe("plain");
    // A server that named no media type: the body's kind's, on every pair of transports.
    expect(outcome.ok && outcome.reply.contentType).toBe("text/plain; charset=utf-8");
  });

  it("fails a reply with invalid headers with server_error, in the same words", async () => {
    const outcome = await ask({ op: "reply", value: 1, headers: { "bad name": "x" } });
    expect(outcome).toMatchObject({
      ok: false,
      code: "server_error",
      message: 'reply headers refused: bad header name "bad name"',
    });
  });
});
