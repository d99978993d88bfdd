/**
 * The partitioned-queue sweep (docs/scaling.md): the fan-in workload on a durable queue split
 * over K partitions (EDGEMQ_QUEUE_PARTITIONS `*=K`), one fresh relay per K, for each K in
 * PARTITIONS (bench/config.mjs). Rows `fan-in K=k` (rate and p99) have no echo counterpart: they
 * compare with each other. On one machine every partition shares the same workerd process and
 * cores, so this shows the cost or gain of the split here, not Cloudflare's per-object ceiling.
 */

const round = (value) => (typeof value === "number" ? Math.round(value) : undefined);

/** Runs fan-in once per K; `start(name, vars)` starts a relay, `load(target, name)` runs it. */
export async function sweepPartitions({ partitions, start, stop, load }) {
  const figures = {};
  for (const k of partitions) {
    const relay = await start(`relay-partitions-${k}`, { EDGEMQ_QUEUE_PARTITIONS: `*=${k}` });
    const target = { kind: "relay", mode: `durable-k${k}`, label: `relay K=${k}`, server: relay };
    try {
      figures[k] = await load(target, "fanin");
    } finally {
      await stop(relay);
    }
  }
  return figures;
}

export function partitionRows(figures) {
  const rows = [];
  for (const [k, f] of Object.entries(figures)) {
    const mode = `durable, K=${k}`;
    rows.push(
      { figure: `fan-in K=${k}`, mode, unit: "req/s", relay: round(f.perSecond) },
      { figure: `fan-in K=${k} p99`, mode, unit: "µs", relay: round(f.p99Us) },
    );
    if (f.errors > 0 || f.timedOut) {
      const detail = `${f.errors} errors${f.timedOut ? ", time limit" : ""}`;
      rows.push({ figure: `fan-in K=${k} problems`, mode, unit: "", relay: detail });
    }
  }
  return rows;
}
