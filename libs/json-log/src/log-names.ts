/** `<log>.<n>`: Docker's names for rotated json-file logs, `.1` the newest. */
export function rotatedName(log: string, n: number): string {
  return `${log}.${n}`;
}

/**
 * The live file between its rename and conmon's new one. It takes `.1` (and the older files move
 * up) only once the new file is there, so a rotation the exit cuts short is undone by renaming it
 * back, with every rotated file still in its place.
 */
export function heldName(log: string): string {
  return `${log}.rotating`;
}

/** `<log>.<n>.gz`: a rotated file with `compress=true`, as dockerd names it. */
export function compressedName(log: string, n: number): string {
  return `${rotatedName(log, n)}.gz`;
}
