#!/usr/bin/env node
// Bundles one project into dist/<project dir>/ as self-contained CommonJS files that run with
// plain `node`, plus a package.json carrying the project's own name and version, so the
// folder can be shipped alone. Usage: bundle.mjs <project dir> [entry ...] (default src/main.ts).
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { publishMonitor } from './publish-monitor.mjs';

const [projectDir, ...entries] = process.argv.slice(2);
if (!projectDir) {
  console.error('usage: bundle.mjs <project dir> [entry ...]');
  process.exit(2);
}
const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, projectDir, 'package.json'), 'utf8'));
const outdir = join(root, 'dist', projectDir);
// Packages with native parts (koffi) cannot be inlined: they stay external and are copied into
// the artifact's own node_modules, with their per-platform packages, so the folder still runs alone.
const copyModules = pkg.berth?.copyModules ?? [];
rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

await build({
  absWorkingDir: root,
  entryPoints: (entries.length ? entries : ['src/main.ts']).map((e) => join(projectDir, e)),
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  // A service's bundle is one source string that V8 keeps in its heap for its whole life (for
  // lazy compilation and toString): without whitespace and with shorter syntax it is ~30% smaller.
  // Identifiers are left alone: mangled ones made V8's parse of the bundle keep ~4-8 MiB more
  // malloc'd memory per process (measured with a bare compile of the bundle), more than the
  // shorter source saves, and they would make stack traces unreadable. keepNames keeps the names
  // esbuild's helpers would otherwise lose; the .map maps lines back (NODE_OPTIONS=--enable-source-maps).
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  logLevel: 'warning',
  tsconfig: join(root, 'tsconfig.base.json'),
  define: { __BERTH_VERSION__: JSON.stringify(pkg.version) },
  // Optional native speed-ups that their packages load with a JS fallback.
  external: ['msgpackr-extract', 'pino-pretty', 'cpu-features', 'ssh2', ...copyModules],
});

for (const mod of copyModules) {
  cpSync(join(root, 'node_modules', mod), join(outdir, 'node_modules', mod), { recursive: true, dereference: true });
  // koffi ships its native code as @koromix/koffi-<platform>-<arch> packages.
  const scope = join(root, 'node_modules', '@koromix');
  if (mod === 'koffi' && existsSync(scope)) {
    for (const p of readdirSync(scope).filter((n) => n.endsWith(`${process.platform}-${process.arch}`))) {
      cpSync(join(scope, p), join(outdir, 'node_modules', '@koromix', p), { recursive: true, dereference: true });
    }
  }
}

writeFileSync(
  join(outdir, 'package.json'),
  `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true, main: entries.length ? undefined : 'main.js' }, null, 2)}\n`,
);
console.log(`built ${basename(projectDir)} ${pkg.version} -> ${outdir}`);
// A monitor's running copies must outlive the next build: each build is also kept beside the others.
if (pkg.berth?.monitor) {
  const m = publishMonitor(outdir);
  console.log(`published monitor ${m.name} -> ${m.dir}`);
}
