/**
 * Starts one `wrangler dev` for the bench, as scripts/start.mjs does (offline env, 127.0.0.1,
 * --persist-to, optional --var), in its own process group, with state in a fresh temp dir.
 * The relay runs from a snapshot of its sources (like test/e2e/relay.ts), so an edit made by
 * someone else while the bench runs cannot reload the Worker mid-measurement. Finds the workerd
 * child in the group (for RSS and CPU from /proc) and stops the whole group.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workerdWsUrl } from "./workerd-entry.mjs";

const OFFLINE_ENV = {
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
};
const START_TIMEOUT_MS = 60_000;
/** Shell prelude: the soft open-file limit raised to the hard one, then exec node. */
const RAISE_FILE_LIMIT = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"';
const STOP_GRACE_MS = 5_000;

/**
 * @param {{ name: string, root: string, files: string[], config: string, port: number,
 *   inspectorPort: number, vars?: Record<string, string> }} options
 */
export async function startWrangler(options) {
  const base = mkdtempSync(join(tmpdir(), `edgemq-bench-${options.name}-`));
  const app = join(base, "app");
  for (const file of options.files)
    cpSync(join(options.root, file), join(app, file), { recursive: true });
  symlinkSync(join(options.root, "node_modules"), join(app, "node_modules"), "dir");
  const args = [
    join(options.root, "node_modules", "wrangler", "bin", "wrangler.js"),
    "dev",
    "-c",
    options.config,
    "--ip",
    "127.0.0.1",
    "--port",
    String(options.port),
    "--inspector-port",
    String(options.inspectorPort),
    "--persist-to",
    join(base, "state"),
    "--show-interactive-dev-session=false",
  ];
  for (const [name, value] of Object.entries(options.vars ?? {})) {
    args.push("--var", `${name}:${value}`);
  }
  const log = [];
  // workerd holds about six descriptors per proxied WebSocket: at a 20,000-file limit it runs
  // out near 3,300 idle connections ("Too many open files") and dies. Raise the soft limit to the
  // hard one where that is higher (file-limit.mjs caps the idle workload to what remains).
  const child = spawn("/bin/sh", ["-c", RAISE_FILE_LIMIT, process.execPath, ...args], {
    cwd: app,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...OFFLINE_ENV },
  });
  const keep = (chunk) => {
    log.push(String(chunk));
    if (log.length > 200) log.shift();
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${options.port}`;
  const started = Date.now();
  for (;;) {
    if (exited) throw new Error(`${options.name}: wrangler exited early\n${log.join("")}`);
    if (Date.now() - started > START_TIMEOUT_MS) {
      stopGroup(child.pid);
      throw new Error(`${options.name}: not ready in ${START_TIMEOUT_MS} ms\n${log.join("")}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    await sleep(250);
  }
  const pid = child.pid;
  return {
    name: options.name,
    url,
    wsUrl: `ws://127.0.0.1:${options.port}`,
    inspectorPort: options.inspectorPort,
    persistDir: join(base, "state"),
    appDir: app,
    pid,
    log: () => log.join(""),
    /** The workerd running the Worker and its Durable Objects. */
    workerdPid: () => findWorkerd(pid, "user"),
    /** The Worker's workerd's own ws:// address, behind wrangler's proxy (workerd-entry.mjs). */
    directWsUrl: () => workerdWsUrl(findWorkerd(pid, "user"), "/healthz"),
    /** wrangler dev's proxy workerd (every request passes it first). */
    proxyPid: () => findWorkerd(pid, "proxy"),
    /** wrangler's own Node process. */
    wranglerPid: pid,
    groupPids: () => groupMembers(pid),
    /**
     * Freezes the whole group (SIGSTOP), so an idle `wrangler dev` takes no CPU while another is
     * measured: esbuild's watcher and wrangler's Node process use ~7% of a core even when idle.
     */
    pause: () => stopGroup(pid, "SIGSTOP"),
    resume: () => stopGroup(pid, "SIGCONT"),
    async stop() {
      stopGroup(pid, "SIGCONT");
      stopGroup(pid);
      const deadline = Date.now() + STOP_GRACE_MS;
      while (!exited && Date.now() < deadline) await sleep(100);
      if (groupMembers(pid).length > 0) stopGroup(pid, "SIGKILL");
      await sleep(200);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function stopGroup(pid, signal = "SIGTERM") {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}

/** Processes whose process group is `pgid`, as { pid, comm }. */
export function groupMembers(pgid) {
  const members = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat && stat.pgrp === pgid) members.push({ pid: Number(entry), comm: stat.comm });
  }
  return members;
}

/**
 * wrangler dev runs two workerd processes: its proxy (listening on --port) and the one running the
 * user's Worker and Durable Objects (started with --inspector-addr). `which` picks one.
 */
function findWorkerd(pgid, which) {
  for (const member of groupMembers(pgid)) {
    if (member.comm !== "workerd") continue;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${member.pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const isUser = cmdline.includes("--inspector-addr");
    if ((which === "user") === isUser) return member.pid;
  }
  return undefined;
}

/** Fields of /proc/<pid>/stat: comm, process group, user+system CPU in clock ticks. */
export function readProcStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" ");
  // fields[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
  return {
    comm,
    pgrp: Number(fields[2]),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
  };
}

/** VmRSS of a process in KiB, or undefined. */
export function readRssKiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
