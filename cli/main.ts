/**
 * The `edgemq` command apart from the process (cli/edgemq.ts runs it): arguments and environment
 * in, output and an exit code out. 0: done or help printed; 2: a bad command line (one line
 * `edgemq: <what is wrong>` and a hint to `--help` on stderr, nothing on stdout); 1: the token
 * could not be signed.
 */
import {
  IDENTITY_RULE,
  isIdentity,
  isQueuePattern,
  MAX_TOKEN_QUEUES,
  secretProblem,
  signToken,
  type TokenClaims,
} from "../protocol/index.js";
import { parseTtl } from "./ttl.js";

export const USAGE = `usage: edgemq <command> [options]

commands:
  token   mint a peer token signed with EDGEMQ_SECRET

Run 'edgemq <command> --help' for a command's options.`;

export const TOKEN_USAGE = `usage: edgemq token --sub <identity> --role client|server|both --queue <name>[*] [--queue ...] [--ttl 1h]

Prints a peer token (an HS256 JWT) signed with the secret in EDGEMQ_SECRET (32 characters
or more, as the relay requires: openssl rand -base64 32).

options:
  --sub <identity>   the peer's identity: 1-128 of A-Z a-z 0-9 . _ : @ + = -
  --role <role>      client, server or both
  --queue <pattern>  a queue it may use, or a prefix ending in * (img.*; * alone: every queue);
                     repeat it for more queues, at most ${MAX_TOKEN_QUEUES}
  --ttl <duration>   how long the token is valid: a positive whole number of s, m, h or d
                     (90s, 15m, 1h, 7d; default 1h), at most 3650d
  -h, --help         print this help

Every option but --queue is given once. --option=value works too, e.g. for a value that
starts with -.`;

const MAIN_HINT = "Run 'edgemq --help' for usage.";
const TOKEN_HINT = "Run 'edgemq token --help' for usage.";

/** The longest --ttl: ten years (a relay refuses a token whose exp is past any date). */
export const MAX_TTL_SECONDS = 3_650 * 86_400;

/** Where the command writes. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

/** The environment the command reads (EDGEMQ_SECRET). */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/** What `edgemq token`'s command line says, before its values are checked. */
export interface TokenOptions {
  sub?: string;
  role?: string;
  ttl?: string;
  queue: string[];
}

/** A parsed command line: a request for help, a fault to report, or options. */
export type ParsedTokenArgs =
  | { kind: "help" }
  | { kind: "error"; message: string }
  | { kind: "options"; options: TokenOptions };

const SINGLE_OPTIONS = ["sub", "role", "ttl"] as const;
type SingleOption = (typeof SINGLE_OPTIONS)[number];

function isSingleOption(name: string): name is SingleOption {
  return (SINGLE_OPTIONS as readonly string[]).includes(name);
}

function isHelp(arg: string): boolean {
  return arg === "--help" || arg === "-h";
}

/** Whether `value`, which starts with `-`, is taken as `--option`'s value (`--ttl -1h`, refused later as a duration). */
function takesDashValue(name: string, value: string): boolean {
  return name === "ttl" && /^-\d/.test(value);
}

/** One option read from a command line: its name, its value and where the next one starts. */
type ReadOption = { name: "queue" | SingleOption; value: string; next: number } | { error: string };

/** Reads the option at `options[i]`: `--name value` or `--name=value`. */
function readOption(options: readonly string[], i: number): ReadOption {
  const arg = options[i] ?? "";
  if (!arg.startsWith("-") || arg === "-") {
    return { error: `unexpected argument ${arg} (edgemq token takes options only)` };
  }
  const equals = arg.indexOf("=");
  const flag = equals === -1 ? arg : arg.slice(0, equals);
  const name = flag.startsWith("--") ? flag.slice(2) : "";
  if (name !== "queue" && !isSingleOption(name)) return { error: `unknown option ${flag}` };
  if (equals !== -1) return { name, value: arg.slice(equals + 1), next: i + 1 };
  const value = options[i + 1];
  if (value === undefined) return { error: `${flag} needs a value` };
  if (value.startsWith("-") && !takesDashValue(name, value)) {
    return { error: `${flag} needs a value, not ${value} (write ${flag}=${value} if that is it)` };
  }
  return { name, value, next: i + 2 };
}

/**
 * Reads `edgemq token`'s arguments: `--sub`, `--role` and `--ttl` once each, `--queue` any number
 * of times, as `--option value` or `--option=value`; `-h`/`--help` anywhere (before `--`) asks for
 * help. No positional arguments.
 */
