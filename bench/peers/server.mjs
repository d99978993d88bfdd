/**
 * Relay server peer (a forked process): an SDK peer serving `queue` with a handler that returns
 * the request body unchanged. Reports "ready" once the server socket is welcomed, and the number
 * of requests it handled on "stop".
 */
import { connect } from "edgemq/client";
import { command, fail, report, spec } from "./ipc.mjs";

try {
  const peer = await connect(spec.url, { identity: spec.identity });
  let handled = 0;
  const service = peer.serve(
    spec.queue,
    (request) => {
      handled += 1;
      return request.body;
    },
    { concurrency: spec.concurrency },
  );
  await service.ready;
  report({ type: "ready" });
  await command("stop");
  await peer.close();
  report({ type: "result", handled });
  setTimeout(() => process.exit(0), 50);
} catch (error) {
  fail(error);
}
