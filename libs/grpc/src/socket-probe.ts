import { connect } from 'node:net';

/** Whether something accepts a connection on the unix socket at `path` (a process serving it, not a stale file). */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
