/**
 * The house's module boundaries, checked on every lint:
 * - an app never imports another app, a lib never imports an app;
 * - `express` only in the gateway, `@grpc/grpc-js` only in type:grpc libs and apps;
 * - type:util libs depend only on other type:util libs;
 * - no import cycles between libs;
 * - a relative import stays in its project, except a tool's into tests/support: benchmarks and
 *   kits drive whole suites with the tests' own harness.
 * Usage: tsx tools/checks/boundaries.ts [project dir ...] (no argument: every project).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

const repoRoot = resolve(__dirname, '../..');

interface Project {
  name: string;
  dir: string;
  tags: string[];
}

function projects(root: string): Map<string, Project> {
  const out = new Map<string, Project>();
  for (const area of ['apps', 'libs', 'tools']) {
    for (const name of readdirSync(join(root, area))) {
      const pj = join(root, area, name, 'project.json');
      try {
        const doc = JSON.parse(readFileSync(pj, 'utf8')) as { name: string; tags?: string[] };
        out.set(`${area}/${name}`, { name: doc.name, dir: `${area}/${name}`, tags: doc.tags ?? [] });
      } catch {
        // not a project
      }
    }
  }
  return out;
}

function sources(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (e === 'node_modules' || e === 'dist') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
    }
  };
  walk(join(root, dir));
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\W)(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

const type = (p: Project) => p.tags.find((t) => t.startsWith('type:'))?.slice(5) ?? '';

export function check(only: string[], root = repoRoot): string[] {
  const all = projects(root);
  const errors: string[] = [];
  const libDeps = new Map<string, Set<string>>();
  for (const p of all.values()) {
    const deps = new Set<string>();
    for (const file of sources(root, p.dir)) {
      const rel = relative(root, file);
      const spec = file.endsWith('.spec.ts');
      for (const imp of importsOf(file)) {
        if (imp.startsWith('.')) {
          const target = relative(root, resolve(file, '..', imp));
          const harness = type(p) === 'tool' && target.startsWith(`tests${sep}support${sep}`);
          if (!target.startsWith(p.dir + sep) && target !== p.dir && !harness) errors.push(`${rel}: relative import ${imp} leaves ${p.dir}`);
          continue;
        }
        if (imp === 'express' && p.dir !== 'apps/gateway') errors.push(`${rel}: express is only for the gateway`);
        if (imp === '@grpc/grpc-js' && !spec && !['grpc', 'app', 'tool'].includes(type(p))) {
          errors.push(`${rel}: @grpc/grpc-js is only for grpc libs and apps`);
        }
        const m = /^@berth\/([^/]+)/.exec(imp);
        if (!m) continue;
        const target = all.get(`libs/${m[1]}`);
        if (!target) {
          errors.push(`${rel}: ${imp} is not a lib (apps never import apps)`);
          continue;
        }
        if (target.dir !== p.dir) deps.add(target.dir);
        if (type(p) === 'util' && type(target) !== 'util') errors.push(`${rel}: util lib ${p.name} must not depend on ${type(target)} lib ${target.name}`);
      }
    }
    if (p.dir.startsWith('libs/')) libDeps.set(p.dir, deps);
  }
  // Cycles between libs, found by depth-first search.
  const seen = new Set<string>();
  const stack: string[] = [];
  const visit = (d: string) => {
    if (stack.includes(d)) {
      errors.push(`import cycle: ${[...stack.slice(stack.indexOf(d)), d].join(' -> ')}`);
      return;
    }
    if (seen.has(d)) return;
    seen.add(d);
    stack.push(d);
    for (const n of libDeps.get(d) ?? []) visit(n);
    stack.pop();
  };
  for (const d of libDeps.keys()) visit(d);
  if (only.length === 0) return errors;
  return errors.filter((e) => only.some((o) => e.startsWith(o) || e.startsWith('import cycle')));
}

if (require.main === module) {
  const only = process.argv.slice(2).map((a) => a.replace(/\/$/, ''));
  const known = projects(repoRoot);
  const unknown = only.filter((o) => !known.has(o));
  // A project's name instead of its folder would match nothing and pass in silence.
  if (unknown.length) {
    console.error(`boundaries: not a project folder: ${unknown.join(', ')} (give e.g. apps/gateway or libs/errors)`);
    process.exit(2);
  }
  const errors = check(only);
  for (const e of errors) console.error(`boundaries: ${e}`);
  if (errors.length) process.exit(1);
}
