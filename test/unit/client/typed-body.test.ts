/**
 * typed(): a reply body with a media type (client/typed-body.ts) and the Content-Type rule it
 * shares with the relay (protocol/content-type.ts): what it accepts, that it stays apart from JSON
 * bodies, and the wire and HTTP forms each transport sends.
 */
import { describe, expect, it } from "vitest";
import { reply, TypedBody, typed } from "../../../client/index.js";
import { httpReplyOf, wireReplyOf } from "../../../client/typed-body.js";
import {
  decodeBody,
  isContentType,
  isJsonMediaType,
  MAX_CONTENT_TYPE_CHARS,
} from "../../../protocol/index.js";
import { httpFromWireBody, wireBodyFromHttp } from "../../../src/http-body.js";
import { codeOf } from "../thrown-code.js";

describe("the Content-Type rule", () => {
  it("accepts 1 to 256 printable ASCII characters and nothing else", () => {
    expect(isContentType("text/csv; charset=utf-8")).toBe(true);
    expect(isContentType("a".repeat(MAX_CONTENT_TYPE_CHARS))).toBe(true);
    expect(isContentType("a".repeat(MAX_CONTENT_TYPE_CHARS + 1))).toBe(false);
    expect(isContentType("")).toBe(false);
    expect(isContentType("text/plain\r\nX-Evil: 1")).toBe(false);
    expect(isContentType("text/plâin")).toBe(false);
    expect(isContentType(undefined)).toBe(false);
  });

  it("names application/json and +json types as JSON, whatever the case and parameters", () => {
    expect(isJsonMediaType("application/json")).toBe(true);
    expect(isJsonMediaType("Application/JSON; charset=utf-8")).toBe(true);
    expect(isJsonMediaType("application/problem+json")).toBe(true);
    expect(isJsonMediaType("text/json-ish")).toBe(false);
    expect(isJsonMediaType("text/plain; note=application/json")).toBe(false);
  });
});

describe("typed()", () => {
  it("keeps the body and its media type, read-only", () => {
    const bytes = new Uint8Array([137, 80, 78, 71]);
    const reply = typed(bytes, "image/png");
    expect(reply).toBeInstanceOf(TypedBody);
    expect(reply.body).toBe(bytes);
    expect(reply.contentType).toBe("image/png");
    expect(() => Object.assign(reply, { contentType: "text/html" })).toThrow(TypeError);
    expect(reply.contentType).toBe("image/png");
  });

  it("refuses a type the relay would refuse with bad_request, and accepts undefined as none", () => {
    expect(codeOf(() => typed("x", "a".repeat(MAX_CONTENT_TYPE_CHARS + 1)))).toBe("bad_request");
    expect(codeOf(() => typed("x", "text/plain\nX-Evil: 1"))).toBe("bad_request");
    expect(codeOf(() => typed("x", ""))).toBe("bad_request");
    expect(codeOf(() => typed("x", undefined))).toBeUndefined();
  });
});

describe("reply()", () => {
  it("keeps the body, its media type and a frozen copy of its headers; typed() and a bare reply() have none", () => {
    const headers = { "trace-id": "4bf92f" };
    const made = reply("hi", { headers, contentType: "text/csv" });
    expect(made).toBeInstanceOf(TypedBody);
    expect([made.body, made.contentType, made.headers]).toEqual(["hi", "text/csv", headers]);
    headers["trace-id"] = "changed";
    expect(made.headers).toEqual({ "trace-id": "4bf92f" });
    expect(Object.isFrozen(made.headers)).toBe(true);
    expect(typed("x", "text/plain").headers).toEqual({});
    expect([reply("x").contentType, reply("x").headers]).toEqual([undefined, {}]);
  });

  it("refuses headers a request could not carry, and a bad media type, with bad_request", () => {
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, n) => [`h${n}`, "v"]));
    const untyped = (value: unknown) => value as Record<string, string>;
    expect(codeOf(() => reply("x", { headers: many }))).toBe("bad_request");
    expect(codeOf(() => reply("x", { headers: { "a b": "1" } }))).toBe("bad_request");
    expect(codeOf(() => reply("x", { headers: untyped({ n: 1 }) }))).toBe("bad_request");
    expect(codeOf(() => reply("x", { headers: { big: "x".repeat(8_192) } }))).toBe("bad_request");
    expect(codeOf(() => reply("x", { contentType: "" }))).toBe("bad_request");
    expect(() => reply("x", { headers: many })).toThrow("reply headers refused: too many headers");
  });
});

