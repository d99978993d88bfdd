/**
 * `npm start`: runs the relay locally with `wrangler dev`, offline (no cf.json fetch, no
 * telemetry), state kept in .wrangler/state/<port>: one directory per port, so a second relay on
 * another port neither sees the first one's queues nor locks its SQLite files. Dev mode (peers declare their identity) unless
 * EDGEMQ_SECRET is set in the environment or in .dev.vars: then signed mode (tokens required).
 * Other `EDGEMQ_*` settings in the environment reach the relay as `--var NAME:value`, so
 * `EDGEMQ_QUEUE_MODES='*=memory' npm start` works as a user expects (a name that is no setting is
 * then the relay's settings problem, named, not silently ignored).
 * Prints the WebSocket address and the mode once /healthz answers. PORT (default 8787) and
 * INSPECTOR_PORT choose ports. Extra arguments (`npm start -- --var NAME:value`) go to
 * `wrangler dev` after the ones set here; a --port or --inspector-port among them wins over PORT
 * or INSPECTOR_PORT. A port already in use (another relay, a second `npm start`) is refused before
 * wrangler starts: otherwise the other program's /healthz would be announced as this relay. wrangler
 * runs in its own process group; SIGINT/SIGTERM stop the whole group, workerd included.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Settings that are secrets: passed through a private file, never on the command line. */
const SECRET_VARS = ["EDGEMQ_SECRET", "EDGEMQ_SECRET_PREVIOUS"];
/**
 * `EDGEMQ_*` names in the environment that are no relay settings and are not passed on: an SDK
 * program's (examples/, the CLI: a token never goes on a command line) and the tests' own.
 */
const NOT_RELAY_VARS = ["EDGEMQ_URL", "EDGEMQ_TOKEN", "EDGEMQ_IDENTITY", "EDGEMQ_SDK"];
const TEST_VARS_PREFIX = "EDGEMQ_E2E_";
const extraArgs = process.argv.slice(2);
refuseSecretOnCommandLine(extraArgs);
const portArg = takeOption(extraArgs, "--port");
const inspectorPortArg = takeOption(extraArgs, "--inspector-port");
const port = portArg !== undefined ? parsePort("--port", portArg) : readPort("PORT", 8787);
const inspectorPort =
  inspectorPortArg !== undefined
    ? parsePort("--inspector-port", inspectorPortArg)
    : process.env.INSPECTOR_PORT
      ? readPort("INSPECTOR_PORT", 0)
      : undefined;
const STOP_GRACE_MS = 5_000;
const POLL_MS = 250;
refuseSamePorts();
await refuseBusyPort(portArg !== undefined ? "--port" : "PORT", port);
if (inspectorPort !== undefined) {
  await refuseBusyPort(
    inspectorPortArg !== undefined ? "--inspector-port" : "INSPECTOR_PORT",
    inspectorPort,
  );
}

const args = [
  "wrangler",
  "dev",
  "--ip",
  "127.0.0.1",
  "--port",
  String(port),
  "--persist-to",
  // Per port: two relays on one directory share their Durable Objects' SQLite files, so one
  // handed out the other's stored requests and both logged SQLITE_BUSY (database is locked).
  `.wrangler/state/${port}`,
  "--show-interactive-dev-session=false",
];
if (inspectorPort !== undefined) args.push("--inspector-port", String(inspectorPort));
const secretFile = passSecret(args);
const signedMode = Boolean(process.env.EDGEMQ_SECRET) || devVarsHaveSecret();
// Dev mode only without a secret (a secret wins anyway): the binding list then shows no dev mode.
if (!signedMode) args.push("--var", "EDGEMQ_DEV_MODE:true");
args.push(...settingsFromEnvironment());
args.push(...extraArgs);

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
  removeSecretFile();
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
  return parsePort(name, raw);
}

