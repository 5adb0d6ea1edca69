import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IDLE_EXIT_CODE } from '@berth/config';
import { Child } from './child';
import { OnDemand } from './on-demand';
import { waitForSocket } from './wait';

const dir = mkdtempSync(join(tmpdir(), 'ondemand-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in service: it binds the path the way a service's server does (replacing a stale file). */
const SERVE = `const fs=require('fs');const p=process.argv[1];try{fs.rmSync(p)}catch{};require('net').createServer(c=>{c.on('error',()=>{});c.end('hi')}).listen(p)`;

const knock = (path: string) =>
  new Promise<string>((resolve) => {
    const s = connect(path);
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(`error`));
  });

describe('a service started on demand', () => {
  it('stays idle until a connection, which it holds until the service is ready; then the service serves the same path', async () => {
    const path = join(dir, 'svc.sock');
    const said: string[] = [];
    const child = new Child({ name: 'svc', command: process.execPath, args: ['-e', SERVE, path], ready: () => waitForSocket(path, 30_000) }, () => undefined, (m) => said.push(m));
    const svc = new OnDemand('svc', path, child, () => undefined, (m) => said.push(m));
    await svc.start();
    try {
      expect(svc.state).toMatchObject({ status: 'idle', pid: 0 });
      await svc.restart();
      expect(svc.state.status).toBe('idle');
      // The first connection is held until the service is ready, then closed unanswered.
      expect(await knock(path)).toBe('');
      expect(svc.state.status).toBe('running');
      expect(svc.state.pid).toBeGreaterThan(0);
      let answer = '';
      for (let i = 0; i < 300 && answer !== 'hi'; i++) {
        answer = await knock(path);
        if (answer !== 'hi') await new Promise((r) => setTimeout(r, 100));
      }
      expect(answer).toBe('hi');
      expect(said.join('\n')).toContain('svc: starting on demand');
    } finally {
      await svc.stop();
    }
    expect(svc.state.status).toBe('stopped');
  });

  it('a service that exits idle (IDLE_EXIT_CODE) is held idle again, and the next connection starts it anew', async () => {
    const path = join(dir, 'idle.sock');
    // Serves, then leaves as an idle builder does (its socket file left behind, as after a kill).
    const serveThenLeave = `${SERVE};setTimeout(()=>process.exit(${IDLE_EXIT_CODE}),500)`;
    const child = new Child({ name: 'idler', command: process.execPath, args: ['-e', serveThenLeave, path], ready: () => waitForSocket(path, 30_000) }, () => undefined, () => undefined);
    const svc = new OnDemand('idler', path, child, () => undefined, () => undefined);
    await svc.start();
    try {
      await knock(path);
      const first = svc.state.pid;
      expect(first).toBeGreaterThan(0);
      for (let i = 0; i < 300 && svc.state.status !== 'idle'; i++) await new Promise((r) => setTimeout(r, 50));
      expect(svc.state).toMatchObject({ status: 'idle', pid: 0, restarts: 0 });
      await knock(path);
      expect(svc.state.status).toBe('running');
      expect(svc.state.pid).not.toBe(first);
    } finally {
      await svc.stop();
    }
  });

  it('stopped while idle: the socket is gone and nothing was started', async () => {
    const path = join(dir, 'never.sock');
    const child = new Child({ name: 'never', command: process.execPath, args: ['-e', SERVE, path] }, () => undefined, () => undefined);
    const svc = new OnDemand('never', path, child, () => undefined, () => undefined);
    await svc.start();
    await svc.stop();
    expect(svc.state).toMatchObject({ status: 'stopped', pid: 0 });
    expect(await knock(path)).toBe('error');
  });
});
