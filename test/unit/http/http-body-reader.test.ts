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

  it("reads and drops the rest of a body up to four times the bound before refusing it, cancelling nothing", async () => {
    const seen = { pulled: 0, cancelled: false };
    const chunks = Array.from({ length: 6 }, () => new Uint8Array(6));
    expect(await codeOfRead(streamed(chunks, undefined, seen), 10)).toBe("too_large");
    expect(seen).toEqual({ pulled: 7, cancelled: false });
  });

  it("cancels a body still going past four times the bound", async () => {
    const seen = { pulled: 0, cancelled: false };
    const chunks = Array.from({ length: 100 }, () => new Uint8Array(6));
    expect(await codeOfRead(streamed(chunks, undefined, seen), 10)).toBe("too_large");
    expect(seen.cancelled).toBe(true);
    expect(seen.pulled).toBeLessThan(12);
  });

  it("answers a body that breaks off mid-stream with bad_request, not a fault", async () => {
    const request = streamed([new Uint8Array([1]), new Uint8Array([2])], 1);
    expect(await codeOfRead(request, 10)).toBe("bad_request");
  });
});
