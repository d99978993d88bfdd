/**
 * Free TCP ports on 127.0.0.1 for the e2e relay: `wrangler dev` listens in 18700-18799 and its
 * inspector in 19700-19799 (the ranges reserved for this suite). A port is "free" when we can
 * bind it ourselves for a moment.
 */
import { createServer } from "node:net";

export const RELAY_PORTS = { first: 18700, last: 18799 } as const;
export const INSPECTOR_PORTS = { first: 19700, last: 19799 } as const;

export interface PortRange {
  first: number;
  last: number;
}

/**
 * `defaults`, or the ranges EDGEMQ_E2E_RELAY_PORTS and EDGEMQ_E2E_INSPECTOR_PORTS name
 * ("first-last", e.g. 9560-9569), so a run beside other people's runs on one machine keeps to
 * ports of its own. A value that is no such range throws, rather than being ignored.
 */
export function portRangesFromEnv(defaults: { relay: PortRange; inspector: PortRange }): {
  relay: PortRange;
  inspector: PortRange;
} {
  return {
    relay: rangeFromEnv("EDGEMQ_E2E_RELAY_PORTS", defaults.relay),
    inspector: rangeFromEnv("EDGEMQ_E2E_INSPECTOR_PORTS", defaults.inspector),
  };
}

function rangeFromEnv(name: string, fallback: PortRange): PortRange {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const match = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(raw);
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || first < 1 || last > 65_535 || first > last) {
    throw new Error(`${name} must be a port range first-last, e.g. 9560-9569 (not ${raw})`);
  }
  return { first, last };
}

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
