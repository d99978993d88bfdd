/**
 * Bodies: a JSON value, a string or bytes goes onto the wire and comes back as the same kind with
 * the same content; bodySize measures what the relay limits; corrupt content is a bad_request.
 */
import { randomBytes } from "node:crypto";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import {
  type Body,
  base64ToBytes,
  bodySize,
  bytesToBase64,
  decodeBody,
  EdgeMQError,
  ERROR_CODE,
  encodeBody,
  isBase64,
  type JsonValue,
  type SendBody,
  utf8Length,
  type WireBody,
} from "../../../protocol/index.js";

/** Encodes, passes through JSON text as a frame would, and decodes. */
function roundTrip(body: SendBody): Body {
  const wire: unknown = JSON.parse(JSON.stringify(encodeBody(body)));
  if (typeof wire !== "object" || wire === null || !("enc" in wire) || !("data" in wire)) {
    throw new Error("not a wire body");
  }
  const { enc, data } = wire;
  if ((enc !== "json" && enc !== "utf8" && enc !== "base64") || typeof data !== "string") {
    throw new Error("not a wire body");
  }
  return decodeBody({ enc, data });
}

/** A value the SendBody type rules out but a caller without types can pass. */
function untyped(value: unknown): SendBody {
  return value as SendBody;
}

function expectBadRequest(run: () => unknown, message: RegExp): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EdgeMQError);
    if (!(error instanceof EdgeMQError)) return;
    expect(error.code).toBe(ERROR_CODE.badRequest);
    expect(error.message).toMatch(message);
    return;
  }
  throw new Error("expected a bad_request EdgeMQError");
}

