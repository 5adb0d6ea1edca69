#!/usr/bin/env node
// Publishes a monitor's build (dist/apps/shim) beside its earlier builds, as deploy/ installs it:
//   dist/monitors/<name>/<version>-<content hash>/   one build, never edited once there
//   dist/monitors/<name>/current -> <version>-<hash> what the supervisor starts new monitors from
// Every running monitor was started from one of these folders and a rebuild overwrites
// dist/apps/<name>, not them. Builds that no live process runs from are pruned, except current
// and the one before (a supervisor may have resolved it a moment ago and be about to start it).
// Usage: publish-monitor.mjs <built dir> [store dir]  (default dist/monitors/<basename of built dir>)
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** sha256 of every file's relative path and bytes, in a stable order. */
function treeHash(dir) {
  const h = createHash('sha256');
  const walk = (rel) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const p = join(rel, name);
      const st = statSync(join(dir, p));
      if (st.isDirectory()) walk(p);
      else {
        h.update(`${p}\0${st.size}\0`);
        h.update(readFileSync(join(dir, p)));
      }
    }
  };
  walk('');
  return h.digest('hex');
}

/** The folders under `store` some process runs from (its command line names a file in it). */
function inUse(store) {
  const used = new Set();
  const prefix = `${store}/`;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let args;
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    for (const a of args) if (a.startsWith(prefix)) used.add(a.slice(prefix.length).split('/')[0]);
  }
  return used;
}

export function publishMonitor(built, store = resolve(built, '../../monitors', basename(built))) {
  const { version } = JSON.parse(readFileSync(join(built, 'package.json'), 'utf8'));
  if (!/^[0-9A-Za-z.+-]+$/.test(version)) throw new Error(`${built}: unusable version ${JSON.stringify(version)}`);
  const name = `${version}-${treeHash(built).slice(0, 12)}`;
  const dest = join(store, name);
  mkdirSync(store, { recursive: true });
  if (!existsSync(dest)) {
    const stage = join(store, `.stage.${process.pid}`);
    rmSync(stage, { recursive: true, force: true });
    cpSync(built, stage, { recursive: true });
    try {
      renameSync(stage, dest);
    } catch (err) {
      // Another launcher or build published the same content first: theirs is as good.
      rmSync(stage, { recursive: true, force: true });
      if (!existsSync(dest)) throw err;
    }
  }
  const link = join(store, 'current');
  let previous;
  try {
    previous = readlinkSync(link);
  } catch {
    // first build
  }
  if (previous !== name) {
    const tmp = join(store, `.current.${process.pid}`);
    rmSync(tmp, { force: true });
    symlinkSync(name, tmp);
    renameSync(tmp, link);
  }
  const keep = new Set([name, previous, ...inUse(store)]);
  const pruned = [];
  for (const d of readdirSync(store)) {
    if (d === 'current' || d.startsWith('.') || keep.has(d)) continue;
    rmSync(join(store, d), { recursive: true, force: true });
    pruned.push(d);
  }
  return { dir: dest, name, previous, pruned };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [built, store] = process.argv.slice(2);
  if (!built) {
    console.error('usage: publish-monitor.mjs <built dir> [store dir]');
    process.exit(2);
  }
  const r = publishMonitor(resolve(built), store && resolve(store));
  console.log(`monitor ${r.name} -> ${r.dir}${r.pruned.length ? ` (pruned ${r.pruned.join(', ')})` : ''}`);
}
