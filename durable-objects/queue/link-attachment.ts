/**
 * What a QueueDO keeps on each queue-link socket (a client's `/v1/queues/<q>/connect`, the direct
 * route: requests in, their outcomes out, with no hop through the exchange) and the socket tags.
 * Read back as `unknown` and validated; a server socket's attachment never reads as a link (no
 * `kind`), nor a link's as a server's (no `concurrency`). Used by link-upgrade.ts, link-registry.ts
 * and queue-do.ts.
 */
import { isIdentity, isQueueName, isRecord } from "../../protocol/index.js";
import { readStoredPrincipal, type StoredPrincipal } from "../shared/principal-header.js";

export const LINK_ATTACHMENT_VERSION = 1;

/** Tag on every queue-link socket of a queue partition. */
export const LINK_TAG = "link";

export interface LinkAttachment {
  v: typeof LINK_ATTACHMENT_VERSION;
  kind: "link";
  /** A random id for this connection (unacked outcomes sent on it name it). */
  connId: string;
  /** The client's identity, established by the front door. */
  identity: string;
  queue: string;
  /** The token's rights (dev mode: the dev principal's). */
  principal: StoredPrincipal;
}

/** The tag shared by every link of one client identity (for takeover and for sending). */
export function linkIdentityTag(identity: string): string {
  return `lnk:${identity}`;
}

export function readLinkAttachment(value: unknown): LinkAttachment | undefined {
  if (!isRecord(value) || value.v !== LINK_ATTACHMENT_VERSION || value.kind !== "link") {
    return undefined;
  }
  const { connId, identity, queue } = value;
  if (typeof connId !== "string" || connId.length === 0 || connId.length > 64) return undefined;
  if (!isIdentity(identity) || !isQueueName(queue)) return undefined;
  const principal = readStoredPrincipal(value.principal);
  if (principal === undefined) return undefined;
  return { v: LINK_ATTACHMENT_VERSION, kind: "link", connId, identity, queue, principal };
}