describe("encodeBody and decodeBody", () => {
  const jsonValues: JsonValue[] = [
    null,
    true,
    false,
    0,
    -1.5,
    1e21,
    [],
    {},
    [1, "two", { three: [null] }],
    { url: "https://example.com/cat.png", width: 640, tags: ["a", "b"], nested: { ok: true } },
    { clé: "välue", emoji: "😀", quote: '"\\\n' },
  ];

  it.each(jsonValues.map((v) => [JSON.stringify(v), v] as const))(
    "returns the JSON value %s unchanged, encoded as json",
    (_label, value) => {
      expect(encodeBody(value).enc).toBe("json");
      expect(roundTrip(value)).toEqual(value);
    },
  );

  it("keeps strings as strings, never parsing them as JSON", () => {
    for (const text of ["", "hello", "42", "null", '{"a":1}', "héllo wörld", "😀👍🏽", "行"]) {
      expect(encodeBody(text)).toEqual({ enc: "utf8", data: text });
      expect(roundTrip(text)).toBe(text);
    }
  });

  it("sends an absent body as JSON null", () => {
    expect(encodeBody(undefined)).toEqual({ enc: "json", data: "null" });
    expect(roundTrip(undefined)).toBeNull();
  });

  it("returns all 256 byte values unchanged", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const wire = encodeBody(bytes);
    expect(wire.enc).toBe("base64");
    expect(isBase64(wire.data)).toBe(true);
    expect(roundTrip(bytes)).toEqual(bytes);
  });

  it("returns 1 MiB of random bytes unchanged, matching Node's base64", () => {
    const bytes = new Uint8Array(randomBytes(1024 * 1024));
    const wire = encodeBody(bytes);
    expect(wire.data).toBe(Buffer.from(bytes).toString("base64"));
    expect(bodySize(wire)).toBe(bytes.length);
    const back = roundTrip(bytes);
    expect(back).toBeInstanceOf(Uint8Array);
    if (!(back instanceof Uint8Array)) return;
    // Buffer.equals, not toEqual: deep equality over a million elements takes seconds.
    expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
  });

  it("returns empty bytes as empty bytes", () => {
    expect(encodeBody(new Uint8Array(0))).toEqual({ enc: "base64", data: "" });
    expect(roundTrip(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  it("encodes only the bytes a view covers, not its whole buffer", () => {
    const view = Uint8Array.from([9, 1, 2, 3, 9]).subarray(1, 4);
    expect(roundTrip(view)).toEqual(Uint8Array.from([1, 2, 3]));
  });

  it("sends an ArrayBuffer, a DataView and any typed array as the bytes they span", () => {
    const backing = Uint8Array.from([9, 1, 2, 3, 9]);
    expect(encodeBody(backing.buffer).enc).toBe("base64");
    expect(roundTrip(backing.buffer)).toEqual(Uint8Array.from([9, 1, 2, 3, 9]));
    expect(roundTrip(new DataView(backing.buffer, 1, 3))).toEqual(Uint8Array.from([1, 2, 3]));
    expect(roundTrip(new Uint16Array([0x0201, 0x0403]))).toEqual(Uint8Array.from([1, 2, 3, 4]));
    expect(roundTrip(new Int8Array(backing.buffer, 3, 2))).toEqual(Uint8Array.from([3, 9]));
    expect(roundTrip(new Float64Array(1))).toEqual(new Uint8Array(8));
  });

  it("refuses, at any depth, values JSON would silently mangle, with bad_request", () => {
    const mangled: [unknown, RegExp][] = [
      [new Map([["a", 1]]), /a Map/],
      [new Set([1]), /a Set/],
      [{ nested: [new Map()] }, /a Map/],
      [{ bytes: new Uint8Array(2) }, /bytes inside a JSON value/],
      [[new ArrayBuffer(1)], /bytes inside a JSON value/],
      [{ error: new Error("boom") }, /an Error with no fields/],
      [/x/, /a RegExp/],
      [Promise.resolve(1), /a Promise/],
      [new WeakMap(), /a WeakMap/],
      [{ n: Number.NaN }, /NaN or Infinity, which JSON would send as null/],
      [[1, Number.POSITIVE_INFINITY], /NaN or Infinity/],
      [-Infinity, /NaN or Infinity/],
      [{ f: () => 1, a: 1 }, /a function, which JSON would drop/],
      [[() => 1], /a function/],
      [{ s: Symbol("x") }, /a symbol/],
      [{ d: new Date(Number.NaN) }, /an invalid Date/],
      [new Date(Number.NaN), /an invalid Date/],
    ];
    for (const [body, message] of mangled) {
      expectBadRequest(() => encodeBody(untyped(body)), message);
    }
  });

  // A browser probe: a Blob (a file a page picked) went out as {} and the server got an empty
  // object, where a Map is refused; FormData, URLSearchParams and a ReadableStream the same.
  it("refuses a Blob, File, FormData, URLSearchParams or ReadableStream, saying how to send it", () => {
    const webBodies: [unknown, RegExp][] = [
      [new Blob(["x"]), /a Blob, which JSON would send as \{\}: .*await blob\.arrayBuffer\(\)/],
      [new File(["x"], "a.txt"), /a File, which JSON would send as \{\}: .*file\.arrayBuffer\(\)/],
      [{ upload: new Blob(["x"]) }, /a Blob/],
      [new FormData(), /a FormData, which JSON would send as \{\}: .*Object\.fromEntries/],
      [
        new URLSearchParams("a=1"),
        /a URLSearchParams, which JSON would send as \{\}: .*toString\(\)/,
      ],
      [new ReadableStream(), /a ReadableStream, which JSON would send as \{\}: read it first/],
    ];
    for (const [body, message] of webBodies) {
      expectBadRequest(() => encodeBody(untyped(body)), message);
    }
  });

  // A newcomer probe: a BigInt in a request body was refused with "body is not serialisable as
  // JSON", and in a handler's reply reached the client as V8's "Do not know how to serialize a
  // BigInt"; neither said where, nor what to do, as the other refusals here do.
  it("refuses a BigInt at any depth with bad_request naming it and a way out", () => {
    for (const body of [1n, { n: 1n }, [{ deep: [2n] }]]) {
      expectBadRequest(
        () => encodeBody(untyped(body)),
        /^body holds a BigInt, which JSON cannot carry: convert it, e\.g\. String\(n\) or Number\(n\)$/,
      );
    }
  });

  it("finds bytes from another realm and bytes a toJSON hides (a nested Node Buffer)", () => {
    const foreign: unknown = runInNewContext("new Uint8Array([1, 2, 3]).buffer");
    expect(roundTrip(untyped(foreign))).toEqual(Uint8Array.from([1, 2, 3]));
    expectBadRequest(() => encodeBody(untyped({ data: foreign })), /bytes inside a JSON value/);
    expectBadRequest(
      () => encodeBody(untyped({ file: Buffer.from("hi") })),
      /bytes inside a JSON value/,
    );
    expectBadRequest(() => encodeBody(untyped([Buffer.from("hi")])), /bytes inside a JSON value/);
  });

  it("keeps an Error's own fields as JSON, and refuses only a bare Error, which JSON sends as {}", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(roundTrip(untyped({ error: refused }))).toEqual({ error: { code: "ECONNREFUSED" } });
    class HttpError extends Error {
      readonly status = 404;
    }
    expect(roundTrip(untyped({ error: new HttpError("gone") }))).toEqual({
      error: { status: 404 },
    });
  });

  it("keeps plain objects, arrays, class instances, null-prototype objects and Dates as JSON", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const bare = Object.assign(Object.create(null), { a: 1 });
    const body = { point: new Point(1, 2), bare, at: new Date(0), list: [{}] };
    expect(roundTrip(untyped(body))).toEqual({
      point: { x: 1, y: 2 },
      bare: { a: 1 },
      at: "1970-01-01T00:00:00.000Z",
      list: [{}],
    });
  });

  it("refuses a json body whose data does not parse", () => {
    for (const data of ["", "{", "undefined", "{'a':1}", "NaN"]) {
      expectBadRequest(() => decodeBody({ enc: "json", data }), /not valid JSON/);
    }
  });

  it("refuses a base64 body whose data does not decode", () => {
    for (const data of ["@@@@", "a b!", "AA==AA", "A", "AAA", "AA-_"]) {
      expectBadRequest(() => decodeBody({ enc: "base64", data }), /not valid base64/);
    }
  });
});

describe("bodySize", () => {
  it("counts the UTF-8 bytes of json and utf8 bodies", () => {
    const cases: [string, number][] = [
      ["", 0],
      ["abc", 3],
      ["é", 2],
      ["€", 3],
      ["😀", 4],
      ["héllo €😀", 1 + 2 + 3 + 1 + 3 + 4],
    ];
    for (const [text, bytes] of cases) {
      expect(bodySize({ enc: "utf8", data: text })).toBe(bytes);
      expect(bodySize({ enc: "json", data: text })).toBe(bytes);
    }
  });

  it("counts the decoded bytes of base64 bodies, whatever their padding", () => {
    for (let n = 0; n <= 12; n++) {
      const wire: WireBody = { enc: "base64", data: bytesToBase64(new Uint8Array(n)) };
      expect(bodySize(wire)).toBe(n);
    }
  });

  it("agrees with TextEncoder on every kind of string, lone surrogates included", () => {
    const encoder = new TextEncoder();
    const samples = [
      "plain ascii",
      "ünïcödé",
      "中文字符",
      "😀😀",
      "\ud800",
      "\udc00",
      "\ud800\ud800",
      "\ud800a",
      "a\ud800",
      "\udc00\ud800",
      "x\ud83d\ude00y\ud83d",
    ];
    // A fixed pseudo-random walk over all UTF-16 code units, so the test is repeatable.
    let seed = 7;
    for (let s = 0; s < 200; s++) {
      let text = "";
      for (let i = 0; i < 20; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        text += String.fromCharCode(seed % 0x10000);
      }
      samples.push(text);
    }
    for (const text of samples) {
      expect(utf8Length(text), JSON.stringify(text)).toBe(encoder.encode(text).length);
    }
  });
});

describe("base64 helpers", () => {
  it("accepts only padded standard base64 in isBase64", () => {
    for (const data of ["", "AAAA", "AA==", "AAA=", "+/+/"]) expect(isBase64(data)).toBe(true);
    for (const data of ["A", "AAA", "AA-_", "A===", "AA AA", "AA=A"]) {
      expect(isBase64(data)).toBe(false);
    }
  });

  it("decodes what bytesToBase64 encodes", () => {
    const bytes = Uint8Array.from([0, 255, 128, 1, 2]);
    expect(base64ToBytes(bytesToBase64(bytes))).toEqual(bytes);
  });
});
