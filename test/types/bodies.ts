/**
 * Type-level checks of what the SDK takes as bodies and handlers, as README documents them:
 * values of interface and class types, a Date, a handler that returns nothing, a typed view
 * of request and reply bodies, string headers and the transport a peer uses. Compiled by
 * `npm run typecheck` (tsconfig.types.json); nothing here runs.
 */
import {
  connect,
  type HandlerResult,
  type JsonValue,
  type Peer,
  type ReceivedBody,
  type ServeRequest,
  typed,
} from "../../client/index.js";

interface ResizeReq {
  url: string;
  width?: number;
}

interface ResizeReply {
  ok: boolean;
  url: string;
}

class Job {
  constructor(readonly id: string) {}
}

export async function sends(peer: Peer): Promise<void> {
  const req: ResizeReq = { url: "https://example.com/cat.png" };
  await peer.request("resize", req);
  await peer.request("resize", new Job("a"));
  await peer.request("resize", new Date());
  await peer.request("resize", new Uint8Array([1, 2]).buffer);
  // A reply can be read as what the caller knows it to be (not checked at run time).
  const reply = await peer.request<ResizeReply>("resize", req);
  const ok: boolean = reply.ok;
  void ok;
  // @ts-expect-error a symbol is no body
  await peer.request("resize", Symbol("x"));
  // Request headers are strings, on either transport; the peer says which it uses.
  await peer.request("resize", req, { headers: { "trace-id": "4bf92f" } });
  // @ts-expect-error header values are strings
  await peer.request("resize", req, { headers: { retries: 3 } });
  const transport: "websocket" | "http" = peer.transport;
  void transport;
}

/**
 * What arrives is never undefined (no body arrives as null), so a reply or a request's body is a
 * JsonValue or bytes, with no `undefined` left to rule out after narrowing.
 */
export async function receives(peer: Peer): Promise<void> {
  const reply = await peer.request("resize");
  const arrived: JsonValue | Uint8Array = reply;
  void arrived;
  peer.serve("echo", (req) => {
    const body: JsonValue | Uint8Array = req.body;
    if (body === null || body instanceof Uint8Array || typeof body !== "object") return body;
    return Array.isArray(body) ? body.length : Object.keys(body).length;
  });
  const received: ReceivedBody = reply;
  void received;
}

declare function loadOrder(): Promise<ResizeReq>;
declare const anyRecord: Record<string, unknown>;
declare const rule: Rule;
declare const queryBuilder: PromiseLike<ResizeReply[]>;

interface Rule {
  when: string;
  then: string;
}

/**
 * A Promise is no body: forgetting `await` was accepted (every object was a SendBody) and sent
 * `{}`, refused only at run time. An object with a `then` that is not a function still is one.
 */
export async function sendsNoPromise(peer: Peer): Promise<void> {
  // @ts-expect-error a promise is no body: await it first
  await peer.request("orders", loadOrder());
  // @ts-expect-error nor inside typed()
  typed(loadOrder(), "application/json");
  await peer.request("orders", await loadOrder());
  await peer.request("rules", rule);
  await peer.request("rules", anyRecord);
  const wrap = <B extends object>(body: B) => peer.request("orders", body);
  void wrap;
}

/**
 * An async handler's value is checked as a sync one's: it used to be any object (a Promise is
 * one), so `async () => 10n` compiled while `() => 10n` did not, and failed every request.
 */
export function servesCheckedAsync(peer: Peer): void {
  // @ts-expect-error a bigint is no reply body, also from an async handler
  peer.serve("a", async () => 10n);
  // @ts-expect-error nor a symbol
  peer.serve("b", async (r) => Symbol(r.id));
  // @ts-expect-error nor a promise a sync handler returns of one
  peer.serve("c", () => Promise.resolve(10n));
  // Valid: nothing, a body or a typed one, sync or async, an async one returning early.
  peer.serve("e", async (r) => {
    if (r.attempt > 1) return;
    return { ok: true };
  });
  peer.serve("f", (): Promise<void> => Promise.resolve());
  peer.serve("g", () => loadOrder());
  peer.serve("h", async () => typed(new Uint8Array([1]), "image/png"));
  peer.serve("i", async () => anyRecord);
  // A thenable that is no Promise (a query builder's) is awaited as one.
  peer.serve("j", () => queryBuilder);
  const result: HandlerResult = Promise.resolve(new Date());
  void result;
}

function logOnly(request: ServeRequest): void {
  void request.id;
}

export function serves(peer: Peer): void {
  peer.serve("jobs", async () => {
    await Promise.resolve();
  });
  peer.serve("jobs2", () => undefined);
  // A sync handler with no return, and one declared void, return nothing too.
  peer.serve("jobs4", () => {});
  peer.serve("jobs5", logOnly);
  peer.serve("jobs3", async (r) => `text ${r.id}`);
  // A handler can take the body as what its clients send (not checked at run time).
  peer.serve<ResizeReq>("resize", async (r): Promise<ResizeReply> => {
    const width: number | undefined = r.body.width;
    void width;
    return { ok: true, url: r.body.url };
  });
}

export const open = () => connect("ws://127.0.0.1:8787", { identity: "alice" });
