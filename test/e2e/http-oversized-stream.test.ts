/**
 * E2E, HTTP API against a real `wrangler dev` with EDGEMQ_MAX_BODY_BYTES lowered to 1000: a
 * chunked body (no Content-Length) far over the limit gets its `413 too_large` JSON, and the
 * requests after it are answered, on the same keep-alive connection and on new ones. A body the
 * relay cut off part-way broke wrangler dev's proxy: the next POST got a 503 and the next GET
 * never got an answer (src/http-body-reader.ts).
 */
import { Agent, request as httpRequest } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { useRelay } from "./support/fixture.js";

const LIMIT = 1000;
/** Bound on each request: a request the proxy parked is a failure, not a wait. */
const ANSWER_TIMEOUT_MS = 15_000;

interface Answer {
  status: number;
  body: string;
}

interface Call {
  method: "GET" | "POST";
  path: string;
  /** Sent with `Transfer-Encoding: chunked` in 16 KiB writes, or with a Content-Length. */
  body?: { bytes: Uint8Array; chunked: boolean };
  /** A keep-alive agent to share a connection; a new connection when absent. */
  agent?: Agent;
}

function send(base: string, call: Call): Promise<Answer> {
  const url = new URL(call.path, base);
  const headers: Record<string, string> = { "EdgeMQ-Identity": "big-sender" };
  const bytes = call.body?.bytes;
  if (bytes !== undefined) {
    headers["Content-Type"] = "application/octet-stream";
    if (call.body?.chunked) headers["Transfer-Encoding"] = "chunked";
    else headers["Content-Length"] = String(bytes.byteLength);
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: call.method, headers, agent: call.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.once("error", reject);
        res.once("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    req.once("error", reject);
    req.setTimeout(ANSWER_TIMEOUT_MS, () => {
      req.destroy(new Error(`${call.method} ${call.path}: no answer in ${ANSWER_TIMEOUT_MS} ms`));
    });
    if (bytes !== undefined && call.body?.chunked) {
      for (let at = 0; at < bytes.byteLength; at += 16 * 1024) {
        req.write(bytes.subarray(at, at + 16 * 1024));
      }
    } else if (bytes !== undefined) {
      req.write(bytes);
    }
    req.end();
  });
}

describe("a chunked body far over the limit", () => {
  const e2e = useRelay({ vars: { EDGEMQ_MAX_BODY_BYTES: String(LIMIT) } });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  afterAll(() => agent.destroy());

  it.each([20_000, 200_000, 3_000_000])(
    "is refused with 413 too_large (%i bytes), and the requests after it are answered",
    async (size) => {
      const base = e2e.relay().httpUrl;
      const big = { bytes: new Uint8Array(size).fill(97), chunked: true };
      const small = { bytes: new TextEncoder().encode("hi"), chunked: false };
      const post = "/v1/queues/big-q/requests?async=true";
      for (let round = 0; round < 3; round++) {
        const refused = await send(base, { method: "POST", path: post, body: big, agent });
        expect(refused.status).toBe(413);
        expect(JSON.parse(refused.body)).toEqual({
          error: {
            code: "too_large",
            message: `the body is ${size} bytes, over the limit of ${LIMIT}`,
          },
        });
        // The same keep-alive connection, then new ones: each is answered, none is parked.
        expect(await send(base, { method: "GET", path: "/healthz", agent })).toMatchObject({
          status: 200,
        });
        expect(await send(base, { method: "GET", path: "/healthz" })).toMatchObject({
          status: 200,
        });
        expect(await send(base, { method: "POST", path: post, body: small })).toMatchObject({
          status: 202,
        });
      }
    },
  );
});
