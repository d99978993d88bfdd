#!/usr/bin/env node
/**
 * The `edgemq` command for operators. `edgemq token --sub alice --role client --queue resize
 * --ttl 1h` mints a peer token signed with EDGEMQ_SECRET (from the environment) and prints it.
 * `edgemq --help` and `edgemq token --help` print the usage. The logic is in cli/main.ts.
 */
import process from "node:process";
import { main } from "./main.js";

main(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`edgemq: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
