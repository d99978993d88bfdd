/**
 * Every name `edgemq/client` exports carries a doc comment, and so does every member of its
 * interfaces and classes, so an editor's hover explains them (the .d.ts files keep the comments).
 * The `*Like` shapes that mirror a platform type (WebSocket, fetch, AbortSignal) are held to the
 * name only: their members are the platform's. And every type its public signatures name is
 * exported too, so a name a hover or an error shows can be imported. Reads client/index.ts with
 * the TypeScript compiler.
 */
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const INDEX = fileURLToPath(new URL("../../../client/index.ts", import.meta.url));

/** The SDK's entry, compiled: its checker and its exports. */
function loadIndex(): { checker: ts.TypeChecker; exports: ts.Symbol[] } {
  const program = ts.createProgram([INDEX], { strict: true, noEmit: true, types: [] });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(INDEX);
  const module = source && checker.getSymbolAtLocation(source);
  if (module === undefined) throw new Error("client/index.ts did not load");
  return { checker, exports: checker.getExportsOfModule(module) };
}

/** `name` for each exported name without a doc, `name.member` for each such member. */
function undocumented(): string[] {
  const { checker, exports } = loadIndex();
  const missing: string[] = [];
  const hasDoc = (symbol: ts.Symbol) => symbol.getDocumentationComment(checker).length > 0;
  for (const exported of exports) {
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

/** Whether a class member is out of the public API: `#name`, `private`, `protected`. */
function isHidden(node: ts.Node): boolean {
  const name = (node as { name?: ts.Node }).name;
  if (name !== undefined && ts.isPrivateIdentifier(name)) return true;
  const flags = ts.getCombinedModifierFlags(node as ts.Declaration);
  return (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0;
}

/** The parts of a declaration its public type is made of: no function bodies, no initializers. */
function typeParts(node: ts.Node): ts.Node[] {
  if (isHidden(node)) return [];
  if (ts.isFunctionLike(node)) {
    return [...(node.typeParameters ?? []), ...node.parameters, ...(node.type ? [node.type] : [])];
  }
  if (ts.isPropertyDeclaration(node) || ts.isParameter(node)) return node.type ? [node.type] : [];
  const parts: ts.Node[] = [];
  ts.forEachChild(node, (child) => {
    parts.push(child);
  });
  return parts;
}

/** Names of the SDK's own types that its exports' signatures use but it does not export. */
function unexportedNames(): string[] {
  const { checker, exports } = loadIndex();
  const exported = new Set(exports.map((symbol) => checker.getAliasedSymbol(symbol)));
  const seen = new Set<ts.Symbol>();
  const leaks = new Set<string>();
  const visitSymbol = (symbol: ts.Symbol) => {
    if (seen.has(symbol)) return;
    seen.add(symbol);
    const declarations = symbol.declarations ?? [];
    if (declarations.every((d) => d.getSourceFile().isDeclarationFile)) return;
    if (symbol.flags & ts.SymbolFlags.TypeParameter) return;
    if (!exported.has(symbol)) leaks.add(symbol.name);
    for (const declaration of declarations) visitNode(declaration);
  };
  const visitNode = (node: ts.Node) => {
    if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
      const name = ts.isTypeReferenceNode(node) ? node.typeName : node.expression;
      const symbol = checker.getSymbolAtLocation(name);
      if (symbol !== undefined) {
        const alias = symbol.flags & ts.SymbolFlags.Alias;
        visitSymbol(alias ? checker.getAliasedSymbol(symbol) : symbol);
      }
    }
    for (const part of typeParts(node)) visitNode(part);
  };
  for (const symbol of exported) visitSymbol(symbol);
  return [...leaks].sort();
}

describe("edgemq/client's public API", () => {
  it("names in its signatures only types it exports", () => {
    expect(unexportedNames()).toEqual([]);
  }, 30_000);

  it("has a doc comment on every exported name and every member of its interfaces and classes", () => {
    expect(undocumented()).toEqual([]);
  }, 30_000);
});
