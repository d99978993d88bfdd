/**
 * A token as a page or program gets it: from `fetch().text()`, a file or a terminal, often with a
 * trailing newline. A browser refuses a newline in a WebSocket subprotocol: connect() failed with
 * an error quoting the whole token ("The subprotocol 'edgemq.token.<jwt>\n' is invalid"), and
 * `transport: "auto"` silently fell back to HTTP, where fetch drops the newline. Surrounding
 * whitespace is dropped; a `Bearer ` prefix or whitespace inside is refused, never quoted; and a
 * platform error that quotes the token has it replaced.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connect, EdgeMQError, type Peer } from "../../../client/index.js";
import type { WebSocketConstructor } from "../../../client/websocket.js";
import { closePeers, FakeRelay, fakeToken } from "./fake-relay.js";

let relay: FakeRelay;
let peers: Peer[];

beforeEach(() => {
  vi.useFakeTimers();
  relay = new FakeRelay();
  peers = [];
});
afterEach(() => closePeers(peers));

const token = fakeToken("alice", 1, Math.floor(Date.now() / 1000) + 3_600);

async function open(given: string): Promise<Peer> {
  const peer = await connect("ws://relay.test", {
    token: given,
    route: "exchange",
    WebSocket: relay.WebSocket,
  });
  peers.push(peer);
  return peer;
}

/** The message of the EdgeMQError `action` throws or rejects with. */
async function errorOf(action: () => unknown): Promise<string> {
  try {
    await action();
  } catch (error) {
    if (error instanceof EdgeMQError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "no error";
}

describe("a token with surrounding whitespace", () => {
  it("is offered without it, in connect() and setToken()", async () => {
    const peer = await open(`${token}\n`);
    expect(relay.latest("/v1/connect").protocols).toContain(`edgemq.token.${token}`);
    const renewed = fakeToken("alice", 2, Math.floor(Date.now() / 1000) + 3_600);
    peer.setToken(` ${renewed}\r\n`);
    relay.latest("/v1/connect").drop(4401, "token expired");
    await vi.advanceTimersByTimeAsync(15_000);
    expect(relay.latest("/v1/connect").protocols).toContain(`edgemq.token.${renewed}`);
  });
});

describe("a token that is not one alone", () => {
  it.each([
    [`Bearer ${token}`, 'token starts with "Bearer "'],
    [`${token.slice(0, 10)} ${token.slice(10)}`, "token holds spaces or characters no token has"],
  ])("is refused with bad_request, never quoted", async (given, expected) => {
    const message = await errorOf(() => open(given));
    expect(message).toContain(`bad_request: ${expected}`);
    expect(message).not.toContain(token.slice(10, 40));
  });
});

describe("a platform error quoting the token", () => {
  it("has it replaced in the connection's error", async () => {
    const Throwing = class {
      constructor(_url: string, protocols?: string[]) {
        throw new Error(`The subprotocol '${protocols?.[1] ?? ""}' is invalid.`);
      }
    } as unknown as WebSocketConstructor;
    // connect() asks whoami why it failed: no relay answers here.
    vi.stubGlobal("fetch", () => Promise.reject(new TypeError("fetch failed")));
    const message = await errorOf(() =>
      connect("ws://relay.test", { token, route: "exchange", WebSocket: Throwing }),
    );
    expect(message).toContain("The subprotocol 'edgemq.token.<token>' is invalid.");
    expect(message).not.toContain(token);
    vi.unstubAllGlobals();
  });
});
