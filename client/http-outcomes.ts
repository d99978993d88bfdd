/**
 * One long-poll for the outcomes of all of a peer's HTTP requests: each request's POST names this
 * poller (`EdgeMQ-Poller`), and `GET /v1/outcomes?poller=&after=&wait=` answers their outcomes as
 * they end, with a cursor (docs/http-api.md). A peer with 50 requests pending holds one connection
 * for them, not 50: a browser on HTTP/1.1 has 6 per host, and a 7th request's POST waited behind
 * the others' long-polls. The poll runs while a posted request waits; an outcome is kept for its
 * request from before its POST (a poll under way may bring it before the POST's 202 does). A
 * relay without the route (404 or 405: an older one) makes every watcher fall back to its own
 * `GET /v1/requests/{id}` (http-requester.ts), as do all requests after it; a relay whose
 * `GET /v1/whoami` does not list the feature is never polled this way (its CORS may refuse
 * `EdgeMQ-Poller` in a page of another origin). Polls cut by a proxy's idle timeout make later
 * ones wait less than it (poll-wait.ts). Used by http-requester.ts.
 */
import {
  decodeOutcomesAnswer,
  EdgeMQError,
  ERROR_CODE,
  type PolledOutcome,
} from "../protocol/index.js";
import { answerError, type HttpAnswer, type HttpLink, paceEmptyPoll } from "./http-link.js";
import type { HttpStatus } from "./http-status.js";
import {
  type AbortSignalLike,
  createAbortController,
  type PlatformAbortSignal,
  randomId,
} from "./platform.js";
import { PollWait } from "./poll-wait.js";

/** Longest single poll (the relay allows up to 60 s; proxies may cut sooner). */
export const OUTCOMES_WAIT_MS = 25_000;

/** How long one round of retries goes on before the loop starts another (while requests wait). */
const RETRY_ROUND_MS = 60_000;

/** What a watcher gets: its request's outcome, or that the relay cannot poll (`unsupported`). */
export type Polled = PolledOutcome | EdgeMQError | "unsupported";

interface Watcher {
  /** Set once the request's POST was accepted: the poll runs for it from then on. */
  repost?: () => void;
  deliver: (polled: Polled) => void;
}

export interface OutcomeWatch {
  /** The request was accepted (202): poll for it; `repost` runs after the relay was away. */
  posted(repost: () => void): void;
  /** Its outcome, an error ending it (a refusal of the poll), or `unsupported`. */
  readonly outcome: Promise<Polled>;
  /** The request settled otherwise: stop watching (stops the poll when no other request waits). */
  stop(): void;
}

const UTF8 = new TextDecoder("utf-8");

type Signal = PlatformAbortSignal & AbortSignalLike;

export class OutcomePoller {
  /** This peer's poller tag: request-id characters, unique as a UUID is. */
  readonly tag = `p${randomId().replace(/-/g, "")}`;
  readonly #link: HttpLink;
  readonly #status: HttpStatus;
  readonly #report: (error: EdgeMQError) => void;
  readonly #watchers = new Map<string, Watcher>();
  #after = 0;
  #running = false;
  #supported: boolean;
  #stopPoll: (() => void) | undefined;
  /** Whether the last answer brought an outcome a watcher took. */
  #delivered = false;
  /** The wait polls ask for: shorter than a proxy's idle timeout once two cuts show it. */
  readonly #wait = new PollWait(OUTCOMES_WAIT_MS);

  /**
   * `supported`: the relay lists the route in whoami's features (else no request is polled);
   * `report`: a refusal of the poll (it ends the requests waiting), as the peer's `error` status.
   */
  constructor(
    link: HttpLink,
    status: HttpStatus,
    supported: boolean,
    report: (error: EdgeMQError) => void = () => {},
  ) {
    this.#link = link;
    this.#status = status;
    this.#supported = supported;
    this.#report = report;
  }

  /** False once the relay answered that it has no outcomes route. */
  get supported(): boolean {
    return this.#supported;
  }

