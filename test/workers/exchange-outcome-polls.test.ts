/**
 * The exchange's side of outcome polls (GET /v1/outcomes) in workerd: an answer's budget (256
 * outcomes, 4 MiB of frames, at least one), outcome numbers never given twice even after the
 * rows holding the largest ones are purged, a request whose outcome never came ended in
 * `timeout` for its poll, and a database of schema version 1 migrated with its requests still
 * readable. Asked of the exchange as the front door asks; through the front door:
 * http-outcomes.test.ts.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ExchangeDO } from "../../durable-objects/exchange/exchange-do.js";
import type { Outcome } from "../../durable-objects/shared/contracts.js";
import {
  type HttpPollAnswer,
  OUTCOME_GRACE_MS,
} from "../../durable-objects/shared/http-contracts.js";
import {
  decodeOutcomesAnswer,
  encodeBody,
  encodeFrame,
  encodeOutcomesAnswer,
  MAX_OUTCOMES_ANSWER_BYTES,
  MAX_OUTCOMES_PER_ANSWER,
  type OutcomesAnswer,
  utf8Length,
  type WireBody,
} from "../../protocol/index.js";

/** The part of HttpRequests these tests drive (http-requests.ts). */
interface Requests {
  record(identity: string, id: string, queue: string, deadline: number, poller?: string): number;
  accepted(identity: string, id: string, deadline: number): void;
}

function requestsOf(instance: unknown): Requests {
  return (instance as { http: { requests: Requests } }).http.requests;
}

/** Replies with `body` to `ids` of `to`, as the queue delivers the outcomes of HTTP requests. */
function replies(to: string, ids: readonly string[], body: WireBody): Outcome[] {
  return ids.map((id) => ({ to, frame: { type: "reply", id, body }, viaHttp: true }));
}

