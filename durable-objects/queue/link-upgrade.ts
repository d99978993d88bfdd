/**
 * A client's queue-link upgrade (`/v1/queues/<q>/connect`), forwarded by the front door to the
 * queue partition that holds the client's requests: re-check the identity, queue and principal
 * (role `client`, queue rights), let the new link take over from an older one of the same
 * identity (whose unacked outcomes become due again), accept the socket (Hibernation API,
 * link-attachment.ts) and send `welcome`. Used by queue-do.ts.
 */
import {
  CLOSE_CODE,
  encodeFrame,
  PROTOCOL_VERSION,
  type WelcomeFrame,
} from "../../protocol/index.js";
import { storePrincipal } from "../shared/principal-header.js";
import { webSocketAccepted } from "../shared/upgrade-response.js";
import { send } from "./frame-outbox.js";
import {
  LINK_ATTACHMENT_VERSION,
  LINK_TAG,
  type LinkAttachment,
  linkIdentityTag,
  readLinkAttachment,
} from "./link-attachment.js";
import type { QueueSettler } from "./queue-settle.js";
import type { QueueState } from "./queue-state.js";
import { closeQuietly } from "./server-socket.js";
import { openUpgrade } from "./upgrade-check.js";

/** Accepts a client's queue link, or answers why not (an HTTP error). */
export async function acceptLink(rt: QueueSettler, request: Request): Promise<Response> {
  const { ctx, state } = rt;
  const opened = openUpgrade(
    state,
    request,
    "client",
    (queue) => `this token does not allow requests to ${queue}`,
  );
  if (opened instanceof Response) return opened;
  const { identity, queue, principal, known, client, server } = opened;
  if (known === undefined) state.transaction(() => state.store.setQueueName(queue));
  takeOver(ctx, state, identity);
  ctx.acceptWebSocket(server, [LINK_TAG, linkIdentityTag(identity)]);
  const attachment: LinkAttachment = {
    v: LINK_ATTACHMENT_VERSION,
    kind: "link",
    connId: crypto.randomUUID(),
    identity,
    queue,
    principal: storePrincipal(principal),
  };
  server.serializeAttachment(attachment);
  state.links.add(server, attachment);
  const limits = state.settings.limits;
  const welcome: WelcomeFrame = {
    type: "welcome",
    v: PROTOCOL_VERSION,
    identity,
    role: "client",
    queue,
    limits,
  };
  send(server, encodeFrame(welcome));
  await rt.settle(Date.now());
  return webSocketAccepted(request, client);
}

/** A newer link of `identity` takes over: older ones close, their unacked outcomes are due again. */
function takeOver(ctx: DurableObjectState, state: QueueState, identity: string): void {
  for (const old of ctx.getWebSockets(linkIdentityTag(identity))) {
    const att = readLinkAttachment(old.deserializeAttachment());
    if (att !== undefined) {
      state.links.remove(identity, att.connId);
      state.delivery.release(identity, att.connId);
    }
    closeQuietly(old, CLOSE_CODE.replaced, "a newer link of this client took over");
  }
}
