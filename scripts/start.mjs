/**
 * `npm start`: runs the relay locally with `wrangler dev` in dev mode (peers declare their
 * identity), offline (no cf.json fetch, no telemetry), state kept in .wrangler/state. Prints the
 * WebSocket address once /healthz answers. PORT (default 8787) and INSPECTOR_PORT choose ports.
 * wrangler runs in its own process group; SIGINT/SIGTERM stop the whole group, workerd included.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const port = readPort("PORT", 8787);
const inspectorPort = process.env.INSPECTOR_PORT ? readPort("INSPECTOR_PORT", 0) : undefined;
const STOP_GRACE_MS = 5_000;
const POLL_MS = 250;

const args = [
  "wrangler",
  "dev",
  "--ip",
  "127.0.0.1",
  "--port",
  String(port),
  "--persist-to",
  ".wrangler/state",
  "--var",
  "EDGEMQ_DEV_MODE:true",
  "--show-interactive-dev-session=false",
];
if (inspectorPort !== undefined) args.push("--inspector-port", String(inspectorPort));

const child = spawn("npx", args, {
  cwd: root,
  detached: true,
  stdio: ["ignore", "inherit", "inherit"],
  env: {
    ...process.env,
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    WRANGLER_HIDE_BANNER: "true",
  },
});

let exited = false;
child.on("exit", (code, signal) => {
  exited = true;
  signalGroup("SIGTERM");
  process.exit(code ?? (signal ? 1 : 0));
});

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => stop(signal));
}

await waitUntilReady();

function readPort(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    console.error(`${name} must be a port number from 1 to 65535, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

/** Sends `signal` to wrangler's whole process group; a group already gone is fine. */
function signalGroup(signal) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group has exited.
  }
}

function stop(signal) {
  signalGroup(signal);
  setTimeout(() => {
    signalGroup("SIGKILL");
    process.exit(1);
  }, STOP_GRACE_MS).unref();
}

async function waitUntilReady() {
  const url = `http://127.0.0.1:${port}/healthz`;
  while (!exited) {
    try {
      const response = await fetch(url);
      if (response.ok) {
        console.log(
          `EdgeMQ relay (dev mode: peers declare their identity) listening on ws://127.0.0.1:${port}`,
        );
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
