/**
 * The frame codec: every JSON example in docs/protocol.md decodes and re-encodes unchanged (so
 * the document and the code cannot drift apart), and garbage of every kind becomes a typed
 * `bad_request` FrameError, never an exception or a half-built frame.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CLOSE_CODE,
  cutFailMessage,
  DEFAULT_LIMITS,
  type DecodeResult,
  decodeFrames,
  EdgeMQError,
  ERROR_CODE,
  encodeFrame,
  encodeFrames,
  FRAME_TYPE,
  type Frame,
  FrameError,
  HTTP_STATUS,
  MAX_BATCH,
  PATHS,
} from "../../../protocol/index.js";

const PROTOCOL_DOC = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");

/** The contents of every ```json fenced block in the document. */
function jsonBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? "");
}

/** The cells of every Markdown table row, trimmed (the formatter pads them). */
function tableRows(markdown: string): string[][] {
  return markdown
    .split("\n")
    .filter((line) => line.startsWith("|"))
    .map((line) =>
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

function hasRow(start: readonly string[]): boolean {
  return tableRows(PROTOCOL_DOC).some((row) => start.every((cell, i) => row[i] === cell));
}

function frames(results: DecodeResult[]): Frame[] {
  return results.map((r) => {
    if (!r.ok) throw new Error(`expected a frame, got: ${r.error.message}`);
    return r.value;
  });
}

/** Decodes a message that must yield exactly one error, and returns it. */
function singleError(raw: unknown): FrameError {
  const results = decodeFrames(raw);
  expect(results).toHaveLength(1);
  const [result] = results;
  if (result === undefined || result.ok) throw new Error("expected a FrameError");
  return result.error;
}

function expectBadRequest(raw: unknown): FrameError {
  const error = singleError(raw);
  expect(error).toBeInstanceOf(FrameError);
  expect(error).toBeInstanceOf(EdgeMQError);
  expect(error.code).toBe(ERROR_CODE.badRequest);
  expect(error.httpStatus).toBe(400);
  return error;
}

const BODY = { enc: "json", data: "{}" };
const request = (fields: Record<string, unknown>): string =>
  JSON.stringify({ type: "request", id: "r1", queue: "resize", body: BODY, ...fields });

describe("docs/protocol.md examples", () => {
  const blocks = jsonBlocks(PROTOCOL_DOC);

  it("has JSON examples to check", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(Object.keys(FRAME_TYPE).length);
  });

  it.each(blocks.map((block, i) => [i + 1, block] as const))(
    "example %i decodes to valid frames that re-encode to the same JSON value",
    (_n, block) => {
      const decoded = frames(decodeFrames(block));
      const original: unknown = JSON.parse(block);
      const originals = Array.isArray(original) ? original : [original];
      expect(decoded).toHaveLength(originals.length);
      decoded.forEach((frame, i) => {
        expect(JSON.parse(encodeFrame(frame))).toEqual(originals[i]);
      });
      expect(JSON.parse(encodeFrames(decoded))).toEqual(original);
    },
  );

  it("shows an example of every frame type", () => {
    const shown = new Set(
      blocks.flatMap((block) => frames(decodeFrames(block)).map((f) => f.type)),
    );
    expect([...shown].sort()).toEqual(Object.values(FRAME_TYPE).sort());
  });

  it("gives every frame type its own section", () => {
    for (const type of Object.values(FRAME_TYPE)) {
      expect(PROTOCOL_DOC).toContain(`### \`${type}\``);
    }
  });

  it("lists every error code with its HTTP status", () => {
    for (const code of Object.values(ERROR_CODE)) {
      expect(hasRow([`\`${code}\``, String(HTTP_STATUS[code])]), code).toBe(true);
    }
  });

  it("lists every close code by number and name", () => {
    for (const [name, code] of Object.entries(CLOSE_CODE)) {
      expect(hasRow([String(code), `\`${name}\``]), name).toBe(true);
    }
  });

  it("lists every default limit by name, with its value", () => {
    for (const [name, value] of Object.entries(DEFAULT_LIMITS)) {
      const row = tableRows(PROTOCOL_DOC).find((cells) => cells[0] === `\`${name}\``);
      expect(row, name).toBeDefined();
      // "1,048,576 (1 MiB)" reads as 1048576.
      const shown = Number((row?.[1] ?? "").split(" ")[0]?.replaceAll(",", ""));
      expect(shown, name).toBe(value);
    }
  });
});

describe("encodeFrames", () => {
  const ack: Frame = { type: "ack", ids: ["r1"] };
  const ready: Frame = { type: "ready", concurrency: 2 };

  it("sends a single frame bare, not as a one-element batch", () => {
    expect(encodeFrames([ack])).toBe(encodeFrame(ack));
    expect(JSON.parse(encodeFrames([ack]))).toEqual(ack);
  });

  it("sends several frames as one JSON array that decodes back in order", () => {
    const message = encodeFrames([ack, ready]);
    expect(JSON.parse(message)).toEqual([ack, ready]);
    expect(frames(decodeFrames(message))).toEqual([ack, ready]);
  });
});

describe("decodeFrames refuses garbage with a typed bad_request", () => {
  it("refuses input that is not a text message", () => {
    expect(expectBadRequest(new ArrayBuffer(8)).message).toMatch(/text/);
    expectBadRequest(new Uint8Array([123, 125]));
    expectBadRequest(undefined);
    expectBadRequest(null);
    expectBadRequest(42);
    expectBadRequest({ type: "ack", ids: [] });
  });

  it("refuses text that is not JSON, including the keep-alive words", () => {
    for (const raw of ["", "{", "not json", "ping", "pong", "{'type':'ack'}", "[1,]"]) {
      expect(expectBadRequest(raw).message).toBe("message is not valid JSON");
    }
  });

  it("refuses JSON that is not an object or array", () => {
    for (const raw of ["null", "true", "42", '"request"']) {
      expect(expectBadRequest(raw).message).toBe("a frame must be a JSON object");
    }
  });

  it("refuses frames with a missing, ill-typed or unknown type", () => {
    for (const type of [7, null, "", "REQUEST", "hello", "__proto__", "constructor"]) {
      expect(expectBadRequest(JSON.stringify({ type, id: "r1" })).message).toMatch(
        /^unknown frame type/,
      );
    }
    expect(expectBadRequest(JSON.stringify({ id: "r1" })).message).toBe("a frame needs a type");
  });

  it("says the rule a bad id or queue name breaks, not only that it is bad", () => {
    const request = {
      type: "request",
      id: "has space",
      queue: "q",
      body: { enc: "utf8", data: "" },
    };
    expect(expectBadRequest(JSON.stringify(request)).message).toBe(
      "request: id must be 1-128 of A-Z a-z 0-9 . _ : @ + = -",
    );
    const badQueue = { ...request, id: "r1", queue: "a/b" };
    expect(expectBadRequest(JSON.stringify(badQueue)).message).toBe(
      "request: queue must be 1-128 of A-Z a-z 0-9 . _ - (and not . or ..)",
    );
  });

  it("quotes at most 32 characters of an unknown type in its message", () => {
    const error = expectBadRequest(JSON.stringify({ type: "x".repeat(10_000) }));
    expect(error.message.length).toBeLessThan(64);
  });

  it("refuses a request with a missing or ill-typed id", () => {
    expectBadRequest(JSON.stringify({ type: "request", queue: "q", body: BODY }));
    for (const id of [1, "", "has space", "a/b", "é", "x".repeat(129), null, ["r1"]]) {
      expectBadRequest(request({ id }));
    }
  });

  it("refuses a request with a missing or malformed body", () => {
    expectBadRequest(JSON.stringify({ type: "request", id: "r1", queue: "q" }));
    for (const body of [
      "text",
      null,
      [],
      { data: "{}" },
      { enc: "gzip", data: "x" },
      { enc: "json", data: 1 },
      { enc: "utf8" },
      { enc: "utf8", data: "x", type: 5 },
      { enc: "utf8", data: "x", type: "t".repeat(257) },
    ]) {
      expectBadRequest(request({ body }));
    }
  });

  it("refuses base64 bodies that are not padded standard base64", () => {
    for (const data of ["AAA", "A", "AA=A", "====", "AAAA=", "AA-_", "AA AA", "@@@@", "AAA=AAAA"]) {
      expect(expectBadRequest(request({ body: { enc: "base64", data } })).message).toContain(
        "base64",
      );
    }
  });

  it("refuses bad queue names, including path traversal, unicode and 10 kB names", () => {
    for (const queue of [
      "",
      ".",
      "..",
      "../admin",
      "a/b",
      "a\\b",
      "%2e%2e",
      "queue name",
      "résumé",
      "队列",
      "emoji-😀",
      "nul\u0000",
      "x".repeat(129),
      "x".repeat(10_000),
      7,
      undefined,
    ]) {
      expectBadRequest(request({ queue }));
    }
  });

  it("accepts queue names at the edges of the pattern", () => {
    for (const queue of ["a", "...", ".hidden", "a..b", "Resize_v2.jpeg-1", "x".repeat(128)]) {
      expect(frames(decodeFrames(request({ queue })))[0]).toMatchObject({ queue });
    }
  });

  it("refuses timeouts that are not positive whole milliseconds", () => {
    for (const timeout of [0, -1, 1.5, "1000", null, Number.MAX_SAFE_INTEGER + 2]) {
      expectBadRequest(request({ timeout }));
    }
  });

  it("refuses a failFast that is not a boolean", () => {
    expectBadRequest(request({ failFast: "yes" }));
    expectBadRequest(request({ failFast: 1 }));
  });

  it("refuses header sets that are too many, too large, or not strings", () => {
    const many = Object.fromEntries(
      Array.from({ length: DEFAULT_LIMITS.maxHeaders + 1 }, (_, i) => [`h${i}`, "v"]),
    );
    expect(expectBadRequest(request({ headers: many })).message).toContain("too many headers");
    const big = { a: "v".repeat(DEFAULT_LIMITS.maxHeaderBytes) };
    expect(expectBadRequest(request({ headers: big })).message).toContain("headers too large");
    expectBadRequest(request({ headers: { a: 1 } }));
    expectBadRequest(request({ headers: { a: null } }));
    expectBadRequest(request({ headers: ["a"] }));
    expectBadRequest(request({ headers: "a: b" }));
    for (const name of ["", "has space", "colon:", "é", "x".repeat(129)]) {
      expectBadRequest(request({ headers: { [name]: "v" } }));
    }
  });

  it("counts header size in UTF-8 bytes, not characters", () => {
    const chars = Math.floor(DEFAULT_LIMITS.maxHeaderBytes / 3) + 1;
    // Under the limit in characters, over it in bytes (each "€" is 3 bytes).
    expect(expectBadRequest(request({ headers: { a: "€".repeat(chars) } })).message).toContain(
      "headers too large",
    );
  });

  it("accepts exactly the maximum number and size of headers", () => {
    const max = Object.fromEntries(
      Array.from({ length: DEFAULT_LIMITS.maxHeaders }, (_, i) => [`h${i}`, "v"]),
    );
    expect(frames(decodeFrames(request({ headers: max })))[0]).toMatchObject({ headers: max });
    const full = { a: "v".repeat(DEFAULT_LIMITS.maxHeaderBytes - 1) };
    expect(frames(decodeFrames(request({ headers: full })))[0]).toMatchObject({ headers: full });
  });

  it("keeps a header named __proto__ as an ordinary header", () => {
    const raw = request({ headers: JSON.parse('{"__proto__":"x","b":"y"}') });
    const [frame] = frames(decodeFrames(raw));
    expect(JSON.parse(encodeFrame(frame ?? { type: "ack", ids: [] }))).toEqual(JSON.parse(raw));
    expect(Object.getPrototypeOf({})).not.toHaveProperty("x");
  });

  it("refuses ill-typed fields in every other frame type", () => {
    const bad: Record<string, unknown>[] = [
      { type: "accepted", id: "r1" },
      { type: "accepted", id: "r1", deadline: -5 },
      { type: "accepted", id: "r1", deadline: 1.5 },
      { type: "reply", id: "r1" },
      { type: "reply", body: BODY },
      { type: "error", code: "teapot", message: "x" },
      { type: "error", code: "timeout" },
      { type: "error", code: "timeout", message: "x", id: "bad id" },
      { type: "ack" },
      { type: "ack", ids: "r1" },
      { type: "ack", ids: ["r1", 2] },
      { type: "ack", ids: Array.from({ length: 10_001 }, (_, i) => `r${i}`) },
      { type: "cancel" },
      { type: "cancel", id: "r1", queue: "../x" },
      { type: "ready" },
      { type: "ready", concurrency: -1 },
      { type: "ready", concurrency: 2.5 },
      { type: "ready", concurrency: DEFAULT_LIMITS.maxConcurrency + 1 },
      { type: "dispatch", id: "1", from: "alice", queue: "q", body: BODY, deadline: 1 },
      { type: "dispatch", id: "1", from: "alice", queue: "q", body: BODY, deadline: 1, attempt: 0 },
      { type: "dispatch", id: "1", from: "a b", queue: "q", body: BODY, deadline: 1, attempt: 1 },
      { type: "fail", id: "1" },
      { type: "fail", id: "1", message: { text: "x" } },
      { type: "extend", ids: [null] },
      { type: "welcome", v: 1, identity: "alice", role: "admin", limits: {} },
      { type: "welcome", v: 1, identity: "alice", role: "client" },
      { type: "welcome", v: 1, identity: "alice", role: "client", limits: { leaseMs: -1 } },
      { type: "welcome", v: "1", identity: "alice", role: "client", limits: {} },
      { type: "welcome", v: 1, identity: "x".repeat(10_000), role: "client", limits: {} },
      { type: "welcome", v: 1, identity: "w", role: "server", queue: "..", limits: {} },
      {
        type: "welcome",
        v: 1,
        identity: "w",
        role: "server",
        partition: 2,
        partitions: 2,
        limits: {},
      },
      { type: "welcome", v: 1, identity: "w", role: "server", partition: 0, limits: {} },
    ];
    for (const frame of bad) {
      expect(() => expectBadRequest(JSON.stringify(frame)), JSON.stringify(frame)).not.toThrow();
    }
  });
});

describe("batches", () => {
  const good = { type: "ack", ids: ["r1"] };

  it("refuses an empty batch", () => {
    expect(expectBadRequest("[]").message).toBe("empty batch");
  });

  it("refuses a batch over MAX_BATCH frames as a whole", () => {
    const raw = JSON.stringify(Array.from({ length: MAX_BATCH + 1 }, () => good));
    expect(expectBadRequest(raw).message).toContain(String(MAX_BATCH));
  });

  it("accepts a batch of exactly MAX_BATCH frames", () => {
    const raw = JSON.stringify(Array.from({ length: MAX_BATCH }, () => good));
    expect(frames(decodeFrames(raw))).toHaveLength(MAX_BATCH);
  });

  it("decodes the good frames of a batch around a bad one, in order", () => {
    const raw = JSON.stringify([
      good,
      { type: "request", id: "r2", queue: "a/b", body: BODY },
      [good],
      { type: "ready", concurrency: 1 },
    ]);
    const results = decodeFrames(raw);
    expect(results.map((r) => r.ok)).toEqual([true, false, false, true]);
    const second = results[1];
    expect(second !== undefined && !second.ok && second.error.id).toBe("r2");
    expect(results[3]).toEqual({ ok: true, value: { type: "ready", concurrency: 1 } });
  });
});

describe("FrameError", () => {
  it("carries the request id when the bad frame has a readable one", () => {
    const error = expectBadRequest(request({ id: "r-42", queue: "../etc/passwd" }));
    expect(error.id).toBe("r-42");
    expect(error.message).toMatch(/^request: queue/);
  });

  it("carries no id when the id itself is unreadable", () => {
    expect(expectBadRequest(request({ id: "x".repeat(10_000) })).id).toBeUndefined();
    expect(expectBadRequest(request({ id: 42 })).id).toBeUndefined();
  });

  it("carries no id for an unknown frame type, so a newer frame cannot end a request", () => {
    expect(expectBadRequest(JSON.stringify({ type: "progress", id: "r1" })).id).toBeUndefined();
  });

  it("keeps the request id of an error frame whose code it does not know", () => {
    const raw = JSON.stringify({ type: "error", id: "r1", code: "teapot", message: "x" });
    expect(expectBadRequest(raw).id).toBe("r1");
  });

  it("reads an error's `about`, a known or a newer kind, and refuses one that is not a short string", () => {
    const refusal = {
      type: "error",
      id: "r1",
      code: "rate_limited",
      message: "x",
      about: "cancel",
    };
    expect(frames(decodeFrames(JSON.stringify(refusal)))).toEqual([refusal]);
    const newer = { ...refusal, about: "extend" };
    expect(frames(decodeFrames(JSON.stringify(newer)))).toEqual([newer]);
    expect(expectBadRequest(JSON.stringify({ ...refusal, about: 7 })).message).toMatch(/about/);
    const long = JSON.stringify({ ...refusal, about: "x".repeat(65) });
    expect(expectBadRequest(long).message).toMatch(/about/);
  });

  it("becomes an error frame that the codec itself accepts", () => {
    const error = expectBadRequest(request({ id: "r9", timeout: 0 }));
    const frame: Frame = { type: "error", id: "r9", ...error.toWire() };
    expect(frames(decodeFrames(encodeFrame(frame)))).toEqual([frame]);
  });
});

describe("evolution", () => {
  it("ignores fields it does not know, so newer peers can add optional ones", () => {
    const raw = JSON.stringify({ type: "ack", ids: ["r1"], priority: 5, trace: { a: 1 } });
    expect(frames(decodeFrames(raw))).toEqual([{ type: "ack", ids: ["r1"] }]);
  });

  it("fills limits a welcome leaves out with their defaults and drops unknown ones", () => {
    const raw = JSON.stringify({
      type: "welcome",
      v: 1,
      identity: "alice",
      role: "client",
      limits: { maxBodyBytes: 2048, maxWidgets: 3 },
    });
    const [welcome] = frames(decodeFrames(raw));
    expect(welcome).toEqual({
      type: "welcome",
      v: 1,
      identity: "alice",
      role: "client",
      limits: { ...DEFAULT_LIMITS, maxBodyBytes: 2048 },
    });
  });

  it("cuts a fail message to 4096 characters", () => {
    const [fail] = frames(
      decodeFrames(JSON.stringify({ type: "fail", id: "1", message: "m".repeat(5000) })),
    );
    expect(fail).toEqual({ type: "fail", id: "1", message: "m".repeat(4096) });
  });

  it("never cuts a fail message between the two halves of a character outside the BMP", () => {
    // 4,095 characters, then "😀" (two UTF-16 units): the cut at 4,096 would split it.
    const message = `${"m".repeat(4095)}😀 and more`;
    const [fail] = frames(decodeFrames(JSON.stringify({ type: "fail", id: "1", message })));
    expect(fail).toEqual({ type: "fail", id: "1", message: "m".repeat(4095) });
    // One character earlier, the pair fits whole.
    expect(cutFailMessage(`${"m".repeat(4094)}😀 and more`)).toBe(`${"m".repeat(4094)}😀`);
  });
});

describe("PATHS", () => {
  it("builds serve paths that a URL keeps inside /v1/queues/ for every valid name", () => {
    for (const queue of ["resize", "a.b", "...", "x-1_2"]) {
      const url = new URL(PATHS.serve(queue), "ws://127.0.0.1:8787");
      expect(url.pathname).toBe(`/v1/queues/${queue}/serve`);
    }
  });
});
