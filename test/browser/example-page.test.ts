/**
 * examples/browser as a newcomer runs it: the page served by examples/browser/serve.mjs (its own
 * Node process, a free port instead of 8080) and opened in headless Chromium, importing the SDK
 * bundle that `npm run build` wrote to dist/browser/edgemq.js, against a real `wrangler dev` in
 * dev mode. The tab asks a Node echo server (examples/echo/server.mjs) and shows its reply, and
 * it answers the queue "tab" to examples/browser/call-tab.mjs and to a plain HTTP POST. Also the
 * static server's refusals. Run with `npm run test:browser`; not part of `npm test`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../client/index.js";
import { signToken } from "../../protocol/index.js";
import { REPO_ROOT, Relay } from "../e2e/relay.js";
import { pickFreePort, portRangesFromEnv } from "../e2e/support/ports.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// EDGEMQ_E2E_RELAY_PORTS and EDGEMQ_E2E_INSPECTOR_PORTS override them (e2e/support/ports.ts).
const PORTS = portRangesFromEnv({
  relay: { first: 18300, last: 18349 },
  inspector: { first: 19300, last: 19349 },
});
const WAIT_MS = 20_000;
const BUNDLE = join(REPO_ROOT, "dist", "browser", "edgemq.js");

const children: ChildProcess[] = [];
let relay: Relay;
let browser: Browser;
/** Where serve.mjs serves the page, e.g. http://127.0.0.1:41234 */
let site: string;

/** Runs `node args` in the repo with `env` and none of this process's EDGEMQ_* or PORT. */
function node(args: string[], env: Record<string, string>): ChildProcess {
  const inherited = Object.entries(process.env).filter(
    ([name]) => !name.startsWith("EDGEMQ_") && name !== "PORT",
  );
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...Object.fromEntries(inherited), ...env },
  });
  children.push(child);
  return child;
}

