/**
 * `EdgeMQ-Headers`, a request's or reply's own headers over the HTTP API: encoded as ASCII-only
 * JSON (names keep their case; any string value survives), read back strictly, and held to what
 * an HTTP client can read once escaped.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_LIMITS,
  decodeHeadersHeader,
  encodeHeadersHeader,
  headersOverLimits,
  MAX_ENCODED_HEADERS_CHARS,
} from "../../../protocol/index.js";

describe("EdgeMQ-Headers", () => {
  it("round-trips names in their case and any string value, in ASCII only", () => {
    const headers = Object.fromEntries([
      ["Trace-Id", "4bf92f3577b34da6"],
      ["note", "café ✓ 🚀"],
      ["lines", "a\nb\t\u0000\u007f"],
      ["empty", ""],
      ["__proto__", "stays a header"],
    ]);
    const value = encodeHeadersHeader(headers);
    expect(value).toMatch(/^[\u0020-\u007e]*$/);
    expect(decodeHeadersHeader(value)).toEqual(headers);
    expect(Object.keys(decodeHeadersHeader(value))).toContain("__proto__");
  });

  it("reads values past ASCII given as they are, as workerd hands over a header sent as UTF-8", () => {
    expect(decodeHeadersHeader('{"note":"café ✓"}')).toEqual({ note: "café ✓" });
  });

  it("says what is wrong with a value that is not a JSON object of strings", () => {
    expect(decodeHeadersHeader("trace-id: 1")).toMatch(/must be a JSON object of strings/);
    expect(decodeHeadersHeader('["a"]')).toMatch(/^EdgeMQ-Headers: headers must be an object/);
    expect(decodeHeadersHeader('{"n":1}')).toBe("EdgeMQ-Headers: header n must be a string");
    expect(decodeHeadersHeader('{"bad name":"x"}')).toMatch(/bad header name/);
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`h${i}`, "x"]));
    expect(decodeHeadersHeader(JSON.stringify(many))).toBe("EdgeMQ-Headers: too many headers");
  });

  it("holds headers to what an HTTP client can read once escaped, whatever transport carries them", () => {
    // Within maxHeaderBytes (8 KiB of UTF-8) but 16 KiB and more once escaped: Node's fetch
    // refuses an answer whose headers pass 16 KiB, so an HTTP server could never take them.
    for (const value of ["漢".repeat(2_700), '"'.repeat(8_000), "\u0001".repeat(3_000)]) {
      const headers = { v: value };
      expect(encodeHeadersHeader(headers).length).toBeGreaterThan(MAX_ENCODED_HEADERS_CHARS);
      expect(headersOverLimits(headers, DEFAULT_LIMITS)).toMatch(
        /^headers of \d+ characters once escaped for HTTP \(EdgeMQ-Headers\), over the limit of 12288$/,
      );
    }
    // Plain ASCII up to the byte limit, and escapes that stay within it, pass.
    expect(headersOverLimits({ v: "a".repeat(8_000) }, DEFAULT_LIMITS)).toBeUndefined();
    expect(headersOverLimits({ v: "é".repeat(2_000) }, DEFAULT_LIMITS)).toBeUndefined();
  });
});
