/**
 * Small builders for the SDK's HTTP-transport unit tests: a JSON answer, and the headers of a
 * take that hands over request `id` (as the relay's take route answers them). Used by
 * test/unit/client/http-*.test.ts.
 */

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