function parsePort(name, raw) {
  // Decimal digits only: Number() would also read "0x2000", "1e3" and " 80 ".
  const value = /^[0-9]{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < 1 || value > 65_535) {
    console.error(`${name} must be a port number from 1 to 65535, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

/**
 * Exits (code 2) when the inspector's port is the relay's: each is free on its own, and workerd
 * then died binding the second ("Fatal uncaught kj::Exception ... Address already in use").
 */
function refuseSamePorts() {
  if (inspectorPort !== port) return;
  const name = inspectorPortArg !== undefined ? "--inspector-port" : "INSPECTOR_PORT";
  const relayName = portArg !== undefined ? "--port" : "PORT";
  console.error(
    `${name}: ${port} is ${relayName} too; the relay and its inspector need a port each (${name}${name.startsWith("--") ? " " : "="}<another port>)`,
  );
  process.exit(2);
}

/**
 * Exits (code 1) when 127.0.0.1:`port` cannot be bound: wrangler would fail on it, and meanwhile
 * whatever listens there (another relay) would answer this script's /healthz probe.
 */
async function refuseBusyPort(name, value) {
  const problem = await new Promise((resolve) => {
    const server = createServer();
    server.once("error", (error) => resolve(error.code ?? String(error)));
    server.listen({ host: "127.0.0.1", port: value, exclusive: true }, () => {
      server.close(() => resolve(undefined));
    });
  });
  if (problem === undefined) return;
  const why =
    problem === "EADDRINUSE"
      ? "is in use (another relay or program listens there)"
      : `cannot be used (${problem})`;
  const other = name.startsWith("--") ? `${name} <port>` : `${name}=<port>`;
  console.error(`${name}: 127.0.0.1:${value} ${why}; stop it, or choose another port (${other})`);
  process.exit(1);
}

/**
 * Removes every `name value` and `name=value` from `list` and returns the last value, so the
 * option reaches wrangler once, from this script.
 */
function takeOption(list, name) {
  let value;
  for (let i = 0; i < list.length; ) {
    if (list[i] === name) {
      value = list[i + 1] ?? "";
      list.splice(i, 2);
    } else if (list[i].startsWith(`${name}=`)) {
      value = list[i].slice(name.length + 1);
      list.splice(i, 1);
    } else {
      i++;
    }
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

/**
 * An EDGEMQ_SECRET (and EDGEMQ_SECRET_PREVIOUS, during a rotation) from the environment reaches
 * the Worker through a private env file (mode 600), never on the command line, where any user
 * could read it in the process list.
 */
function passSecret(wranglerArgs) {
  const lines = SECRET_VARS.filter((name) => process.env[name]).map(
    (name) => `${name}=${JSON.stringify(process.env[name])}\n`,
  );
  if (lines.length === 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "edgemq-start-"));
  const file = join(dir, "secret.env");
  writeFileSync(file, lines.join(""), { mode: 0o600 });
  wranglerArgs.push("--env-file", file);
  return file;
}

function removeSecretFile() {
  if (secretFile) rmSync(join(secretFile, ".."), { recursive: true, force: true });
}

/** Whether .dev.vars sets EDGEMQ_SECRET to something (an empty value is no secret). */
function devVarsHaveSecret() {
  const file = join(root, ".dev.vars");
  if (!existsSync(file)) return false;
  const line = /^[ \t]*EDGEMQ_SECRET[ \t]*=(.*)$/m.exec(readFileSync(file, "utf8"));
  const value = line?.[1]?.trim().replace(/^(["'])(.*)\1$/, "$2") ?? "";
  return value !== "";
}

/** A secret given with `--var` would sit in the process list for any user to read: refuse it. */
function refuseSecretOnCommandLine(list) {
  const name = SECRET_VARS.find((secret) =>
    list.some((arg) => {
      // `NAME:value` as wrangler reads it, and the `NAME=value` slip, which shows the value too.
      const binding = arg.replace(/^--var=/, "");
      return binding.startsWith(`${secret}:`) || binding.startsWith(`${secret}=`);
    }),
  );
  if (name !== undefined) {
    console.error(
      `do not pass ${name} with --var (any user can read a command line): set it in the environment or in .dev.vars`,
    );
    process.exit(2);
  }
}

function stop(signal) {
  signalGroup(signal);
  removeSecretFile();
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
        const mode = signedMode
          ? "signed mode: peers need a token signed with EDGEMQ_SECRET"
          : "dev mode: peers declare their identity, no token";
        console.log(`EdgeMQ relay (${mode}) listening on ws://127.0.0.1:${port}`);
        return;
      }
      if (response.status === 503) {
        const { misread = [], error } = await response.json();
        const why =
          misread.length > 0
            ? ` until these settings are fixed (docs/settings.md): ${misread.join(", ")}. The relay logs what is wrong with each (its settings_invalid line).`
            : `: ${error}`;
        console.error(`EdgeMQ relay listening on ws://127.0.0.1:${port} refuses every call${why}`);
        return;
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * `--var NAME:value` for each `EDGEMQ_*` setting in the environment but the secrets (a private
 * file carries them) and the SDK's and tests' own variables. Arguments given after `npm start --`
 * come later, so an explicit `--var` wins.
 */
function settingsFromEnvironment() {
  const args = [];
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("EDGEMQ_") || value === undefined) continue;
    if (SECRET_VARS.includes(name) || NOT_RELAY_VARS.includes(name)) continue;
    if (name.startsWith(TEST_VARS_PREFIX)) continue;
    args.push("--var", `${name}:${value}`);
  }
  return args;
}
