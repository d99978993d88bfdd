/** Reading HTTP API bodies with a bound (src/http-body-reader.ts). */
import { describe, expect, it } from "vitest";
import { EdgeMQError } from "../../../protocol/index.js";
import { readBoundedBody } from "../../../src/http-body-reader.js";

function streamed(
  chunks: Uint8Array[],
  failAfter?: number,
  seen: { pulled: number; cancelled: boolean } = { pulled: 0, cancelled: false },
): Request {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    cancel() {
      seen.cancelled = true;
    },
    pull(controller) {
      seen.pulled++;
      if (failAfter !== undefined && sent === failAfter) {
        controller.error(new Error("Network connection lost."));
        return;
      }
      const chunk = chunks[sent++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
  });
  return new Request("https://relay.test/", {
    method: "POST",
    body,
    duplex: "half",
  } as RequestInit);
}

async function codeOfRead(request: Request, max: number): Promise<string | undefined> {
  try {
    await readBoundedBody(request, max);
    return undefined;
  } catch (error) {
    return error instanceof EdgeMQError ? error.code : "not an EdgeMQError";
  }
}

describe("readBoundedBody", () => {
  it("joins a streamed body's chunks", async () => {
    const request = streamed([new Uint8Array([1, 2]), new Uint8Array([3])]);
    expect(await readBoundedBody(request, 10)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("refuses a streamed body past the bound with too_large", async () => {
    const request = streamed([new Uint8Array(6), new Uint8Array(6)]);
    expect(await codeOfRead(request, 10)).toBe("too_large");
  });

  it("reads a refused body to its end and drops it before refusing, cancelling nothing", async () => {
    const seen = { pulled: 0, cancelled: false };
    const chunks = Array.from({ length: 100 }, () => new Uint8Array(6));
    const request = streamed(chunks, undefined, seen);
    const refusal = await readBoundedBody(request, 10).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(EdgeMQError);
    expect(refusal).toMatchObject({
      code: "too_large",
      message: "the body is 600 bytes, over the limit of 10",
    });
    // 100 chunks and the end of the stream: the whole body was read, and nothing cancelled.
    expect(seen).toEqual({ pulled: 101, cancelled: false });
  });

  it("cancels a refused body still going past the drain bound", async () => {
    const seen = { pulled: 0, cancelled: false };
    const chunks = Array.from({ length: 100 }, () => new Uint8Array(6));
    const request = streamed(chunks, undefined, seen);
    const refusal = await readBoundedBody(request, 10, 30).catch((error: unknown) => error);
    expect(refusal).toMatchObject({
      code: "too_large",
      message: expect.stringMatching(/at least/),
    });
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThan(12);
  });

  it("refuses a body that breaks off while it is being dropped with too_large", async () => {
    const chunks = Array.from({ length: 10 }, () => new Uint8Array(6));
    expect(await codeOfRead(streamed(chunks, 4), 10)).toBe("too_large");
  });

  it("answers a body that breaks off mid-stream with bad_request, not a fault", async () => {
    const request = streamed([new Uint8Array([1]), new Uint8Array([2])], 1);
    expect(await codeOfRead(request, 10)).toBe("bad_request");
  });
});
