/** HTTP bodies ↔ wire bodies (src/http-body.ts) and the HTTP API's parameters (src/http-params.ts). */
import { describe, expect, it } from "vitest";
import { encodeBody, mediaType } from "../../../protocol/index.js";
import { httpFromWireBody, wireBodyFromHttp } from "../../../src/http-body.js";
import {
  MAX_WAIT_MS,
  readAfter,
  readFlag,
  readLease,
  readPoller,
  readPollerParam,
  readTimeout,
  readWait,
} from "../../../src/http-params.js";
import { codeOf } from "../thrown-code.js";

const utf8 = (text: string) => new TextEncoder().encode(text);

describe("wireBodyFromHttp", () => {
  it("keeps valid JSON as a json body with its Content-Type", () => {
    expect(wireBodyFromHttp("application/json; charset=utf-8", utf8('{"a":[1,2]}'))).toEqual({
      enc: "json",
      data: '{"a":[1,2]}',
      type: "application/json; charset=utf-8",
    });
  });

  it("treats +json media types as JSON", () => {
    expect(wireBodyFromHttp("application/problem+json", utf8("{}"))).toMatchObject({ enc: "json" });
  });

  it("refuses a JSON Content-Type whose body does not parse with bad_request", () => {
    expect(codeOf(() => wireBodyFromHttp("application/json", utf8("{nope")))).toBe("bad_request");
    expect(codeOf(() => wireBodyFromHttp("application/json", new Uint8Array(0)))).toBe(
      "bad_request",
    );
  });

  it("keeps UTF-8 text as a utf8 body", () => {
    expect(wireBodyFromHttp("text/plain", utf8("héllo"))).toEqual({
      enc: "utf8",
      data: "héllo",
      type: "text/plain",
    });
  });

  it("sends text that is not valid UTF-8 as base64, so no byte is lost", () => {
    const bytes = new Uint8Array([0x68, 0xe9, 0x6c]);
    const body = wireBodyFromHttp("text/plain", bytes);
    expect(body).toEqual({ ...encodeBody(bytes), type: "text/plain" });
  });

  it("sends text in another charset as base64", () => {
    const body = wireBodyFromHttp("text/plain; charset=iso-8859-1", utf8("abc"));
    expect(body.enc).toBe("base64");
  });

  it("sends any other media type as base64 with its type", () => {
    const bytes = new Uint8Array([0, 255, 1]);
    expect(wireBodyFromHttp("image/png", bytes)).toEqual({
      ...encodeBody(bytes),
      type: "image/png",
    });
  });

  it("gives a body without Content-Type the type application/octet-stream", () => {
    expect(wireBodyFromHttp(null, utf8("x"))).toEqual({
      enc: "base64",
      data: "eA==",
      type: "application/octet-stream",
    });
  });

  it("refuses a Content-Type over 256 characters or with control characters", () => {
    expect(codeOf(() => wireBodyFromHttp(`text/plain;${"a".repeat(260)}`, utf8("x")))).toBe(
      "bad_request",
    );
    expect(codeOf(() => wireBodyFromHttp("text/plain\u0001", utf8("x")))).toBe("bad_request");
  });
});

describe("httpFromWireBody", () => {
  it("turns each encoding back into content with its type", () => {
    expect(httpFromWireBody({ enc: "json", data: "[1]", type: "application/json" })).toEqual({
      content: "[1]",
      contentType: "application/json",
    });
    expect(httpFromWireBody({ enc: "base64", data: "AP8=", type: "image/png" })).toEqual({
      content: new Uint8Array([0, 255]),
      contentType: "image/png",
    });
  });

  it("gives SDK bodies without a type the Content-Type of their encoding", () => {
    expect(httpFromWireBody(encodeBody({ a: 1 })).contentType).toBe("application/json");
    expect(httpFromWireBody(encodeBody("hi")).contentType).toBe("text/plain; charset=utf-8");
    expect(httpFromWireBody(encodeBody(new Uint8Array([1]))).contentType).toBe(
      "application/octet-stream",
    );
  });

  it("never puts a type with line breaks into a header", () => {
    const body = { enc: "utf8" as const, data: "x", type: "text/plain\r\nSet-Cookie: a=b" };
    expect(httpFromWireBody(body).contentType).toBe("text/plain; charset=utf-8");
  });

  it("round-trips bytes through both directions", () => {
    const bytes = new Uint8Array(300).map((_, i) => i % 256);
    const back = httpFromWireBody(wireBodyFromHttp("application/x-bin", bytes));
    expect(back).toEqual({ content: bytes, contentType: "application/x-bin" });
  });

  it("reads the media type without parameters, in lower case", () => {
    expect(mediaType(" Text/HTML ; charset=UTF-8")).toBe("text/html");
  });
});

