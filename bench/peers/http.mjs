/**
 * HTTP load peer (a forked process): `concurrency` keep-alive loops POSTing a 100-byte body to
 * `path` until `count` requests finished or `timeLimitMs` passed. A response other than 2xx counts
 * as an error; the first one is reported with its status so the parent can tell "no such route".
 */
import http from "node:http";
import { body, command, fail, report, spec } from "./ipc.mjs";
import { runWindow } from "./window.mjs";

const payload = body(spec.bodyBytes);
const target = new URL(spec.path, spec.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.concurrency });

function post() {
  return new Promise((resolve, reject) => {
    const request = http.request(
      target,
      {
        method: "POST",
        agent,
        headers: { "content-type": "text/plain", "edgemq-identity": spec.identity },
      },
      (response) => {
        response.resume();
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`HTTP ${status}`));
        });
      },
    );
    request.on("error", reject);
    request.end(payload);
  });
}

try {
  report({ type: "ready" });
  await command("go");
  const common = { inFlight: spec.concurrency, op: post, timeLimitMs: spec.timeLimitMs };
  await runWindow({ ...common, count: spec.warmup, record: false, phase: "warmup" });
  const result = await runWindow({ ...common, count: spec.count, record: true, phase: "measure" });
  report({ type: "result", ...result });
  await command("stop");
  agent.destroy();
  process.exit(0);
} catch (error) {
  fail(error);
}
