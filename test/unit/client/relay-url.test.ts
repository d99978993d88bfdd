/**
 * The relay URL given to connect(): its address alone. One that names a route (copied from the
 * wire docs, `ws://host/v1/connect`) or carries a query once failed later and obscurely (a
 * probe: `not_found: no route for GET /v1/connect/v1/whoami`); it is refused at once with the
 * address to give instead, never repeating the query (it may hold a token). A path prefix (a
 * relay behind a proxy) is kept.
 */
import { describe, expect, it } from "vitest";
import { connect, EdgeMQError } from "../../../client/index.js";
import { checkRelayUrl } from "../../../client/url.js";

function refusal(url: string): string {
  try {
    checkRelayUrl(url);
  } catch (error) {
    if (error instanceof EdgeMQError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "accepted";
}

describe("a relay url", () => {
  it.each([
    ["ws://127.0.0.1:8787/v1/connect", "ws://127.0.0.1:8787"],
    ["wss://relay.example/v1/queues/jobs/serve", "wss://relay.example"],
    ["http://127.0.0.1:8787/healthz", "http://127.0.0.1:8787"],
    ["https://example.com/edgemq/v1/", "https://example.com/edgemq"],
  ])("that names a route (%s) is refused, naming the address to give", (url, base) => {
    expect(refusal(url)).toBe(
      `bad_request: relay url names a relay route: give the relay's address alone, e.g. ${base}`,
    );
  });

  it("with a query is refused without repeating it", () => {
    const message = refusal("wss://relay.example?token=secret.jwt.here");
    expect(message).toBe(
      "bad_request: relay url has a query or fragment: give the relay's address alone, e.g. wss://relay.example",
    );
  });

  it.each([
    "ws://127.0.0.1:8787",
    "ws://127.0.0.1:8787/",
    "https://relay.example",
    "wss://example.com/edgemq",
  ])("that is an address (%s) is accepted", (url) => {
    expect(refusal(url)).toBe("accepted");
  });

  it("is checked by connect() before anything is opened, whatever the transport", async () => {
    for (const transport of ["websocket", "http", "auto"] as const) {
      await expect(
        connect("ws://127.0.0.1:1/v1/connect", { identity: "alice", transport }),
      ).rejects.toMatchObject({ code: "bad_request" });
    }
  });
});
