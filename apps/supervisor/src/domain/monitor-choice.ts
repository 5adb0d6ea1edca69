/**
 * Which monitor a new container gets. conmon has no log-less mode that still serves attach from
 * a log: `--log-driver none` containers keep the Node shim whatever the default is. max-size and
 * max-file are the conmon monitor's own rotation (apps/monitor log-rotation.ts); `compress` is
 * accepted and not done by either monitor (rotated files stay plain).
 */
export function chooseMonitor(
  defaultMonitor: 'shim' | 'conmon',
  c: { tty: boolean; openStdin: boolean; logDriver: string },
): { name: string; version: string; path: string } | undefined {
  if (defaultMonitor !== 'conmon') return undefined;
  if (c.logDriver !== 'json-file') return undefined;
  return { name: 'conmon', version: '', path: '' };
}
