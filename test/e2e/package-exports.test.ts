/**
 * The package's `exports` as a CommonJS program meets them: `require("edgemq/client")` and
 * `require("edgemq/protocol")` load the built ES modules (Node 20.19+ requires ES modules), as
 * TypeScript's NodeNext resolution already told a CommonJS project they would. Before, the
 * exports had only an `import` condition, so `require` failed with ERR_PACKAGE_PATH_NOT_EXPORTED.
 * Runs `node -e` in the repository (the package resolves itself); needs `npm run build`.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./relay.js";

/** Runs `code` as a CommonJS program in the repository, bounded; its exit code and output. */
function runCommonJs(code: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ["--input-type=commonjs", "-e", code], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("package exports", () => {
  it("edgemq/client and edgemq/protocol load with require() from CommonJS", () => {
    const run = runCommonJs(`
      const client = require("edgemq/client");
      const protocol = require("edgemq/protocol");
      const error = new client.EdgeMQError(client.ERROR_CODE.timeout, "t");
      console.log(JSON.stringify({
        connect: typeof client.connect,
        typed: typeof client.typed,
        sameClass: error instanceof protocol.EdgeMQError,
        isError: client.isEdgeMQError(error),
      }));
    `);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      connect: "function",
      typed: "function",
      sameClass: true,
      isError: true,
    });
  });
});
