/**
 * What a QueueDO keeps on each server socket (the Hibernation API attachment) and its socket tags.
 * Read back as `unknown` and validated, never trusted blindly: a socket whose attachment is not
 * ours is ignored by dispatch. `expiresAt` (the token's expiry) is absent on sockets accepted
 * before tokens were checked. Used by queue-do.ts, server-registry.ts and server-expiry.ts.
 */
import { isIdentity, isNonNegativeInteger, isQueueName, isRecord } from "../../protocol/index.js";

export const SERVER_ATTACHMENT_VERSION = 1;

/** Tag on every server socket of a queue. */
export const SERVER_TAG = "server";

export interface ServerAttachment {
  v: typeof SERVER_ATTACHMENT_VERSION;
  /** This connection's id, random then its identity (lease-claims.ts); leases name it. */
  connId: string;
  /** The server's identity, established by the front door. */
  identity: string;
  queue: string;
  /** Requests it takes at once (set by `ready`; 0 until then, or to drain). */
  concurrency: number;
  /** The token's expiry, epoch milliseconds; absent on attachments older than token checks. */
  expiresAt?: number;
}

/** The tag shared by every connection of one server identity (for takeover). */
export function serverIdentityTag(identity: string): string {
  return `srv:${identity}`;
}

export function readServerAttachment(value: unknown): ServerAttachment | undefined {
  if (!isRecord(value) || value.v !== SERVER_ATTACHMENT_VERSION) return undefined;
  const { connId, identity, queue, concurrency, expiresAt } = value;
  if (typeof connId !== "string" || connId.length === 0 || connId.length > 200) return undefined;
  if (!isIdentity(identity) || !isQueueName(queue)) return undefined;
  if (!isNonNegativeInteger(concurrency)) return undefined;
  const attachment: ServerAttachment = {
    v: SERVER_ATTACHMENT_VERSION,
    connId,
    identity,
    queue,
    concurrency,
  };
  if (expiresAt === undefined) return attachment;
  if (typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) return undefined;
  attachment.expiresAt = expiresAt;
  return attachment;
}
