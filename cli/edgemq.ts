#!/usr/bin/env node
/**
 * The `edgemq` command for operators. `edgemq token --sub alice --role client --queue resize
 * --ttl 1h` mints a peer token signed with EDGEMQ_SECRET (from the environment) and prints it.
 */
import { parseArgs } from "node:util";
import {
  isIdentity,
  isQueueName,
  MAX_TOKEN_QUEUES,
  signToken,
  type TokenClaims,
} from "../protocol/index.js";
import { parseTtl } from "./ttl.js";

const USAGE = `usage: edgemq token --sub <identity> --role client|server|both --queue <name>[*] [--queue ...] [--ttl 1h]
  The secret is read from EDGEMQ_SECRET. --ttl takes s, m, h or d (default 1h).`;

function fail(message: string): never {
  process.stderr.write(`edgemq: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function mintToken(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      sub: { type: "string" },
      role: { type: "string" },
      queue: { type: "string", multiple: true },
      ttl: { type: "string", default: "1h" },
    },
  });
  const secret = process.env.EDGEMQ_SECRET;
  if (!secret) fail("EDGEMQ_SECRET is not set");
  if (!values.sub) fail("--sub is required");
  if (!isIdentity(values.sub)) fail("--sub must be 1-128 of A-Z a-z 0-9 . _ : @ + = -");
  const role = values.role;
  if (role === undefined) fail("--role is required");
  if (role !== "client" && role !== "server" && role !== "both") {
    fail(`--role must be client, server or both, not ${role}`);
  }
  if (!values.queue?.length) fail("at least one --queue is required");
  if (values.queue.length > MAX_TOKEN_QUEUES) fail(`at most ${MAX_TOKEN_QUEUES} --queue patterns`);
  const badPattern = values.queue.find((pattern) => !isQueuePattern(pattern));
  if (badPattern !== undefined) {
    fail(`--queue ${badPattern} is neither a queue name nor a prefix ending in * (e.g. img.*)`);
  }
  const ttl = parseTtl(values.ttl);
  if (ttl === undefined) fail(`bad --ttl ${values.ttl}`);
  const now = Math.floor(Date.now() / 1000);
  const claims: TokenClaims = {
    sub: values.sub,
    role,
    queues: values.queue,
    iat: now,
    exp: now + ttl,
  };
  process.stdout.write(`${await signToken(claims, secret)}\n`);
}

/** A queue name, or a prefix of one followed by `*` (`*` alone: every queue). */
function isQueuePattern(pattern: string): boolean {
  if (!pattern.endsWith("*")) return isQueueName(pattern);
  const prefix = pattern.slice(0, -1);
  return prefix === "" || /^[A-Za-z0-9._-]{1,128}$/.test(prefix);
}

const [command, ...rest] = process.argv.slice(2);
if (command === "token") {
  mintToken(rest).catch((error: unknown) => fail(String(error)));
} else {
  fail(command ? `unknown command ${command}` : "a command is required");
}