describe("a reply's wire form (WebSocket transport)", () => {
  it("carries the media type in `type` next to the body's own encoding", () => {
    const bytes = new Uint8Array([0, 255, 7]);
    expect(wireReplyOf(typed(bytes, "image/png"))).toEqual({
      enc: "base64",
      data: "AP8H",
      type: "image/png",
    });
    expect(wireReplyOf(typed("a,b\n1,2", "text/csv"))).toEqual({
      enc: "utf8",
      data: "a,b\n1,2",
      type: "text/csv",
    });
  });

  it("sends a plain object as a JSON body, even one shaped like a typed body", () => {
    expect(wireReplyOf({ body: "x", contentType: "image/png" })).toEqual({
      enc: "json",
      data: '{"body":"x","contentType":"image/png"}',
    });
  });

  it("sends a typed body without a type as the plain body", () => {
    expect(wireReplyOf(typed("hi", undefined))).toEqual({ enc: "utf8", data: "hi" });
  });

  it("sends a string under a JSON type as a JSON string, so an echo stays valid JSON", () => {
    const wire = wireReplyOf(typed("hi", "application/json"));
    expect(wire).toEqual({ enc: "json", data: '"hi"', type: "application/json" });
    expect(decodeBody(wire)).toBe("hi");
    expect(httpFromWireBody(wire)).toEqual({ content: '"hi"', contentType: "application/json" });
  });
});

describe("a typed reply's value at the client, the same over either server transport", () => {
  const bytesOf = (text: string) => new TextEncoder().encode(text);
  it("maps content by its type as the relay maps an HTTP server's reply", () => {
    const cases = [
      typed(bytesOf('{"a":1}'), "application/json"),
      typed(bytesOf("x,y"), "text/csv"),
      typed(bytesOf("\u00ff"), "text/plain; charset=latin1"),
      typed("raw", "application/octet-stream"),
      typed({ a: 1 }, "text/plain"),
    ];
    for (const reply of cases) {
      const { content, contentType } = httpReplyOf(reply);
      const overHttp = wireBodyFromHttp(
        contentType,
        typeof content === "string" ? bytesOf(content) : content,
      );
      expect(wireReplyOf(reply)).toEqual(overHttp);
    }
    expect(decodeBody(wireReplyOf(cases[0] as TypedBody))).toEqual({ a: 1 });
    expect(decodeBody(wireReplyOf(cases[1] as TypedBody))).toBe("x,y");
  });

  it("refuses bytes under a JSON type that are not JSON, as the relay refuses them over HTTP", () => {
    const reply = typed(bytesOf("{nope"), "application/json");
    expect(codeOf(() => wireReplyOf(reply))).toBe("bad_request");
    expect(() => wireReplyOf(reply)).toThrow("the body is not valid JSON (application/json)");
  });
});

describe("a reply's HTTP form (HTTP transport)", () => {
  it("posts the body's content under its media type", () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(httpReplyOf(typed(bytes, "image/png"))).toEqual({
      content: bytes,
      contentType: "image/png",
      size: 3,
    });
    expect(httpReplyOf(typed("é,b", "text/csv"))).toEqual({
      content: "é,b",
      contentType: "text/csv",
      size: 4,
    });
  });

  it("keeps a plain body's Content-Type from its kind, and JSON-encodes a string under a JSON type", () => {
    expect(httpReplyOf("hi")).toMatchObject({
      content: "hi",
      contentType: "text/plain; charset=utf-8",
    });
    expect(httpReplyOf(typed("hi", undefined))).toMatchObject({
      contentType: "text/plain; charset=utf-8",
    });
    expect(httpReplyOf(typed("hi", "application/vnd.a+json"))).toEqual({
      content: '"hi"',
      contentType: "application/vnd.a+json",
      size: 4,
    });
  });
});
