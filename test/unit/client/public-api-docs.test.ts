/**
 * Every name `edgemq/client` exports carries a doc comment, and so does every member of its
 * interfaces and classes, so an editor's hover explains them (the .d.ts files keep the comments).
 * The `*Like` shapes that mirror a platform type (WebSocket, fetch, AbortSignal) are held to the
 * name only: their members are the platform's. Reads client/index.ts with the TypeScript compiler.
 */
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const INDEX = fileURLToPath(new URL("../../../client/index.ts", import.meta.url));

/** `name` for each exported name without a doc, `name.member` for each such member. */
function undocumented(): string[] {
  const program = ts.createProgram([INDEX], { strict: true, noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(INDEX);
  const module = source && checker.getSymbolAtLocation(source);
  if (module === undefined) throw new Error("client/index.ts did not load");
  const missing: string[] = [];
  const hasDoc = (symbol: ts.Symbol) => symbol.getDocumentationComment(checker).length > 0;
  for (const exported of checker.getExportsOfModule(module)) {
    const symbol = checker.getAliasedSymbol(exported);
    if (!hasDoc(symbol)) missing.push(exported.name);
    if (
      exported.name.endsWith("Like") ||
      !(symbol.flags & ts.SymbolFlags.Interface || symbol.flags & ts.SymbolFlags.Class)
    )
      continue;
    for (const member of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
      const ours = member.declarations?.some((d) => !d.getSourceFile().isDeclarationFile);
      if (ours && !member.name.startsWith("#") && !hasDoc(member))
        missing.push(`${exported.name}.${member.name}`);
    }
  }
  return missing;
}

describe("edgemq/client's public API", () => {
  it("has a doc comment on every exported name and every member of its interfaces and classes", () => {
    expect(undocumented()).toEqual([]);
  }, 30_000);
});
