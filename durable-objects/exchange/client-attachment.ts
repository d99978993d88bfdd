/**
 * What an ExchangeDO keeps on each client socket (the Hibernation API attachment) and the socket tag
 * for an identity. The attachment survives hibernation; it is read back as `unknown` and validated,
 * so a socket with missing or foreign state is refused rather than trusted. Used by exchange-do.ts.
 */
import { isIdentity, isRecord } from "../../protocol/index.js";

export const ATTACHMENT_VERSION = 1;

export interface ClientAttachment {
  v: typeof ATTACHMENT_VERSION;
  /** A random id for this connection (logs, and telling sockets of one identity apart). */
  connId: string;
  /** The client's identity, established by the front door. */
  identity: string;
}

export function newAttachment(identity: string, connId: string): ClientAttachment {
  return { v: ATTACHMENT_VERSION, connId, identity };
}

/** Validates an attachment read back from a socket; `undefined` when it is not ours. */
export function readAttachment(value: unknown): ClientAttachment | undefined {
  if (!isRecord(value)) return undefined;
  if (value.v !== ATTACHMENT_VERSION) return undefined;
  if (typeof value.connId !== "string" || value.connId.length === 0) return undefined;
  if (!isIdentity(value.identity)) return undefined;
  return { v: ATTACHMENT_VERSION, connId: value.connId, identity: value.identity };
}

/** The socket tag for every connection of `identity` (≤ 256 chars: identities are ≤ 128). */
export function identityTag(identity: string): string {
  return `id:${identity}`;
}
