/**
 * Reads an HTTP request body with a size bound, for the HTTP API. A Content-Length over the
 * bound is refused before a byte is read; a body streamed without one is read chunk by chunk and
 * refused once it passes the bound, so no more than the bound plus one chunk is ever held (the
 * rest is read and dropped up to four times the bound, then the stream is cancelled). Both
 * refusals are `too_large`. A body that breaks off mid-stream is a `bad_request`, not a relay
 * fault.
 */
import { EdgeMQError, ERROR_CODE } from "../protocol/index.js";

export async function readBoundedBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get("Content-Length");
  if (declared !== null) {
    const length = /^\d{1,16}$/.test(declared.trim()) ? Number(declared.trim()) : Number.NaN;
    if (Number.isNaN(length)) {
      throw new EdgeMQError(ERROR_CODE.badRequest, "Content-Length must be a number of bytes");
    }
    if (length > maxBytes) throw tooLarge(length, maxBytes);
  }
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
      await discardRest(reader, total, maxBytes * DRAIN_FACTOR);
      throw tooLarge(total, maxBytes, "at least ");
    }
    chunks.push(value);
  }
  return concat(chunks, total);
}

/**
 * How far past the bound an over-long streamed body is still read (and thrown away) before the
 * refusal: a body cancelled part-way left `wrangler dev`'s proxy connection stuck, and the next
 * request on it hung. Past this, the stream is cancelled.
 */
const DRAIN_FACTOR = 4;

/** Reads and drops the rest of a refused body, up to `limit` bytes in all; cancels past that. */
async function discardRest(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  read: number,
  limit: number,
): Promise<void> {
  let total = read;
  try {
    while (total <= limit) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
    }
  } catch {
    return; // the body broke off: nothing left to read
  }
  await reader.cancel("body too large").catch(() => undefined);
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
