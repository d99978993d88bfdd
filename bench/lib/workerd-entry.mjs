/**
 * The Worker's own address inside `wrangler dev`: the TCP port on which the workerd running the
 * Worker and its Durable Objects listens, behind wrangler's dev proxy (a second workerd that
 * exists only locally, so a deployed relay has no such hop). The proxy holds about six file
 * descriptors per WebSocket and the Worker's workerd one, so the idle workload connects here to
 * hold the 5,000 sockets the issue asks for under this machine's 20,000 open-file limit.
 * Found from /proc: the process's listening sockets, each asked for `probePath`.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Listening TCP ports (IPv4) whose sockets the process `pid` holds. */
export function listeningPorts(pid) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // Closed while listing.
    }
  }
  const ports = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const cols = line.trim().split(/\s+/);
    // cols: sl, local_address, rem_address, st (0A = LISTEN), ..., inode (index 9).
    if (cols[3] !== "0A" || !inodes.has(cols[9])) continue;
    ports.push(Number.parseInt(cols[1].split(":")[1], 16));
  }
  return ports;
}

/**
 * `ws://127.0.0.1:<port>` of the process's port that answers `probePath` with 200, or undefined
 * (the caller then uses wrangler's own address).
 */
export async function workerdWsUrl(pid, probePath) {
  if (pid === undefined) return undefined;
  let ports;
  try {
    ports = listeningPorts(pid);
  } catch {
    return undefined;
  }
  for (const port of ports) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}${probePath}`, {
        signal: AbortSignal.timeout(2_000),
      });
      if (response.ok) return `ws://127.0.0.1:${port}`;
    } catch {
      // Not an HTTP port (the inspector, the debug port).
    }
  }
  return undefined;
}
