/**
 * Malformed frames for the fuzz test, from a seeded PRNG (the same seed gives the same junk):
 * invalid JSON, non-object JSON, unknown and mistyped frame types, wrong field types, huge or
 * malformed ids, bad base64 bodies, batches of junk, empty and oversized batches, and binary
 * messages. Every message is junk for a client socket: none of it decodes to a valid frame.
 */
export type JunkMessage = string | Uint8Array;

/** mulberry32: a small deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const GOOD_BODY = { enc: "json", data: "1" };

export function junkGenerator(seed: number): () => JunkMessage {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(items: readonly T[]): T => {
    const item = items[int(items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  };
  const randomText = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(32 + int(95))).join("");
  const id = () => `j${int(1e9)}`;

  /** Frame objects that fail validation (each one alone is junk). */
  const badFrames: (() => unknown)[] = [
    () => ({}),
    () => ({ type: randomText(1 + int(12)) }),
    () => ({ type: pick([5, null, true, ["request"], { t: 1 }]) }),
    () => ({ type: "REQUEST", id: id(), queue: "q", body: GOOD_BODY }),
    () => ({ type: "request", id: int(1e9), queue: "q", body: GOOD_BODY }),
    () => ({ type: "request", id: "x".repeat(129 + int(20_000)), queue: "q", body: GOOD_BODY }),
    () => ({ type: "request", id: `has space ${int(100)}`, queue: "q", body: GOOD_BODY }),
    () => ({ type: "request", id: 1e308, queue: "q", body: GOOD_BODY }),
    () => ({
      type: "request",
      id: id(),
      queue: pick(["", "bad name", "a/b", "..", 7]),
      body: GOOD_BODY,
    }),
    () => ({ type: "request", id: id(), queue: "q" }),
    () => ({ type: "request", id: id(), queue: "q", body: pick(["text", 1, null, []]) }),
    () => ({ type: "request", id: id(), queue: "q", body: { enc: "gzip", data: "x" } }),
    () => ({ type: "request", id: id(), queue: "q", body: { enc: "json", data: 12 } }),
    () => ({
      type: "request",
      id: id(),
      queue: "q",
      body: {
        enc: "base64",
        data: pick(["!!!notbase64", "abc", "ab=c", "a===", `${randomText(7)}*`]),
      },
    }),
    () => ({
      type: "request",
      id: id(),
      queue: "q",
      body: GOOD_BODY,
      timeout: pick([-1, 0, 1.5, "10", null]),
    }),
    () => ({
      type: "request",
      id: id(),
      queue: "q",
      body: GOOD_BODY,
      failFast: pick(["yes", 1, null]),
    }),
    () => ({
      type: "request",
      id: id(),
      queue: "q",
      body: GOOD_BODY,
      headers: pick([{ a: 1 }, "h", { "bad name": "v" }]),
    }),
    () => ({ type: "ack", ids: pick(["x", [1, 2], [null], [`${"y".repeat(200)}`], {}]) }),
    () => ({ type: "ack" }),
    () => ({ type: "cancel", id: pick([5, "", "with space"]) }),
    () => ({ type: "cancel", id: id(), queue: "no/slash" }),
    () => ({ type: "ready", concurrency: pick([-1, "8", 1e9, 2.5]) }),
    () => ({ type: "reply", id: id(), body: { enc: "base64", data: "%%%%" } }),
    () => ({ type: "error", code: "not_a_code", message: "x" }),
    () => ({ type: "accepted", id: id(), deadline: -5 }),
    () => ({
      type: "dispatch",
      id: id(),
      from: "bad from",
      queue: "q",
      body: GOOD_BODY,
      deadline: 1,
      attempt: 1,
    }),
    () => ({ type: "fail", id: id(), message: 42 }),
    () => ({ type: "extend", ids: "all" }),
    () => ({ type: "welcome", v: "1", identity: "me", role: "client", limits: {} }),
  ];

  const messages: (() => JunkMessage)[] = [
    () =>
      pick(["{", "}", "[", '{"type":', "{'type':'request'}", "undefined", "NaN", "\u0000", " "]),
    () => randomText(1 + int(200)),
    () => JSON.stringify(pick([42, "request", null, true, -0.5])),
    () => JSON.stringify(pick(badFrames)()),
    () => JSON.stringify(pick(badFrames)()),
    () => JSON.stringify(pick(badFrames)()),
    () => JSON.stringify(Array.from({ length: 2 + int(19) }, () => pick(badFrames)())),
    () => JSON.stringify(Array.from({ length: 2 + int(5) }, () => pick([1, "x", null, [], [1]]))),
    () => "[]",
    () => JSON.stringify(Array.from({ length: 1_001 }, () => null)),
    () => Uint8Array.from({ length: 1 + int(512) }, () => int(256)),
    () =>
      new TextEncoder().encode(
        JSON.stringify({ type: "request", id: id(), queue: "q", body: GOOD_BODY }),
      ),
  ];

  return () => pick(messages)();
}
