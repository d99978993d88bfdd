/**
 * The SDK in a real browser (Debian's headless Chromium driven by playwright-core) against a real
 * `wrangler dev`: the browser build uses the platform WebSocket, with no `ws` and no Node APIs.
 * A browser client is served by a Node SDK server and a browser server serves a Node client; in
 * signed mode the browser passes its token as a WebSocket subprotocol, the only way a browser can;
 * with `transport: "auto"` a page whose WebSockets are blocked falls back to HTTP; a tab whose
 * network comes back (Playwright's offline emulation) tries again at once; requests a closing tab
 * aborts on `pagehide` are cancelled at the relay, over either transport.
 * Run with `npm run test:browser` (needs `apt-get install chromium`); not part of `npm test`.
 */
import { createServer, request } from "node:http";
import { build } from "esbuild";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { connect, type EdgeMQError, type Peer } from "../../client/index.js";
import { signToken } from "../../protocol/index.js";
import { REPO_ROOT, Relay } from "../e2e/relay.js";
import { pickFreePort, portRangesFromEnv } from "../e2e/support/ports.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// EDGEMQ_E2E_RELAY_PORTS and EDGEMQ_E2E_INSPECTOR_PORTS override them (e2e/support/ports.ts).
const PORTS = portRangesFromEnv({
  relay: { first: 18300, last: 18349 },
  inspector: { first: 19300, last: 19349 },
});
const SECRET = "browser-test-secret-0123456789abcdef";

