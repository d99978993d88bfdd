/** The machine a run happened on: cores, memory, CPU model, Node and wrangler versions. */
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";

export function machine(root) {
  let wrangler = "unknown";
  try {
    wrangler = JSON.parse(
      readFileSync(`${root}node_modules/wrangler/package.json`, "utf8"),
    ).version;
  } catch {
    // Reported as unknown.
  }
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    wrangler,
  };
}
