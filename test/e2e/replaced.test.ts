/**
 * E2E: a newer connection of an identity replaces the older one, and the older Node peer (the
 * `ws` package) learns it within seconds. workerd leaves the replaced socket's TCP connection open
 * after the close handshake until the exchange object is evicted (10 s idle, never while busy), so
 * this holds only because the SDK gives `ws` a short close timeout (client/websocket.ts).
 */

import { describe, expect, it } from "vitest";
import { connect, type Status } from "../../client/index.js";
import { useRelay } from "./support/fixture.js";

describe("a replaced peer", () => {
  const e2e = useRelay();

  it("gets the relay's close code 4001 within 5 s of the newer connection, not at the object's eviction", async () => {
    const url = e2e.relay().url;
    const older = await connect(url, { identity: "twin" });
    const replaced = new Promise<Status>((resolve) => {
      void (async () => {
        for await (const status of older.status()) {
          if (status.type === "disconnected") resolve(status);
        }
      })();
    });
    const newer = await connect(url, { identity: "twin" });
    let timer: NodeJS.Timeout | undefined;
    try {
      const status = await Promise.race([
        replaced,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no close event 5 s after")), 5_000);
        }),
      ]);
      expect(status).toMatchObject({ type: "disconnected", code: 4001 });
      await expect(older.request("q", 1)).rejects.toMatchObject({ code: "closed" });
    } finally {
      clearTimeout(timer);
      await older.close();
      await newer.close();
    }
  });
});
