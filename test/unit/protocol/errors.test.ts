/**
 * Error codes: each has one HTTP status, survives the wire unchanged, and an unknown fault
 * becomes `internal` without leaking its details.
 */
import { describe, expect, it } from "vitest";
import {
  EdgeMQError,
  ERROR_CODE,
  HTTP_STATUS,
  isEdgeMQError,
  isErrorCode,
} from "../../../protocol/index.js";

const CODES = Object.values(ERROR_CODE);

describe("error codes", () => {
  it("gives every error code an HTTP error status", () => {
    for (const code of CODES) {
      expect(HTTP_STATUS[code], code).toBeGreaterThanOrEqual(400);
      expect(HTTP_STATUS[code], code).toBeLessThan(600);
    }
  });

  it("maps no status for a code that does not exist", () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...CODES].sort());
  });

  it("uses distinct snake_case strings as codes", () => {
    expect(new Set(CODES).size).toBe(CODES.length);
    for (const code of CODES) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });

  it("recognises exactly the known codes", () => {
    for (const code of CODES) expect(isErrorCode(code)).toBe(true);
    for (const value of ["teapot", "TIMEOUT", "", undefined, null, 504, { code: "timeout" }]) {
      expect(isErrorCode(value)).toBe(false);
    }
  });

  it("keeps the statuses that clients branch on", () => {
    expect(HTTP_STATUS.no_responders).toBe(503);
    expect(HTTP_STATUS.timeout).toBe(504);
    expect(HTTP_STATUS.server_error).toBe(502);
    expect(HTTP_STATUS.too_large).toBe(413);
    expect(HTTP_STATUS.queue_full).toBe(429);
  });
});

describe("EdgeMQError", () => {
  it.each(CODES)("comes back from the wire unchanged with code %s", (code) => {
    const sent = new EdgeMQError(code, `something about ${code}`);
    const received = EdgeMQError.fromWire(JSON.parse(JSON.stringify(sent.toWire())));
    expect(received).toBeInstanceOf(EdgeMQError);
    expect(received).toBeInstanceOf(Error);
    expect(received.name).toBe("EdgeMQError");
    expect(received.code).toBe(code);
    expect(received.message).toBe(sent.message);
    expect(received.httpStatus).toBe(HTTP_STATUS[code]);
    expect(isEdgeMQError(received)).toBe(true);
  });

  it("puts only the code and message on the wire, never a stack or cause", () => {
    const error = new EdgeMQError(ERROR_CODE.timeout, "late", { cause: new Error("secret") });
    expect(error.toWire()).toEqual({ code: "timeout", message: "late" });
    expect(JSON.stringify(error.toWire())).not.toContain("secret");
  });

  it("returns an EdgeMQError given to from() as it is", () => {
    const error = new EdgeMQError(ERROR_CODE.queueFull, "queue resize is full");
    expect(EdgeMQError.from(error)).toBe(error);
  });

  it("hides the details of anything else behind internal, keeping them as the cause", () => {
    const faults: unknown[] = [
      new Error("password=hunter2 at db.internal:5432"),
      new TypeError("cannot read properties of undefined (secret)"),
      "a thrown string with a secret",
      { secret: "object" },
      undefined,
    ];
    for (const fault of faults) {
      const error = EdgeMQError.from(fault);
      expect(error.code).toBe(ERROR_CODE.internal);
      expect(error.httpStatus).toBe(500);
      expect(error.message).toBe("internal error");
      expect(JSON.stringify(error.toWire())).not.toMatch(/secret|hunter2/);
      expect(error.cause).toBe(fault);
    }
  });

  it("is not mistaken for a plain Error by isEdgeMQError", () => {
    expect(isEdgeMQError(new Error("x"))).toBe(false);
    expect(isEdgeMQError({ code: "timeout", message: "x" })).toBe(false);
  });
});

describe("isEdgeMQError", () => {
  it("recognises an EdgeMQError of another copy of the SDK, which instanceof does not", async () => {
    // A second instance of the module, as a library's own copy of edgemq or the browser bundle.
    const url = new URL("../../../protocol/errors.ts?another-copy", import.meta.url).href;
    const copy: typeof import("../../../protocol/errors.js") = await import(/* @vite-ignore */ url);
    expect(copy.EdgeMQError).not.toBe(EdgeMQError);
    const foreign = new copy.EdgeMQError("timeout", "request timed out");
    expect(foreign instanceof EdgeMQError).toBe(false);
    expect(isEdgeMQError(foreign)).toBe(true);
  });

  it("refuses what is no EdgeMQError: another error, a lookalike without a known code", () => {
    const named = (code: unknown) => Object.assign(new Error("x"), { name: "EdgeMQError", code });
    for (const value of [
      new Error("x"),
      named("teapot"),
      named(undefined),
      { name: "EdgeMQError", code: "timeout" },
    ]) {
      expect(isEdgeMQError(value)).toBe(false);
    }
    expect(isEdgeMQError(named("timeout"))).toBe(true);
  });
});
