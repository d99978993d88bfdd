/**
 * A message of junk frames that name no request earns one `error` frame, counting them, on every
 * socket kind: a client's `/v1/connect`, a queue link and a server socket. Frames that name a
 * request each keep their own refusal.
 */
import { describe, expect, it } from "vitest";
import { expectNothingElse, linkSocket, serverSocket, TestSocket } from "./exchange-test-socket.js";

/** As many junk frames as a socket may send at once (unreadable-frames.test.ts: one more closes it). */
const JUNK = Array.from({ length: 99 }, () => 1);

async function expectOneRefusal(socket: TestSocket): Promise<void> {
  socket.send(JUNK);
  expect(await socket.next()).toEqual({
    type: "error",
    code: "bad_request",
    message: expect.stringMatching(/^99 frames of this message were refused; the first: /),
  });
  await expectNothingElse(socket);
}

describe("refusals of frames that name no request", () => {
  it("go back as one error frame on /v1/connect, a queue link and a server socket", async () => {
    const { socket: client } = await TestSocket.client("unnamed-ann");
    const link = await linkSocket("unnamed-q", "unnamed-bo");
    const server = await serverSocket("unnamed-q", "unnamed-srv");
    for (const socket of [client, link, server]) await expectOneRefusal(socket);
    for (const socket of [client, link, server]) socket.close();
  });

  it("keep one refusal per frame that names a request", async () => {
    const { socket } = await TestSocket.client("unnamed-cy");
    socket.send([
      { type: "request", id: "a" },
      { type: "request", id: "b" },
    ]);
    const refusals = [await socket.next(), await socket.next()];
    expect(refusals).toMatchObject([
      { type: "error", id: "a", code: "bad_request" },
      { type: "error", id: "b", code: "bad_request" },
    ]);
    socket.close();
  });
});
