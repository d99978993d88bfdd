/**
 * The EdgeMQ SDK (`edgemq/client`): connect() to a relay, then request() replies from a queue (or
 * requestReply(), with their headers and media type) and serve() a queue. Runs in Node 20+ (with
 * `ws`), browsers, Workers, Deno and Bun. Only what is exported here is public.
 */
export {
  type Body,
  type BodyObject,
  EdgeMQError,
  ERROR_CODE,
  type ErrorCode,
  type Headers,
  isEdgeMQError,
  type JsonValue,
  type NotCallable,
  type ReceivedBody,
  type SendBody,
  type WireError,
} from "../protocol/index.js";
export type { FetchLike, FetchResponseLike, HttpRequestInit } from "./http-link.js";
export { type ConnectOptions, connect, DEFAULT_MAX_PENDING_REQUESTS } from "./peer.js";
export type { Peer, Service } from "./peer-api.js";
export type { AbortSignalLike, PlatformAbortSignal } from "./platform.js";
export type { ReceivedReply, RequestOptions } from "./requester.js";
export type { Handler, HandlerResult, ServeOptions, ServeRequest } from "./service.js";
export type { Status } from "./status.js";
export { type ReplyBody, type ReplyOptions, reply, TypedBody, typed } from "./typed-body.js";
export type {
  CloseEventLike,
  ErrorEventLike,
  MessageEventLike,
  SocketEventHandler,
  WebSocketConstructor,
  WebSocketLike,
} from "./websocket.js";
