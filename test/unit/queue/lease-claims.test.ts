/** Which dispatches a reconnected server may claim (ready {holding}), and whose a connection id is. */
import { describe, expect, it } from "vitest";
import {
  claimVerdict,
  identityOfConn,
  serverConnId,
} from "../../../durable-objects/queue/lease-claims.js";
import type { LeaseView } from "../../../durable-objects/queue/lease-rules.js";

const gone = serverConnId("w1", "old");
const now = 5_000;
const conn = { connId: serverConnId("w1", "new"), identity: "w1" };
const leased = (leaseConn: string | null, deadline = 10_000): LeaseView => ({
  state: "leased",
  leaseConn,
  deadline,
});
const nobodyLive = () => false;

describe("server connection ids", () => {
  it("name their identity, which may hold any identity character", () => {
    expect(identityOfConn(serverConnId("a.b:c@d+e=f-g", "r"))).toBe("a.b:c@d+e=f-g");
  });

  it("name no identity when made before they did (a bare UUID)", () => {
    expect(identityOfConn("1b4e28ba-2fa1-11d2-883f-0016d3cca427")).toBeUndefined();
  });
});

describe("claimVerdict", () => {
  it("claims a dispatch leased to a gone connection of the same identity", () => {
    expect(claimVerdict(leased(gone), conn, nobodyLive, now)).toBe("claim");
  });

  it("keeps a dispatch already leased to this connection", () => {
    expect(claimVerdict(leased(conn.connId), conn, nobodyLive, now)).toBe("keep");
  });

  it("cancels a dispatch leased to another identity's connection, gone or not", () => {
    const other = serverConnId("w2", "old");
    expect(claimVerdict(leased(other), conn, nobodyLive, now)).toBe("cancel");
    expect(claimVerdict(leased(other), conn, () => true, now)).toBe("cancel");
  });

  it("cancels a dispatch a live connection of the same identity still holds", () => {
    expect(claimVerdict(leased(gone), conn, (id) => id === gone, now)).toBe("cancel");
  });

  it("claims a dispatch queued again when a gone connection of the same identity closed", () => {
    const queued: LeaseView = { state: "queued", leaseConn: gone, deadline: 10_000 };
    expect(claimVerdict(queued, conn, nobodyLive, now)).toBe("claim");
  });

  it("cancels a dispatch queued again after this very connection lost it, or another identity's", () => {
    const lostHere: LeaseView = { state: "queued", leaseConn: conn.connId, deadline: 10_000 };
    expect(claimVerdict(lostHere, conn, nobodyLive, now)).toBe("cancel");
    const others: LeaseView = {
      state: "queued",
      leaseConn: serverConnId("w2", "x"),
      deadline: 10_000,
    };
    expect(claimVerdict(others, conn, nobodyLive, now)).toBe("cancel");
  });

  it("cancels what is unknown, never leased, ended or past its deadline", () => {
    expect(claimVerdict(undefined, conn, nobodyLive, now)).toBe("cancel");
    const queued: LeaseView = { state: "queued", leaseConn: null, deadline: 10_000 };
    expect(claimVerdict(queued, conn, nobodyLive, now)).toBe("cancel");
    const done: LeaseView = { state: "done", leaseConn: gone, deadline: 10_000 };
    expect(claimVerdict(done, conn, nobodyLive, now)).toBe("cancel");
    expect(claimVerdict(leased(gone, now), conn, nobodyLive, now)).toBe("cancel");
  });

  it("cancels a lease held by a connection id that names no identity (made by an older relay)", () => {
    expect(claimVerdict(leased("bare-uuid"), conn, nobodyLive, now)).toBe("cancel");
  });
});
