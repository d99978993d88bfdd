/**
 * `npm run bench` (`node bench/run.mjs [--quick] [--no-readme]`): measures the relay against a
 * raw WebSocket echo through one hibernating Durable Object (bench/echo/), both under `wrangler
 * dev` on 127.0.0.1, driven by peers in separate Node processes. Workloads: serial, pipelined,
 * fan-in, idle connections, HTTP API; then a CPU profile of the relay under pipelined load.
 * Prints one table (relay figure, echo figure, ratio), writes bench/results/latest.json and, for
 * a full run, appends the table to bench/README.md. Everything is bounded in count and time.
 * `--only=serial,pipelined,fanin,idle,http,partitions` runs just the workloads named (no profile;
 * the README is not appended).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  BENCH_VARS,
  FULL,
  HTTP_PATH,
  MODES,
  PARTITIONS,
  PORTS,
  QUICK,
  SERIAL_PORTS,
} from "./config.mjs";
import { echoWakeCheck, relayWakeCheck } from "./lib/checks.mjs";
import { idleCountWithin, openFileLimit } from "./lib/file-limit.mjs";
import { machine } from "./lib/machine.mjs";
import { partitionRows, sweepPartitions } from "./lib/partitions.mjs";
import { profileRelay } from "./lib/profile-run.mjs";
import { appendReadme, buildRows, floorRows, printTable } from "./lib/report.mjs";
import { interleavedSerial } from "./lib/serial-rounds.mjs";
import { openLoad, runHttp, runIdle, runLoad } from "./lib/workloads.mjs";
import { startWrangler } from "./lib/wrangler.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const quick = process.argv.includes("--quick");
const onlyArg = process.argv.find((a) => a.startsWith("--only="));
const only = onlyArg === undefined ? undefined : new Set(onlyArg.slice(7).split(","));
const wanted = (name) => only === undefined || only.has(name);
const writeReadme = !quick && only === undefined && !process.argv.includes("--no-readme");
const chosen = quick ? QUICK : FULL;
const idleCount = idleCountWithin(chosen.idle.count);
if (idleCount < chosen.idle.count) {
  console.log(
    `idle workload capped at ${idleCount} connections (asked ${chosen.idle.count}): the open-file limit is ${openFileLimit()} (bench/lib/file-limit.mjs)`,
  );
}
const config = { ...chosen, idle: { ...chosen.idle, count: idleCount } };
const RUN_LIMIT_MS = quick ? 180_000 : 20 * 60_000;
const started = Date.now();
const running = new Set();
const RELAY_FILES = ["wrangler.toml", "package.json", "src", "durable-objects", "protocol"];

const watchdog = setTimeout(() => {
  console.error(`bench: over its ${RUN_LIMIT_MS / 1000} s limit, stopping`);
  void shutdown(1);
}, RUN_LIMIT_MS);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => void shutdown(130));

async function shutdown(code) {
  await Promise.all([...running].map((server) => server.stop()));
  process.exit(code);
}

async function start(name, port, inspectorPort, files, configFile, vars) {
  const server = await startWrangler({
    name,
    root,
    files,
    config: configFile,
    port,
    inspectorPort,
    vars,
  });
  running.add(server);
  return server;
}

async function stop(server) {
  running.delete(server);
  await server.stop();
}

function loadOptions(name, extra) {
  return {
    ...config[name],
    ...extra,
    bodyBytes: config.bodyBytes,
    concurrency: config.serverConcurrency,
    timeLimitMs: config.timeLimitMs[name],
  };
}

function load(target, name, extra = {}) {
  return runLoad(target, name, loadOptions(name, extra));
}

/** Everything but serial (measured before, interleaved: serialFigures) on one target. */
async function runAll(target, wakeCheck, httpPath) {
  const figures = {};
  console.log(`${target.label}: ${target.server.url}`);
  for (const name of ["pipelined", "fanin"]) {
    if (wanted(name)) figures[name] = await load(target, name);
  }
  if (wanted("idle")) {
    try {
      figures.idle = await runIdle(target, config.idle, wakeCheck);
    } catch (error) {
      // A failed idle phase is reported, and the run goes on.
      console.log(
        `  ${target.label} idle failed: ${error instanceof Error ? error.message : error}`,
      );
      figures.idle = { failed: String(error) };
    }
  }
  if (wanted("http")) figures.http = await httpFigures(target, httpPath);
  return figures;
}

async function httpFigures(target, path) {
  const probe = await fetch(`${target.server.url}${path.replace("{queue}", "bench-probe")}`, {
    method: "POST",
    headers: {
      "content-type": "text/plain",
      "edgemq-identity": "bench-probe",
      "x-edgemq-timeout": "1000",
    },
    body: "probe",
  }).catch((error) => ({ status: 0, error }));
  if (probe.status === 404 || probe.status === 405 || probe.status === 0) {
    console.log(`  ${target.label} http: n/a (POST ${path} answered ${probe.status})`);
    return { available: false, probeStatus: probe.status };
  }
  const options = { ...config.http, bodyBytes: config.bodyBytes };
  return { available: true, ...(await runHttp(target, path, options)) };
}