/** Starts `node args` and resolves with the first match of `pattern` in its output. */
function startUntil(args: string[], env: Record<string, string>, pattern: RegExp) {
  return new Promise<RegExpMatchArray>((resolve, reject) => {
    const child = node(args, env);
    let output = "";
    const timer = setTimeout(() => reject(new Error(`${args[0]} not up:\n${output}`)), WAIT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited (${code}):\n${output}`));
    });
  });
}

/** Runs `node args` to its end (bounded) and resolves with its exit code and output. */
function run(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = node(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => reject(new Error(`${args[0]} ran over:\n${stderr}`)), WAIT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first`);
  relay = await Relay.start({ ports: PORTS });
  const served = await startUntil(
    [join("examples", "browser", "serve.mjs")],
    { PORT: "0" },
    /serving examples\/browser on (http:\/\/127\.0\.0\.1:\d+)/,
  );
  site = served[1] ?? "";
  const echo = [join("examples", "echo", "server.mjs"), "echo-node"];
  await startUntil(echo, { EDGEMQ_URL: relay.url }, /serves "echo"/);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

afterAll(async () => {
  await browser?.close();
  for (const child of children.splice(0)) child.kill("SIGKILL");
  await relay?.stop();
});

/** What went wrong in a page: uncaught errors, console errors, failed or refused loads. */
function recordProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("requestfailed", (request) => problems.push(`failed: ${request.url()}`));
  page.on("response", (response) => {
    if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
  });
  return problems;
}

/** The text of the page's element `#id`. */
async function textOf(page: Page, id: string): Promise<string> {
  return (await page.locator(`#${id}`).textContent()) ?? "";
}

/** Waits (bounded) until `#id`'s text matches; else fails showing it and the page's problems. */
async function waitForText(page: Page, id: string, expected: RegExp, problems: string[]) {
  const until = Date.now() + WAIT_MS;
  let text = await textOf(page, id);
  while (!expected.test(text) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    text = await textOf(page, id);
  }
  const context = `#${id} is ${JSON.stringify(text)}; #error is ${JSON.stringify(await textOf(page, "error"))}; problems: ${problems.join("; ")}`;
  expect(text, context).toMatch(expected);
  return text;
}

/** Opens the example page and waits until its script has loaded the SDK. */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems = recordProblems(page);
  await page.goto(site);
  await waitForText(page, "status", /^not connected$/, problems);
  return { page, problems };
}

describe("examples/browser in Chromium, against a relay in dev mode", () => {
  const pages: Page[] = [];

  afterEach(async () => {
    for (const page of pages.splice(0)) await page.close();
  });

  it("the tab's request to echo comes back from the Node echo server and shows in the page", async () => {
    const { page, problems } = await openPage();
    pages.push(page);
    const identity = await connectTab(page, problems);
    await page.fill("#message", '{"hello":"from the test"}');
    await page.click("#send");
    const reply = await waitForText(page, "reply", /"by": "echo-node"/, problems);
    expect(JSON.parse(reply)).toMatchObject({
      echo: { hello: "from the test" },
      from: identity,
      by: "echo-node",
    });
    await page.click("#disconnect");
    await waitForText(page, "status", /^closed$/, problems);
    expect(problems).toEqual([]);
  });

  it("a Node SDK client and an HTTP POST call into the tab and get its answer", async () => {
    const { page, problems } = await openPage();
    pages.push(page);
    const identity = await connectTab(page, problems);
    await page.fill("#answer", "answered by the test page");
    const expected = { answer: "answered by the test page", by: identity };

    const caller = await run([join("examples", "browser", "call-tab.mjs"), "node-caller"], {
      EDGEMQ_URL: relay.url,
    });
    expect(caller.code, caller.stderr).toBe(0);
    const printed = caller.stdout.match(/^tab → (.*)$/m)?.[1] ?? "";
    expect(JSON.parse(printed)).toEqual({
      ...expected,
      from: "node-caller",
      got: { question: "who are you?" },
    });

    const response = await fetch(`${relay.httpUrl}/v1/queues/tab/requests?timeout=10000`, {
      method: "POST",
      headers: { "EdgeMQ-Identity": "http-caller", "Content-Type": "application/json" },
      body: JSON.stringify({ question: "and over HTTP?" }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ...expected,
      from: "http-caller",
      got: { question: "and over HTTP?" },
    });

    const served = await textOf(page, "served");
    expect(served).toContain('from node-caller: {\n  "question": "who are you?"\n}');
    expect(served).toContain("from http-caller:");
    await page.click("#disconnect");
    await waitForText(page, "status", /^closed$/, problems);
    expect(problems).toEqual([]);
  });

  it("connects over HTTP where WebSockets are blocked, and a Node client calls into it", async () => {
    const { page, problems } = await openPage();
    pages.push(page);
    // Every WebSocket the page opens is closed before any welcome, as behind a blocking proxy.
    await page.routeWebSocket(/.*/, (ws) => ws.close({ code: 1008, reason: "blocked" }));
    const identity = await connectTab(page, problems);
    await waitForText(page, "log", new RegExp(`connected as ${identity} over http`), problems);
    const caller = await connect(relay.url, { identity: "node-caller-http" });
    const reply = await caller.request("tab", "over http?", { timeout: 10_000 });
    expect(reply).toMatchObject({ from: "node-caller-http", by: identity, got: "over http?" });
    await caller.close();
    await page.click("#disconnect");
    await waitForText(page, "status", /^closed$/, problems);
  });

  it("shows why it cannot connect, and can try again", async () => {
    const { page, problems } = await openPage();
    pages.push(page);
    const closedPort = await pickFreePort(PORTS.relay);
    await page.fill("#relay", `ws://127.0.0.1:${closedPort}`);
    await page.click("#connect");
    await waitForText(
      page,
      "error",
      /^closed: could not connect over WebSocket \(could not connect to ws:\/\/127\.0\.0\.1:.* nor over HTTP/,
      problems,
    );
    expect(await textOf(page, "status")).toBe("not connected");
    expect(await page.locator("#connect").isEnabled()).toBe(true);
  });
});

describe("examples/browser in Chromium, against a signed relay", () => {
  const SECRET = "browser-example-secret-0123456789abcdef";
  let signed: Relay;

  beforeAll(async () => {
    signed = await Relay.start({ ports: PORTS, vars: { EDGEMQ_SECRET: SECRET } });
  });

  afterAll(async () => {
    await signed?.stop();
  });

  it("connects with the Token box, never putting the token in a URL, and serves a token's client", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const queues = ["echo", "tab"];
    const tabToken = await signToken({ sub: "tab-signed", role: "both", queues, exp }, SECRET);
    const { page, problems } = await openPage();
    const socketUrls: string[] = [];
    page.on("websocket", (socket) => socketUrls.push(socket.url()));
    await page.fill("#relay", signed.url);
    await page.fill("#token", tabToken);
    await page.click("#connect");
    await waitForText(page, "status", /^connected as tab-signed$/, problems);
    await waitForText(page, "log", /serving "tab"/, problems);

    const callerToken = await signToken({ sub: "bob", role: "client", queues, exp }, SECRET);
    const caller = await connect(signed.url, { token: callerToken });
    expect(await caller.request("tab", "hi")).toMatchObject({ from: "bob", by: "tab-signed" });
    await caller.close();
    expect(socketUrls.length).toBeGreaterThan(0);
    for (const url of socketUrls) expect(url).not.toContain(tabToken);
    expect(page.url()).not.toContain(tabToken);
    await page.close();
    expect(problems).toEqual([]);
  });
});

/** Points the page at the test relay, connects, and waits until the tab serves "tab". */
async function connectTab(page: Page, problems: string[]): Promise<string> {
  const identity = await page.inputValue("#identity");
  expect(identity).toMatch(/^tab-[0-9a-f]{8}$/);
  await page.fill("#relay", relay.url);
  await page.click("#connect");
  await waitForText(page, "status", new RegExp(`^connected as ${identity}$`), problems);
  await waitForText(page, "log", /serving "tab"/, problems);
  return identity;
}

describe("examples/browser/serve.mjs", () => {
  const get = (path: string, method = "GET") => fetch(`${site}${path}`, { method });

  it("serves the page, its script and the SDK bundle with their Content-Types", async () => {
    const cases: [string, string][] = [
      ["/", "text/html; charset=utf-8"],
      ["/index.html", "text/html; charset=utf-8"],
      ["/app.js", "text/javascript; charset=utf-8"],
      ["/dist/browser/edgemq.js", "text/javascript; charset=utf-8"],
      ["/dist/browser/edgemq.js.map", "application/json; charset=utf-8"],
    ];
    for (const [path, type] of cases) {
      const response = await get(path);
      await response.arrayBuffer();
      expect(response.status, path).toBe(200);
      expect(response.headers.get("Content-Type"), path).toBe(type);
      expect(response.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
    }
  });

  it("refuses paths that leave its two directories, other file types and other methods", async () => {
    const cases: [string, number][] = [
      ["/dist/browser/..%2f..%2fnode_modules%2fws%2findex.js", 400],
      ["/..%2f..%2f..%2fnode_modules%2fws%2findex.js", 400],
      ["/..%5c..%5cpackage.json", 400],
      ["/%2e%2e/%2e%2e/node_modules/ws/index.js", 404],
      ["/%zz", 400],
      ["/serve.mjs", 404],
      ["/dist/browser/", 404],
      ["/missing.js", 404],
    ];
    for (const [path, status] of cases) {
      const response = await get(path);
      expect(await response.text(), path).not.toContain("module.exports");
      expect(response.status, path).toBe(status);
    }
    const post = await get("/", "POST");
    await post.arrayBuffer();
    expect(post.status).toBe(405);
  });
});
