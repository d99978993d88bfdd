/** Per-request and per-cancel admission: roles, queue permissions, rate limits, old attachments. */
import { describe, expect, it } from "vitest";
import { newAttachment } from "../../../durable-objects/exchange/client-attachment.js";
import {
  admitCancels,
  admitRequests,
  attachmentPrincipal,
} from "../../../durable-objects/exchange/request-admission.js";
import { devPrincipal, storePrincipal } from "../../../durable-objects/shared/principal-header.js";
import type { RateDecision } from "../../../durable-objects/shared/token-bucket.js";
import type { Principal, RequestFrame } from "../../../protocol/index.js";

const principal: Principal = {
  identity: "alice",
  roles: new Set(["client"]),
  queues: ["resize", "img.*"],
  expiresAt: 1_800_000_000_000,
};

function req(id: string, queue: string): RequestFrame {
  return { type: "request", id, queue, body: { enc: "utf8", data: id } };
}

const always = (): RateDecision => ({ ok: true });

function tokens(n: number): () => RateDecision {
  let left = n;
  return () => (left-- > 0 ? { ok: true } : { ok: false, retryAfterMs: 10 });
}

describe("request admission", () => {
  it("refuses only the requests for queues the token does not allow", () => {
    const groups = new Map([
      ["resize", [req("a", "resize")]],
      ["secret", [req("b", "secret")]],
      ["img.thumbs", [req("c", "img.thumbs")]],
    ]);
    const { enqueues, refused } = admitRequests(groups, principal, always);
    expect([...enqueues.keys()]).toEqual(["resize", "img.thumbs"]);
    expect(refused).toEqual([
      { type: "error", id: "b", code: "forbidden", message: expect.stringContaining("secret") },
    ]);
  });

  it("refuses every request from a token without the client role", () => {
    const serverOnly: Principal = { ...principal, roles: new Set(["server"]) };
    const groups = new Map([["resize", [req("a", "resize")]]]);
    const { enqueues, refused } = admitRequests(groups, serverOnly, always);
    expect(enqueues.size).toBe(0);
    expect(refused).toEqual([
      {
        type: "error",
        id: "a",
        code: "forbidden",
        message: "this token does not allow the client role",
      },
    ]);
  });

  it("refuses the requests beyond the bucket with rate_limited and a retry hint", () => {
    const groups = new Map([["resize", ["1", "2", "3", "4"].map((id) => req(id, "resize"))]]);
    const { enqueues, refused } = admitRequests(groups, principal, tokens(2));
    expect(enqueues.get("resize")?.map((r) => r.id)).toEqual(["1", "2"]);
    expect(refused.map((f) => [f.id, f.code])).toEqual([
      ["3", "rate_limited"],
      ["4", "rate_limited"],
    ]);
    expect(refused[0]?.message).toContain("retry after 10 ms");
  });

  it("refuses cancels in queues the token does not allow", () => {
    const result = admitCancels(
      [
        { id: "a", queue: "resize" },
        { id: "b", queue: "other" },
      ],
      principal,
      always,
    );
    expect(result.cancels).toEqual([{ id: "a", queue: "resize" }]);
    expect(result.refused.map((f) => [f.id, f.code])).toEqual([["b", "forbidden"]]);
  });

  it("refuses cancels from a token without the client role", () => {
    const serverOnly: Principal = { ...principal, roles: new Set(["server"]) };
    const result = admitCancels([{ id: "a", queue: "resize" }], serverOnly, always);
    expect(result.cancels).toEqual([]);
    expect(result.refused.map((f) => [f.id, f.code])).toEqual([["a", "forbidden"]]);
  });

  it("charges each cancel a token and refuses those beyond the bucket with rate_limited", () => {
    const cancels = ["1", "2", "3"].map((id) => ({ id, queue: "resize" }));
    const result = admitCancels(cancels, principal, tokens(2));
    expect(result.cancels.map((c) => c.id)).toEqual(["1", "2"]);
    expect(result.refused.map((f) => [f.id, f.code])).toEqual([["3", "rate_limited"]]);
  });
});

describe("the principal of a client socket", () => {
  it("is the one stored at upgrade", () => {
    const attachment = newAttachment("alice", "c1", storePrincipal(principal));
    expect(attachmentPrincipal(attachment, false)).toEqual(principal);
  });

  it("is a dev principal for an attachment older than tokens in dev mode, and none otherwise", () => {
    const old = newAttachment("alice", "c1");
    expect(attachmentPrincipal(old, true)).toEqual(devPrincipal("alice"));
    expect(attachmentPrincipal(old, false)).toBeUndefined();
  });
});
