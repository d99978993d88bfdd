/**
 * E2E failures as typed errors: a deadline that passes while the server works gives `timeout`; a
 * queue no server ever joined gives `no_responders` at its deadline, or at once with `failFast`;
 * a handler that throws gives `server_error` with the handler's message and no stack trace.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { awaitBurst, request, serve, startBurst } from "./support/commands.js";
import { useRelay } from "./support/fixture.js";
import type { PeerProcess } from "./support/peer.js";

const SCRIPTED = "scripted";

describe("failures reach the client as typed errors", () => {
  const e2e = useRelay();
  let client: PeerProcess;

  beforeAll(async () => {
    const server = await e2e.peer("script-server");
    await serve(server, { identity: "scripter", queue: SCRIPTED, mode: "script", concurrency: 4 });
    client = await e2e.peer("errors-client");
    // The server answers, so it is connected before any test relies on it.
    const warm = await ask(SCRIPTED, { op: "echo", value: "warm" }, { timeout: 30_000 });
    expect(warm).toEqual({ ok: true, body: "warm" });
  });

  const ask = (queue: string, body: unknown, options: { timeout?: number; failFast?: boolean }) =>
    request(client, { identity: "errors-client", queue, body, options }, 60_000);

  it("fails with timeout when the deadline passes while a connected server is still working", async () => {
    const outcome = await ask(SCRIPTED, { op: "sleep", ms: 20_000 }, { timeout: 1_500 });
    expect(outcome).toMatchObject({ ok: false, isEdgeMQError: true, code: "timeout" });
  });

  it("fails with no_responders when the deadline passes and no server ever served the queue", async () => {
    const outcome = await ask("nobody-home", { op: "echo", value: 1 }, { timeout: 1_500 });
    expect(outcome).toMatchObject({ ok: false, isEdgeMQError: true, code: "no_responders" });
  });

  it("fails a failFast request with no_responders while a request without failFast on the same queue still waits", async () => {
    const queue = "nobody-yet";
    const waiter = await e2e.peer("patient-client");
    await startBurst(
      waiter,
      { job: "patient", identities: ["patient"], perIdentity: 1, queue, timeout: 60_000 },
      30_000,
    );
    let patientSettled = false;
    const patient = awaitBurst(waiter, "patient", 90_000).finally(() => {
      patientSettled = true;
    });

    const outcome = await ask(queue, { op: "echo", value: 1 }, { timeout: 60_000, failFast: true });
    expect(outcome).toMatchObject({ ok: false, isEdgeMQError: true, code: "no_responders" });
    expect(patientSettled).toBe(false);

    // The patient request was really waiting in the queue: a server that joins now answers it.
    const late = await e2e.peer("late-server");
    await serve(late, { identity: "late", queue, mode: "tagged", concurrency: 1, name: "late" });
    expect(await patient).toMatchObject({ sent: 1, ok: 1, errors: {} });
  });

  it("fails with server_error carrying the handler's message and no stack trace when the handler throws", async () => {
    const message = "resize failed: unsupported format xyz-42";
    const outcome = await ask(SCRIPTED, { op: "throw", message }, { timeout: 30_000 });
    expect(outcome).toMatchObject({ ok: false, isEdgeMQError: true, code: "server_error" });
    const text = outcome.ok ? "" : outcome.message;
    expect(text).toContain(message);
    expect(text).not.toMatch(/\n\s*at\s/);
    expect(text).not.toMatch(/server-jobs\.mjs|peer\.mjs|file:\/\//);
  });
});