/** The SDK bundled for browsers: one IIFE exposing `EdgeMQ`; `ws` is never needed there. */
async function browserBundle(): Promise<string> {
  const result = await build({
    entryPoints: [`${REPO_ROOT}/client/index.ts`],
    bundle: true,
    format: "iife",
    globalName: "EdgeMQ",
    platform: "browser",
    external: ["ws"],
    write: false,
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error("esbuild produced no output");
  return file.text;
}

/** What the bundle exposes on `globalThis.EdgeMQ` inside the page. */
interface BrowserSdk {
  connect: typeof connect;
  EdgeMQError: typeof EdgeMQError;
}

interface BrowserOutcome {
  json: unknown;
  text: unknown;
  bytes: number[];
  error: string;
}

let browser: Browser;
let bundle: string;

beforeAll(async () => {
  bundle = await browserBundle();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

afterAll(async () => {
  await browser?.close();
});

/**
 * A page of the relay's own origin (a loopback one: a dev-mode relay serves browser pages of this
 * machine only) with the SDK bundle loaded; with `crossOrigin`, of another origin (localhost for
 * a relay on 127.0.0.1), as a page its own server serves: its calls to the relay then need CORS
 * preflights. Each page has a context of its own, which outlives it as a browser outlives a tab
 * (browser.newPage()'s context closes with its page, and with it the calls a page leaves behind).
 */
async function sdkPage(relayUrl: string, crossOrigin = false): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  const site = relayUrl.replace(/^ws/, "http");
  await page.goto(`${crossOrigin ? site.replace("127.0.0.1", "localhost") : site}/healthz`);
  await page.addScriptTag({ content: bundle });
  return page;
}

/** Waits (up to 10 s) until the queue's stats say an HTTP server is present, or not. */
async function waitForHttpServers(relayUrl: string, queue: string, present: boolean) {
  const stats = `${relayUrl.replace(/^ws/, "http")}/v1/queues/${queue}/stats`;
  const giveUpAt = Date.now() + 10_000;
  for (;;) {
    const answer = await fetch(stats, { headers: { "EdgeMQ-Identity": "stats-reader" } });
    const { httpServers } = (await answer.json()) as { httpServers: boolean };
    if (httpServers === present) return;
    if (Date.now() > giveUpAt) throw new Error(`httpServers still ${httpServers} after 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * An HTTP proxy to the relay (plain HTTP calls only) on a free port of PORTS.relay, which holds the
 * answer to a DELETE's CORS preflight for 300 ms: a page that goes meanwhile loses every such
 * DELETE but one sent `keepalive`, which the browser completes without the page.
 */
async function slowPreflightProxy(
  relayUrl: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(relayUrl.replace(/^ws/, "http"));
  const port = await pickFreePort(PORTS.relay);
  const server = createServer((incoming, outgoing) => {
    const deletePreflight =
      incoming.method === "OPTIONS" &&
      incoming.headers["access-control-request-method"] === "DELETE";
    const forward = request(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, host: target.host },
      },
      (answer) => {
        const send = () => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        };
        if (deletePreflight) setTimeout(send, 300);
        else send();
      },
    );
    forward.on("error", () => outgoing.destroy());
    incoming.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe("the SDK in a browser, dev mode", () => {
  let relay: Relay;
  let server: Peer;

  beforeAll(async () => {
    relay = await Relay.start({ ports: PORTS });
    server = await connect(relay.url, { identity: "node-server" });
    const service = server.serve("echo", (req) => {
      if (req.body === "boom") throw new Error("handler failed");
      return req.body;
    });
    await service.ready;
  });

  afterAll(async () => {
    await server?.close();
    await relay?.stop();
  });

  it("sends JSON, text and bytes from a browser client and gets each back as the same kind", async () => {
    const page = await sdkPage(relay.url);
    const outcome: BrowserOutcome = await page.evaluate(async (url) => {
      const sdk = Reflect.get(globalThis, "EdgeMQ") as BrowserSdk;
      const peer = await sdk.connect(url, { identity: "browser-alice" });
      const json = await peer.request("echo", { hello: "world", n: [1, 2] });
      const text = await peer.request("echo", "plain text");
      const bytes = await peer.request("echo", new Uint8Array([0, 1, 254, 255]));
      let error = "";
      try {
        await peer.request("echo", "boom");
      } catch (e) {
        error = e instanceof sdk.EdgeMQError ? `${e.code}:${e.message}` : String(e);
      }
      await peer.close();
      return { json, text, bytes: bytes instanceof Uint8Array ? Array.from(bytes) : [], error };
    }, relay.url);
    expect(outcome.json).toEqual({ hello: "world", n: [1, 2] });
    expect(outcome.text).toBe("plain text");
    expect(outcome.bytes).toEqual([0, 1, 254, 255]);
    expect(outcome.error).toBe("server_error:handler failed");
    await page.close();
  });

  it('falls back to HTTP with transport "auto" when the page cannot open a WebSocket', async () => {
    const page = await sdkPage(relay.url);
    // Every WebSocket the page opens is closed before any welcome, as behind a blocking proxy.
    await page.routeWebSocket(/.*/, (ws) => ws.close({ code: 1008, reason: "blocked" }));
    const outcome = await page.evaluate(async (url) => {
      const sdk = Reflect.get(globalThis, "EdgeMQ") as BrowserSdk;
      const peer = await sdk.connect(url, { identity: "browser-auto", transport: "auto" });
      const reply = await peer.request("echo", { over: "http" });
      await peer.close();
      return { transport: peer.transport, reply };
    }, relay.url);
    expect(outcome).toEqual({ transport: "http", reply: { over: "http" } });
    await page.close();
  });

  it("serves requests from a browser tab to a Node client", async () => {
    const page = await sdkPage(relay.url);
    await page.evaluate(async (url) => {
      const sdk = Reflect.get(globalThis, "EdgeMQ") as BrowserSdk;
      const peer = await sdk.connect(url, { identity: "browser-server" });
      const service = peer.serve("in-browser", (req) => ({
        servedBy: "browser",
        from: req.from,
        body: req.body instanceof Uint8Array ? "bytes" : (req.body ?? null),
      }));
      await service.ready;
    }, relay.url);
    const client = await connect(relay.url, { identity: "node-client" });
    expect(await client.request("in-browser", { x: 1 })).toEqual({
      servedBy: "browser",
      from: "node-client",
      body: { x: 1 },
    });
    await client.close();
    await page.close();
  });

  it("serves from a tab over HTTP with the default concurrency, its own requests going through too", async () => {
    // A browser has 6 connections per host (HTTP/1.1): 16 long-polling takes once held them all,
    // and the tab's replies queued behind them until the client timed out.
    const page = await sdkPage(relay.url);
    await page.evaluate(async (url) => {
      const sdk = Reflect.get(globalThis, "EdgeMQ") as BrowserSdk;
      const peer = await sdk.connect(url, { identity: "browser-http-server", transport: "http" });
      Reflect.set(globalThis, "peer", peer);
      await peer.serve("in-browser-http", (req) => ({ from: req.from })).ready;
    }, relay.url);
    const client = await connect(relay.url, { identity: "node-client-http" });
    for (let i = 0; i < 3; i++) {
      const reply = await client.request("in-browser-http", i, { timeout: 5_000 });
      expect(reply).toEqual({ from: "node-client-http" });
    }
    const own = await page.evaluate(async () => {
      const peer = Reflect.get(globalThis, "peer") as Peer;
      const reply = await peer.request("echo", "from the serving tab", { timeout: 5_000 });
      await peer.close();
      return reply;
    });
    expect(own).toBe("from the serving tab");
    await client.close();
    await page.close();
  });

  it("awaits more requests over HTTP at once than a browser has connections per host", async () => {
    // A server that answers none of 12 requests until all 12 have come. The tab sends 6, waits
    // while they are pending, then sends 6 more: with a long-poll per awaited request, the first
    // 6 held the browser's 6 HTTP/1.1 connections and the 7th POST never left the tab.
    const gatherer = await connect(relay.url, { identity: "node-gatherer" });
    const held: (() => void)[] = [];
    const service = gatherer.serve(
      "gather",
      (req) =>
        new Promise((resolve) => {
          held.push(() => resolve(req.body));
          if (held.length === 12) for (const release of held) release();
        }),
    );
    await service.ready;
    const page = await sdkPage(relay.url);
    const replies = await page.evaluate(async (url) => {
      const sdk = Reflect.get(globalThis, "EdgeMQ") as BrowserSdk;
      const peer = await sdk.connect(url, { identity: "browser-many", transport: "http" });
      const ask = (n: number) => peer.request("gather", n, { timeout: 15_000 });
      const first = [0, 1, 2, 3, 4, 5].map(ask);
      await new Promise((r) => setTimeout(r, 1_500));
      const second = [6, 7, 8, 9, 10, 11].map(ask);
      const replies = await Promise.all([...first, ...second]);
      await peer.close();
      return replies;
    }, relay.url);
    expect(replies).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    await gatherer.close();
    await page.close();
  });

  it("tries again as soon as the browser is back online, not after its backoff", async () => {
    // A probe: a tab on HTTP that went offline for 6 s got its reply 6 s after the network came
    // back, its retry still sleeping a backoff drawn while offline (up to 10 s by default). Here
    // every draw is pinned near 60 s, so the retry waits until just before the request's 20 s
    // are up, too late for a server that takes 1 s: only the `online` event saves it.
    const slow = await connect(relay.url, { identity: "node-slow-echo" });
    await slow.serve("slow-echo", async (req) => {
      await new Promise((r) => setTimeout(r, 1_000));
      return req.body;
    }).ready;
    const page = await sdkPage(relay.url);
    await page.evaluate(async (url) => {
      const sdk = Reflect.get(globalThis, "EdgeMQ") as BrowserSdk;
      Math.random = () => 0.999;
      const reconnect = { minDelayMs: 60_000, maxDelayMs: 60_000 };
      const peer = await sdk.connect(url, {
        identity: "browser-offline",
        transport: "http",
        reconnect,
      });
      Reflect.set(globalThis, "peer", peer);
    }, relay.url);
    await page.context().setOffline(true);
    const reply = page.evaluate(async () => {
      const peer = Reflect.get(globalThis, "peer") as Peer;
      try {
        return await peer.request("slow-echo", "sent while offline", { timeout: 20_000 });
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      } finally {
        await peer.close();
      }
    });
    // The POST fails while offline (the page sees "Failed to fetch"), then waits out its backoff.
    await new Promise((r) => setTimeout(r, 1_000));
    await page.context().setOffline(false);
    expect(await reply).toBe("sent while offline");
    await slow.close();
    await page.close();
  });

  for (const transport of ["websocket", "http"] as const) {
    it(`cancels at the relay the requests a closing tab aborts on pagehide, over ${transport}`, async () => {
      // A probe: over HTTP the cancel (a DELETE) died with a page of another origin than the
      // relay's when its CORS preflight was slow to come back, and the server ran the aborted
      // request to its end; over a WebSocket the cancel frame got out. Here over HTTP the tab
      // reaches the relay through a proxy that holds a DELETE's preflight answer for 300 ms.
      const queue = `aborted-on-close-${transport}`;
      const worker = await connect(relay.url, { identity: `node-worker-${transport}` });
      let started = false;
      let abortedWith = "";
      await worker.serve(queue, async (req) => {
        started = true;
        await new Promise<void>((resolve) => {
          req.signal.addEventListener("abort", () => {
            const reason: unknown = req.signal.reason;
            abortedWith = reason instanceof Error && "code" in reason ? String(reason.code) : "?";
            resolve();
          });
        });
        return "too late";
      }).ready;
      const proxy = transport === "http" ? await slowPreflightProxy(relay.url) : undefined;
      const page = await sdkPage(relay.url, true);
      await page.evaluate(
        async ({ url, queue, transport }) => {
          const sdk = Reflect.get(globalThis, "EdgeMQ") as BrowserSdk;
          const peer = await sdk.connect(url, {
            identity: `browser-closing-${transport}`,
            transport,
          });
          const controller = new AbortController();
          const window = globalThis as unknown as EventTarget;
          window.addEventListener("pagehide", () => controller.abort());
          peer
            .request(queue, "work", { timeout: 30_000, signal: controller.signal })
            .catch(() => {});
        },
        { url: proxy?.url ?? relay.url, queue, transport },
      );
      await vi.waitFor(() => expect(started).toBe(true), { timeout: 10_000 });
      await page.close();
      await vi.waitFor(() => expect(abortedWith).toBe("cancelled"), { timeout: 10_000 });
      await worker.close();
      await proxy?.close();
    });
  }

  it("tells the relay as a tab serving over HTTP is reloaded, so no request goes to its dead take", async () => {
    // Under wrangler dev the relay does not hear a reloaded tab hang up: its take kept waiting,
    // was handed the next request first, and that request waited out its 30 s lease.
    const queue = "reloaded-tab";
    const node = await connect(relay.url, { identity: "node-behind-tab" });
    await node.serve(queue, () => "node").ready;
    const page = await sdkPage(relay.url);
    await page.evaluate(
      async ({ url, queue }) => {
        const sdk = Reflect.get(globalThis, "EdgeMQ") as BrowserSdk;
        const peer = await sdk.connect(url, { identity: "browser-reloaded", transport: "http" });
        await peer.serve(queue, () => "tab").ready;
      },
      { url: relay.url, queue },
    );
    await waitForHttpServers(relay.url, queue, true);
    await page.reload();
    await waitForHttpServers(relay.url, queue, false);
    const client = await connect(relay.url, { identity: "node-after-reload" });
    expect(await client.request(queue, "hi", { timeout: 8_000 })).toBe("node");
    await client.close();
    await node.close();
    await page.close();
  });
});

describe("the SDK in a browser, signed mode", () => {
  let relay: Relay;

  beforeAll(async () => {
    relay = await Relay.start({ ports: PORTS, vars: { EDGEMQ_SECRET: SECRET } });
  });

  afterAll(async () => {
    await relay?.stop();
  });

  it("connects with its token in a subprotocol and is refused without one", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const serverToken = await signToken({ sub: "svc", role: "server", queues: ["q"], exp }, SECRET);
    const clientToken = await signToken({ sub: "tab", role: "client", queues: ["q"], exp }, SECRET);
    const server = await connect(relay.url, { token: serverToken });
    await server.serve("q", (req) => ({ from: req.from })).ready;
    const page = await sdkPage(relay.url);
    const result = await page.evaluate(
      async ({ url, token }) => {
        const sdk = Reflect.get(globalThis, "EdgeMQ") as BrowserSdk;
        let refused = "";
        try {
          await sdk.connect(url, { identity: "tab" });
        } catch (e) {
          refused = e instanceof sdk.EdgeMQError ? e.code : String(e);
        }
        const peer = await sdk.connect(url, { token });
        const reply = await peer.request("q", "hi");
        await peer.close();
        return { refused, reply, identity: peer.identity };
      },
      { url: relay.url, token: clientToken },
    );
    expect(result.refused).toBe("unauthorized");
    expect(result.identity).toBe("tab");
    expect(result.reply).toEqual({ from: "tab" });
    await page.close();
    await server.close();
  });
});