export function parseTokenArgs(args: readonly string[]): ParsedTokenArgs {
  const end = args.indexOf("--");
  const options = end === -1 ? args : args.slice(0, end);
  if (options.some(isHelp)) return { kind: "help" };
  const parsed: TokenOptions = { queue: [] };
  for (let i = 0; i < options.length; ) {
    const read = readOption(options, i);
    if ("error" in read) return { kind: "error", message: read.error };
    const { name, value } = read;
    if (name === "queue") {
      parsed.queue.push(value);
    } else if (parsed[name] !== undefined) {
      return {
        kind: "error",
        message: `--${name} is given more than once (${parsed[name]}, ${value})`,
      };
    } else {
      parsed[name] = value;
    }
    i = read.next;
  }
  const stray = end === -1 ? undefined : args[end + 1];
  if (stray !== undefined) {
    return {
      kind: "error",
      message: `unexpected argument ${stray} (edgemq token takes options only)`,
    };
  }
  return { kind: "options", options: parsed };
}

/**
 * The claims `options` ask for, issued at `now` (epoch milliseconds), or what is wrong with
 * them.
 */
export function tokenClaims(
  options: TokenOptions,
  now: number,
): { claims: TokenClaims } | { error: string } {
  const { sub, role, queue } = options;
  if (sub === undefined) return { error: "--sub is required" };
  if (!isIdentity(sub)) return { error: `--sub must be ${IDENTITY_RULE}` };
  if (role === undefined) return { error: "--role is required" };
  if (role !== "client" && role !== "server" && role !== "both") {
    return { error: `--role must be client, server or both, not ${role}` };
  }
  if (queue.length === 0) return { error: "at least one --queue is required" };
  if (queue.length > MAX_TOKEN_QUEUES)
    return { error: `at most ${MAX_TOKEN_QUEUES} --queue patterns` };
  const badPattern = queue.find((pattern) => !isQueuePattern(pattern));
  if (badPattern !== undefined) {
    return {
      error: `--queue ${badPattern} is neither a queue name nor a prefix ending in * (e.g. img.*)`,
    };
  }
  const ttlText = options.ttl ?? "1h";
  const ttl = parseTtl(ttlText);
  if (ttl === undefined) {
    return {
      error: `--ttl must be a positive whole number of s, m, h or d (90s, 15m, 1h, 7d), not ${ttlText}`,
    };
  }
  if (ttl > MAX_TTL_SECONDS) {
    return {
      error: `--ttl must be at most ${MAX_TTL_SECONDS / 86_400}d (ten years), not ${ttlText}`,
    };
  }
  const iat = Math.floor(now / 1000);
  return { claims: { sub, role, queues: queue, iat, exp: iat + ttl } };
}

async function token(
  args: readonly string[],
  env: CliEnv,
  output: CliOutput,
  now: () => number,
): Promise<number> {
  const refuse = (message: string): number => {
    output.err(`edgemq: ${message}\n${TOKEN_HINT}\n`);
    return 2;
  };
  const parsed = parseTokenArgs(args);
  if (parsed.kind === "help") {
    output.out(`${TOKEN_USAGE}\n`);
    return 0;
  }
  if (parsed.kind === "error") return refuse(parsed.message);
  const secret = env.EDGEMQ_SECRET;
  if (!secret) return refuse("EDGEMQ_SECRET is not set");
  const weak = secretProblem(secret);
  if (weak !== undefined) return refuse(weak);
  const result = tokenClaims(parsed.options, now());
  if ("error" in result) return refuse(result.error);
  let signed: string;
  try {
    signed = await signToken(result.claims, secret);
  } catch (error) {
    output.err(`edgemq: could not sign the token: ${String(error)}\n`);
    return 1;
  }
  output.out(`${signed}\n`);
  return 0;
}

/** Runs `edgemq <argv>`; resolves to the exit code. `now` gives epoch milliseconds. */
export async function main(
  argv: readonly string[],
  env: CliEnv,
  output: CliOutput,
  now: () => number = Date.now,
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    output.err(`edgemq: a command is required\n${USAGE}\n`);
    return 2;
  }
  if (command === "token") return token(rest, env, output, now);
  if (isHelp(command) || command === "help") {
    const [topic, ...extra] = rest;
    if (command === "help" && topic !== undefined) {
      if (topic !== "token" || extra.length > 0) {
        output.err(`edgemq: no help for ${rest.join(" ")}\n${MAIN_HINT}\n`);
        return 2;
      }
      output.out(`${TOKEN_USAGE}\n`);
      return 0;
    }
    output.out(`${USAGE}\n`);
    return 0;
  }
  const what = command.startsWith("-") ? "option" : "command";
  output.err(`edgemq: unknown ${what} ${command}\n${MAIN_HINT}\n`);
  return 2;
}
