/**
 * Which monitor a new container gets. conmon's log size limit truncates where Docker's max-size
 * rotates, and conmon has no log-less mode that still serves attach from a log: such containers
 * keep the Node shim whatever the default is.
 */
export function chooseMonitor(
  defaultMonitor: 'shim' | 'conmon',
  c: { tty: boolean; openStdin: boolean; logDriver: string; logMaxSize: number },
): { name: string; version: string; path: string } | undefined {
  if (defaultMonitor !== 'conmon') return undefined;
  if (c.logDriver !== 'json-file' || c.logMaxSize > 0) return undefined;
  return { name: 'conmon', version: '', path: '' };
}
