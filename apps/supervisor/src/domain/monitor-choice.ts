/**
 * Which monitor a new container gets: conmon for both drivers when it is the default. With
 * `--log-driver none` conmon keeps no log and the monitor serves attach from conmon's attach
 * socket. max-size and max-file are the conmon monitor's own rotation (apps/monitor
 * log-rotation.ts), `compress` too (the Node shim keeps its rotated files plain).
 */
export function chooseMonitor(
  defaultMonitor: 'shim' | 'conmon',
  c: { tty: boolean; openStdin: boolean; logDriver: string },
): { name: string; version: string; path: string } | undefined {
  if (defaultMonitor !== 'conmon') return undefined;
  if (c.logDriver !== 'json-file' && c.logDriver !== 'none') return undefined;
  return { name: 'conmon', version: '', path: '' };
}
