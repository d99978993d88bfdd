/**
 * `node bench/hot-path/run.mjs [rounds] [n]`: the relay's own JavaScript per memory-mode serial
 * round trip, warm, in workerd (worker.mjs), in its own `wrangler dev`. Prints each round's µs per
 * round trip and their median. Resolves about a microsecond, where the end-to-end serial bench
 * resolves about 3%; the figure includes the loop's own JSON (~3 µs). A measurement for changes
 * to the relay's hot path (bench/README.md); not part of `npm run bench`, asserts nothing.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWrangler } from "../lib/wrangler.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PORT = 18976;
const rounds = Number(process.argv[2] ?? 5);
const n = Number(process.argv[3] ?? 40_000);

const worker = await startWrangler({
  name: "hot-path",
  root,
  files: ["bench/hot-path", "durable-objects", "protocol", "src"],
  config: "bench/hot-path/wrangler.toml",
  port: PORT,
  inspectorPort: PORT + 1000,
});
try {
  const results = [];
  for (let round = 1; round <= rounds; round++) {
    const response = await fetch(`${worker.url}/?n=${n}`);
    if (!response.ok) throw new Error(await response.text());
    const { usPerRoundTrip } = await response.json();
    results.push(usPerRoundTrip);
    console.log(`round ${round}: ${usPerRoundTrip.toFixed(2)} µs per round trip (${n})`);
  }
  const median = [...results].sort((a, b) => a - b)[Math.floor(results.length / 2)];
  console.log(`median: ${median.toFixed(2)} µs of relay JavaScript per round trip, warm`);
} finally {
  await worker.stop();
}
