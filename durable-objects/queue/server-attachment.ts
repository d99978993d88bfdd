/**
 * What a QueueDO keeps on each server socket (the Hibernation API attachment) and its socket tags.
 * Read back as `unknown` and validated, never trusted blindly: a socket whose attachment is not
 * ours is ignored by dispatch. Used by queue-do.ts and server-registry.ts.
 */
import { isIdentity, isNonNegativeInteger, isQueueName, isRecord } from "../../protocol/index.js";

export const SERVER_ATTACHMENT_VERSION = 1;

/** Tag on every server socket of a queue. */
export const SERVER_TAG = "server";

export interface ServerAttachment {
  v: typeof SERVER_ATTACHMENT_VERSION;
  /** A random id for this connection; leases name it. */
  connId: string;
  /** The server's identity, established by the front door. */
  identity: string;
  queue: string;
  /** Requests it takes at once (set by `ready`; 0 until then, or to drain). */
  concurrency: number;
}

/** The tag shared by every connection of one server identity (for takeover). */
export function serverIdentityTag(identity: string): string {
  return `srv:${identity}`;
}

export function readServerAttachment(value: unknown): ServerAttachment | undefined {
  if (!isRecord(value) || value.v !== SERVER_ATTACHMENT_VERSION) return undefined;
  const { connId, identity, queue, concurrency } = value;
  if (typeof connId !== "string" || connId.length === 0 || connId.length > 64) return undefined;
  if (!isIdentity(identity) || !isQueueName(queue)) return undefined;
  if (!isNonNegativeInteger(concurrency)) return undefined;
  return { v: SERVER_ATTACHMENT_VERSION, connId, identity, queue, concurrency };
}
