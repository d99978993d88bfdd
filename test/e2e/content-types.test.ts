/**
 * E2E, media types through an SDK server against a real `wrangler dev` (ports 18700-18799, the
 * fixture's own): an HTTP client (fetch) POSTs image/png bytes, text/csv text and a JSON string to
 * an SDK server in this process that echoes `typed(req.body, req.contentType)`, once over each
 * server transport (WebSocket and HTTP), and gets back the same Content-Type and the same bytes.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Peer, typed } from "../../client/index.js";
import { useRelay } from "./support/fixture.js";

const e2e = useRelay();

interface Echoed {
  status: number;
  contentType: string | null;
  bytes: Buffer;
}

describe.each([{ transport: "websocket" as const }, { transport: "http" as const }])(
  "an HTTP client served by an SDK server over $transport",
  ({ transport }) => {
    const queue = `typed-echo-${transport}`;
    const seen: (string | undefined)[] = [];
    let server: Peer | undefined;

    beforeAll(async () => {
      server = await connect(e2e.relay().url, { identity: `typed-${transport}`, transport });
      const service = server.serve(queue, (req) => {
        seen.push(req.contentType);
        return typed(req.body, req.contentType);
      });
      await service.ready;
    });

    afterAll(async () => {
      await server?.close();
    });

    /** POSTs `body` as `contentType` and waits (bounded) for the reply. */
    async function post(contentType: string, body: Uint8Array | string): Promise<Echoed> {
      const response = await fetch(`${e2e.relay().httpUrl}/v1/queues/${queue}/requests`, {
        method: "POST",
        headers: { "EdgeMQ-Identity": "curl-like-client", "Content-Type": contentType },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      const bytes = Buffer.from(await response.arrayBuffer());
      return { status: response.status, contentType: response.headers.get("content-type"), bytes };
    }

    it("returns image/png bytes as image/png, byte for byte", async () => {
      const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), randomBytes(4096)]);
      const echoed = await post("image/png", png);
      expect(echoed.status).toBe(200);
      expect(echoed.contentType).toBe("image/png");
      expect(echoed.bytes.equals(png)).toBe(true);
      expect(seen.at(-1)).toBe("image/png");
    });

    it("returns text/csv text as text/csv, unchanged", async () => {
      const csv = "name,city\nÅsa,Malmö\n";
      const echoed = await post("text/csv", csv);
      expect(echoed.status).toBe(200);
      expect(echoed.contentType).toBe("text/csv");
      expect(echoed.bytes.toString("utf8")).toBe(csv);
    });

    it("returns a JSON string as the same JSON text under application/json", async () => {
      const echoed = await post("application/json", '"hi"');
      expect(echoed.status).toBe(200);
      expect(echoed.contentType).toBe("application/json");
      expect(echoed.bytes.toString("utf8")).toBe('"hi"');
    });
  },
);

/** What a handler returns for each request body; the client must get the same value over both. */
const TYPED_REPLIES: Record<string, () => ReturnType<typeof typed>> = {
  "json-bytes": () => typed(new TextEncoder().encode('{"size":[640,480]}'), "application/json"),
  "csv-bytes": () => typed(new TextEncoder().encode("a,b\n1,2\n"), "text/csv"),
  "text-as-bytes": () => typed("raw", "application/octet-stream"),
  "object-as-text": () => typed({ a: 1 }, "text/plain"),
};

describe.each([{ transport: "websocket" as const }, { transport: "http" as const }])(
  "an SDK client served typed replies by an SDK server over $transport",
  ({ transport }) => {
    const queue = `typed-kinds-${transport}`;
    let server: Peer | undefined;
    let client: Peer | undefined;

    beforeAll(async () => {
      server = await connect(e2e.relay().url, { identity: `kinds-${transport}`, transport });
      const service = server.serve(queue, (req) => TYPED_REPLIES[String(req.body)]?.());
      await service.ready;
      client = await connect(e2e.relay().url, { identity: `kinds-client-${transport}` });
    });

    afterAll(async () => {
      await Promise.all([client?.close(), server?.close()]);
    });

    const ask = (kind: string) => client?.request(queue, kind, { timeout: 20_000 });

    it("gets the parsed JSON for bytes under a JSON type, and a string for UTF-8 text bytes", async () => {
      expect(await ask("json-bytes")).toEqual({ size: [640, 480] });
      expect(await ask("csv-bytes")).toBe("a,b\n1,2\n");
    });

    it("gets bytes for text under a binary type, and text for an object under a text type", async () => {
      expect(await ask("text-as-bytes")).toEqual(new TextEncoder().encode("raw"));
      expect(await ask("object-as-text")).toBe('{"a":1}');
    });
  },
);
