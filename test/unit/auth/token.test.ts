/** Peer tokens: signing, verification, and every way a forged or stale token must fail. */
import { describe, expect, it } from "vitest";
import { allowsQueue, signToken, type TokenClaims, verifyToken } from "../../../protocol/index.js";

const SECRET = "test-secret-that-is-long-enough";
const NOW = Date.UTC(2026, 10, 29);
const claims: TokenClaims = {
  sub: "alice",
  role: "client",
  queues: ["resize", "img.*"],
  exp: NOW / 1000 + 3600,
};

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

describe("verifyToken", () => {
  it("accepts a token it signed and returns its identity, roles and queues", async () => {
    const result = await verifyToken(await signToken(claims, SECRET), SECRET, NOW);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.identity).toBe("alice");
    expect([...result.value.roles]).toEqual(["client"]);
    expect(result.value.queues).toEqual(["resize", "img.*"]);
  });

  it("expands role both into client and server", async () => {
    const token = await signToken({ ...claims, role: "both" }, SECRET);
    const result = await verifyToken(token, SECRET, NOW);
    expect(result.ok && [...result.value.roles].sort()).toEqual(["client", "server"]);
  });

  it("refuses a token signed with another secret", async () => {
    const result = await verifyToken(await signToken(claims, "other-secret"), SECRET, NOW);
    expect(result.ok || result.error.code).toBe("unauthorized");
  });

  it("takes a list of secrets (a rotation: the new one, then the one it replaces), refusing others", async () => {
    const OLD = "the-secret-being-replaced-now!!";
    const secrets = [SECRET, OLD];
    for (const signer of secrets) {
      const result = await verifyToken(await signToken(claims, signer), secrets, NOW);
      expect(result.ok && result.value.identity, signer).toBe("alice");
    }
    const other = await verifyToken(await signToken(claims, "other-secret"), secrets, NOW);
    expect(other.ok ? "" : other.error.message).toBe("bad token signature");
    const expired = await signToken({ ...claims, exp: NOW / 1000 - 3600 }, OLD);
    expect((await verifyToken(expired, secrets, NOW)).ok).toBe(false);
  });

  it("refuses a token whose payload was changed after signing", async () => {
    const [header, , signature] = (await signToken(claims, SECRET)).split(".");
    const forged = `${header}.${b64url({ ...claims, sub: "bob" })}.${signature}`;
    const result = await verifyToken(forged, SECRET, NOW);
    expect(result.ok || result.error.message).toBe("bad token signature");
  });

  it("refuses alg none even with an empty signature", async () => {
    const token = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.`;
    const result = await verifyToken(token, SECRET, NOW);
    expect(result.ok || result.error.message).toBe("token must use HS256");
  });

  it("says a token whose header is not JSON is not a JWT", async () => {
    const result = await verifyToken("not.a.token", SECRET, NOW);
    expect(result.ok || result.error.message).toBe("token is not a JWT (its header is not JSON)");
  });

  it("refuses an expired token", async () => {
    const token = await signToken({ ...claims, exp: NOW / 1000 - 3600 }, SECRET);
    const result = await verifyToken(token, SECRET, NOW);
    expect(result.ok || result.error.message).toBe("token expired");
  });

  it("refuses a token before its nbf (beyond the clock skew), and accepts it from then on", async () => {
    const nbf = NOW / 1000 + 120;
    const token = await signToken({ ...claims, nbf }, SECRET);
    const early = await verifyToken(token, SECRET, NOW);
    expect(early.ok || early.error.message).toBe("token not valid yet (nbf)");
    expect((await verifyToken(token, SECRET, (nbf - 10) * 1000)).ok).toBe(true);
    const bad = await signToken({ ...claims, nbf: "soon" as unknown as number }, SECRET);
    const refused = await verifyToken(bad, SECRET, NOW);
    expect(refused.ok || refused.error.code).toBe("unauthorized");
  });

  it("refuses an exp past any date, which would count as never expiring", async () => {
    const token = await signToken({ ...claims, exp: 1.797e308 }, SECRET);
    const result = await verifyToken(token, SECRET, NOW);
    expect(result.ok || result.error.message).toBe("token exp is past any date");
  });

  it("refuses an exp in milliseconds, which read as seconds would never expire", async () => {
    const token = await signToken({ ...claims, exp: NOW + 3_600_000 }, SECRET);
    const result = await verifyToken(token, SECRET, NOW);
    expect(result.ok || result.error.message).toBe(
      "token exp looks like milliseconds: exp is a time in epoch seconds",
    );
    const tenYears = await signToken({ ...claims, exp: NOW / 1000 + 3650 * 86_400 }, SECRET);
    expect((await verifyToken(tenYears, SECRET, NOW)).ok).toBe(true);
  });

  it("refuses a header with crit, whose extensions it cannot honour (RFC 7515)", async () => {
    const header = b64url({ alg: "HS256", typ: "JWT", crit: ["exp"] });
    const payload = b64url(claims);
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(SECRET),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign(
      "HMAC",
      key,
      new TextEncoder().encode(`${header}.${payload}`),
    );
    const token = `${header}.${payload}.${Buffer.from(mac).toString("base64url")}`;
    const result = await verifyToken(token, SECRET, NOW);
    expect(result.ok || result.error.message).toBe("token header crit is not supported");
  });

  it("refuses queue patterns that are neither queue names nor prefixes ending in *", async () => {
    for (const pattern of ["../x", "t*q", "a b", ""]) {
      const token = await signToken({ ...claims, queues: ["resize", pattern] }, SECRET);
      const result = await verifyToken(token, SECRET, NOW);
      expect(result.ok || result.error.message, pattern).toBe(
        "token queues must be a list of queue names, or prefixes ending in *",
      );
    }
    const fine = await signToken({ ...claims, queues: ["*", "img.*", "a-b_c.d"] }, SECRET);
    expect((await verifyToken(fine, SECRET, NOW)).ok).toBe(true);
  });

  it("refuses garbage, oversized tokens and bad claims with unauthorized", async () => {
    const bad = [
      "",
      "a.b",
      "not.a.jwt",
      "x".repeat(5000),
      await signToken({ ...claims, sub: "has space" }, SECRET),
      await signToken({ ...claims, role: "admin" } as unknown as TokenClaims, SECRET),
      await signToken({ ...claims, queues: "resize" } as unknown as TokenClaims, SECRET),
    ];
    for (const token of bad) {
      const result = await verifyToken(token, SECRET, NOW);
      expect(result.ok || result.error.code).toBe("unauthorized");
    }
  });
});

describe("token queue lists", () => {
  it("accepts a token listing 100 queue patterns and refuses one listing 101", async () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `q${i}`);
    const hundred = await signToken({ ...claims, queues: names(100) }, SECRET);
    expect((await verifyToken(hundred, SECRET, NOW)).ok).toBe(true);
    const tooMany = await signToken({ ...claims, queues: names(101) }, SECRET);
    const result = await verifyToken(tooMany, SECRET, NOW);
    expect(result.ok || result.error.message).toBe("token lists more than 100 queue patterns");
  });
});

describe("allowsQueue", () => {
  it("matches exact names and trailing-star prefixes only", () => {
    const p = { queues: ["resize", "img.*"] };
    expect(allowsQueue(p, "resize")).toBe(true);
    expect(allowsQueue(p, "img.thumbs")).toBe(true);
    expect(allowsQueue(p, "resize2")).toBe(false);
    expect(allowsQueue(p, "im")).toBe(false);
  });
});
