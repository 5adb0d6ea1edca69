import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFailedPrecondition, isInvalidArgument, isNotFound } from '@berth/errors';
import { ANONYMOUS_LABEL, Volumes } from './volumes';

const fresh = async (root = mkdtempSync(join(tmpdir(), 'berth-vol-'))) => {
  const v = new Volumes(root, join(root, '..', `${root.split('/').pop()}-scratch`), () => []);
  await v.reconcile();
  return { v, root };
};

const err = async (p: Promise<unknown> | (() => unknown)) => {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
};

describe('Volumes', () => {
  it('creates named and generated volumes; the same name again returns the existing one', async () => {
    const { v, root } = await fresh();
    const a = v.create('data', '', { a: 'b' }, {}, false);
    expect(a.mountpoint).toBe(join(root, 'data', '_data'));
    expect(v.create('data', 'local', {}, {}, false).labels).toEqual({ a: 'b' });
    const g = v.create('', '', {}, {}, false);
    expect(g.name).toMatch(/^[0-9a-f]{64}$/);
    expect(g.anonymous).toBe(false);
    expect(v.create('', '', {}, {}, true).labels).toEqual({ [ANONYMOUS_LABEL]: '' });
  });

  it('refuses bad names, unknown drivers and unknown options with Docker texts', async () => {
    const { v } = await fresh();
    expect(((await err(() => v.create('a/b', '', {}, {}, false))) as Error).message).toMatch(/includes invalid characters for a local volume name/);
    expect(isNotFound(await err(() => v.create('x1', 'nfs', {}, {}, false)))).toBe(true);
    const e = await err(() => v.create('x1', '', {}, { foo: 'bar' }, false));
    expect(isInvalidArgument(e)).toBe(true);
    expect((e as Error).message).toBe('create x1: invalid option key: "foo"');
  });

  it('keeps references across a restart and refuses removal while in use', async () => {
    const { v, root } = await fresh();
    v.create('data', '', {}, {}, false);
    await v.acquire('data', 'c1', '', '');
    await v.acquire('data', 'c1', '', '');
    const { v: again } = await fresh(root);
    expect(again.get('data').containers).toEqual(['c1']);
    const e = await err(again.remove('data', true));
    expect(isFailedPrecondition(e)).toBe(true);
    expect((e as Error).message).toBe('remove data: volume is in use - [c1]');
    expect(again.list('{"dangling":["true"]}')).toEqual([]);
    await again.releaseContainer('c1', false);
    expect(again.list('{"dangling":["true"]}').map((x) => x.name)).toEqual(['data']);
    await again.remove('data', false);
    expect(isNotFound(await err(again.remove('data', false)))).toBe(true);
    await again.remove('data', true);
  });

  it('filters by name and label; prune takes anonymous volumes unless all', async () => {
    const { v } = await fresh();
    v.create('web-data', '', { tier: 'web' }, {}, false);
    v.create('db-data', '', { tier: 'db' }, {}, false);
    const anon = v.create('', '', {}, {}, true);
    writeFileSync(join(anon.mountpoint, 'f'), 'hello');
    expect(v.list('{"name":["web"]}').map((x) => x.name)).toEqual(['web-data']);
    expect(v.list('{"label":{"tier=db":true}}').map((x) => x.name)).toEqual(['db-data']);
    expect(isInvalidArgument(await err(() => v.list('{"bogus":["x"]}')))).toBe(true);
    expect(await v.prune('')).toEqual({ deleted: [anon.name], spaceReclaimed: 5 });
    expect((await v.prune('{"all":["true"],"label!":["tier=db"]}')).deleted).toEqual(['web-data']);
    expect(v.list('').map((x) => x.name)).toEqual(['db-data']);
  });

  it('rm -v removes the anonymous volumes a container used, once nobody else uses them', async () => {
    const { v } = await fresh();
    const anon = v.create('', '', {}, {}, true);
    v.create('named', '', {}, {}, false);
    for (const c of ['c1', 'c2']) {
      await v.acquire(anon.name, c, '', '');
      await v.acquire('named', c, '', '');
    }
    expect(await v.releaseContainer('c1', true)).toEqual([]);
    expect(await v.releaseContainer('c2', true)).toEqual([anon.name]);
    expect(v.list('').map((x) => x.name)).toEqual(['named']);
  });

  it('removes volume directories that have no record at start-up', async () => {
    const { root } = await fresh();
    const { v } = await fresh(root);
    v.create('kept', '', {}, {}, false);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(root, 'half', '_data'), { recursive: true });
    const again = new Volumes(root, join(root, '..', 'scratch-x'), () => []);
    expect(await again.reconcile()).toEqual({ orphans: 1 });
    expect(readdirSync(root).sort()).toEqual(['kept', 'metadata']);
  });
});
