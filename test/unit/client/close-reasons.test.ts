import { describe, expect, it } from "vitest";
import { closeFailure, httpStatusOf } from "../../../client/close-reasons.js";

describe("closeFailure", () => {
  it("gives up with closed when a newer connection of the identity replaced this one", () => {
    expect(closeFailure(4001, undefined)?.code).toBe("closed");
  });

  it("maps the relay's refusal close codes to their error codes", () => {
    expect(closeFailure(4401, undefined)?.code).toBe("unauthorized");
    expect(closeFailure(4403, undefined)?.code).toBe("forbidden");
    expect(closeFailure(4400, undefined)?.code).toBe("bad_request");
  });

  it("maps a refused upgrade's HTTP status to its error code", () => {
    expect(closeFailure(1006, 401)?.code).toBe("unauthorized");
    expect(closeFailure(1006, 400)?.code).toBe("bad_request");
  });

  it("names the relay's reason: a close frame's, or the one read from a refused upgrade", () => {
    expect(closeFailure(4401, undefined, "token expired")?.message).toBe(
      "the relay closed the connection (close code 4401: token expired)",
    );
    const lastError = "Unexpected server response: 403: this token does not allow the server role";
    expect(closeFailure(1006, 403, "", lastError)?.message).toBe(
      "the relay refused the connection (HTTP 403: this token does not allow the server role)",
    );
    expect(closeFailure(1006, 403, "", "Unexpected server response: 403")?.message).toBe(
      "the relay refused the connection (HTTP 403)",
    );
  });

  it("leaves network drops, going-away and 5xx upgrades to the reconnect loop", () => {
    expect(closeFailure(1006, undefined)).toBeUndefined();
    expect(closeFailure(1001, undefined)).toBeUndefined();
    expect(closeFailure(1006, 503)).toBeUndefined();
  });
});

describe("httpStatusOf", () => {
  it("reads the status from the ws package's upgrade error message", () => {
    expect(httpStatusOf({ message: "Unexpected server response: 401" })).toBe(401);
    expect(httpStatusOf({ message: "connect ECONNREFUSED 127.0.0.1:1" })).toBeUndefined();
    expect(httpStatusOf({})).toBeUndefined();
  });
});
