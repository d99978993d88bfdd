/**
 * Small helpers for the QueueDO's server sockets and upgrade answers: the welcome frame, JSON
 * HTTP errors for refused upgrades (status from the protocol's one mapping) and a close that
 * tolerates an already-closed socket. Used by queue-do.ts and server-upgrade.ts.
 */
import {
  type ErrorCode,
  HTTP_STATUS,
  type Limits,
  PROTOCOL_VERSION,
  type WelcomeFrame,
} from "../../protocol/index.js";

/** Where a server socket sits in a partitioned queue (queue-partitions.ts). */
export interface Placement {
  partition: number;
  partitions: number;
}

/** The welcome for a server; a queue of one partition says nothing about partitions. */
export function welcomeFrame(
  identity: string,
  queue: string,
  limits: Limits,
  placement: Placement = { partition: 0, partitions: 1 },
): WelcomeFrame {
  const frame: WelcomeFrame = {
    type: "welcome",
    v: PROTOCOL_VERSION,
    identity,
    role: "server",
    queue,
    limits,
  };
  if (placement.partitions > 1) {
    frame.partition = placement.partition;
    frame.partitions = placement.partitions;
  }
  return frame;
}

export function httpError(code: ErrorCode, message: string): Response {
  return Response.json({ error: { code, message } }, { status: HTTP_STATUS[code] });
}

export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // Already closed.
  }
}
