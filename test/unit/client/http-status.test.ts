/**
 * The HTTP transport's statuses: one `disconnected` per outage, each retry attempt number shown
 * once however many calls retry at once, and `connected` again once a call gets through.
 */
import { describe, expect, it } from "vitest";
import { HttpStatus } from "../../../client/http-status.js";
import type { Status } from "../../../client/status.js";

describe("HttpStatus", () => {
  it("shows an outage of many retrying calls as one disconnected and each attempt once", () => {
    const seen: Status[] = [];
    const status = new HttpStatus((s) => seen.push(s), "jobs");
    status.up();
    for (let call = 0; call < 50; call++) status.down("fetch failed", 1, 100);
    for (let call = 0; call < 50; call++) status.down("fetch failed", 2, 200);
    status.down("fetch failed", 1, 100); // a call that failed later, on its first retry
    status.up();
    status.down("fetch failed", 1, 100); // a new outage shows attempt 1 again
    expect(
      seen.map((s) => (s.type === "reconnecting" ? `${s.type} ${s.attempt}` : s.type)),
    ).toEqual([
      "connected",
      "disconnected",
      "reconnecting 1",
      "reconnecting 2",
      "connected",
      "disconnected",
      "reconnecting 1",
    ]);
    expect(seen.every((s) => s.type === "closed" || s.queue === "jobs")).toBe(true);
  });
});
