/**
 * Type-level checks of whole replies, as README documents them: a handler replies with headers
 * and a media type through reply() (sync or async, beside typed() and plain bodies), and a client
 * reads `{ body, contentType, headers }` from requestReply(), its body typed as request()'s.
 * Compiled by `npm run typecheck` (tsconfig.types.json); nothing here runs.
 */
import {
  type Headers,
  type Peer,
  type ReceivedBody,
  type ReceivedReply,
  type ReplyOptions,
  reply,
  type TypedBody,
  typed,
} from "../../client/index.js";

interface Thumb {
  url: string;
}

declare function loadThumb(): Promise<Thumb>;

export function repliesWithHeaders(peer: Peer): void {
  peer.serve("a", (req) => reply({ ok: true }, { headers: { "trace-id": req.id } }));
  peer.serve("b", async () => reply(new Uint8Array([1]), { contentType: "image/png" }));
  peer.serve("c", async (req) => {
    if (req.attempt > 1) return;
    if (req.headers.plain !== undefined) return "plain";
    if (req.contentType === "text/csv") return typed(req.body, req.contentType);
    return reply(await loadThumb(), { headers: req.headers, contentType: undefined });
  });
  // Options may be left out, or given as undefined (exactOptionalPropertyTypes).
  const options: ReplyOptions = { headers: undefined, contentType: undefined };
  const made: TypedBody = reply("x", options);
  const none: Headers = reply("x").headers;
  void [made, none];
  // @ts-expect-error header values are strings
  reply("x", { headers: { retries: 3 } });
  // @ts-expect-error a promise is no body: await it first
  reply(loadThumb(), {});
  // @ts-expect-error a media type is a string
  reply("x", { contentType: 1 });
  // @ts-expect-error a bigint is no reply body, also through reply()
  peer.serve("d", async () => reply(10n));
}

export async function readsWholeReplies(peer: Peer): Promise<void> {
  const whole: ReceivedReply = await peer.requestReply("thumbs", { url: "x" }, { timeout: 5_000 });
  const body: ReceivedBody = whole.body;
  const type: string = whole.contentType;
  const traceId: string | undefined = whole.headers["trace-id"];
  void [body, type, traceId];
  // The body can be read as what the caller knows it to be (not checked at run time).
  const thumb = await peer.requestReply<Thumb>("thumbs");
  const url: string = thumb.body.url;
  void url;
  // request() still resolves with the body alone.
  const bare: ReceivedBody = await peer.request("thumbs");
  void bare;
  // @ts-expect-error a reply is read-only
  whole.contentType = "text/html";
  // @ts-expect-error the whole reply is no body
  const notBody: Thumb = await peer.requestReply("thumbs");
  void notBody;
}
