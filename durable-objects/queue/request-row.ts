/**
 * One request as the queue's modules see it, whichever store holds it (request-store.ts,
 * memory-request-store.ts, live-row-cache.ts). Plain data, no platform types, so pure modules
 * and their Node tests can use it.
 */
import type { Headers, WireBody } from "../../protocol/index.js";
import type { RequestState } from "./lease-rules.js";

export interface StoredRequest {
  rid: number;
  clientId: string;
  from: string;
  body: WireBody | undefined;
  headers: Headers | undefined;
  deadline: number;
  attempt: number;
  state: RequestState;
  leaseConn: string | null;
  leaseUntil: number | null;
  sawServer: boolean;
  /** It came on the client's queue link (its outcome goes back down the link when it can). */
  viaLink: boolean;
}
