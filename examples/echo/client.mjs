/**
 * Sends the echo server a few requests (JSON, text and bytes) and prints the replies. Like the
 * server, it only dials out.
 *
 *   npm run build && node examples/echo/client.mjs [identity]
 *
 * EDGEMQ_URL chooses the relay (default ws://127.0.0.1:8787). A relay in dev mode (`npm start`)
 * takes the identity from argv, then EDGEMQ_IDENTITY, then "echo-client-<pid>" (one per process:
 * a newer connection of an identity replaces the older); a signed relay takes it
 * from the token in EDGEMQ_TOKEN (README, Security).
 */
import { connect, EdgeMQError } from "edgemq/client";

const url = process.env.EDGEMQ_URL ?? "ws://127.0.0.1:8787";
const token = process.env.EDGEMQ_TOKEN;
// transport "auto": a WebSocket, or plain HTTP where a proxy blocks WebSockets.
const credentials = token
  ? { token }
  : { identity: process.argv[2] ?? process.env.EDGEMQ_IDENTITY ?? `echo-client-${process.pid}` };
const peer = await connect(url, { ...credentials, transport: "auto" }).catch((error) => {
  if (!(error instanceof EdgeMQError)) throw error;
  // A bad URL, a relay that is not running, or a token it refuses (unauthorized, forbidden).
  console.error(`could not connect: ${error.code}: ${error.message}`);
  process.exit(1);
});
try {
  // failFast: if no echo server is connected, fail at once with no_responders instead of waiting.
  const options = { timeout: 5_000, failFast: true };

  const json = await peer.request("echo", { hello: "world", n: 42 }, options);
  console.log("json  →", JSON.stringify(json));

  const text = await peer.request("echo", "héllo, wörld", options);
  console.log("text  →", JSON.stringify(text));

  const bytes = await peer.request("echo", new Uint8Array([0, 1, 2, 254, 255]), options);
  console.log("bytes →", bytes);

  // Requests run concurrently; each reply finds its own request.
  const many = await Promise.all([1, 2, 3].map((n) => peer.request("echo", { n }, options)));
  console.log("three →", many.map((reply) => JSON.stringify(reply)).join(" "));
} catch (error) {
  if (!(error instanceof EdgeMQError)) throw error;
  // error.code is one of the protocol's codes: no_responders, timeout, server_error, ...
  console.error(`request failed: ${error.code}: ${error.message}`);
  if (error.code === "no_responders")
    console.error("start the server first: node examples/echo/server.mjs");
  process.exitCode = 1;
} finally {
  await peer.close();
}