  /** Watches request `id` (call before its POST goes out). */
  watch(id: string): OutcomeWatch {
    let deliver: (polled: Polled) => void = () => {};
    const outcome = new Promise<Polled>((resolve) => {
      deliver = resolve;
    });
    const watcher: Watcher = { deliver };
    this.#watchers.set(id, watcher);
    return {
      outcome,
      posted: (repost) => {
        watcher.repost = repost;
        this.#start();
      },
      stop: () => {
        if (this.#watchers.get(id) !== watcher) return;
        this.#watchers.delete(id);
        if (!this.#polling()) this.#stopPoll?.();
      },
    };
  }

  /** Whether a posted request still waits for its outcome. */
  #polling(): boolean {
    for (const watcher of this.#watchers.values()) if (watcher.repost !== undefined) return true;
    return false;
  }

  #start(): void {
    if (this.#running || !this.#supported) return;
    this.#running = true;
    void this.#run()
      .catch((error: unknown) => {
        // Not expected (every call's failure is handled inside): the waiting requests end with
        // it, never left waiting for a poll that stopped, nor an unhandled rejection.
        const reason = error instanceof Error ? error.message : String(error);
        this.#endAll(new EdgeMQError(ERROR_CODE.internal, `the outcome poll failed: ${reason}`));
      })
      .finally(() => {
        this.#running = false;
        // A request posted while the last poll was ending.
        if (this.#polling()) this.#start();
      });
  }

  async #run(): Promise<void> {
    while (this.#polling()) {
      const controller = createAbortController();
      this.#stopPoll = () =>
        controller.abort(new EdgeMQError(ERROR_CODE.cancelled, "no request waits"));
      const startedAt = Date.now();
      const waitMs = this.#wait.current;
      const { answer, retried } = await this.#poll(controller.signal, startedAt, waitMs);
      this.#stopPoll = undefined;
      if (controller.signal.aborted) return;
      if (answer instanceof EdgeMQError) continue; // out of reach for a whole round: again
      if (!this.#take(answer)) return;
      if (retried) {
        this.#relayBack();
        continue;
      }
      this.#wait.answered();
      if (!this.#delivered) await paceEmptyPoll(startedAt, waitMs, controller.signal);
    }
  }

  /** One poll, retried while the relay is out of reach; `retried` when a try failed. */
  async #poll(signal: Signal, startedAt: number, waitMs: number) {
    let tries = 0;
    const options = { signal, giveUpAt: startedAt + RETRY_ROUND_MS };
    const answer = await this.#link.retrying(this.#status, options, () => {
      tries += 1;
      // The first try failed: how long after it began (a proxy's idle timeout? poll-wait.ts).
      if (tries === 2) this.#wait.cut(Date.now() - startedAt);
      // After a failed try, ask without waiting: the requests are posted again right after.
      const wait = tries > 1 ? 0 : waitMs;
      const path = `/v1/outcomes?poller=${this.tag}&after=${this.#after}&wait=${wait}`;
      return this.#link.call("GET", path, { waitMs: wait }, signal);
    });
    return { answer, retried: tries > 1 };
  }

  /** Hands an answer's outcomes to their watchers; false when polling cannot go on. */
  #take(answer: HttpAnswer): boolean {
    this.#delivered = false;
    if (answer.status === 404 || answer.status === 405) {
      this.#supported = false;
      this.#endAll("unsupported");
      return false;
    }
    if (answer.status !== 200) {
      const error = answerError(answer);
      // Shown as the peer's status too (an expired token: the WebSocket peer's 4401 shows).
      this.#report(error);
      this.#endAll(error);
      return false;
    }
    const read = readAnswer(answer);
    if (typeof read === "string") {
      this.#endAll(new EdgeMQError(ERROR_CODE.internal, `the relay's outcomes answer: ${read}`));
      return false;
    }
    this.#after = read.after;
    for (const outcome of read.outcomes) {
      const watcher = this.#watchers.get(outcome.id);
      if (watcher === undefined) continue; // settled here already (an abort, the backstop)
      this.#watchers.delete(outcome.id);
      this.#delivered = true;
      watcher.deliver(outcome);
    }
    return true;
  }

  /** The relay was out of reach (a restart?): every posted request is posted again. */
  #relayBack(): void {
    for (const watcher of [...this.#watchers.values()]) watcher.repost?.();
  }

  /** Ends every posted request's watch with `polled` (unposted ones learn it after their POST). */
  #endAll(polled: Polled): void {
    for (const [id, watcher] of [...this.#watchers]) {
      if (watcher.repost === undefined && polled !== "unsupported") continue;
      this.#watchers.delete(id);
      watcher.deliver(polled);
    }
  }
}

function readAnswer(answer: HttpAnswer): ReturnType<typeof decodeOutcomesAnswer> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(UTF8.decode(answer.bytes));
  } catch {
    return "not JSON";
  }
  return decodeOutcomesAnswer(parsed);
}