describe("HTTP API parameters", () => {
  it("reads wait from 0 to the maximum and refuses anything else", () => {
    expect(readWait(undefined)).toBe(0);
    expect(readWait("0")).toBe(0);
    expect(readWait(String(MAX_WAIT_MS))).toBe(MAX_WAIT_MS);
    for (const bad of ["", "-1", "01", "1.0", "1e3", "x", String(MAX_WAIT_MS + 1)]) {
      expect(codeOf(() => readWait(bad))).toBe("bad_request");
    }
  });

  it("reads timeout from 1 to the relay's maximum", () => {
    expect(readTimeout(undefined, 1000)).toBeUndefined();
    expect(readTimeout("1000", 1000)).toBe(1000);
    for (const bad of ["0", "1001", "-1", "1.5", "9007199254740993"]) {
      expect(codeOf(() => readTimeout(bad, 1000))).toBe("bad_request");
    }
  });

  it("reads lease as the lease granted, within 1,000 ms and leaseMs, undefined when absent", () => {
    expect(readLease(undefined, 30_000)).toBeUndefined();
    expect(readLease("10000", 30_000)).toBe(10_000);
    expect(readLease("0", 30_000)).toBe(1_000);
    expect(readLease("60000", 30_000)).toBe(30_000);
    // A relay whose leaseMs is under the floor grants its leaseMs.
    expect(readLease("5000", 500)).toBe(500);
    for (const bad of ["", "-1", "1.5", "1e4", "10s", "9007199254740993"]) {
      expect(codeOf(() => readLease(bad, 30_000))).toBe("bad_request");
    }
  });

  it("reads flags as true/1 or false/0", () => {
    expect(readFlag("true", "async")).toBe(true);
    expect(readFlag("0", "async")).toBe(false);
    expect(readFlag(undefined, "async")).toBe(false);
    expect(codeOf(() => readFlag("yes", "async"))).toBe("bad_request");
  });

  it("reads an outcome poll's after as a non-negative safe integer, 0 when absent", () => {
    expect(readAfter(undefined)).toBe(0);
    expect(readAfter("0")).toBe(0);
    expect(readAfter("9007199254740991")).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of ["", "-1", "01", "1.5", "1e3", "x", "9007199254740993"]) {
      expect(codeOf(() => readAfter(bad))).toBe("bad_request");
    }
  });

  it("reads a poller tag by the request id's rule, naming the parameter or header refused", () => {
    expect(readPoller("tab-1:a@b", "poller")).toBe("tab-1:a@b");
    expect(() => readPoller(undefined, "poller")).toThrow(/poller is required/);
    expect(() => readPoller("a b", "EdgeMQ-Poller")).toThrow(/EdgeMQ-Poller must be/);
    for (const bad of ["", "x".repeat(129), "tab/1", "é"]) {
      expect(codeOf(() => readPoller(bad, "poller"))).toBe("bad_request");
    }
  });

  it("says, of a ?poller= whose + was read as a space, to write it %2B", () => {
    expect(readPollerParam("tab+1")).toBe("tab+1");
    expect(() => readPollerParam("tab 1")).toThrow(
      /a \+ in a query reads as a space: write it %2B/,
    );
    expect(() => readPollerParam("tab 1/2")).toThrow(/^poller must be [^;]*$/);
    expect(() => readPollerParam(undefined)).toThrow(/poller is required/);
  });
});
