/**
 * `node bench/hops/run.mjs`: what each hop of a relayed request costs in local workerd, measured
 * with a bench-only Worker (worker.mjs) in its own `wrangler dev`, a client in this process and
 * a "server" peer in a child process (as the relay bench runs them). Prints the serial round-trip
 * p50 of each shape in worker.mjs and its ratio to the echo of the same round. A measurement
 * to explain bench/README.md's findings; not part of `npm run bench`, asserts nothing.
 */
import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { startWrangler } from "../lib/wrangler.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const PORT = 18975;
const ROUNDS = 3;
const COUNT = 2_000;
const WARMUP = 200;
const SHAPES = {
  e: "echo (2 messages)",
  o: "one object, client and server sockets (4 messages)",
  t: "two objects, 2 calls between them (4 messages)",
  w: "write, then answer (1 commit on the path)",
  y: "answer, then write",
};

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

if (process.argv[2] === "--server") {
  const url = process.argv[3];
  for (const path of ["/server", "/side"]) {
    const ws = await open(`${url}${path}`);
    ws.on("message", (data) => ws.send(`r${data}`));
  }
  process.send?.("ready");
} else {
  await main();
}

async function main() {
  const root = join(here, "..", "..");
  const worker = await startWrangler({
    name: "hops",
    root,
    files: ["bench/hops/worker.mjs", "bench/hops/wrangler.toml"],
    config: "bench/hops/wrangler.toml",
    port: PORT,
    inspectorPort: PORT + 1000,
  });
  const child = fork(fileURLToPath(import.meta.url), ["--server", worker.wsUrl]);
  try {
    await new Promise((resolve) => child.once("message", resolve));
    const client = await open(`${worker.wsUrl}/client`);
    console.log(
      `| shape | ${Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1} p50 µs (×echo)`).join(" | ")} |`,
    );
    console.log(`| --- |${" ---: |".repeat(ROUNDS)}`);
    const rows = Object.fromEntries(Object.keys(SHAPES).map((k) => [k, []]));
    for (let round = 0; round < ROUNDS; round++) {
      let echo = 0;
      for (const shape of Object.keys(SHAPES)) {
        await serial(client, shape, WARMUP);
        const p50 = await serial(client, shape, COUNT);
        if (shape === "e") echo = p50;
        rows[shape].push(`${Math.round(p50)} (${(p50 / echo).toFixed(2)})`);
      }
    }
    for (const [shape, cells] of Object.entries(rows)) {
      console.log(`| ${SHAPES[shape]} | ${cells.join(" | ")} |`);
    }
    client.close();
  } finally {
    child.kill();
    await worker.stop();
  }
}

/** p50 in microseconds of `count` round trips of shape `shape`, one at a time. */
async function serial(ws, shape, count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const text = `${shape}${i}`;
    const start = process.hrtime.bigint();
    await new Promise((resolve) => {
      const onMessage = (data) => {
        if (String(data) !== text) return;
        ws.off("message", onMessage);
        resolve();
      };
      ws.on("message", onMessage);
      ws.send(text);
    });
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
