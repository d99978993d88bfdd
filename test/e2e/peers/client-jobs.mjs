/**
 * Client-side jobs for the e2e peer process. A burst sends `perIdentity` requests from each of
 * its identities at once, each with a unique payload, and checks every reply: it must name the
 * sending identity as `from` (the server echoes `req.from`) and carry the exact payload sent.
 */
import { isDeepStrictEqual } from "node:util";

/**
 * Starts a burst. Returns `sent` (resolves once every request() call was made), `count`, and
 * `done` (resolves with the summary once every request settled).
 */
export function runBurst(peersById, args, describeError) {
  const { identities, perIdentity, queue, timeout } = args;
  const nonce = args.nonce ?? `${process.pid}-${Date.now()}`;
  const summary = {
    sent: 0,
    ok: 0,
    misrouted: 0,
    wrongPayload: 0,
    errors: {},
    samples: [],
    attempts: {},
  };
  const tasks = [];
  for (const identity of identities) {
    const peer = peersById.get(identity);
    for (let seq = 0; seq < perIdentity; seq++) {
      const payload = { identity, seq, nonce, key: `${identity}#${seq}` };
      summary.sent++;
      tasks.push(
        peer.request(queue, payload, { timeout }).then(
          (reply) => check(summary, identity, payload, reply),
          (error) => {
            const { code, message } = describeError(error);
            const key = code ?? "not_edgemq_error";
            summary.errors[key] = (summary.errors[key] ?? 0) + 1;
            if (summary.samples.length < 10) summary.samples.push(`${key}: ${message}`);
          },
        ),
      );
    }
  }
  const done = Promise.all(tasks).then(() => summary);
  return { sent: Promise.resolve(), count: summary.sent, done };
}

function check(summary, identity, payload, reply) {
  const from = reply?.from;
  const attempt = reply?.attempt;
  if (typeof attempt === "number") {
    summary.attempts[attempt] = (summary.attempts[attempt] ?? 0) + 1;
  }
  if (from !== identity) {
    summary.misrouted++;
    if (summary.samples.length < 10) {
      summary.samples.push(`misrouted: sent by ${identity}, reply from ${JSON.stringify(from)}`);
    }
    return;
  }
  if (!isDeepStrictEqual(reply.payload, payload)) {
    summary.wrongPayload++;
    if (summary.samples.length < 10) {
      summary.samples.push(`payload: sent ${JSON.stringify(payload)} got ${JSON.stringify(reply)}`);
    }
    return;
  }
  summary.ok++;
}
