/**
 * E2E, HTTP API against a real `wrangler dev` (test/e2e/relay.ts, on its own ports): the real
 * `curl` binary as a client served by an SDK server process, and an SDK client served by a
 * take/reply loop of `curl` processes. Bodies and Content-Types must arrive intact both ways.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Relay } from "./relay.js";
import { request, serve } from "./support/commands.js";
import { PeerProcess } from "./support/peer.js";

interface CurlResult {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Ports of its own, so this file never meets the other e2e files' relays. */
const PORTS = { relay: { first: 18940, last: 18959 }, inspector: { first: 19940, last: 19959 } };

let relay: Relay | undefined;
let scratch = "";
const peers: PeerProcess[] = [];

function base(): string {
  if (relay === undefined) throw new Error("relay not started");
  return relay.httpUrl;
}

/** Runs the real curl; `-D` writes the response headers to stdout and `-o` the body to a file. */
function curl(args: string[], timeoutMs = 30_000): Promise<CurlResult> {
  const out = join(scratch, `body-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve, reject) => {
    const child = spawn("curl", [
      "-sS",
      "--max-time",
      String(timeoutMs / 1000),
      "-D",
      "-",
      "-o",
      out,
      ...args,
    ]);
    const chunks: Buffer[] = [];
    const errors: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => errors.push(c));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) {
        reject(new Error(`curl exited ${code}: ${Buffer.concat(errors).toString()}`));
        return;
      }
      const head = Buffer.concat(chunks).toString("latin1").split("\r\n");
      const status = Number(head[0]?.split(" ")[1]);
      const headers = new Map<string, string>();
      for (const line of head.slice(1)) {
        const at = line.indexOf(":");
        if (at > 0) headers.set(line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim());
      }
      let body = Buffer.alloc(0);
      try {
        body = readFileSync(out);
      } catch {
        // No body (204).
      }
      rmSync(out, { force: true });
      resolve({ status, headers, body });
    });
  });
}

function fileWith(content: Buffer | string): string {
  const path = join(scratch, `in-${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, content);
  return path;
}

describe("HTTP API with curl and the SDK", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "edgemq-curl-"));
    relay = await Relay.start({ ports: PORTS });
  });

  afterAll(async () => {
    await Promise.all(peers.splice(0).map((p) => p.stop()));
    await relay?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("a curl client is served by an SDK server: JSON, text and bytes come back intact", async () => {
    const server = await PeerProcess.start("sdk-echo-server", relay?.url ?? "");
    peers.push(server);
    await serve(server, {
      identity: "sdk-worker",
      queue: "curl-echo",
      mode: "echo",
      concurrency: 4,
    });
    const url = `${base()}/v1/queues/curl-echo/requests?timeout=20000`;
    const id = ["-H", "EdgeMQ-Identity: curl-alice"];

    const json = await curl([
      ...id,
      "-H",
      "Content-Type: application/json",
      "--data-binary",
      '{"n":[1,2]}',
      url,
    ]);
    expect(json.status).toBe(200);
    expect(json.headers.get("content-type")).toBe("application/json");
    expect(JSON.parse(json.body.toString("utf8"))).toEqual({ n: [1, 2] });

    const text = await curl([
      ...id,
      "-H",
      "Content-Type: text/plain; charset=utf-8",
      "--data-binary",
      "héllo wörld",
      url,
    ]);
    expect(text.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(text.body.toString("utf8")).toBe("héllo wörld");

    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    const bin = await curl([
      ...id,
      "-H",
      "Content-Type: application/octet-stream",
      "--data-binary",
      `@${fileWith(bytes)}`,
      url,
    ]);
    expect(bin.status).toBe(200);
    expect(bin.headers.get("content-type")).toBe("application/octet-stream");
    expect(bin.body.equals(bytes)).toBe(true);
  });

  it("a curl client's EdgeMQ-Headers, UTF-8 as typed, reach the SDK server's handler", async () => {
    const server = await PeerProcess.start("sdk-script-server", relay?.url ?? "");
    peers.push(server);
    await serve(server, { identity: "sdk-scripter", queue: "curl-headers", mode: "script" });
    const answer = await curl([
      "-H",
      "EdgeMQ-Identity: curl-carol",
      "-H",
      'EdgeMQ-Headers: {"Trace-Id":"t-1","note":"café ✓"}',
      "-H",
      "Content-Type: application/json",
      "--data-binary",
      '{"op":"headers"}',
      `${base()}/v1/queues/curl-headers/requests?timeout=20000`,
    ]);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString("utf8"))).toEqual({ "Trace-Id": "t-1", note: "café ✓" });
  });

  it("a curl client gets 202, then the reply by long-poll, and 404 for another identity", async () => {
    const server = await PeerProcess.start("sdk-echo-server-2", relay?.url ?? "");
    peers.push(server);
    await serve(server, {
      identity: "sdk-worker-2",
      queue: "curl-async",
      mode: "echo",
      concurrency: 1,
    });
    const accepted = await curl([
      "-H",
      "EdgeMQ-Identity: curl-bob",
      "-H",
      "Content-Type: application/json",
      "--data-binary",
      '{"greeting":"hi"}',
      `${base()}/v1/queues/curl-async/requests?async=true`,
    ]);
    expect(accepted.status).toBe(202);
    const { id } = JSON.parse(accepted.body.toString("utf8")) as { id: string };
    const polled = await curl([
      "-H",
      "EdgeMQ-Identity: curl-bob",
      `${base()}/v1/requests/${id}?wait=20000`,
    ]);
    expect(polled.status).toBe(200);
    expect(JSON.parse(polled.body.toString("utf8"))).toEqual({ greeting: "hi" });
    const other = await curl(["-H", "EdgeMQ-Identity: curl-eve", `${base()}/v1/requests/${id}`]);
    expect(other.status).toBe(404);
  });

  it("an SDK client is served by a curl take/reply loop, bodies and types intact", async () => {
    const client = await PeerProcess.start("sdk-client", relay?.url ?? "");
    peers.push(client);
    const queue = "curl-served";
    const who = ["-H", "EdgeMQ-Identity: curl-worker"];
    let stop = false;
    const served: string[] = [];
    const loop = (async () => {
      while (!stop) {
        const taken = await curl([
          ...who,
          "-X",
          "POST",
          `${base()}/v1/queues/${queue}/take?wait=2000`,
        ]);
        if (taken.status === 204) continue;
        expect(taken.status).toBe(200);
        served.push(taken.headers.get("edgemq-from") ?? "");
        const rid = taken.headers.get("edgemq-request-id") ?? "";
        const type = taken.headers.get("content-type") ?? "application/octet-stream";
        const answered = await curl([
          ...who,
          "-H",
          `Content-Type: ${type}`,
          "--data-binary",
          `@${fileWith(taken.body)}`,
          `${base()}/v1/queues/${queue}/replies/${rid}`,
        ]);
        expect(answered.status).toBe(204);
      }
    })();
    try {
      const asJson = await request(
        client,
        { identity: "sdk-client-1", queue, body: { x: [1, "two"] }, options: { timeout: 30_000 } },
        40_000,
      );
      expect(asJson).toEqual({ ok: true, body: { x: [1, "two"] } });
      const asText = await request(
        client,
        { identity: "sdk-client-1", queue, body: "plain ✓", options: { timeout: 30_000 } },
        40_000,
      );
      expect(asText).toEqual({ ok: true, body: "plain ✓" });
      const bytes = new Uint8Array([0, 1, 2, 250, 255]);
      const asBytes = await request(
        client,
        { identity: "sdk-client-1", queue, body: bytes, options: { timeout: 30_000 } },
        40_000,
      );
      expect(asBytes).toEqual({ ok: true, body: bytes });
      expect(served).toEqual(["sdk-client-1", "sdk-client-1", "sdk-client-1"]);
    } finally {
      stop = true;
      await loop;
    }
  });
});
