/**
 * A firewalled echo server: it dials out to the relay, serves the queue "echo", and answers each
 * request with what it got and who sent it. It never listens on a port.
 *
 *   npm run build && node examples/echo/server.mjs [identity]
 *
 * EDGEMQ_URL chooses the relay (default ws://127.0.0.1:8787). A relay in dev mode (`npm start`)
 * takes the identity from argv, then EDGEMQ_IDENTITY, then "echo-server-<pid>" (one per process:
 * a newer connection of an identity replaces the older); a signed relay takes it
 * from the token in EDGEMQ_TOKEN (README, Security).
 */
import { connect, EdgeMQError } from "edgemq/client";

const url = process.env.EDGEMQ_URL ?? "ws://127.0.0.1:8787";
const token = process.env.EDGEMQ_TOKEN;
// transport "auto": a WebSocket, or plain HTTP where a proxy blocks WebSockets.
const credentials = token
  ? { token }
  : { identity: process.argv[2] ?? process.env.EDGEMQ_IDENTITY ?? `echo-server-${process.pid}` };
const peer = await connect(url, { ...credentials, transport: "auto" }).catch((error) => {
  if (!(error instanceof EdgeMQError)) throw error;
  // A bad URL, a relay that is not running, or a token it refuses (unauthorized, forbidden).
  console.error(`could not connect: ${error.code}: ${error.message}`);
  process.exit(1);
});
const identity = peer.identity;
const service = peer.serve(
  "echo",
  async (req) => {
    console.log(`#${req.attempt} from ${req.from}: ${describe(req.body)}`);
    // Bytes are echoed as bytes; JSON and text are wrapped with the sender's identity.
    if (req.body instanceof Uint8Array) return req.body;
    return { echo: req.body, from: req.from, by: identity, headers: req.headers };
  },
  { concurrency: 8 },
);
console.log(`${identity} serves "echo" through ${url} over ${peer.transport} (Ctrl-C to stop)`);

// Errors that end the service (a refused or expired token, a token without the server role, or
// another process taking this identity over) end the process too, so that a supervisor restarts
// it, or a person sees why, rather than a process that serves nothing.
const FATAL = new Set(["unauthorized", "forbidden", "closed"]);
(async () => {
  for await (const status of peer.status()) {
    if (status.type !== "error") continue;
    console.error(`error: ${status.error.code}: ${status.error.message}`);
    if (FATAL.has(status.error.code) && status.link === undefined) process.exit(1);
  }
})();

// Ctrl-C: stop taking requests, finish those in hand, then leave.
process.once("SIGINT", async () => {
  await service.close();
  await peer.close();
  console.log("closed");
});

/** A short printable form of a body. */
function describe(body) {
  if (body instanceof Uint8Array) return `${body.length} bytes`;
  return JSON.stringify(body);
}
