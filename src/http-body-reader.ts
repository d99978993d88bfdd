/**
 * Reads an HTTP request body with a size bound, for the HTTP API. A Content-Length over the
 * bound is refused before a byte is read; a body streamed without one is read chunk by chunk and
 * refused once it passes the bound, so no more than the bound plus one chunk is ever held. The
 * rest of a refused streamed body is read to its end and dropped before the refusal is answered
 * (up to REFUSED_BODY_DRAIN_BYTES past the bound, then the stream is cancelled). Both refusals are
 * `too_large`. A body that breaks off mid-stream is a `bad_request`, not a relay fault.
 */
import { EdgeMQError, ERROR_CODE } from "../protocol/index.js";

/**
 * How far past the bound a refused streamed body is still read (and dropped) before the refusal
 * is answered. A body cancelled part-way breaks `wrangler dev`'s local proxy: its pooled
 * connection to the Worker is dead, so the next request (on any connection) fails with a 503, a
 * GET waits forever in the proxy's retry queue, a GET / stops `wrangler dev`, and the refused
 * request itself may get the proxy's 503 instead of its 413. Reading the body to its end avoids
 * all of that. 100 MiB is the request body limit of Cloudflare's Free and Pro plans, which the
 * edge enforces before the Worker anyway; nothing read here is held.
 */
export const REFUSED_BODY_DRAIN_BYTES = 100 * 1024 * 1024;

/** The body's bytes, or `too_large` past `maxBytes` (a refused streamed body is drained first). */
export async function readBoundedBody(
  request: Request,
  maxBytes: number,
  drainBytes: number = REFUSED_BODY_DRAIN_BYTES,
): Promise<Uint8Array> {
  checkDeclaredLength(request, maxBytes);
  const stream = request.body;
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await readChunk(reader);
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      const rest = await discardRest(reader, total, maxBytes + drainBytes);
      throw tooLarge(rest.size, maxBytes, rest.whole ? "" : "at least ");
    }
    chunks.push(value);
  }
  return concat(chunks, total);
}

/** Refuses a Content-Length that is not a number, or that is over the bound. */
function checkDeclaredLength(request: Request, maxBytes: number): void {
  const declared = request.headers.get("Content-Length");
  if (declared === null) return;
  const length = /^\d{1,16}$/.test(declared.trim()) ? Number(declared.trim()) : Number.NaN;
  if (Number.isNaN(length)) {
    throw new EdgeMQError(ERROR_CODE.badRequest, "Content-Length must be a number of bytes");
  }
  if (length > maxBytes) throw tooLarge(length, maxBytes);
}

/**
 * Reads and drops the rest of a refused body, up to `limit` bytes in all; cancels past that.
 * Returns the bytes seen and whether that is the whole body.
 */
async function discardRest(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  read: number,
  limit: number,
): Promise<{ size: number; whole: boolean }> {
  let size = read;
  try {
    while (size <= limit) {
      const { done, value } = await reader.read();
      if (done) return { size, whole: true };
      size += value.byteLength;
    }
  } catch {
    return { size, whole: false }; // the body broke off: nothing left to read
  }
  await reader.cancel("body too large").catch(() => undefined);
  return { size, whole: false };
}

/** A body whose stream fails (the peer's connection dropped mid-body) is the peer's problem. */
async function readChunk<T>(reader: { read(): Promise<T> }): Promise<T> {
  try {
    return await reader.read();
  } catch (cause) {
    throw new EdgeMQError(ERROR_CODE.badRequest, "the request body was cut off", { cause });
  }
}

function tooLarge(size: number, maxBytes: number, qualifier = ""): EdgeMQError {
  return new EdgeMQError(
    ERROR_CODE.tooLarge,
    `the body is ${qualifier}${size} bytes, over the limit of ${maxBytes}`,
  );
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
