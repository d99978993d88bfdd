/**
 * Small builders for the SDK's HTTP-transport unit tests: a JSON answer, the headers of a take
 * that hands over request `id` (as the relay's take route answers them), and a relay without
 * the outcomes route. Used by
 * test/unit/client/http-*.test.ts.
 */
import type { FetchLike } from "../../../client/index.js";

/** A JSON answer with `status` (and extra headers). */
export function json(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** The headers of a take's 200 for request `id`, from bob, due in a minute. */
export function takeHeaders(
  id: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    "content-type": "text/plain; charset=utf-8",
    "EdgeMQ-Request-Id": id,
    "EdgeMQ-From": "bob",
    "EdgeMQ-Deadline": String(Date.now() + 60_000),
    "EdgeMQ-Attempt": "1",
    ...extra,
  };
}

/**
 * `fetch` as a relay older than `GET /v1/outcomes` answers: that route is unknown (404), so the
 * SDK polls each request's own `GET /v1/requests/{id}`. The inner fetch never sees those calls.
 */
export function withoutOutcomesRoute(fetch: FetchLike): FetchLike {
  return async (url, init) => {
    if (new URL(url).pathname !== "/v1/outcomes") return fetch(url, init);
    const message = `no route for ${init.method} /v1/outcomes`;
    return json(404, { error: { code: "not_found", message } });
  };
}
