/**
 * The browser example's page script (index.html), plain JavaScript with no build step: it imports
 * the SDK bundle that `npm run build` writes to dist/browser/edgemq.js. Connect opens one peer for
 * this tab, which serves the queue "tab" (answering with the page's Answer box) and can send
 * requests to the queue "echo". Statuses from peer.status() and every error show in the page.
 *
 * Transport: "auto", a WebSocket where the network allows one, else plain HTTP (a proxy that blocks
 * WebSockets); the log says which.
 *
 * Identity: in dev mode the tab declares one (`tab-` and a random suffix, editable); with a token
 * (a signed relay) the token names it. The token is read from the form and passed to connect(),
 * which sends it as a WebSocket subprotocol: never put a token in a URL (README, Security).
 */
import { connect, EdgeMQError } from "/dist/browser/edgemq.js";

const ECHO_QUEUE = "echo";
const TAB_QUEUE = "tab";
const TIMEOUT_MS = 10_000;

/** The connected peer and the queue it serves, while connected. */
let current;
/** The log's last line, so an error met twice is logged once. */
let lastLogged = "";
/** Where the Relay box's address is kept between visits (localStorage). */
const RELAY_KEY = "edgemq-example-relay";

init();

function init() {
  byId("identity").value = `tab-${randomHex(4)}`;
  byId("connect").addEventListener("click", () => attempt(connectTab));
  byId("disconnect").addEventListener("click", () => attempt(disconnectTab));
  byId("send").addEventListener("click", () => attempt(sendToEcho));
  restoreRelay();
  byId("relay").addEventListener("input", showCallHint);
  byId("token").addEventListener("input", showIdentityUse);
  showIdentityUse();
  setStatus("not connected");
}

/**
 * The commands that call into this tab, for the relay in the Relay box: a declared identity in
 * dev mode, a client token of the caller's own when this tab uses one (a signed relay).
 */
function showCallHint() {
  const relay = byId("relay").value.trim();
  const http = relay.replace(/^ws(s?):/, "http$1:").replace(/\/+$/, "");
  const signed = byId("token").value.trim() !== "";
  const who = signed ? "EDGEMQ_TOKEN=<a client token> " : "";
  const auth = signed ? "Authorization: Bearer <a client token>" : "EdgeMQ-Identity: alice";
  byId("call-hint").textContent = [
    `${who}EDGEMQ_URL=${relay} node examples/browser/call-tab.mjs`,
    `curl -H '${auth}' -H 'Content-Type: application/json' \\`,
    `  --data-binary '{"question":"who are you?"}' \\`,
    `  '${http}/v1/queues/tab/requests?timeout=10000'`,
  ].join("\n");
}

/** The Relay box remembers its last address in this browser (another port, a deployment). */
function restoreRelay() {
  const saved = localStorage.getItem(RELAY_KEY);
  if (saved) byId("relay").value = saved;
  byId("relay").addEventListener("change", () => {
    localStorage.setItem(RELAY_KEY, byId("relay").value.trim());
  });
}

/** With a token, the token names the identity: the Identity box is not used. */
function showIdentityUse() {
  const signed = byId("token").value.trim() !== "";
  byId("identity").disabled = signed;
  showCallHint();
}

/** Connects this tab to the relay, then serves the queue "tab". */
async function connectTab() {
  byId("connect").disabled = true;
  setStatus("connecting…");
  let peer;
  try {
    peer = await connect(byId("relay").value.trim(), { ...credentials(), transport: "auto" });
  } catch (error) {
    setConnected(false);
    setStatus("not connected");
    throw error;
  }
  setConnected(true);
  byId("identity").value = peer.identity; // with a token, the one it names
  setStatus(`connected as ${peer.identity}`);
  log(`connected as ${peer.identity} over ${peer.transport}`);
  watch(peer).catch(showError);
  const service = peer.serve(TAB_QUEUE, (req) => answer(req, peer.identity));
  current = { peer, service };
  await service.ready;
  log(`serving "${TAB_QUEUE}" as ${peer.identity}`);
}

/** A token if one was given (signed relay), else the declared identity (dev mode). */
function credentials() {
  const token = byId("token").value.trim();
  return token ? { token } : { identity: byId("identity").value.trim() };
}

