/**
 * The wire protocol's frames: one discriminated union on `type`, shared by the relay and the SDK.
 * Every WebSocket text message is one frame (a JSON object) or a batch (a JSON array of frames).
 * New optional fields and new frame types are additive: a peer that does not know a frame type
 * answers it with a `bad_request` error frame and carries on. See docs/protocol.md.
 */
import type { WireBody } from "./body.js";
import type { ErrorCode } from "./errors.js";
import type { Limits } from "./limits.js";

export const FRAME_TYPE = {
  welcome: "welcome",
  request: "request",
  accepted: "accepted",
  reply: "reply",
  error: "error",
  ack: "ack",
  cancel: "cancel",
  ready: "ready",
  dispatch: "dispatch",
  fail: "fail",
  extend: "extend",
} as const;

export type FrameType = (typeof FRAME_TYPE)[keyof typeof FRAME_TYPE];

/**
 * A request's or reply's headers: string values under names of 1-128 HTTP token characters, at
 * most 32 of them and 8 KiB in all, or fewer as the relay's limits say (bad_request past them).
 */
export type Headers = Record<string, string>;

export const ROLE = { client: "client", server: "server" } as const;
export type Role = (typeof ROLE)[keyof typeof ROLE];

/** relay → peer, first frame on every connection. */
export interface WelcomeFrame {
  type: "welcome";
  v: number;
  identity: string;
  role: Role;
  /** The queue a server connection serves. */
  queue?: string;
  /**
   * For a server of a partitioned queue: the partition this connection serves (0 to
   * `partitions` - 1) and how many the queue has. Absent means one partition.
   */
  partition?: number;
  partitions?: number;
  limits: Limits;
}

/** client → relay: a request for `queue`. `id` is chosen by the client, unique among its requests. */
export interface RequestFrame {
  type: "request";
  id: string;
  queue: string;
  body: WireBody;
  headers?: Headers;
  /** Milliseconds from now; default and maximum in `welcome.limits`. */
  timeout?: number;
  /** Fail at once with `no_responders` when no server is connected. */
  failFast?: boolean;
}

/** relay → client: the request is stored; it will end in a `reply` or an `error`. */
export interface AcceptedFrame {
  type: "accepted";
  id: string;
  /** Epoch milliseconds after which the relay answers `timeout` (or `no_responders`). */
  deadline: number;
}

/**
 * server → relay: the answer to dispatch `id`.
 * relay → client: the answer to request `id`.
 */
export interface ReplyFrame {
  type: "reply";
  id: string;
  body: WireBody;
  headers?: Headers;
}

/**
 * relay → peer: a request ended in an error (`id` set), or a frame was refused (`id` unset). With
 * `about`, the error is about something else than request `id`'s outcome, which still comes:
 * `"cancel"`, the relay refused a cancel of it (`rate_limited`, `internal`, `forbidden`,
 * `bad_request`). A peer ignores an `about` it does not know, never taking it for the outcome.
 */
export interface ErrorFrame {
  type: "error";
  id?: string;
  code: ErrorCode;
  message: string;
  about?: ErrorAbout;
}

/** What an error with `about` refers to; a string, so newer relays may add values. */
export type ErrorAbout = "cancel" | (string & {});

/** client → relay: these replies or errors arrived; the relay may forget them. */
export interface AckFrame {
  type: "ack";
  ids: string[];
}

/**
 * client → relay: give up request `id` in `queue`.
 * relay → server: stop working on dispatch `id` (cancelled, or its deadline passed).
 */
export interface CancelFrame {
  type: "cancel";
  id: string;
  queue?: string;
}

/**
 * server → relay: take up to `concurrency` requests at once (0: take no more, drain). `holding`
 * (after a reconnect) lists the dispatch ids this server still has in hand from an earlier
 * connection: the relay moves their leases to this connection when an earlier connection of the
 * same identity held them, and answers `cancel` for the others.
 */
export interface ReadyFrame {
  type: "ready";
  concurrency: number;
  holding?: string[];
}

/** relay → server: a request to handle. `from` is the client's identity, stamped by the relay. */
export interface DispatchFrame {
  type: "dispatch";
  id: string;
  from: string;
  queue: string;
  body: WireBody;
  headers?: Headers;
  deadline: number;
  attempt: number;
}

/** server → relay: the handler for dispatch `id` threw; `message` reaches the client. */
export interface FailFrame {
  type: "fail";
  id: string;
  message: string;
}

/** server → relay: still working on these dispatches; renew their leases. */
export interface ExtendFrame {
  type: "extend";
  ids: string[];
}

export type Frame =
  | WelcomeFrame
  | RequestFrame
  | AcceptedFrame
  | ReplyFrame
  | ErrorFrame
  | AckFrame
  | CancelFrame
  | ReadyFrame
  | DispatchFrame
  | FailFrame
  | ExtendFrame;

/** Frames a client sends to the exchange. */
export type ClientFrame = RequestFrame | AckFrame | CancelFrame;
/** Frames a server sends to its queue. */
export type ServerFrame = ReadyFrame | ReplyFrame | FailFrame | ExtendFrame;
