/**
 * What an ExchangeDO keeps on each client socket (the Hibernation API attachment) and the socket tag
 * for an identity. The attachment survives hibernation; it is read back as `unknown` and validated,
 * so a socket with missing or foreign state is refused rather than trusted. The principal's rights
 * (roles, queue patterns, expiry: at most 100 patterns, well under the 16 KiB attachment limit)
 * are absent on sockets accepted before tokens were checked. `replay` says how far the socket's
 * outbox replay got while it is still paging (replay-pages.ts). Used by exchange-do.ts.
 */
import { isIdentity, isRecord } from "../../protocol/index.js";
import { readStoredPrincipal, type StoredPrincipal } from "../shared/principal-header.js";
import { type ReplayCursor, readReplayCursor } from "./replay-pages.js";

export const ATTACHMENT_VERSION = 1;

export interface ClientAttachment {
  v: typeof ATTACHMENT_VERSION;
  /** A random id for this connection (logs, and telling sockets of one identity apart). */
  connId: string;
  /** The client's identity, established by the front door. */
  identity: string;
  /** The token's rights; absent on attachments written before tokens were checked. */
  principal?: StoredPrincipal;
  /** Present while the outbox replay to this socket has pages left to send. */
  replay?: ReplayCursor;
}

export function newAttachment(
  identity: string,
  connId: string,
  principal?: StoredPrincipal,
): ClientAttachment {
  const attachment: ClientAttachment = { v: ATTACHMENT_VERSION, connId, identity };
  if (principal !== undefined) attachment.principal = principal;
  return attachment;
}

/** Validates an attachment read back from a socket; `undefined` when it is not ours. */
export function readAttachment(value: unknown): ClientAttachment | undefined {
  if (!isRecord(value)) return undefined;
  if (value.v !== ATTACHMENT_VERSION) return undefined;
  if (typeof value.connId !== "string" || value.connId.length === 0) return undefined;
  if (!isIdentity(value.identity)) return undefined;
  let principal: StoredPrincipal | undefined;
  if (value.principal !== undefined) {
    principal = readStoredPrincipal(value.principal);
    if (principal === undefined) return undefined;
  }
  const attachment = newAttachment(value.identity, value.connId, principal);
  if (value.replay === undefined) return attachment;
  const replay = readReplayCursor(value.replay);
  if (replay === undefined) return undefined;
  attachment.replay = replay;
  return attachment;
}

/** The socket tag for every connection of `identity` (≤ 256 chars: identities are ≤ 128). */
export function identityTag(identity: string): string {
  return `id:${identity}`;
}
