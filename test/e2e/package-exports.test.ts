/**
 * The package as another project meets it. A CommonJS program: `require("edgemq/client")` and
 * `require("edgemq/protocol")` load the built ES modules (Node 20.19+ requires ES modules), as
 * TypeScript's NodeNext resolution already told a CommonJS project they would; before, the
 * exports had only an `import` condition, so `require` failed with ERR_PACKAGE_PATH_NOT_EXPORTED.
 * A TypeScript project that installed it as README says (`npm install /path/to/edgemq`, a link):
 * each moduleResolution finds the built .d.ts; before, `node10` (which reads no `exports`) found
 * the repository's own client/index.ts and compiled the SDK's sources into the project. And a
 * TypeScript page that imports the browser bundle (dist/browser/edgemq.js) gets its types.
 * Runs `node -e` in the repository (the package resolves itself); needs `npm run build`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
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

/** A project dir whose node_modules/edgemq links to this repository (as `npm install <path>`). */
function linkedProject(): string {
  const dir = mkdtempSync(join(tmpdir(), "edgemq-consumer-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(REPO_ROOT, join(dir, "node_modules", "edgemq"), "dir");
  writeFileSync(join(dir, "package.json"), '{ "name": "consumer", "private": true }');
  return dir;
}

describe("TypeScript resolution of an installed edgemq", () => {
  const project = linkedProject();
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  const resolutions: [string, ts.ModuleResolutionKind, ts.ModuleKind][] = [
    ["node10", ts.ModuleResolutionKind.Node10, ts.ModuleKind.CommonJS],
    ["node16", ts.ModuleResolutionKind.Node16, ts.ModuleKind.Node16],
    ["nodenext", ts.ModuleResolutionKind.NodeNext, ts.ModuleKind.NodeNext],
    ["bundler", ts.ModuleResolutionKind.Bundler, ts.ModuleKind.ESNext],
  ];
  it.each(resolutions)("finds the built .d.ts with moduleResolution %s", (_, resolution, kind) => {
    const from = join(project, "index.ts");
    const options = { moduleResolution: resolution, module: kind };
    for (const entry of ["client", "protocol"]) {
      const found = ts.resolveModuleName(`edgemq/${entry}`, from, options, ts.sys);
      const file = found.resolvedModule?.resolvedFileName ?? "(not found)";
      expect(file.replace(`${REPO_ROOT}/`, "").replace(/^.*node_modules\/edgemq\//, "")).toBe(
        `dist/${entry}/index.d.ts`,
      );
    }
  });
});

/** tsc's errors for `text`, compiled with `options` as if it were the file `file`. */
function compileErrors(file: string, text: string, options: ts.CompilerOptions): string[] {
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version) =>
    name === file ? ts.createSourceFile(name, text, version) : getSourceFile(name, version);
  const program = ts.createProgram([file], { ...options, noEmit: true }, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, " "));
}

/** The strictest options a project may use, with the .d.ts files checked too. */
const STRICTEST: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.esnext.disposable.d.ts"],
  types: [],
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noPropertyAccessFromIndexSignature: true,
  noImplicitOverride: true,
  noImplicitReturns: true,
  verbatimModuleSyntax: true,
  skipLibCheck: false,
};

/** A program of another project, as README's snippets use the SDK. */
const CONSUMER = `import { connect, EdgeMQError, ERROR_CODE, typed, type ServeRequest } from "edgemq/client";
await using peer = await connect("ws://127.0.0.1:8787", { identity: "alice" });
await using service = peer.serve("resize", async (req: ServeRequest<{ url: string }>) =>
  req.attempt > 1 ? undefined : typed(new TextEncoder().encode(req.body.url), "text/plain"),
);
try {
  await peer.request<Uint8Array>("resize", { url: "a" }, { signal: AbortSignal.timeout(1_000) });
} catch (error) {
  if (error instanceof EdgeMQError && error.code === ERROR_CODE.timeout) console.log(service.queue);
}
`;

describe("TypeScript compiling a project against the installed edgemq", () => {
  const project = linkedProject();
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it("reports no error, in the project or in the SDK's .d.ts, under the strictest options", () => {
    const options = {
      ...STRICTEST,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
    };
    expect(compileErrors(join(project, "consumer.mts"), CONSUMER, options)).toEqual([]);
  });
});

/** A page of the repository importing the browser bundle, as a TypeScript page would. */
const PAGE = `import { connect, type Peer } from "./dist/browser/edgemq.js";
export const open = (url: string): Promise<Peer> => connect(url, { identity: "tab" });
`;

describe("TypeScript and the browser bundle", () => {
  it("types an import of dist/browser/edgemq.js as edgemq/client", () => {
    const options = {
      ...STRICTEST,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
    };
    expect(compileErrors(join(REPO_ROOT, "page.ts"), PAGE, options)).toEqual([]);
  });
});
