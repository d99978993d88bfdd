/**
 * What the HTTP transport hands to fetch as a request body: bytes over an ArrayBuffer, as the
 * platform's fetch takes them; a view of a SharedArrayBuffer is copied, a plain view is not. An
 * ArrayBuffer, a DataView or any typed array is sent as its bytes; a value JSON would mangle (a
 * Map, a Set, bytes inside JSON) is refused before anything is posted.
 */
import { afterEach, describe, expect, it } from "vitest";
import { connect, type FetchLike, type Peer, type SendBody } from "../../../client/index.js";

let peer: Peer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

/** A peer whose fetch records each POST body and echoes it back as the reply. */
async function echoPeer(): Promise<{ bodies: (string | Uint8Array | undefined)[] }> {
  const bodies: (string | Uint8Array | undefined)[] = [];
  const fetch: FetchLike = async (url, init) => {
    if (url.endsWith("/v1/whoami")) {
      return Response.json({ identity: "alice", roles: ["client"], limits: {} });
    }
    if (init.method === "POST") {
      bodies.push(init.body);
      return Response.json({ id: "x", deadline: Date.now() + 30_000 }, { status: 202 });
    }
    return new Response(bodies.at(-1), {
      headers: { "content-type": "application/octet-stream" },
    });
  };
  peer = await connect("http://relay.test", { transport: "http", identity: "alice", fetch });
  return { bodies };
}

describe("HTTP request bodies", () => {
  it("passes a view of an ArrayBuffer as it is, offset and length kept", async () => {
    const { bodies } = await echoPeer();
    const backing = new Uint8Array([9, 1, 2, 3, 9]);
    const view = backing.subarray(1, 4);
    await expect(peer?.request("echo", view)).resolves.toEqual(new Uint8Array([1, 2, 3]));
    const sent = bodies[0];
    expect(sent).toBeInstanceOf(Uint8Array);
    expect(sent instanceof Uint8Array && sent.buffer).toBe(backing.buffer);
  });

  it("copies bytes over a SharedArrayBuffer into an ArrayBuffer, content unchanged", async () => {
    const { bodies } = await echoPeer();
    const shared = new Uint8Array(new SharedArrayBuffer(3));
    shared.set([4, 5, 6]);
    await expect(peer?.request("echo", shared)).resolves.toEqual(new Uint8Array([4, 5, 6]));
    const sent = bodies[0];
    expect(sent instanceof Uint8Array && sent.buffer instanceof ArrayBuffer).toBe(true);
    expect(sent).toEqual(new Uint8Array([4, 5, 6]));
  });

  it("sends an ArrayBuffer, a DataView or any typed array as the bytes it spans", async () => {
    const { bodies } = await echoPeer();
    const backing = new Uint8Array([9, 1, 2, 3, 9]);
    const bodiesToSend = [
      backing.buffer,
      new DataView(backing.buffer, 1, 3),
      new Uint16Array([0x0201]),
      new Float32Array(backing.buffer.slice(0, 4)),
    ];
    for (const body of bodiesToSend) {
      const bytes = new Uint8Array(ArrayBuffer.isView(body) ? body.buffer : body).slice(
        ArrayBuffer.isView(body) ? body.byteOffset : 0,
        ArrayBuffer.isView(body) ? body.byteOffset + body.byteLength : undefined,
      );
      await expect(peer?.request("echo", body)).resolves.toEqual(bytes);
    }
    expect(bodies.map((b) => (b instanceof Uint8Array ? [...b] : b))).toEqual([
      [9, 1, 2, 3, 9],
      [1, 2, 3],
      [1, 2],
      [9, 1, 2, 3],
    ]);
  });

  it("refuses a Map, a Set or bytes inside JSON with bad_request, posting nothing", async () => {
    const { bodies } = await echoPeer();
    const mangled: unknown[] = [new Map([["a", 1]]), new Set([1]), { bytes: new Uint8Array(1) }];
    for (const body of mangled) {
      await expect(peer?.request("echo", body as SendBody)).rejects.toMatchObject({
        code: "bad_request",
      });
    }
    expect(bodies).toEqual([]);
  });
});
