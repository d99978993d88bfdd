/**
 * E2E bodies: JSON, string and binary bodies go client -> relay -> server -> relay -> client and
 * come back as the same kind with the same content (a 1 MiB binary body compared by SHA-256 at
 * the client and at the server); a body of 1 MiB + 1 byte is refused with `too_large`, by the SDK
 * and by the relay itself (raw frame).
 */
import { createHash, randomBytes } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { bytesToBase64, DEFAULT_LIMITS } from "../../protocol/index.js";
import { request, serve, serverStats } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";
import type { PeerProcess } from "./support/peer.js";

const QUEUE = "bodies";
const MIB = 1024 * 1024;

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

describe("bodies round-trip unchanged", () => {
  const e2e = useRelay();
  let client: PeerProcess;
  let server: PeerProcess;

  beforeAll(async () => {
    server = await e2e.peer("echo-server");
    await serve(server, { identity: "echo-1", queue: QUEUE, mode: "echo", concurrency: 4 });
    client = await e2e.peer("body-client");
  });

  const roundTrip = (body: unknown) =>
    request(
      client,
      { identity: "bodies-client", queue: QUEUE, body, options: { timeout: 30_000 } },
      60_000,
    );

  it("returns a JSON object body as an equal JSON object", async () => {
    const body = {
      text: "héllo ✓ 𝄞",
      numbers: [0, 1, -7, 2.5, 1e21, Number.MAX_SAFE_INTEGER],
      nested: { a: [true, false, null, { b: "" }], empty: {}, list: [] },
    };
    const outcome = await roundTrip(body);
    expect(outcome).toEqual({ ok: true, body });
  });

  it("returns JSON scalars (number, boolean, null) as the same scalars", async () => {
    for (const body of [42, false, null]) {
      expect(await roundTrip(body)).toEqual({ ok: true, body });
    }
  });

  it("returns a string body as the same string, even when it looks like JSON", async () => {
    for (const body of ['{"looks":"like json"}', "plain text ✓ 𝄞\n\ttabs", "", "null"]) {
      const outcome = await roundTrip(body);
      expect(outcome).toEqual({ ok: true, body });
    }
  });

  it("returns a 1 MiB binary body byte for byte (same SHA-256 at the server and back at the client)", async () => {
    const body = new Uint8Array(randomBytes(MIB));
    const before = (await serverStats(server)).received.length;
    const outcome = await roundTrip(body);
    if (!outcome.ok) throw new Error(`1 MiB request failed: ${outcome.code} ${outcome.message}`);
    expect(outcome.body).toBeInstanceOf(Uint8Array);
    const back = outcome.body instanceof Uint8Array ? outcome.body : new Uint8Array();
    expect(back.length).toBe(MIB);
    expect(sha256(back)).toBe(sha256(body));
    const seen = (await serverStats(server)).received.slice(before);
    expect(seen).toEqual([{ kind: "bytes", size: MIB, sha256: sha256(body) }]);
  });

  it("returns an empty binary body as empty bytes", async () => {
    const outcome = await roundTrip(new Uint8Array(0));
    expect(outcome.ok).toBe(true);
    expect(outcome.ok && outcome.body).toBeInstanceOf(Uint8Array);
    expect(outcome.ok && outcome.body instanceof Uint8Array && outcome.body.length).toBe(0);
  });

  it("refuses a binary body of 1 MiB + 1 byte with too_large, and no server sees it", async () => {
    const before = (await serverStats(server)).handled;
    const outcome = await roundTrip(new Uint8Array(randomBytes(MIB + 1)));
    expect(outcome).toMatchObject({ ok: false, isEdgeMQError: true, code: "too_large" });
    // A request sent after it is handled, so the server has caught up with everything before.
    expect(await roundTrip("after")).toEqual({ ok: true, body: "after" });
    expect((await serverStats(server)).handled).toBe(before + 1);
  });

  it("answers a raw request frame whose body is 1 MiB + 1 byte with a too_large error for its id", async () => {
    expect(DEFAULT_LIMITS.maxBodyBytes).toBe(MIB);
    const raw = await e2e.raw("/v1/connect", "raw-big-body");
    const data = bytesToBase64(new Uint8Array(randomBytes(MIB + 1)));
    raw.send({ type: "request", id: "big-1", queue: QUEUE, body: { enc: "base64", data } });
    const [answer] = await raw.waitFor((f) => f.id === "big-1", 1, 30_000);
    expect(answer).toMatchObject({ type: "error", id: "big-1", code: "too_large" });
    expect(raw.isOpen).toBe(true);
  });
});
