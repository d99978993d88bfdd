/**
 * Free TCP ports on 127.0.0.1 for the e2e relay: `wrangler dev` listens in 18700-18799 and its
 * inspector in 19700-19799 (the ranges reserved for this suite). A port is "free" when we can
 * bind it ourselves for a moment.
 */
import { createServer } from "node:net";

export const RELAY_PORTS = { first: 18700, last: 18799 } as const;
export const INSPECTOR_PORTS = { first: 19700, last: 19799 } as const;

/** Resolves true when 127.0.0.1:port can be bound right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** A free port from `range`, tried in a random order; each port is tried at most once. */
export async function pickFreePort(
  range: { first: number; last: number },
  exclude: ReadonlySet<number> = new Set(),
): Promise<number> {
  const ports: number[] = [];
  for (let p = range.first; p <= range.last; p++) if (!exclude.has(p)) ports.push(p);
  for (let i = ports.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const a = ports[i];
    const b = ports[j];
    if (a === undefined || b === undefined) continue;
    ports[i] = b;
    ports[j] = a;
  }
  for (const port of ports) {
    if (await isPortFree(port)) return port;
  }
  throw new Error(`no free port in ${range.first}-${range.last}`);
}

/** Waits (bounded) until `port` can be bound again, e.g. after the process holding it died. */
export async function waitPortFree(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; i < 1_000 && Date.now() < until; i++) {
    if (await isPortFree(port)) return;
    await sleep(100);
  }
  throw new Error(`port ${port} still busy after ${timeoutMs} ms`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
