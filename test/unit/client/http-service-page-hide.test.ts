/**
 * A browser tab serving over HTTP that is closed or reloaded without close(): as the page goes
 * (`pagehide`), the service tells the relay (`DELETE /v1/queues/{q}/takes`) in a call that
 * outlives the page (`keepalive`), else its takes still waiting at the relay are handed the next
 * requests, which wait out their lease. Outside a page nothing listens. A fake page (a `document`
 * and an EventTarget as the global's listeners) and a fake fetch.
 */
import { afterEach, describe, expect, it } from "vitest";
import { connect, type FetchLike, type HttpRequestInit, type Peer } from "../../../client/index.js";
import { onPageHide } from "../../../client/platform.js";
import { json } from "./http-fakes.js";

interface Call {
  method: string;
  path: string;
  keepalive: boolean | undefined;
}

const page = new EventTarget();
const globals = globalThis as Record<string, unknown>;

/** Makes this Node process look like a browser page until `leavePage`. */
function enterPage(): void {
  globals.document = {};
  globals.addEventListener = page.addEventListener.bind(page);
  globals.removeEventListener = page.removeEventListener.bind(page);
}

function leavePage(): void {
  delete globals.document;
  delete globals.addEventListener;
  delete globals.removeEventListener;
}

let peer: Peer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
  leavePage();
});

/** A server peer whose takes wait until aborted; every call is recorded. */
async function servingPeer(): Promise<Call[]> {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url: string, init: HttpRequestInit) => {
    const path = url.slice("http://relay.test".length);
    if (path === "/v1/whoami") {
      return json(200, { identity: "tab", roles: ["server"], limits: { leaseMs: 30_000 } });
    }
    calls.push({ method: init.method, path, keepalive: init.keepalive });
    if (!path.includes("/take?")) return new Response(null, { status: 204 });
    await new Promise((_, reject) =>
      init.signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true }),
    );
    return new Response(null, { status: 204 });
  };
  peer = await connect("http://relay.test", { transport: "http", identity: "tab", fetch });
  peer.serve("jobs", () => "done");
  while (!calls.some((c) => c.path.includes("/take?"))) await new Promise((r) => setTimeout(r, 1));
  return calls;
}

const leaves = (calls: Call[]) => calls.filter((c) => c.method === "DELETE");

describe("an HTTP service in a page that goes", () => {
  it("ends its takes at the relay in a keepalive call when the page is hidden", async () => {
    enterPage();
    const calls = await servingPeer();
    expect(leaves(calls)).toEqual([]);
    page.dispatchEvent(new Event("pagehide"));
    expect(leaves(calls)).toEqual([
      { method: "DELETE", path: "/v1/queues/jobs/takes", keepalive: true },
    ]);
  });

  it("stops listening once closed: a later pagehide sends nothing", async () => {
    enterPage();
    const calls = await servingPeer();
    await peer?.close();
    const sent = leaves(calls).length; // close() itself leaves, without keepalive
    expect(leaves(calls).every((c) => c.keepalive === undefined)).toBe(true);
    page.dispatchEvent(new Event("pagehide"));
    expect(leaves(calls)).toHaveLength(sent);
  });

  it("listens for nothing outside a page", () => {
    let heard = false;
    globals.addEventListener = () => {
      heard = true;
    };
    globals.removeEventListener = () => {};
    const remove = onPageHide(() => {});
    remove();
    expect(heard).toBe(false);
  });
});
