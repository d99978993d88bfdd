/**
 * The `EdgeMQ-*` headers of the HTTP API (docs/http-api.md), one source for both sides: the
 * front door sets them (src/http-responses.ts, src/routes/) and the SDK's HTTP transport reads
 * them (client/http-service.ts, client/http-requester.ts); and `EdgeMQ-Headers`, a request's or
 * reply's own headers (the frames' `headers`) as one JSON object, encoded and read here.
 */
import type { Headers } from "./frames.js";
import { readHeaders } from "./validate.js";

export { encodeHeadersHeader } from "./headers-encoding.js";

/** Headers of the HTTP API's requests and answers. */
export const HTTP_API_HEADERS = {
  /** The request's id: relay-chosen for a client; the relay id to reply to for a server. */
  requestId: "EdgeMQ-Request-Id",
  /** The client identity that sent a dispatched request. */
  from: "EdgeMQ-From",
  /** Epoch milliseconds after which the request ends in `timeout`. */
  deadline: "EdgeMQ-Deadline",
  /** 1 on the first dispatch, higher on redelivery. */
  attempt: "EdgeMQ-Attempt",
  /** How long a lease lasts (ms): a server extends it before that (POST .../leases/{id}). */
  leaseMs: "EdgeMQ-Lease-Ms",
  /** The partition a take came from: pass it back as `?partition=` (docs/scaling.md). */
  partition: "EdgeMQ-Partition",
  /** How many partitions the queue has. */
  partitions: "EdgeMQ-Partitions",
  /** A request's or reply's headers (the frames' `headers`): one JSON object of strings. */
  headers: "EdgeMQ-Headers",
  /**
   * Names the client's outcome poller on `POST .../requests`: the request's outcome then also
   * comes from `GET /v1/outcomes?poller=` (one long-poll for all of them). Rule: a request id's.
   */
  poller: "EdgeMQ-Poller",
} as const;

/**
 * What `GET /v1/whoami` lists in `features` for a relay whose take and lease routes take
 * `?lease=ms` (the lease a server asks for, docs/http-api.md): the SDK's HTTP service asks for a
 * short lease only then (an older relay refuses the parameter, as any query parameter it does not
 * read, with `bad_request`).
 */
export const LEASE_FEATURE = "lease";

/**
 * Reads an `EdgeMQ-Headers` value, or says why it is not one (a JSON object of at most 32
 * strings, names of HTTP token characters). Values past ASCII may come as `\u` escapes or as
 * UTF-8 (curl sends what it is given; workerd reads header bytes as UTF-8).
 */
export function decodeHeadersHeader(value: string): Headers | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return `${HTTP_API_HEADERS.headers} must be a JSON object of strings, like {"trace-id":"4bf92f"}`;
  }
  const headers = readHeaders(parsed);
  return typeof headers === "string" ? `${HTTP_API_HEADERS.headers}: ${headers}` : headers;
}
