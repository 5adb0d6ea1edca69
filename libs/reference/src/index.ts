import { createHash } from 'node:crypto';
import { invalidArgument } from '@berth/errors';

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';

/** A parsed image reference in Docker's normalised form. */
export interface Reference {
  /** Registry host, e.g. "docker.io" or "localhost:5000". */
  domain: string;
  /** Repository path, e.g. "library/busybox". */
  path: string;
  tag?: string;
  digest?: string;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[a-fA-F0-9:]+\](?::[0-9]+)?$/;

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/**
 * Parses a reference the way Docker normalises it: `busybox` is
 * `docker.io/library/busybox:latest`; the first component is a registry only when it has a
 * dot or a port or is `localhost`. Throws Docker's "invalid reference format" errors.
 */
export function parseReference(input: string): Reference {
  if (input === '' || input.length > 255 * 2) throw invalidArgument('invalid reference format');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalidArgument('invalid reference format');
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalidArgument('invalid reference format');
  }
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!DOMAIN.test(first)) throw invalidArgument('invalid reference format');
    domain = first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => !PATH_COMPONENT.test(p))) {
    if (parts.some((p) => p !== p.toLowerCase())) throw invalidArgument('invalid reference format: repository name must be lowercase');
    throw invalidArgument('invalid reference format');
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift('library');
  const ref: Reference = { domain, path: parts.join('/') };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  if (ref.tag === undefined && ref.digest === undefined) ref.tag = DEFAULT_TAG;
  return ref;
}

/** `docker.io/library/busybox` */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** Fully qualified string: `docker.io/library/busybox:latest` or `...@sha256:...`. */
export function formatReference(ref: Reference): string {
  let s = repositoryName(ref);
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** The short form Docker shows users: `busybox:latest`, `me/app:1`, `localhost:5000/x:y`. */
export function familiarName(ref: Reference): string {
  let repo = repositoryName(ref);
  if (ref.domain === DEFAULT_DOMAIN) repo = ref.path.startsWith('library/') ? ref.path.slice('library/'.length) : ref.path;
  let s = repo;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

export function familiarRepository(ref: Reference): string {
  return familiarName({ domain: ref.domain, path: ref.path });
}

/** Chain IDs of a layer stack (OCI image spec): each names a layer together with all below it. */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev ? `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}` : d);
  }
  return out;
}
