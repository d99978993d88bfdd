/**
 * Idle-connections peer (a forked process): opens `count` raw `ws` sockets (relay: client sockets
 * on /v1/connect with identities idle-<n>, ready at the `welcome` frame; echo: /echo, ready on
 * open), `connectConcurrency` at a time, then holds them idle. On "ping" it sends the keep-alive
 * text "ping" on every socket and reports how many answered "pong" and how many answered anything
 * else (a frame other than "pong" would mean the object itself handled the ping).
 */
import WebSocket from "ws";
import { command, fail, report, spec } from "./ipc.mjs";

const ANSWER_WAIT_MS = 30_000;
const sockets = [];
let failed = 0;
let firstFailure;

try {
  await openAll();
  report({ type: "ready", open: sockets.length, failed, firstFailure });
  await command("ping");
  report({ type: "pinged", ...(await pingAll()) });
  await command("stop");
  for (const ws of sockets) ws.terminate();
  setTimeout(() => process.exit(0), 100);
} catch (error) {
  fail(error);
}

async function openAll() {
  let next = 0;
  const worker = async () => {
    while (next < spec.count) {
      const index = next++;
      try {
        sockets.push(await openOne(index));
      } catch (error) {
        // A refused or dropped connection is counted, not fatal: the figure uses those open.
        failed += 1;
        firstFailure ??= error instanceof Error ? error.message : String(error);
      }
      if (sockets.length % 250 === 0) {
        report({ type: "progress", phase: "connect", done: sockets.length });
      }
    }
  };
  await Promise.all(Array.from({ length: spec.connectConcurrency }, worker));
}

function openOne(index) {
  const url =
    spec.target === "relay"
      ? `${spec.url}/v1/connect?identity=${spec.prefix}-${index}`
      : `${spec.url}/echo`;
  // No permessage-deflate, as the SDK in Node (client/websocket.ts), for relay and echo alike.
  const ws = new WebSocket(url, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket ${index} not ready in 30 s`)), 30_000);
    const done = () => {
      clearTimeout(timer);
      resolve(ws);
    };
    ws.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    if (spec.target === "relay") ws.once("message", done);
    else ws.once("open", done);
  });
}

async function pingAll() {
  let pong = 0;
  let other = 0;
  let sample;
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((resolve) => {
          const timer = setTimeout(resolve, ANSWER_WAIT_MS);
          ws.once("message", (data) => {
            clearTimeout(timer);
            const text = String(data);
            if (text === "pong") pong += 1;
            else {
              other += 1;
              sample ??= text.slice(0, 200);
            }
            resolve();
          });
          ws.send("ping");
        }),
    ),
  );
  return { pong, other, unanswered: sockets.length - pong - other, sample };
}
