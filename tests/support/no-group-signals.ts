/**
 * Vitest setup file: a pid read from a service's state is 0 while that service has none (an idle
 * on-demand builder, a monitor not found), and `process.kill(0, sig)` signals this test's own
 * process group: SIGKILL would take the whole runner down, and `kill(0, 0)` says "alive". No
 * test means a process group, so a pid below 1 fails the test that passed it instead.
 */
const kill = process.kill.bind(process);
process.kill = (pid: number, signal?: string | number): true => {
  if (!(pid > 0)) throw new Error(`refusing to signal pid ${pid} (a process group): a pid that was never set?`);
  return kill(pid, signal);
};
