/**
 * The README's examples run as a newcomer runs them: examples/echo/server.mjs and client.mjs as
 * their own Node processes (importing `edgemq/client` from dist/), against a relay in dev mode
 * (identities declared) and against a signed one (EDGEMQ_SECRET set, tokens minted with the
 * `edgemq token` CLI, identities from the tokens).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./relay.js";
import { useRelay } from "./support/fixture.js";

const SECRET = "examples-test-secret-0123456789abcdef";
const RUN_MS = 30_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const servers: ChildProcess[] = [];

afterEach(() => {
  for (const server of servers.splice(0)) server.kill("SIGKILL");
});

/**
 * Runs `node args` (or the executable `program`, as a shell would) in the repo, with `env` and
 * none of this process's EDGEMQ_* settings.
 */
function node(args: string[], env: Record<string, string>, program?: string): ChildProcess {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith("EDGEMQ_"));
  const all = { ...Object.fromEntries(inherited), ...env };
  return spawn(program ?? process.execPath, args, { cwd: REPO_ROOT, env: all });
}

/** Runs a program to its end (bounded), with its output. */
function run(args: string[], env: Record<string, string>, program?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = node(args, env, program);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${args.join(" ")} ran over ${RUN_MS} ms:\n${stdout}\n${stderr}`));
    }, RUN_MS);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts the echo server and waits for the line saying it serves. */
function startServer(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = node([join("examples", "echo", "server.mjs"), ...args], env);
    servers.push(child);
    let output = "";
    const timer = setTimeout(() => reject(new Error(`no server in time:\n${output}`)), RUN_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('serves "echo"')) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}):\n${output}`));
    });
  });
}

/** The `edgemq` command as npm links it (`npx edgemq`): the built file, run as a program. */
const CLI = join(REPO_ROOT, "dist", "cli", "edgemq.js");

async function token(sub: string, role: string): Promise<string> {
  const args = ["token", "--sub", sub, "--role", role, "--queue", "echo", "--ttl", "1h"];
  const minted = await run(args, { EDGEMQ_SECRET: SECRET }, CLI);
  expect(minted.code, minted.stderr).toBe(0);
  return minted.stdout.trim();
}

/** What the client prints for its four requests, each answered by `by` for `from`. */
function expectEchoes(stdout: string, from: string, by: string): void {
  const tag = `"from":"${from}","by":"${by}"`;
  expect(stdout).toContain(`json  → {"echo":{"hello":"world","n":42},${tag}`);
  expect(stdout).toContain(`text  → {"echo":"héllo, wörld",${tag}`);
  expect(stdout).toContain("bytes → Uint8Array(5) [ 0, 1, 2, 254, 255 ]");
  expect(stdout).toContain(`three → {"echo":{"n":1},${tag}`);
}

describe("examples/echo against a relay in dev mode (npm start)", () => {
  const e2e = useRelay();

  it("the client's four requests come back from the server, tagged with the declared identities", async () => {
    const env = { EDGEMQ_URL: e2e.relay().url };
    await startServer(["worker-1"], env);
    const client = await run([join("examples", "echo", "client.mjs"), "alice"], env);
    expect(client.code, client.stderr).toBe(0);
    expectEchoes(client.stdout, "alice", "worker-1");
  });
});

describe("the edgemq token command", () => {
  it("refuses, naming the fault, a token the relay would refuse or that could never match", async () => {
    const mint = (...args: string[]) => run(["token", ...args], { EDGEMQ_SECRET: SECRET }, CLI);
    const cases: [string[], string][] = [
      [["--sub", "a b", "--role", "client", "--queue", "echo"], "--sub must be"],
      [
        ["--sub", "alice", "--role", "admin", "--queue", "echo"],
        "--role must be client, server or both",
      ],
      [["--sub", "alice", "--role", "client", "--queue", "a*b"], "--queue a*b is neither"],
    ];
    for (const [args, message] of cases) {
      const refused = await mint(...args);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toContain(message);
    }
  });

  it("prints its usage for --help, at the top level and for token, and exits 0", async () => {
    for (const args of [["--help"], ["-h"], ["token", "--help"], ["token", "-h"]]) {
      const help = await run(args, {}, CLI);
      expect(help.code, args.join(" ")).toBe(0);
      expect(help.stderr, args.join(" ")).toBe("");
      expect(help.stdout, args.join(" ")).toMatch(/^usage: edgemq /);
    }
    const bare = await run([], {}, CLI);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^edgemq: a command is required\nusage: edgemq /);
  });

  it("refuses a bad command line with one line and a hint to --help, never a stack trace", async () => {
    const good = ["--sub", "alice", "--role", "client", "--queue", "echo"];
    const cases: [string[], string][] = [
      [["nope"], "edgemq: unknown command nope"],
      [["token", ...good, "--bogus"], "edgemq: unknown option --bogus"],
      [["token", ...good, "extra"], "edgemq: unexpected argument extra"],
      [["token", ...good, "--ttl", "-1h"], "edgemq: --ttl must be a positive"],
      [["token", ...good, "--ttl", "0s"], "edgemq: --ttl must be a positive"],
      [["token", ...good, "--sub", "bob"], "edgemq: --sub is given more than once"],
    ];
    for (const [args, message] of cases) {
      const refused = await run(args, { EDGEMQ_SECRET: SECRET }, CLI);
      expect(refused.code, args.join(" ")).toBe(2);
      expect(refused.stdout, args.join(" ")).toBe("");
      const [first, hint, ...more] = refused.stderr.split("\n");
      expect(first, args.join(" ")).toContain(message);
      expect(hint, args.join(" ")).toMatch(/^Run 'edgemq (token )?--help' for usage\.$/);
      expect(more, args.join(" ")).toEqual([""]);
    }
  });
});

describe("examples/echo against a signed relay (EDGEMQ_SECRET)", () => {
  const e2e = useRelay({ vars: { EDGEMQ_SECRET: SECRET } });

  it("with minted tokens, the identities come from the tokens", async () => {
    const url = e2e.relay().url;
    await startServer([], { EDGEMQ_URL: url, EDGEMQ_TOKEN: await token("echo-server", "server") });
    const client = await run([join("examples", "echo", "client.mjs"), "not-used"], {
      EDGEMQ_URL: url,
      EDGEMQ_TOKEN: await token("alice", "client"),
    });
    expect(client.code, client.stderr).toBe(0);
    expectEchoes(client.stdout, "alice", "echo-server");
  });

  it("without a token, the client is refused with a typed error that says why, and exits non-zero", async () => {
    const client = await run([join("examples", "echo", "client.mjs"), "bob"], {
      EDGEMQ_URL: e2e.relay().url,
    });
    expect(client.code).not.toBe(0);
    expect(client.stderr).toContain("could not connect: unauthorized: a token is required");
  });

  it("with a token that lacks the server role, the server says the relay's reason and exits non-zero", async () => {
    const server = await run([join("examples", "echo", "server.mjs")], {
      EDGEMQ_URL: e2e.relay().url,
      EDGEMQ_TOKEN: await token("not-a-server", "client"),
    });
    expect(server.code).toBe(1);
    expect(server.stderr).toContain(
      "error: forbidden: the relay refused the connection (HTTP 403: this token does not allow the server role",
    );
  });
});
