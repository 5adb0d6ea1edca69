import { existsSync, readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';

/**
 * Names every failed test of the run's reports (vitest JSON, pytest JUnit XML), a line each with
 * the start of its message. CI shows only the tail of a long log, so the names have to be next to
 * the summary line for a failure to be found without rerunning it.
 */

interface VitestReport {
  testResults?: {
    name: string;
    status?: string;
    message?: string;
    assertionResults?: { fullName: string; status: string; failureMessages?: string[] }[];
  }[];
}

const firstLine = (text: string | undefined): string =>
  (text ?? '').split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 300) ?? '';

function vitestFailures(path: string): string[] {
  const report = JSON.parse(readFileSync(path, 'utf8')) as VitestReport;
  const lines: string[] = [];
  for (const file of report.testResults ?? []) {
    const name = relative(process.cwd(), file.name);
    const failed = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of failed) lines.push(`${name} > ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`);
    // A file can fail outside any test (a hook, an import): vitest gives only the file's message.
    if (failed.length === 0 && file.status === 'failed') lines.push(`${name}: ${firstLine(file.message)}`);
  }
  return lines;
}

function junitFailures(path: string): string[] {
  const xml = readFileSync(path, 'utf8');
  const lines: string[] = [];
  for (const m of xml.matchAll(/<testcase\b([^>]*[^/])>([\s\S]*?)<\/testcase>/g)) {
    const failure = /<(?:failure|error)\b([^>]*)>/.exec(m[2] ?? '');
    if (failure === null) continue;
    const attr = (tag: string | undefined, k: string): string => new RegExp(`\\b${k}="([^"]*)"`).exec(tag ?? '')?.[1] ?? '';
    lines.push(`${attr(m[1], 'classname')}.${attr(m[1], 'name')}: ${firstLine(attr(failure[1], 'message'))}`);
  }
  return lines;
}

const lines = process.argv
  .slice(2)
  .filter((p) => existsSync(p))
  .flatMap((p) => (p.endsWith('.xml') ? junitFailures(p) : vitestFailures(p)).map((l) => `${basename(p).replace(/\.\w+$/, '')}: ${l}`));
if (lines.length > 0) {
  console.log('failed tests:');
  for (const l of lines) console.log(`  ${l}`);
}