function names(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

/** Records `ids` of `identity` with `poller` in the front door's exchange and delivers `body`. */
async function endedWith(identity: string, ids: readonly string[], poller: string, body: WireBody) {
  await runInDurableObject(env.EXCHANGE.getByName("exchange"), async (instance) => {
    const requests = requestsOf(instance);
    for (const id of ids) requests.record(identity, id, "op-q", Date.now() + 60_000, poller);
    await instance.deliver(replies(identity, ids, body));
  });
}

/** Every answer of `poller` from after=0 until an empty one, as the front door asks them. */
async function pollAll(identity: string, poller: string): Promise<OutcomesAnswer[]> {
  const answers: OutcomesAnswer[] = [];
  let after = 0;
  for (;;) {
    const exchange = env.EXCHANGE.getByName("exchange");
    const polled = await exchange.pollOutcomes({ identity, poller, after, waitMs: 0 });
    const answer = decodeOutcomesAnswer(
      JSON.parse(encodeOutcomesAnswer(polled.frames, polled.after)),
    );
    if (typeof answer === "string") throw new Error(answer);
    if (answer.outcomes.length === 0) return answers;
    answers.push(answer);
    after = answer.after;
  }
}

describe("an outcome poll's budget", () => {
  it("answers more than 256 outcomes in several answers, in order, at most 256 each", async () => {
    const ids = names("many", MAX_OUTCOMES_PER_ANSWER + 44);
    await endedWith("poll-many", ids, "tab-many", encodeBody("ok"));
    const answers = await pollAll("poll-many", "tab-many");
    expect(answers.map((a) => a.outcomes.length)).toEqual([MAX_OUTCOMES_PER_ANSWER, 44]);
    expect(answers.flatMap((a) => a.outcomes.map((o) => o.id))).toEqual(ids);
  });

  it("answers large outcomes in several answers within 4 MiB of frames, at least one each", async () => {
    const body = encodeBody("x".repeat(1_500_000));
    const ids = names("large", 5);
    await endedWith("poll-large", ids, "tab-large", body);
    const answers = await pollAll("poll-large", "tab-large");
    expect(answers.map((a) => a.outcomes.length)).toEqual([2, 2, 1]);
    for (const answer of answers) {
      const bytes = answer.outcomes.reduce((sum, o) => sum + utf8Length(encodeFrame(o)), 0);
      expect(bytes).toBeLessThanOrEqual(MAX_OUTCOMES_ANSWER_BYTES);
    }
    expect(answers.flatMap((a) => a.outcomes.map((o) => o.id))).toEqual(ids);
  });
});

describe("outcome numbers", () => {
  it("are never given twice, even after the row holding the largest is purged", async () => {
    const identity = "seq-owner";
    const poller = "tab-seq";
    const poll = (instance: ExchangeDO, after: number): Promise<HttpPollAnswer> =>
      instance.pollOutcomes({ identity, poller, after, waitMs: 0 });
    await runInDurableObject(env.EXCHANGE.getByName("seq-purge"), async (instance, state) => {
      const requests = requestsOf(instance);
      for (const id of ["seq-1", "seq-2"]) {
        requests.record(identity, id, "op-q", Date.now() + 60_000, poller);
      }
      await instance.deliver(replies(identity, ["seq-1", "seq-2"], encodeBody("first")));
      const first = await poll(instance, 0);
      expect(first.frames).toHaveLength(2);

      // Both rows pass their deadline and the resume window; the alarm purges them.
      for (const id of ["seq-1", "seq-2"]) requests.accepted(identity, id, Date.now() - 400_000);
      await instance.alarm();
      const left = state.storage.sql.exec("SELECT COUNT(*) AS n FROM http_requests").one();
      expect(left.n).toBe(0);

      requests.record(identity, "seq-3", "op-q", Date.now() + 60_000, poller);
      await instance.deliver(replies(identity, ["seq-3"], encodeBody("later")));
      const later = await poll(instance, first.after);
      expect(later.frames.map((f) => JSON.parse(f).id)).toEqual(["seq-3"]);
      expect(later.after).toBeGreaterThan(first.after);
    });
  });

  it("are given only to the first outcome of a request: a second delivery changes nothing", async () => {
    const identity = "seq-dup";
    await runInDurableObject(env.EXCHANGE.getByName("seq-first"), async (instance) => {
      requestsOf(instance).record(identity, "dup-1", "op-q", Date.now() + 60_000, "tab-dup");
      await instance.deliver(replies(identity, ["dup-1"], encodeBody("first")));
      const first = await instance.pollOutcomes({
        identity,
        poller: "tab-dup",
        after: 0,
        waitMs: 0,
      });
      await instance.deliver(replies(identity, ["dup-1"], encodeBody("second")));
      const again = await instance.pollOutcomes({
        identity,
        poller: "tab-dup",
        after: first.after,
        waitMs: 0,
      });
      expect(again).toEqual({ frames: [], after: first.after });
      expect(JSON.parse(first.frames[0] ?? "{}")).toMatchObject({ body: encodeBody("first") });
    });
  });
});

describe("the exchange's schema version 2", () => {
  it("migrates a version-1 database: its requests keep working by id, new ones are polled", async () => {
    const identity = "v1-owner";
    await runInDurableObject(env.EXCHANGE.getByName("schema-v1"), async (_instance, state) => {
      const sql = state.storage.sql;
      // Back to version 1, as a relay of the previous release left it.
      sql.exec("DROP TABLE http_requests");
      sql.exec("DROP TABLE outcome_seq");
      sql.exec("DELETE FROM _migrations WHERE version >= 2");
      sql.exec(`CREATE TABLE http_requests (identity TEXT NOT NULL, id TEXT NOT NULL,
        queue TEXT NOT NULL, deadline INTEGER NOT NULL, expires INTEGER NOT NULL, outcome TEXT,
        PRIMARY KEY (identity, id))`);
      const deadline = Date.now() + 60_000;
      const done = encodeFrame({ type: "reply", id: "old-done", body: encodeBody("kept") });
      sql.exec(
        "INSERT INTO http_requests VALUES (?, 'old-done', 'v1-q', ?, ?, ?)",
        identity,
        deadline,
        deadline + 300_000,
        done,
      );
      sql.exec(
        "INSERT INTO http_requests VALUES (?, 'old-pending', 'v1-q', ?, ?, NULL)",
        identity,
        deadline,
        deadline + 300_000,
      );

      const woken = new ExchangeDO(state, env);
      const versions = sql.exec("SELECT version FROM _migrations ORDER BY version").toArray();
      expect(versions).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }]);
      const read = (id: string) => woken.awaitOutcome({ identity, id, waitMs: 0 });
      expect(await read("old-done")).toMatchObject({ state: "done", frame: { id: "old-done" } });
      expect(await read("old-pending")).toMatchObject({ state: "pending" });
      await woken.deliver(replies(identity, ["old-pending"], encodeBody("late")));
      expect(await read("old-pending")).toMatchObject({
        state: "done",
        frame: { body: encodeBody("late") },
      });

      requestsOf(woken).record(identity, "new-1", "v1-q", Date.now() + 60_000, "tab-v1");
      await woken.deliver(replies(identity, ["new-1"], encodeBody("polled")));
      const answer = await woken.pollOutcomes({
        identity,
        poller: "tab-v1",
        after: 0,
        waitMs: 0,
      });
      expect(answer.frames.map((f) => JSON.parse(f).id)).toEqual(["new-1"]);
      expect(answer.after).toBeGreaterThan(0);
    });
  });

  it("end a polled request with no outcome past its deadline and grace in timeout, once", async () => {
    const identity = "lost-owner";
    const poller = "tab-lost";
    await runInDurableObject(env.EXCHANGE.getByName("lost-outcomes"), async (instance) => {
      const requests = requestsOf(instance);
      // Lost in a restart of a memory queue: the queue will never send its outcome.
      requests.record(identity, "lost-1", "op-q", Date.now() - OUTCOME_GRACE_MS - 1_000, poller);
      requests.record(identity, "live-1", "op-q", Date.now() + 60_000, poller);
      const first = await instance.pollOutcomes({ identity, poller, after: 0, waitMs: 0 });
      expect(first.frames.map((f) => JSON.parse(f))).toEqual([
        expect.objectContaining({ type: "error", id: "lost-1", code: "timeout" }),
      ]);
      // The same outcome for GET /v1/requests/{id}, and a late reply changes nothing.
      await instance.deliver(replies(identity, ["lost-1"], encodeBody("too late")));
      const byId = await instance.awaitOutcome({ identity, id: "lost-1", waitMs: 0 });
      expect(byId).toMatchObject({ state: "done", frame: { code: "timeout" } });
      const again = await instance.pollOutcomes({
        identity,
        poller,
        after: first.after,
        waitMs: 0,
      });
      expect(again.frames).toEqual([]);
    });
  });

  it("end a waiting poll when one of its requests becomes overdue", async () => {
    const identity = "overdue-owner";
    const poller = "tab-overdue";
    await runInDurableObject(env.EXCHANGE.getByName("overdue-wait"), async (instance) => {
      // Overdue 300 ms from now; the poll asks to wait 50 s, longer than the test may run.
      const deadline = Date.now() - OUTCOME_GRACE_MS + 300;
      requestsOf(instance).record(identity, "soon-lost", "op-q", deadline, poller);
      const answer = await instance.pollOutcomes({ identity, poller, after: 0, waitMs: 50_000 });
      expect(answer.frames.map((f) => JSON.parse(f))).toEqual([
        expect.objectContaining({ type: "error", id: "soon-lost", code: "timeout" }),
      ]);
    });
  });
});
