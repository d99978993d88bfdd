/**
 * An unacked outcome waits for its client for the resume window (5 minutes), or for the relay's
 * longest request timeout when that is longer: a client may still wait for a reply that long,
 * and a relay with EDGEMQ_MAX_TIMEOUT_MS raised to an hour used to purge it after 5 minutes.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ExchangeDO } from "../../durable-objects/exchange/exchange-do.js";

const FRAME = '{"type":"reply","id":"r1","body":{"enc":"utf8","data":"late"}}';

describe("how long the exchange keeps an unacked outcome", () => {
  it("keeps one stored 6 minutes ago on a relay whose requests may live an hour, and purges it on one whose longest is 5 minutes", async () => {
    await runInDurableObject(env.EXCHANGE.getByName("resume-window"), async (_instance, state) => {
      const sql = state.storage.sql;
      const sixMinutesAgo = Date.now() - 6 * 60_000;
      sql.exec(
        "INSERT INTO outbox (identity, id, frame, created, size) VALUES ('rw-alice', 'r1', ?, ?, ?)",
        FRAME,
        sixMinutesAgo,
        FRAME.length,
      );
      const count = () => sql.exec("SELECT COUNT(*) AS n FROM outbox").one().n;
      const hourLong = { ...env, EDGEMQ_MAX_TIMEOUT_MS: "3600000" };
      await new ExchangeDO(state, hourLong).alarm();
      expect(count()).toBe(1);
      await new ExchangeDO(state, env).alarm();
      expect(count()).toBe(0);
    });
  });
});
