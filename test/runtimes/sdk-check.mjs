/**
 * One runtime-neutral SDK check, run by Bun and Deno (see sdk-in-runtimes.test.ts): a server and a
 * client over WebSocket, and a client over the HTTP transport, against the relay at argv/env
 * EDGEMQ_URL. Prints one JSON line with what came back.
 */
const env = typeof Deno !== "undefined" ? Deno.env.toObject() : process.env;
const { connect } = await import(env.EDGEMQ_SDK);
const url = env.EDGEMQ_URL;
const runtime = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";
const queue = `rt-${runtime}`;

const server = await connect(url, { identity: `${runtime}-server` });
const service = server.serve(queue, (req) => ({
  from: req.from,
  body: req.body instanceof Uint8Array ? { bytes: [...req.body] } : req.body,
}));
await service.ready;
const client = await connect(url, { identity: `${runtime}-client` });
const json = await client.request(queue, { a: 1 });
const bytes = await client.request(queue, new Uint8Array([0, 1, 255]));
const http = await connect(url.replace(/^ws/, "http"), {
  identity: `${runtime}-http`,
  transport: "http",
});
const viaHttp = await http.request(queue, "over http");
console.log(JSON.stringify({ runtime, json, bytes, viaHttp }));
await http.close();
await client.close();
await service.close();
await server.close();
