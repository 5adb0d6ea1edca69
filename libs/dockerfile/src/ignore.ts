import ignore from '@balena/dockerignore';

/** Patterns of a `.dockerignore` file: comments and blank lines dropped, as Docker reads it. */
export function readIgnorePatterns(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, '').trim())
    .filter((l) => l && !l.startsWith('#'));
}

/**
 * Which context paths a build sees, by Docker's `.dockerignore` rules (`**`, `!` exceptions,
 * the last matching pattern wins). The Dockerfile and `.dockerignore` themselves are always
 * kept, whatever the patterns say, since the builder must read them.
 */
export function contextFilter(patterns: string[], dockerfile: string): (path: string) => boolean {
  if (!patterns.length) return () => true;
  const ig = ignore().add(patterns);
  const keep = new Set(['.dockerignore', dockerfile.replace(/^\.?\/+/, '')]);
  return (path) => {
    const p = path.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    if (!p || keep.has(p)) return true;
    return !ig.ignores(p);
  };
}
