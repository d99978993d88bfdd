/**
 * A reply body with a media type and headers: a handler returns `typed(body, "image/png")` or
 * `reply(body, { contentType, headers })` instead of a plain body; HTTP clients get that
 * Content-Type and the headers as `EdgeMQ-Headers` (docs/http-api.md#bodies), SDK clients read both
 * with `peer.requestReply()`. A TypedBody is its own class, so a plain object a handler returns is
 * still a JSON body. Its headers are checked as a request's are (protocol readHeaders: names,
 * string values, the protocol's maxima) when it is made, and against the relay's own limits
 * (replyHeadersRefusal) before the reply is sent. The type follows the relay's
 * rule (protocol/content-type.ts); an undefined type means none, so a handler can echo a request's
 * `typed(req.body, req.contentType)`. Under a JSON media type a string is sent as a JSON string,
 * the value an SDK handler was given for it. Over either transport the content is then read by
 * its type (protocol/typed-content.ts), so a client gets the same value whichever transport its
 * server used. Used by service.ts and http-service.ts.
 */
import {
  bodyFrameRefusal,
  CONTENT_TYPE_RULE,
  EdgeMQError,
  ERROR_CODE,
  encodeBody,
  type Headers,
  headersOverLimits,
  isContentType,
  isJsonMediaType,
  isUtf8Text,
  type Limits,
  readHeaders,
  type SendBody,
  typedWireBody,
  utf8Length,
  type WireBody,
} from "../protocol/index.js";
import { type HttpBody, httpBodyOf } from "./http-body.js";

/** No headers: a reply made without any. */
const NO_HEADERS: Headers = Object.freeze({});

/** A body with the media type and headers it is sent with; made by typed() or reply(), immutable. */
export class TypedBody {
  readonly #body: SendBody;
  readonly #contentType: string | undefined;
  readonly #headers: Headers;

  /**
   * Throws `bad_request` unless `contentType` is undefined or 1 to 256 printable ASCII chars, and
   * unless `headers` (undefined: none) are headers a request could carry: an object of string
   * values under names of HTTP token characters, at most 32 of them and 8 KiB in all.
   */
  constructor(body: SendBody, contentType: string | undefined, headers?: Headers | undefined) {
    if (contentType !== undefined && !isContentType(contentType)) {
      throw new EdgeMQError(ERROR_CODE.badRequest, `content type must be ${CONTENT_TYPE_RULE}`);
    }
    this.#body = body;
    this.#contentType = contentType;
    this.#headers = headers === undefined ? NO_HEADERS : checkedHeaders(headers);
  }

  /** The body, as given to typed(). */
  get body(): SendBody {
    return this.#body;
  }

  /** Its media type; undefined for none. */
  get contentType(): string | undefined {
    return this.#contentType;
  }

  /** The reply's headers (a frozen copy of those given; `{}` for none). */
  get headers(): Headers {
    return this.#headers;
  }
}

/** What a handler may return: a body, or a body with its media type and headers. */
export type ReplyBody = SendBody | TypedBody;

/** reply()'s options: each may be left out (or undefined) for none. */
export interface ReplyOptions {
  /** The body's media type, as typed() takes it: HTTP clients get it as the Content-Type. */
  contentType?: string | undefined;
  /**
   * The reply's headers, which the client reads from `peer.requestReply()` (an HTTP client from
   * `EdgeMQ-Headers`): string values, with the bounds of a request's headers.
   */
  headers?: Headers | undefined;
}

/**
 * `body` sent with the media type `contentType` (undefined: none). Thrown in a handler, an
 * invalid type fails that request with its message, like any throw.
 */
export function typed(body: SendBody, contentType: string | undefined): TypedBody {
  return new TypedBody(body, contentType);
}

/**
 * A handler's reply with headers and a media type: `return reply(body, { headers, contentType })`.
 * Invalid headers or type throw `bad_request`; thrown in a handler, that fails the request with
 * the message, like any throw. Headers within the protocol's maxima but over a relay's lowered
 * limits fail the request the same way before it is sent.
 */
