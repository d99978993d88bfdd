/**
 * The `edgemq` command's logic (cli/main.ts, which cli/edgemq.ts runs as the program): help,
 * one clear line for every bad command line, and the token it prints for a good one.
 */
import { describe, expect, it } from "vitest";
import { main, parseTokenArgs, TOKEN_USAGE, USAGE } from "../../../cli/main.js";
import { verifyToken } from "../../../protocol/index.js";

const SECRET = "cli-test-secret-0123456789abcdef";
const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);
const GOOD = ["token", "--sub", "alice", "--role", "client", "--queue", "echo"];

interface Ran {
  code: number;
  out: string;
  err: string;
}

async function edgemq(argv: string[], env: Record<string, string> = { EDGEMQ_SECRET: SECRET }) {
  const ran: Ran = { code: -1, out: "", err: "" };
  ran.code = await main(
    argv,
    env,
    {
      out: (text) => {
        ran.out += text;
      },
      err: (text) => {
        ran.err += text;
      },
    },
    () => NOW,
  );
  return ran;
}

/** A token's payload, read without verifying it. */
function payloadOf(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

describe("edgemq --help", () => {
  it("prints the usage on stdout and exits 0, at the top level and for token", async () => {
    for (const argv of [["--help"], ["-h"], ["help"]]) {
      expect(await edgemq(argv)).toEqual({ code: 0, out: `${USAGE}\n`, err: "" });
    }
    const tokenHelp = [
      ["token", "--help"],
      ["token", "-h"],
      ["help", "token"],
      [...GOOD, "--help"],
      ["token", "--bogus", "-h"],
    ];
    for (const argv of tokenHelp) {
      expect(await edgemq(argv, {})).toEqual({ code: 0, out: `${TOKEN_USAGE}\n`, err: "" });
    }
    expect(TOKEN_USAGE).toContain("--queue");
    expect(TOKEN_USAGE).toContain("--ttl");
  });

  it("without a command, says so and prints the usage, with exit code 2", async () => {
    const ran = await edgemq([]);
    expect(ran.code).toBe(2);
    expect(ran.out).toBe("");
    expect(ran.err).toBe(`edgemq: a command is required\n${USAGE}\n`);
  });
});

describe("edgemq with a bad command line", () => {
  const cases: [string[], string][] = [
    [["nope"], "unknown command nope"],
    [["--bogus"], "unknown option --bogus"],
    [["help", "nope"], "no help for nope"],
    [[...GOOD, "--bogus"], "unknown option --bogus"],
    [[...GOOD, "--bogus=1"], "unknown option --bogus"],
    [[...GOOD, "-x"], "unknown option -x"],
    [[...GOOD, "extra"], "unexpected argument extra (edgemq token takes options only)"],
    [[...GOOD, "--", "extra"], "unexpected argument extra (edgemq token takes options only)"],
    [[...GOOD, "--ttl"], "--ttl needs a value"],
    [
      ["token", "--sub", "--role", "client", "--queue", "echo"],
      "--sub needs a value, not --role (write --sub=--role if that is it)",
    ],
    [[...GOOD, "--ttl", "-1h"], "--ttl must be a positive whole number of s, m, h or d"],
    [[...GOOD, "--ttl=-1h"], "--ttl must be a positive whole number of s, m, h or d"],
    [[...GOOD, "--ttl", "0"], "--ttl must be a positive whole number of s, m, h or d"],
    [[...GOOD, "--ttl", "1w"], "--ttl must be a positive whole number of s, m, h or d"],
    [[...GOOD, "--sub", "bob"], "--sub is given more than once (alice, bob)"],
    [[...GOOD, "--role=server"], "--role is given more than once (client, server)"],
    [[...GOOD, "--ttl", "1h", "--ttl", "2h"], "--ttl is given more than once (1h, 2h)"],
    [[...GOOD, "--ttl", "3651d"], "--ttl must be at most 3650d (ten years), not 3651d"],
    [[...GOOD, "--ttl", "999999999d"], "--ttl must be at most 3650d"],
    [["token", "--role", "client", "--queue", "echo"], "--sub is required"],
    [["token", "--sub", "a b", "--role", "client", "--queue", "echo"], "--sub must be"],
    [["token", "--sub", "alice", "--queue", "echo"], "--role is required"],
    [
      [...GOOD.slice(0, 3), "--role", "admin", "--queue", "echo"],
      "--role must be client, server or both",
    ],
    [["token", "--sub", "alice", "--role", "client"], "at least one --queue is required"],
    [[...GOOD, "--queue", "a*b"], "--queue a*b is neither"],
  ];

  it("prints one line naming the fault and a hint to --help, with exit code 2", async () => {
    for (const [argv, message] of cases) {
      const ran = await edgemq(argv);
      expect(ran.code, argv.join(" ")).toBe(2);
      expect(ran.out, argv.join(" ")).toBe("");
      const lines = ran.err.split("\n");
      expect(lines, argv.join(" ")).toHaveLength(3);
      expect(lines[0], argv.join(" ")).toMatch(/^edgemq: /);
      expect(lines[0], argv.join(" ")).toContain(message);
      expect(lines[1], argv.join(" ")).toMatch(/^Run 'edgemq (token )?--help' for usage\.$/);
      expect(lines[2]).toBe("");
    }
  });

  it("refuses every zero --ttl, whose token would expire as it is issued", async () => {
    for (const ttl of ["0s", "0m", "0h", "0d", "00s"]) {
      const ran = await edgemq([...GOOD, "--ttl", ttl]);
      expect(ran.code, ttl).toBe(2);
      expect(ran.out, ttl).toBe("");
      expect(ran.err, ttl).toContain(`--ttl must be a positive whole number`);
    }
  });

  it("refuses to mint without EDGEMQ_SECRET", async () => {
    const ran = await edgemq(GOOD, {});
    expect(ran.code).toBe(2);
    expect(ran.out).toBe("");
    expect(ran.err).toBe(
      "edgemq: EDGEMQ_SECRET is not set\nRun 'edgemq token --help' for usage.\n",
    );
  });
});

describe("edgemq token", () => {
  it("prints one token, signed with EDGEMQ_SECRET, valid for --ttl (1h by default)", async () => {
    const ran = await edgemq(GOOD);
    expect(ran.code).toBe(0);
    expect(ran.err).toBe("");
    expect(ran.out).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = ran.out.trim();
    const verified = await verifyToken(token, SECRET, NOW);
    expect(verified.ok).toBe(true);
    const iat = NOW / 1000;
    expect(payloadOf(token)).toEqual({
      sub: "alice",
      role: "client",
      queues: ["echo"],
      iat,
      exp: iat + 3600,
    });
  });

  it("refuses to sign with a secret under 32 characters, which a relay refuses too", async () => {
    const ran = await edgemq(GOOD, { EDGEMQ_SECRET: "s3cret" });
    expect(ran.code).toBe(2);
    expect(ran.out).toBe("");
    expect(ran.err).toMatch(/^edgemq: EDGEMQ_SECRET is 6 characters: a relay takes 32 or more /);
    const enough = "x".repeat(32);
    const signed = await edgemq(GOOD, { EDGEMQ_SECRET: enough });
    expect(signed.code).toBe(0);
    expect((await verifyToken(signed.out.trim(), enough, NOW)).ok).toBe(true);
  });

  it("keeps every --queue, reads --option=value, and a --ttl of 90s is 90 seconds", async () => {
    const ran = await edgemq([
      "token",
      "--sub=alice",
      "--role=both",
      "--queue",
      "echo",
      "--queue=img.*",
      "--ttl",
      "90s",
    ]);
    expect(ran.code, ran.err).toBe(0);
    const payload = payloadOf(ran.out.trim());
    expect(payload.queues).toEqual(["echo", "img.*"]);
    expect(payload.role).toBe("both");
    expect(payload.exp).toBe(NOW / 1000 + 90);
  });

  it("takes a value that starts with - when written --option=value", () => {
    expect(parseTokenArgs(["--sub=-alice", "--queue", "q"])).toEqual({
      kind: "options",
      options: { sub: "-alice", queue: ["q"] },
    });
  });
});
