/**
 * Re-exports the inspector client and sums the JavaScript time a CPU profile spent in the user's
 * bundle (samples with a script URL), for the relay's ping wake check.
 */
export { openInspector } from "./inspector.mjs";

export function summarizeUserJs(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  let ms = 0;
  const functions = new Set();
  for (let i = 0; i < profile.samples.length; i++) {
    const node = nodes.get(profile.samples[i]);
    if (!node?.callFrame.url) continue;
    ms += (profile.timeDeltas[i] ?? 0) / 1000;
    functions.add(node.callFrame.functionName || "(anonymous)");
  }
  return { ms: Math.round(ms * 10) / 10, functions: [...functions].slice(0, 10) };
}
