/**
 * A WebSocket peer's sockets (its client socket, queue links, server sockets) each reconnect with
 * their own full-jitter backoff. One that failed to reach the relay goes at once when another
 * socket of the peer is welcomed (the relay is back), instead of sleeping out its own draw of up
 * to 10 s (a probe, relay SIGKILLed and back after 2 s: a server socket drew 7.5 s and its 40
 * replies waited 7 s more than the peer's other socket). Once per outage: a woken try that fails
 * waits out its backoff. A socket closed on purpose (1008, 1011, a refused upgrade) or by its
 * user is not woken. Against the fake relay under fake timers; relay-reachability.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Connection } from "../../../client/connection.js";
import { connect, type Peer } from "../../../client/index.js";
import { lostReach, RelayReachability } from "../../../client/relay-reachability.js";
import type { Status } from "../../../client/status.js";
import { closePeers, FakeRelay, settle } from "./fake-relay.js";

const CONNECT = "/v1/connect";
const SERVE = "/v1/queues/jobs/serve";
const LINK = "/v1/queues/orders/connect";
/** Every delay is a draw of up to 10 s: random() * 10 s. */
const SLOW_BACKOFF = { minDelayMs: 10_000, maxDelayMs: 10_000 };

let relay: FakeRelay;
let peers: Peer[];
let connections: Connection[];

beforeEach(() => {
  vi.useFakeTimers();
  relay = new FakeRelay();
  peers = [];
  connections = [];
});
afterEach(async () => {
  await Promise.all(connections.map((connection) => connection.close()));
  await closePeers(peers);
  vi.restoreAllMocks();
});

/** A server-style socket at `path` (retries its first connection) whose draws are all `draw`. */
function socketAt(
  path: string,
  reachability: RelayReachability,
  draw: number,
  status: (status: Status) => void = () => {},
): Connection {
  const connection = new Connection({
    url: `ws://relay.test${path}`,
    WebSocket: relay.WebSocket,
    backoff: SLOW_BACKOFF,
    retryFirst: true,
    reachability,
    random: () => draw,
    events: { welcome: () => {}, frame: () => {}, status, terminated: () => {} },
  });
  connections.push(connection);
  return connection;
}