/** Stops serving, lets unfinished requests end, then closes the connection. */
async function disconnectTab() {
  const closing = current;
  current = undefined;
  if (closing) {
    await closing.service.close();
    await closing.peer.close();
  }
  setConnected(false);
}

/** Sends the Message box to the queue "echo" and shows the reply. */
async function sendToEcho() {
  if (!current) throw new Error("connect first");
  byId("reply").textContent = "waiting…";
  try {
    // failFast: with no echo server connected, fail at once with no_responders.
    const options = { timeout: TIMEOUT_MS, failFast: true };
    const reply = await current.peer.request(ECHO_QUEUE, parseMessage(), options);
    byId("reply").textContent = show(reply);
  } catch (error) {
    byId("reply").textContent = "";
    throw error;
  }
}

/** The Message box as JSON if it parses, else as text. */
function parseMessage() {
  const text = byId("message").value;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** This tab's handler for the queue "tab": it answers with the page's Answer box. */
function answer(req, identity) {
  const got = req.body instanceof Uint8Array ? `${req.body.length} bytes` : req.body;
  appendItem("served", `from ${req.from}: ${show(got)}`);
  return { answer: byId("answer").value, from: req.from, by: identity, got };
}

/**
 * Shows every status of the peer after its first connect: untagged ones are its connection (an
 * `error` there is final: replaced by a newer tab of the same identity, a refused token), the
 * tagged ones its sockets for one queue (the service of `tab`, the link to `echo`).
 */
async function watch(peer) {
  for await (const status of peer.status()) {
    const text = describe(status, peer.identity);
    if (status.queue === undefined) setStatus(text);
    log(status.queue === undefined ? text : `${socketName(status)}: ${text}`);
    if (status.type === "error" && status.queue === undefined) ended(peer, status.error);
    else if (status.type === "error") showError(status.error);
  }
}

/** Which of the peer's sockets a tagged status is about. */
function socketName(status) {
  return status.link ? `link to "${status.queue}"` : `serving "${status.queue}"`;
}

/** The peer's connection ended for good: the page can connect again. */
function ended(peer, error) {
  showError(error);
  if (current?.peer === peer) current = undefined;
  setConnected(false);
  void peer.close();
}

function describe(status, identity) {
  switch (status.type) {
    case "connected":
      return `connected as ${identity}`;
    case "disconnected":
      return `disconnected (${status.code} ${status.reason})`;
    case "reconnecting":
      return `reconnecting (attempt ${status.attempt}, in ${status.delayMs} ms)`;
    case "error":
      return `error: ${status.error.code}: ${status.error.message}`;
    default:
      return status.type;
  }
}

/** Runs a button's action; any error it throws shows in the page. */
async function attempt(action) {
  showError(undefined);
  try {
    await action();
  } catch (error) {
    showError(error);
  }
}

function showError(error) {
  if (error === undefined) {
    byId("error").textContent = "";
    return;
  }
  const text = error instanceof EdgeMQError ? `${error.code}: ${error.message}` : String(error);
  byId("error").textContent = text + hint(error);
  // The same error may come as a status and as a rejected call: logged once.
  const line = `error: ${text}`;
  if (lastLogged !== line) log(line);
  lastLogged = line;
}

/** What to try next, for the errors a newcomer meets first. */
function hint(error) {
  if (!(error instanceof EdgeMQError)) return "";
  if (error.code === "no_responders") return " (start one: node examples/echo/server.mjs)";
  if (error.message.startsWith("could not connect")) {
    // A browser hides why: no relay there, or a refusal (dev mode: a page not on this machine).
    return " (is the relay running at that address, e.g. npm start?)";
  }
  return "";
}

function setConnected(connected) {
  byId("connect").disabled = connected;
  byId("disconnect").disabled = !connected;
  byId("send").disabled = !connected;
}

function setStatus(text) {
  byId("status").textContent = text;
}

function log(text) {
  lastLogged = text;
  appendItem("log", `${new Date().toLocaleTimeString()} ${text}`);
}

function appendItem(listId, text) {
  const item = document.createElement("li");
  item.textContent = text;
  byId(listId).append(item);
}

/** A body as text: bytes as a list of numbers, anything else as JSON. */
function show(body) {
  if (body instanceof Uint8Array) return `${body.length} bytes: [${body.join(", ")}]`;
  return JSON.stringify(body, null, 2);
}

function randomHex(bytes) {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
}

function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`index.html has no #${id}`);
  return element;
}
