/**
 * Calls into a browser tab: sends one request to the queue "tab", which the page of
 * examples/browser serves once connected, and prints the tab's answer. The tab cannot accept a
 * connection; like this program, it only dials out to the relay.
 *
 *   npm run build && node examples/browser/call-tab.mjs [identity]
 *
 * EDGEMQ_URL chooses the relay (default ws://127.0.0.1:8787). A relay in dev mode (`npm start`)
 * takes the identity from argv, then EDGEMQ_IDENTITY, then "tab-caller-<pid>"; a signed relay
 * takes it from the token in EDGEMQ_TOKEN (README, Security).
 */
import { connect, EdgeMQError } from "edgemq/client";

const url = process.env.EDGEMQ_URL ?? "ws://127.0.0.1:8787";
const token = process.env.EDGEMQ_TOKEN;
const identity = process.argv[2] ?? process.env.EDGEMQ_IDENTITY ?? `tab-caller-${process.pid}`;

try {
  const peer = await connect(url, token ? { token } : { identity });
  try {
    // failFast: with no tab connected, fail at once with no_responders instead of waiting.
    const reply = await peer.request(
      "tab",
      { question: "who are you?" },
      { timeout: 10_000, failFast: true },
    );
    console.log("tab →", JSON.stringify(reply));
  } finally {
    await peer.close();
  }
} catch (error) {
  if (!(error instanceof EdgeMQError)) throw error;
  console.error(`${error.code}: ${error.message}`);
  if (error.code === "no_responders") console.error("open the page and press Connect first");
  process.exitCode = 1;
}
