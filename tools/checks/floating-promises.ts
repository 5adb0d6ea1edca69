/**
 * A promise made and dropped: a statement that is only a call (or `new`) whose value is a
 * promise, not awaited, not returned, not marked `void`. Such a promise's failure is an unhandled
 * rejection (a service exits on one), and the code after it runs before the work is done, which
 * is how the conmon monitor once started runc before an id-mapped rootfs was mounted.
 * Intentional fire-and-forget says so with `void`.
 * Usage: tsx tools/checks/floating-promises.ts [tsconfig] (default: the repo's tsconfig.json).
 */
import { relative, resolve } from 'node:path';
import ts from 'typescript';

const repoRoot = resolve(__dirname, '../..');

export function floatingPromises(tsconfigPath: string): string[] {
  const cfg = ts.readConfigFile(tsconfigPath, (p) => ts.sys.readFile(p));
  if (cfg.error) throw new Error(ts.flattenDiagnosticMessageText(cfg.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(cfg.config, ts.sys, resolve(tsconfigPath, '..'));
  const program = ts.createProgram(parsed.fileNames, { ...parsed.options, noEmit: true });
  const checker = program.getTypeChecker();
  const isPromise = (t: ts.Type): boolean => {
    if (t.isUnion()) return t.types.some(isPromise);
    const then = t.getProperty('then');
    if (!then) return false;
    const thenType = checker.getTypeOfSymbol(then);
    return thenType.getCallSignatures().length > 0;
  };
  // A chain that ends in `.catch(f)` or `.then(f, g)` (then perhaps `.finally`) has its rejection handled.
  const handled = (e: ts.Expression): boolean => {
    if (!ts.isCallExpression(e) || !ts.isPropertyAccessExpression(e.expression)) return false;
    const name = e.expression.name.text;
    if (name === 'finally') return handled(e.expression.expression);
    return name === 'catch' || (name === 'then' && e.arguments.length >= 2);
  };
  const found: string[] = [];
  for (const sf of program.getSourceFiles()) {
    if (sf.isDeclarationFile || sf.fileName.includes('/node_modules/') || sf.fileName.includes('/gen/')) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isExpressionStatement(node)) {
        const e = node.expression;
        if ((ts.isCallExpression(e) || ts.isNewExpression(e)) && !handled(e) && isPromise(checker.getTypeAtLocation(e))) {
          const { line } = sf.getLineAndCharacterOfPosition(e.getStart(sf));
          found.push(`${relative(repoRoot, sf.fileName)}:${line + 1}: ${e.getText(sf).split('\n')[0]!.slice(0, 100)}`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return found;
}

if (require.main === module) {
  const found = floatingPromises(resolve(process.argv[2] ?? resolve(repoRoot, 'tsconfig.json')));
  for (const f of found) console.log(f);
  console.log(found.length ? `${found.length} promise(s) neither awaited nor marked void` : 'no floating promises');
  process.exit(found.length ? 1 : 0);
}
