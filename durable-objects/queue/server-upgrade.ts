/**
 * A server's WebSocket upgrade, forwarded by the front door to its QueueDO's `fetch`: re-check the
 * identity, queue and principal (role `server`, queue rights), mark the queue as served, let the
 * new connection take over from older ones of the same identity (their leases wait for its `ready`), accept the socket (Hibernation
 * API, attachment in server-attachment.ts) and send `welcome`. Used by queue-do.ts.
 */
import { CLOSE_CODE, encodeFrame } from "../../protocol/index.js";
import { FORWARD_HEADERS } from "../shared/contracts.js";
import { webSocketAccepted } from "../shared/upgrade-response.js";
import { send } from "./frame-outbox.js";
import { serverConnId } from "./lease-claims.js";
import type { QueueSettler } from "./queue-settle.js";
import type { QueueState } from "./queue-state.js";
import {
  readServerAttachment,
  SERVER_ATTACHMENT_VERSION,
  SERVER_TAG,
  type ServerAttachment,
  serverIdentityTag,
} from "./server-attachment.js";
import { serverPlacement } from "./server-placement.js";
import { closeQuietly, welcomeFrame } from "./server-socket.js";
import { openUpgrade } from "./upgrade-check.js";

/** Accepts a server's WebSocket upgrade, or answers why not (an HTTP error). */
export async function acceptServer(rt: QueueSettler, request: Request): Promise<Response> {
  const { ctx, state } = rt;
  const opened = openUpgrade(
    state,
    request,
    "server",
    (queue) => `this token does not allow serving ${queue}`,
  );
  if (opened instanceof Response) return opened;
  const { identity, queue, principal, client, server } = opened;
  const settings = state.settings;
  const now = Date.now();
  state.transaction(() => {
    state.store.setQueueName(queue);
    state.store.markSawServer();
    takeOver(ctx, state, identity);
  });
  ctx.acceptWebSocket(server, [SERVER_TAG, serverIdentityTag(identity)]);
  const attachment: ServerAttachment = {
    v: SERVER_ATTACHMENT_VERSION,
    connId: serverConnId(identity, crypto.randomUUID()),
    identity,
    queue,
    concurrency: 0,
    expiresAt: principal.expiresAt,
  };
  server.serializeAttachment(attachment);
  state.servers.invalidate();
  const placementHeader = request.headers.get(FORWARD_HEADERS.partition);
  const placement = serverPlacement(settings.queuePartitions, queue, placementHeader);
  send(server, encodeFrame(welcomeFrame(identity, queue, settings.limits, placement)));
  await rt.settle(now);
  return webSocketAccepted(request, client);
}

/**
 * A newer connection of `identity` takes over: older ones close. Their leases stay until the new
 * connection's `ready` claims what its server still holds and returns the rest (lease-claims.ts),
 * or until they end.
 */
function takeOver(ctx: DurableObjectState, state: QueueState, identity: string): void {
  for (const old of ctx.getWebSockets(serverIdentityTag(identity))) {
    const att = readServerAttachment(old.deserializeAttachment());
    if (att) state.servers.retire(att.connId);
    closeQuietly(old, CLOSE_CODE.replaced, "a newer connection of this server took over");
  }
}
