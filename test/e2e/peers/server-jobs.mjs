/**
 * Server-side handlers for the e2e peer process, by mode:
 *   echo   - returns the body unchanged (JSON, string or bytes) and records its SHA-256;
 *   tagged - returns { from: req.from, payload: req.body, server, attempt } after `delayMs`;
 *   script - body { op: "sleep", ms } | { op: "throw", message } | { op: "echo", value }
 *            | { op: "headers" } (answers the request's headers)
 *            | { op: "reply", value, headers, contentType } (reply(value, { headers, contentType }),
 *              the request's headers added under `echo-*` names)
 *            | { op: "crash" } (a poison request: the whole process exits at once);
 *   hold   - never answers (until the request is cancelled); emits a `held` event.
 * Every handled request is counted in the process's stats (with its attempt and payload key).
 */
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { reply } from "edgemq/client";

const MAX_SLEEP_MS = 60_000;

export function createStats() {
  const state = { handled: 0, byAttempt: {}, byPartition: {}, records: [], received: [] };
  return {
    record(req) {
      state.handled++;
      state.byAttempt[req.attempt] = (state.byAttempt[req.attempt] ?? 0) + 1;
      const partition = req.partition ?? 0;
      state.byPartition[partition] = (state.byPartition[partition] ?? 0) + 1;
      const key = typeof req.body?.key === "string" ? req.body.key : undefined;
      if (state.records.length < 5_000) {
        state.records.push({ id: req.id, from: req.from, attempt: req.attempt, key });
      }
    },
    received(entry) {
      if (state.received.length < 100) state.received.push(entry);
    },
    snapshot() {
      return structuredClone(state);
    },
  };
}

export function describeBody(body) {
  if (body instanceof Uint8Array) return { kind: "bytes", size: body.length, sha256: sha(body) };
  if (typeof body === "string") return { kind: "string", size: body.length, sha256: sha(body) };
  return { kind: "json", size: 0, sha256: sha(JSON.stringify(body) ?? "undefined") };
}

function sha(data) {
  return createHash("sha256").update(data).digest("hex");
}

export function makeHandler({ mode, name, delayMs, stats, emit }) {
  switch (mode) {
    case "echo":
      return async (req) => {
        stats.record(req);
        stats.received(describeBody(req.body));
        return req.body;
      };
    case "tagged":
      return async (req) => {
        stats.record(req);
        if (delayMs > 0) await sleep(delayMs);
        return { from: req.from, payload: req.body, server: name, attempt: req.attempt };
      };
    case "script":
      return async (req) => {
        stats.record(req);
        return runScript(req);
      };
    case "hold":
      return (req) => {
        stats.record(req);
        emit({
          event: "held",
          id: req.id,
          from: req.from,
          attempt: req.attempt,
          key: req.body?.key,
        });
        return new Promise((_, reject) => {
          const fail = () => reject(new Error("held request cancelled"));
          if (req.signal?.aborted) fail();
          req.signal?.addEventListener("abort", fail, { once: true });
          setTimeout(fail, 110_000).unref();
        });
      };
    default:
      throw new Error(`unknown server mode ${mode}`);
  }
}

async function runScript(req) {
  const body = req.body;
  switch (body?.op) {
    case "sleep": {
      const ms = Math.min(Number(body.ms) || 0, MAX_SLEEP_MS);
      try {
        await sleep(ms, undefined, { signal: req.signal });
      } catch {
        // Cancelled by the relay (deadline passed): the answer no longer matters.
      }
      return { slept: ms };
    }
    case "throw":
      throw new Error(String(body.message));
    case "echo":
      return body.value ?? null;
    case "headers":
      return req.headers;
    case "reply": {
      const echoed = Object.entries(req.headers).map(([name, value]) => [`echo-${name}`, value]);
      const headers =
        body.headers === undefined ? undefined : { ...body.headers, ...Object.fromEntries(echoed) };
      return reply(body.value ?? null, { headers, contentType: body.contentType });
    }
    case "crash":
      process.exit(70);
      break;
    default:
      throw new Error(`unknown op ${JSON.stringify(body?.op)}`);
  }
}
