/**
 * A reply body with a media type: a handler returns `typed(body, "image/png")` instead of a plain
 * body, and HTTP clients get that Content-Type (docs/http-api.md#bodies). A TypedBody is its own
 * class, so a plain object a handler returns is still a JSON body. The type follows the relay's
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
  isContentType,
  isJsonMediaType,
  isUtf8Text,
  type Limits,
  type SendBody,
  typedWireBody,
  utf8Length,
  type WireBody,
} from "../protocol/index.js";
import { type HttpBody, httpBodyOf } from "./http-body.js";

/** A body and the media type it is sent with; made by typed(), immutable. */
export class TypedBody {
  readonly #body: SendBody;
  readonly #contentType: string | undefined;

  /** Throws `bad_request` unless `contentType` is undefined or 1 to 256 printable ASCII chars. */
  constructor(body: SendBody, contentType: string | undefined) {
    if (contentType !== undefined && !isContentType(contentType)) {
      throw new EdgeMQError(ERROR_CODE.badRequest, `content type must be ${CONTENT_TYPE_RULE}`);
    }
    this.#body = body;
    this.#contentType = contentType;
  }

  /** The body, as given to typed(). */
  get body(): SendBody {
    return this.#body;
  }

  /** Its media type; undefined for none. */
  get contentType(): string | undefined {
    return this.#contentType;
  }
}

/** What a handler may return: a body, or a body with its media type. */
export type ReplyBody = SendBody | TypedBody;

/**
 * `body` sent with the media type `contentType` (undefined: none). Thrown in a handler, an
 * invalid type fails that request with its message, like any throw.
 */
export function typed(body: SendBody, contentType: string | undefined): TypedBody {
  return new TypedBody(body, contentType);
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