export function reply(body: SendBody, options: ReplyOptions = {}): TypedBody {
  return new TypedBody(body, options.contentType, options.headers);
}

/** `headers` as a reply carries them (frozen), or throws `bad_request` saying why not. */
function checkedHeaders(headers: Headers): Headers {
  const checked = readHeaders(headers);
  if (typeof checked === "string") {
    throw new EdgeMQError(ERROR_CODE.badRequest, `reply headers refused: ${checked}`);
  }
  return Object.freeze(checked);
}

/** The headers a handler's reply carries; undefined for none (a plain body included). */
export function replyHeadersOf(reply: ReplyBody): Headers | undefined {
  if (!(reply instanceof TypedBody) || reply.headers === NO_HEADERS) return undefined;
  return Object.keys(reply.headers).length > 0 ? reply.headers : undefined;
}

/**
 * Why the relay would refuse a reply's headers (over its configured `maxHeaders` or
 * `maxHeaderBytes`, or too long once escaped for HTTP), in the words both services fail such a
 * reply with before sending it, so a client reads the same `server_error` message whichever
 * transport its server uses; undefined when they fit.
 */
export function replyHeadersRefusal(
  headers: Headers | undefined,
  limits: Pick<Limits, "maxHeaders" | "maxHeaderBytes">,
): string | undefined {
  const over = headersOverLimits(headers, limits);
  return over === undefined ? undefined : `reply headers refused: ${over}`;
}

/**
 * The wire form of a reply (WebSocket transport). A typed body is its HTTP content mapped by its
 * type as the relay maps an HTTP server's reply (typedWireBody), so a client gets the same value
 * from either transport: bytes under a JSON type the parsed JSON, under text/* in UTF-8 a string.
 */
export function wireReplyOf(reply: ReplyBody): WireBody {
  if (!(reply instanceof TypedBody)) return encodeBody(reply);
  const { contentType } = reply;
  if (contentType === undefined) return encodeBody(reply.body);
  return typedWireBody(contentType, httpReplyOf(reply).content);
}

/** The HTTP form of a reply (HTTP transport): the body's content under its Content-Type. */
export function httpReplyOf(reply: ReplyBody): HttpBody {
  if (!(reply instanceof TypedBody)) return httpBodyOf(reply);
  const { body, contentType } = reply;
  if (contentType === undefined) return httpBodyOf(body);
  if (isJsonString(body, contentType)) {
    const text = JSON.stringify(body);
    return { content: text, contentType, size: utf8Length(text) };
  }
  return { ...httpBodyOf(body), contentType };
}

/**
 * Why the relay would refuse `body` as a reply, in the words a WebSocket service fails such a
 * reply with before sending it (service.ts), so a client reads the same `server_error` message
 * whichever transport its server uses; undefined when it fits. The HTTP service asks before
 * posting: over `maxBodyBytes`; bytes under a JSON type that are not JSON; text that JSON escaping
 * takes past one frame (the relay stores and sends a reply as one).
 */
export function httpReplyRefusal(
  body: HttpBody,
  limits: Pick<Limits, "maxBodyBytes" | "maxHeaderBytes">,
): string | undefined {
  if (body.size > limits.maxBodyBytes) return `reply body over ${limits.maxBodyBytes} bytes`;
  const { content, contentType } = body;
  // Other types travel as base64, which escaping does not lengthen.
  if (!isJsonMediaType(contentType) && !isUtf8Text(contentType)) return undefined;
  let wire: WireBody;
  try {
    // Text content is JSON already under a JSON type (httpReplyOf wrote it): no second parse.
    wire =
      typeof content === "string"
        ? { enc: "utf8", data: content }
        : typedWireBody(contentType, content);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  const overFrame = bodyFrameRefusal(wire, limits);
  return overFrame === undefined ? undefined : `reply ${overFrame}`;
}

function isJsonString(body: SendBody, contentType: string): body is string {
  return typeof body === "string" && isJsonMediaType(contentType);
}
