/**
 * The bench's one table: each relay figure, the echo baseline measured in the same run, and their
 * ratio (relay/echo, for latency and throughput alike). Printed as Markdown, and appended with the
 * machine and date to bench/README.md under "## Results".
 */
import { appendFileSync } from "node:fs";

const round = (value, digits = 0) =>
  value === undefined || Number.isNaN(value) ? undefined : Number(value.toFixed(digits));

function row(figure, mode, unit, relay, echo) {
  const ratio =
    typeof relay === "number" && typeof echo === "number" && echo !== 0 ? relay / echo : undefined;
  return { figure, mode, unit, relay, echo, ratio: round(ratio, 2) };
}

function wakes(idle) {
  if (idle.failed) return "failed (see latest.json)";
  if (idle.handlerCalls === undefined) return `unclear (${idle.userJsMs} ms JS)`;
  const answers = `${idle.pongs}/${idle.connections} pong`;
  return idle.handlerCalls === 0
    ? `no (${answers})`
    : `yes: ${idle.handlerCalls} calls (${answers})`;
}

/** Each interleaved serial round's relay/echo ratio, lowest to highest (serial-rounds.mjs). */
function roundRange(ratios) {
  if (ratios === undefined || ratios.length === 0) return undefined;
  const sorted = [...ratios].sort((a, b) => a - b);
  return sorted.map((r) => r.toFixed(2)).join(", ");
}

/**
 * The floor's serial rows (bench/floor/worker.ts: a memory queue that only moves bytes), beside
 * the same run's echo: the least a relay speaking this protocol takes on this machine.
 */
export function floorRows(floor, echo) {
  if (floor === undefined) return [];
  const figure = "serial p50, a relay that does nothing";
  return [
    row(figure, "floor", "µs", round(floor.p50Us), round(echo.serial?.p50Us)),
    row("serial p50 ÷ echo, each round", "floor", "", roundRange(floor.roundRatios), ""),
  ];
}

export function buildRows(modes, echo) {
  const rows = [];
  for (const [mode, f] of Object.entries(modes)) {
    const http =
      f.http === undefined
        ? undefined
        : f.http.available
          ? round(f.http?.perSecond)
          : "n/a (HTTP API not available)";
    rows.push(
      row("serial p50", mode, "µs", round(f.serial?.p50Us), round(echo.serial?.p50Us)),
      row("serial p50 ÷ echo, each round", mode, "", roundRange(f.serial?.roundRatios), ""),
      row("serial p99", mode, "µs", round(f.serial?.p99Us), round(echo.serial?.p99Us)),
      row(
        "pipelined (100 in flight)",
        mode,
        "req/s",
        round(f.pipelined?.perSecond),
        round(echo.pipelined?.perSecond),
      ),
      row(
        "fan-in (50×10, 2 servers)",
        mode,
        "req/s",
        round(f.fanin?.perSecond),
        round(echo.fanin?.perSecond),
      ),
      row("fan-in p99", mode, "µs", round(f.fanin?.p99Us), round(echo.fanin?.p99Us)),
      row(
        "idle: workerd RSS per connection",
        mode,
        "KiB",
        round(f.idle?.kibPerConnection, 1),
        round(echo.idle?.kibPerConnection, 1),
      ),
      row(
        "idle: pings wake the object?",
        mode,
        "",
        f.idle && wakes(f.idle),
        echo.idle && wakes(echo.idle),
      ),
      row("HTTP sync requests (50 concurrent)", mode, "req/s", http, round(echo.http?.perSecond)),
      row(
        "pipelined: workerd CPU per request",
        mode,
        "µs",
        round(f.pipelined?.cpuUsPerRequest?.workerd),
        round(echo.pipelined?.cpuUsPerRequest?.workerd),
      ),
    );
    const errors = ["serial", "pipelined", "fanin"].filter(
      (w) => f[w] !== undefined && (f[w].errors > 0 || f[w].timedOut),
    );
    for (const w of errors) {
      rows.push(
        row(
          `${w}: errors / stopped by time limit`,
          mode,
          "",
          `${f[w].errors} / ${f[w].timedOut}`,
          "",
        ),
      );
    }
  }
  // The durable serial target: durable − memory against one commit (echo with a write − echo).
  const gap = modes.durable?.serial?.p50Us - modes.memory?.serial?.p50Us;
  const commit = echo.serialCommit?.p50Us - echo.serial?.p50Us;
  rows.push(
    row("serial p50: durable − memory, vs one commit", "both", "µs", round(gap), round(commit)),
  );
  // A partial run (--only) leaves some figures out: their rows are dropped.
  return rows.filter((r) => r.relay !== undefined);
}

/** A Markdown table padded as Biome formats it (so bench/README.md stays lint-clean). */
export function markdown(rows) {
  const header = ["figure", "mode", "unit", "relay", "echo", "relay/echo"];
  const right = [false, false, false, true, true, true];
  const body = rows.map((r) =>
    [r.figure, r.mode, r.unit, r.relay ?? "–", r.echo ?? "–", r.ratio ?? "–"].map(String),
  );
  const widths = header.map((h, i) =>
    Math.max(h.length, 3, ...body.map((cells) => cells[i].length)),
  );
  const line = (cells) =>
    `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? `${"-".repeat(w - 1)}:` : "-".repeat(w))).join(" | ")} |`;
  return [line(header), rule, ...body.map(line)].join("\n");
}

function describe(info) {
  return `${info.cores} cores (${info.cpu}), ${info.memoryGiB} GiB, Node ${info.node}, wrangler ${info.wrangler}`;
}

export function printTable(rows, info) {
  console.log(`\n${describe(info)}\n`);
  console.log(markdown(rows));
}

export function appendReadme(path, rows, info, date) {
  appendFileSync(
    path,
    `\n### ${date.slice(0, 16).replace("T", " ")} UTC\n\n${describe(info)}\n\n${markdown(rows)}\n`,
  );
}