describe("a peer's socket waiting out a reconnect delay after the relay was out of reach", () => {
  it("reconnects as soon as another socket of the peer is welcomed, server socket and queue link alike", async () => {
    const peer = await connect("ws://relay.test", {
      identity: "alice",
      WebSocket: relay.WebSocket,
      reconnect: SLOW_BACKOFF,
    });
    peers.push(peer);
    peer.serve("jobs", () => "done");
    peer.request("orders", "o1", { timeout: 30_000 }).catch(() => {});
    await settle();
    expect(relay.socketsAt(SERVE)).toHaveLength(1);
    expect(relay.socketsAt(LINK)).toHaveLength(1);

    // The relay restarts: the client socket draws 100 ms, the other two 7.5 s.
    vi.spyOn(Math, "random").mockReturnValueOnce(0.01).mockReturnValue(0.75);
    relay.latest(CONNECT).drop(1006, "");
    relay.latest(SERVE).drop(1006, "");
    relay.latest(LINK).drop(1006, "");
    await vi.advanceTimersByTimeAsync(200);
    await settle();

    expect(relay.socketsAt(CONNECT)).toHaveLength(2);
    expect(relay.socketsAt(SERVE)).toHaveLength(2);
    expect(relay.latest(SERVE).framesOf("ready")).toHaveLength(1);
    expect(relay.socketsAt(LINK)).toHaveLength(2);
    expect(relay.latest(LINK).framesOf("request")).toHaveLength(1);
  });

  it("reports the woken try as a reconnect with no delay left, after the delay it drew", async () => {
    const reachability = new RelayReachability();
    const statuses: Status[] = [];
    socketAt(CONNECT, reachability, 0.01);
    const slow = socketAt(SERVE, reachability, 0.75, (status) => statuses.push(status));
    await settle();

    relay.latest(CONNECT).drop(1006, "");
    relay.latest(SERVE).drop(1006, "");
    await vi.advanceTimersByTimeAsync(200);
    expect(slow.isOpen).toBe(true);
    const reconnecting = statuses.filter((status) => status.type === "reconnecting");
    expect(reconnecting).toEqual([
      { type: "reconnecting", attempt: 1, delayMs: 7_500 },
      { type: "reconnecting", attempt: 1, delayMs: 0 },
    ]);
  });

  it("is woken once per outage: a woken try that fails waits out its backoff, whatever other sockets do", async () => {
    const reachability = new RelayReachability();
    const quick = socketAt(CONNECT, reachability, 0.01);
    const slow = socketAt(SERVE, reachability, 0.75);
    await settle();
    expect(quick.isOpen && slow.isOpen).toBe(true);

    relay.answersAt(SERVE).push({ kind: "hidden" });
    relay.latest(CONNECT).drop(1006, "");
    relay.latest(SERVE).drop(1006, "");
    await vi.advanceTimersByTimeAsync(200);
    // Woken by the client socket's welcome at 100 ms, its try failed: its next delay is 7.5 s.
    expect(relay.socketsAt(SERVE)).toHaveLength(2);

    relay.latest(CONNECT).drop(1006, "");
    await vi.advanceTimersByTimeAsync(200);
    expect(relay.socketsAt(CONNECT)).toHaveLength(3);
    expect(quick.isOpen).toBe(true);
    expect(relay.socketsAt(SERVE)).toHaveLength(2);

    await vi.advanceTimersByTimeAsync(7_500);
    expect(relay.socketsAt(SERVE)).toHaveLength(3);
    expect(slow.isOpen).toBe(true);
  });

  // A browser probe: a tab whose network came back still slept out its draw (up to 10 s).
  it("is woken when the browser says the network is back, listening only while a socket waits", async () => {
    const online = new EventTarget();
    const networkBack = (listener: () => void) => {
      online.addEventListener("online", listener);
      return () => online.removeEventListener("online", listener);
    };
    let listening = 0;
    const reachability = new RelayReachability((listener) => {
      listening++;
      const stop = networkBack(listener);
      return () => {
        listening--;
        stop();
      };
    });
    const slow = socketAt(SERVE, reachability, 0.75);
    await settle();
    expect(listening).toBe(0);

    relay.latest(SERVE).drop(1006, "");
    await vi.advanceTimersByTimeAsync(200);
    expect(relay.socketsAt(SERVE)).toHaveLength(1);
    expect(listening).toBe(1);
    online.dispatchEvent(new Event("online"));
    await settle();
    expect(relay.socketsAt(SERVE)).toHaveLength(2);
    expect(slow.isOpen).toBe(true);
    expect(listening).toBe(0);
  });

  it("is woken again in a later outage", async () => {
    const reachability = new RelayReachability();
    socketAt(CONNECT, reachability, 0.01);
    const slow = socketAt(SERVE, reachability, 0.75);
    await settle();
    for (const outage of [1, 2]) {
      relay.latest(CONNECT).drop(1006, "");
      relay.latest(SERVE).drop(1001, "going away");
      await vi.advanceTimersByTimeAsync(200);
      expect(relay.socketsAt(SERVE)).toHaveLength(1 + outage);
      expect(slow.isOpen).toBe(true);
    }
  });

  it("is not woken after a close the relay gave on purpose, a refused upgrade, or close()", async () => {
    const reachability = new RelayReachability();
    socketAt(CONNECT, reachability, 0.01);
    socketAt(SERVE, reachability, 0.75);
    const link = socketAt(LINK, reachability, 0.75);
    await settle();

    relay.answersAt(LINK).push({ kind: "http", status: 429 });
    relay.latest(SERVE).drop(1008, "too many unreadable frames");
    relay.latest(LINK).drop(1006, "");
    await vi.advanceTimersByTimeAsync(7_600);
    // The link's first try (7.5 s) was refused 429; the server socket reconnected at 7.5 s.
    expect(relay.socketsAt(LINK)).toHaveLength(2);
    expect(relay.socketsAt(SERVE)).toHaveLength(2);

    relay.latest(SERVE).drop(1011, "lost state");
    relay.latest(CONNECT).drop(1006, "");
    await vi.advanceTimersByTimeAsync(200);
    expect(relay.socketsAt(CONNECT)).toHaveLength(2);
    expect(relay.socketsAt(SERVE)).toHaveLength(2);
    expect(relay.socketsAt(LINK)).toHaveLength(2);
    expect(reachability.waiting).toBe(0);

    await vi.advanceTimersByTimeAsync(10_000);
    relay.latest(LINK).drop(1006, "");
    expect(reachability.waiting).toBe(1);
    await link.close();
    expect(reachability.waiting).toBe(0);
  });
});

describe("lostReach", () => {
  it("is a close without the relay's word (1006, 1001) or a proxy's 502 to 504, not a close or refusal the relay gave", () => {
    expect(lostReach(1006, undefined)).toBe(true);
    expect(lostReach(1001, undefined)).toBe(true);
    expect(lostReach(1006, 502)).toBe(true);
    expect(lostReach(1006, 503)).toBe(true);
    expect(lostReach(1006, 504)).toBe(true);
    expect(lostReach(1006, 429)).toBe(false);
    expect(lostReach(1006, 500)).toBe(false);
    expect(lostReach(1008, undefined)).toBe(false);
    expect(lostReach(1011, undefined)).toBe(false);
    expect(lostReach(1000, undefined)).toBe(false);
    expect(lostReach(4401, undefined)).toBe(false);
  });
});
