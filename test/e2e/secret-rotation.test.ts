/**
 * E2E rotating EDGEMQ_SECRET (README, Rotating the secret): a relay deployed with the new secret
 * in EDGEMQ_SECRET and the old one in EDGEMQ_SECRET_PREVIOUS takes tokens of both, so peers keep
 * connecting while they get new tokens; once EDGEMQ_SECRET_PREVIOUS is removed (the next deploy),
 * tokens of the old secret are refused `unauthorized`, and those of the new one still work.
 */
import { describe, expect, it } from "vitest";
import { signToken } from "../../protocol/index.js";
import { useRelay } from "./support/fixture.js";

const OLD = "old-secret-of-at-least-32-characters";
const NEW = "new-secret-of-at-least-32-characters";

async function token(secret: string): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + 600;
  return signToken({ sub: "rot-alice", role: "client", queues: ["rot-q"], exp }, secret);
}

describe("rotating the secret", () => {
  const e2e = useRelay({ vars: { EDGEMQ_SECRET: NEW, EDGEMQ_SECRET_PREVIOUS: OLD } });

  async function whoami(secret: string): Promise<number> {
    const response = await fetch(`${e2e.relay().httpUrl}/v1/whoami`, {
      headers: { authorization: `Bearer ${await token(secret)}` },
    });
    await response.arrayBuffer();
    return response.status;
  }

  it("takes tokens of the old and the new secret during the rotation, and of the new alone after it", async () => {
    expect(await whoami(OLD)).toBe(200);
    expect(await whoami(NEW)).toBe(200);
    expect(await whoami("some-other-secret-of-32-characters!")).toBe(401);
    await e2e.relay().restart({ EDGEMQ_SECRET: NEW });
    expect(await whoami(OLD)).toBe(401);
    expect(await whoami(NEW)).toBe(200);
  });
});
