/**
 * A request row read back from SQLite, narrowed column by column; the stored body, headers and
 * outcome frame are re-validated with the protocol's own readers, never cast. Used by
 * request-store.ts.
 */

import {
  decodeFrameValue,
  type Headers,
  readHeaders,
  readWireBody,
  type WireBody,
} from "../../protocol/index.js";
import type { Outcome } from "../shared/contracts.js";
import type { StoredRequest } from "./request-row.js";
import { CorruptRowError, num, optNum, optStr, parseJson, str } from "./sql-values.js";

export type { StoredRequest } from "./request-row.js";

export function toStored(row: Record<string, SqlStorageValue>): StoredRequest {
  const state = str(row.state, "state");
  if (state !== "queued" && state !== "leased" && state !== "done") {
    throw new CorruptRowError(`unknown request state ${state}`);
  }
  const bodyText = optStr(row.body, "body");
  const headersText = optStr(row.headers, "headers");
  return {
    rid: num(row.rid, "rid"),
    clientId: str(row.client_id, "client_id"),
    from: str(row.from_identity, "from_identity"),
    body: bodyText === null ? undefined : readStoredBody(bodyText),
    headers: headersText === null ? undefined : readStoredHeaders(headersText),
    deadline: num(row.deadline, "deadline"),
    attempt: num(row.attempt, "attempt"),
    state,
    leaseConn: optStr(row.lease_conn, "lease_conn"),
    leaseUntil: optNum(row.lease_until, "lease_until"),
    sawServer: num(row.saw_server, "saw_server") !== 0,
    viaLink: row.via_link === 1,
  };
}

function readStoredBody(text: string): WireBody | undefined {
  const body = readWireBody(parseJson(text));
  return typeof body === "string" ? undefined : body;
}

function readStoredHeaders(text: string): Headers | undefined {
  const headers = readHeaders(parseJson(text));
  return typeof headers === "string" ? undefined : headers;
}

export function readOutcomeFrame(text: string): Outcome["frame"] | undefined {
  const decoded = decodeFrameValue(parseJson(text));
  if (!decoded.ok) return undefined;
  const frame = decoded.value;
  return frame.type === "reply" || frame.type === "error" ? frame : undefined;
}