function relayVars(mode) {
  return { EDGEMQ_DEV_MODE: "true", ...BENCH_VARS, ...mode.vars };
}

/**
 * The serial workload on the echo and on a relay of every mode, all up at once, in interleaved
 * rounds (serial-rounds.mjs). The echo figures include one commit per message (/echo-commit).
 */
async function serialFigures(echoTarget) {
  const relays = [];
  for (const mode of MODES) {
    const ports = SERIAL_PORTS[mode.name];
    const server = await start(
      `relay-${mode.name}-serial`,
      ports.port,
      ports.inspector,
      RELAY_FILES,
      "wrangler.toml",
      relayVars(mode),
    );
    relays.push({ kind: "relay", mode: mode.name, label: `relay ${mode.name}`, server });
  }
  // The floor: the relay with a memory queue that only moves bytes (bench/floor/worker.ts).
  const floor = await start(
    "relay-floor-serial",
    SERIAL_PORTS.floor.port,
    SERIAL_PORTS.floor.inspector,
    ["bench/floor", ...RELAY_FILES.filter((file) => file !== "wrangler.toml")],
    "bench/floor/wrangler.toml",
    relayVars(MODES.find((mode) => mode.name === "memory")),
  );
  relays.push({ kind: "relay", mode: "floor", label: "relay floor (does nothing)", server: floor });
  try {
    return await interleavedSerial({
      rounds: config.serialRounds,
      total: config.serial.total,
      echo: echoTarget,
      relays,
      open: (target, extra) => openLoad(target, "serial", loadOptions("serial", extra)),
    });
  } finally {
    for (const relay of relays) await stop(relay.server);
  }
}

function build() {
  const result = spawnSync(
    process.execPath,
    [`${root}node_modules/typescript/bin/tsc`, "-p", "tsconfig.build.json"],
    {
      cwd: root,
      stdio: "inherit",
      timeout: 180_000,
    },
  );
  if (result.status !== 0) throw new Error("npm run build failed: the SDK in dist/ is needed");
}

try {
  console.log(`EdgeMQ bench${quick ? " (--quick)" : ""}: building the SDK (dist/)`);
  build();
  const echo = await start(
    "echo",
    PORTS.echo,
    PORTS.echoInspector,
    ["bench/echo"],
    "bench/echo/wrangler.toml",
    {},
  );
  const echoTarget = { kind: "echo", mode: "echo", label: "echo", server: echo };
  const serial = wanted("serial") ? await serialFigures(echoTarget) : undefined;
  const baseline = await runAll(echoTarget, echoWakeCheck(echo), "/http");
  await stop(echo);
  if (serial !== undefined) {
    baseline.serial = serial.echo;
    baseline.serialCommit = serial.echoCommit;
  }

  const modes = {};
  const perMode = ["pipelined", "fanin", "idle", "http"].some(wanted) || only === undefined;
  for (const mode of MODES) {
    if (!perMode) {
      modes[mode.name] = { serial: serial?.relays[mode.name] };
      continue;
    }
    const relay = await start(
      `relay-${mode.name}`,
      PORTS.relay,
      PORTS.relayInspector,
      RELAY_FILES,
      "wrangler.toml",
      relayVars(mode),
    );
    const target = { kind: "relay", mode: mode.name, label: `relay ${mode.name}`, server: relay };
    const figures = await runAll(target, relayWakeCheck(relay), HTTP_PATH);
    if (serial !== undefined) figures.serial = serial.relays[mode.name];
    if (only === undefined) figures.profile = await profileRelay(target, config, load);
    modes[mode.name] = figures;
    await stop(relay);
  }

  // Fan-in over K = 1, 2, 4 partitions (docs/scaling.md); `--only=partitions` runs just this.
  const partitions = wanted("partitions")
    ? await sweepPartitions({
        partitions: PARTITIONS,
        start: (name, vars) =>
          start(name, PORTS.relay, PORTS.relayInspector, RELAY_FILES, "wrangler.toml", {
            EDGEMQ_DEV_MODE: "true",
            ...BENCH_VARS,
            ...vars,
          }),
        stop,
        load,
      })
    : {};

  const info = machine(root);
  const rows = [
    ...buildRows(modes, baseline),
    ...floorRows(serial?.relays.floor, baseline),
    ...partitionRows(partitions),
  ];
  const output = {
    date: new Date().toISOString(),
    quick,
    machine: info,
    config,
    baseline,
    modes,
    floor: serial?.relays.floor,
    partitions,
    rows,
    seconds: (Date.now() - started) / 1000,
  };
  writeFileSync(`${root}bench/results/latest.json`, `${JSON.stringify(output, null, 2)}\n`);
  printTable(rows, info);
  console.log(`\nwrote bench/results/latest.json (${output.seconds.toFixed(0)} s)`);
  if (writeReadme) {
    appendReadme(`${root}bench/README.md`, rows, info, output.date);
    console.log("appended this run to bench/README.md");
  }
  clearTimeout(watchdog);
  await shutdown(0);
} catch (error) {
  console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
  for (const server of running)
    console.error(`--- wrangler log (tail)\n${server.log().slice(-4000)}`);
  await shutdown(1);
}
