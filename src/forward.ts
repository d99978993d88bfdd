/**
 * Builds the upgrade request the front door hands a Durable Object: the peer's request with every
 * `X-EdgeMQ-*` header it sent removed (so an identity or queue cannot be spoofed) and the ones the
 * front door established set. Used by routes/connect.ts and routes/serve.ts.
 */
const FORWARD_PREFIX = "x-edgemq-";

export function forwardRequest(request: Request, established: Record<string, string>): Request {
  const headers = new Headers(request.headers);
  const spoofed: string[] = [];
  for (const name of headers.keys())
    if (name.toLowerCase().startsWith(FORWARD_PREFIX)) spoofed.push(name);
  for (const name of spoofed) headers.delete(name);
  for (const [name, value] of Object.entries(established)) headers.set(name, value);
  return new Request(request, { headers });
}
