/**
 * The .d.ts files `npm run build` writes for edgemq/client and edgemq/protocol name no generic
 * typed array (`Uint8Array<ArrayBuffer>`, TypeScript 5.7+), so a project on an older TypeScript
 * with `skipLibCheck: false` compiles against them (checked by hand with 5.2.2 and 5.6.3: before,
 * "Type 'Uint8Array' is not generic" in http-link.d.ts). Emits the declarations in memory with the
 * build's settings (tsconfig.build.json) and reads them.
 */
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const GENERIC_TYPED_ARRAY =
  /\b(?:Uint8|Uint8Clamped|Int8|Uint16|Int16|Uint32|Int32|Float32|Float64|BigInt64|BigUint64)Array<|\bArrayBufferView</;

/** Each emitted .d.ts line that names a typed array with type arguments, with its file. */
function genericTypedArrays(): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    `${ROOT}tsconfig.build.json`,
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  if (config === undefined) throw new Error("tsconfig.build.json did not load");
  const options = { ...config.options, emitDeclarationOnly: true, removeComments: true };
  const program = ts.createProgram(config.fileNames, options);
  const found: string[] = [];
  program.emit(undefined, (fileName, text) => {
    if (!fileName.endsWith(".d.ts") || fileName.includes("/cli/")) return;
    for (const line of text.split("\n")) {
      if (GENERIC_TYPED_ARRAY.test(line))
        found.push(`${fileName.slice(ROOT.length)}: ${line.trim()}`);
    }
  });
  return found;
}

describe("the SDK's declaration files", () => {
  it("name no generic typed array, which TypeScript before 5.7 cannot read", () => {
    expect(genericTypedArrays()).toEqual([]);
  }, 60_000);
});
