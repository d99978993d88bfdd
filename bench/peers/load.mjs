/**
 * Load peer (a forked process): `peers` clients (default 1), each keeping `inFlight` requests
 * outstanding on its own connection.
 * target "relay": an SDK peer (`edgemq/client`) calling request(queue, body).
 * target "echo": a raw `ws` socket to the echo DO sending {"id","body"} JSON and matching the
 * echoed message by id: the same pattern without a relay.
 * Flow: connect, report "ready", warm up on "go", measure, report "result"; with `windows` > 1,
 * measure again on each "measure" (serial-rounds.mjs); exit on "stop".
 */
import { connect } from "edgemq/client";
import WebSocket from "ws";
import { body, command, fail, report, spec } from "./ipc.mjs";
import { runWindow } from "./window.mjs";

const payload = body(spec.bodyBytes);

try {
  const clients = await Promise.all(
    Array.from({ length: spec.peers ?? 1 }, (_, i) =>
      spec.target === "relay" ? relayClient(`${spec.identity}-${i}`) : echoClient(),
    ),
  );
  report({ type: "ready" });
  await command("go");
  const run = (client, phase, count, record) =>
    runWindow({
      inFlight: spec.inFlight,
      op: client.op,
      count,
      timeLimitMs: spec.timeLimitMs,
      record,
      phase,
    });
  await Promise.all(clients.map((client) => run(client, "warmup", spec.warmup, false)));
  // `windows` measurements of `count` each, the next one on the parent's "measure".
  const windows = spec.windows ?? 1;
  for (let window = 0; window < windows; window++) {
    if (window > 0) await command("measure");
    const results = await Promise.all(
      clients.map((client) => run(client, "measure", spec.count, spec.record)),
    );
    report({
      type: "result",
      done: results.reduce((sum, r) => sum + r.done, 0),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      firstError: results.find((r) => r.firstError)?.firstError,
      elapsedUs: Math.max(...results.map((r) => r.elapsedUs)),
      timedOut: results.some((r) => r.timedOut),
      latencies: results.flatMap((r) => r.latencies),
    });
  }
  await command("stop");
  await Promise.all(clients.map((client) => client.close()));
  process.exit(0);
} catch (error) {
  fail(error);
}

async function relayClient(identity) {
  const peer = await connect(spec.url, { identity, maxPendingRequests: 100_000 });
  return {
    op: () => peer.request(spec.queue, payload, { timeout: 60_000 }),
    close: () => peer.close(),
  };
}

async function echoClient() {
  // Like the SDK in Node (client/websocket.ts): no permessage-deflate, so both sides of a ratio
  // move the same bytes.
  const ws = new WebSocket(`${spec.url}${spec.path ?? "/echo"}`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const waiting = new Map();
  let next = 0;
  ws.on("message", (data) => {
    const text = String(data);
    if (text === "pong") return;
    const { id } = JSON.parse(text);
    const resolve = waiting.get(id);
    waiting.delete(id);
    resolve?.();
  });
  ws.on("close", () => {
    for (const resolve of waiting.values()) resolve(new Error("echo socket closed"));
  });
  return {
    op: () =>
      new Promise((resolve, reject) => {
        const id = String(next++);
        waiting.set(id, (error) => (error ? reject(error) : resolve()));
        ws.send(JSON.stringify({ id, body: payload }));
      }),
    close: async () => ws.close(1000),
  };
}
