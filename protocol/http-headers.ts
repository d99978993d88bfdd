/**
 * The `EdgeMQ-*` headers of the HTTP API (docs/http-api.md), one source for both sides: the
 * front door sets them (src/http-responses.ts, src/routes/) and the SDK's HTTP transport reads
 * them (client/http-service.ts, client/http-requester.ts).
 */

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
} as const;
