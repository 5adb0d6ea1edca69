import { invalidArgument } from '@berth/errors';

/** Every instruction the classic builder knows, lower-cased as the parser reports them. */
export const INSTRUCTIONS = [
  'add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck', 'label',
  'maintainer', 'onbuild', 'run', 'shell', 'stopsignal', 'user', 'volume', 'workdir',
] as const;
export type InstructionName = (typeof INSTRUCTIONS)[number];

/** One instruction as written: flags split off, arguments in their JSON or plain form. */
export interface Instruction {
  name: InstructionName;
  /** The source text with continuations joined, as `Step N/M : ...` prints it. */
  original: string;
  /** `--name=value` flags in order, unparsed values (`--chown=1:1` gives ['chown', '1:1']). */
  flags: [string, string][];
  /** JSON-array form: the array; otherwise the whole remaining text (one string). */
  args: string[];
  json: boolean;
  /** 1-based line where the instruction starts. */
  line: number;
  /** ONBUILD's nested instruction. */
  next?: Instruction;
}

export interface ParsedDockerfile {
  instructions: Instruction[];
  escape: string;
  /** Notes for the output stream (e.g. an ignored `syntax` directive). */
  warnings: string[];
}

/** Longest Dockerfile accepted, in bytes: a bound on what one build can make the parser hold. */
export const DEFAULT_MAX_DOCKERFILE_BYTES = 16 * 1024 * 1024;

const parseError = (line: number, msg: string) => invalidArgument(`dockerfile parse error line ${line}: ${msg}`);

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

function readDirectives(lines: string[]): { escape: string; warnings: string[]; start: number } {
  let escape = '\\';
  const warnings: string[] = [];
  const seen = new Set<string>();
  let i = 0;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (seen.has(key)) throw parseError(i + 1, `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw parseError(i + 1, `invalid ESCAPE '${m[2]}'. Must be \` or \\`);
      escape = m[2];
    } else if (key === 'syntax') {
      warnings.push(`[Warning] the syntax parser directive (${m[2]}) is ignored by the classic builder`);
    }
  }
  return { escape, warnings, start: i };
}

/** A line ends in the escape character (trailing blanks aside): it continues on the next. */
function continues(line: string, escape: string): string | null {
  const t = line.replace(/[ \t\r]+$/, '');
  if (!t.endsWith(escape)) return null;
  return t.slice(0, -1);
}

/** `["a", "b"]` as a string array, or null when the text is not such an array. */
export function jsonArray(text: string): string[] | null {
  const t = text.trim();
  if (!t.startsWith('[') || !t.endsWith(']')) return null;
  try {
    const v = JSON.parse(t) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // not JSON: the shell form
  }
  return null;
}

const FLAG_TAKERS = new Set<InstructionName>(['add', 'copy', 'from', 'run', 'healthcheck']);
const JSON_FORMS = new Set<InstructionName>(['add', 'cmd', 'copy', 'entrypoint', 'run', 'shell', 'volume']);

function splitFlags(rest: string): { flags: [string, string][]; rest: string } {
  const flags: [string, string][] = [];
  let r = rest;
  for (;;) {
    const m = /^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(r);
    if (!m) break;
    flags.push([m[1]!, m[2] ?? '']);
    r = r.slice(m[0].length);
  }
  return { flags, rest: r };
}

function parseInstruction(text: string, line: number, nested: boolean): Instruction {
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text);
  const word = m![1]!;
  const name = word.toLowerCase() as InstructionName;
  if (!(INSTRUCTIONS as readonly string[]).includes(name)) throw parseError(line, `unknown instruction: ${word.toUpperCase()}`);
  let rest = (m![2] ?? '').trim();
  let flags: [string, string][] = [];
  if (FLAG_TAKERS.has(name)) ({ flags, rest } = splitFlags(rest));
  const instr: Instruction = { name, original: text, flags, args: [], json: false, line };
  if (name === 'onbuild') {
    if (nested) throw parseError(line, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
    if (!rest) throw parseError(line, 'ONBUILD requires at least one argument');
    const inner = parseInstruction(rest, line, true);
    if (inner.name === 'from' || inner.name === 'maintainer') throw parseError(line, `${inner.name.toUpperCase()} isn't allowed as an ONBUILD trigger`);
    instr.next = inner;
    instr.args = [rest];
    return instr;
  }
  const arr = JSON_FORMS.has(name) ? jsonArray(rest) : null;
  if (arr) {
    instr.args = arr;
    instr.json = true;
  } else {
    instr.args = rest ? [rest] : [];
  }
  return instr;
}

/**
 * Parses a Dockerfile the way the classic builder does: parser directives at the top
 * (`escape`; `syntax` noted and ignored), comments, line continuations with the escape
 * character (comment lines inside a continuation are dropped), case-insensitive instruction
 * names, `--flag=value` options, and the JSON-array form where an instruction has one.
 */
export function parseDockerfile(text: string, maxBytes = DEFAULT_MAX_DOCKERFILE_BYTES): ParsedDockerfile {
  if (Buffer.byteLength(text) > maxBytes) throw invalidArgument(`the Dockerfile is larger than ${maxBytes} bytes`);
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  const { escape, warnings, start } = readDirectives(lines);
  const instructions: Instruction[] = [];
  let buf = null as string | null;
  let startLine = 0;
  for (let i = start; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    const trimmed = raw.trim();
    if (trimmed.startsWith('#')) continue;
    // Blank lines end nothing: inside a continuation Docker skips them too.
    if (trimmed === '' && i < lines.length - 1) continue;
    const cont = continues(raw, escape);
    if (buf === null) startLine = i + 1;
    const piece: string = cont ?? raw;
    buf = buf === null ? piece.trimStart() : buf + piece;
    if (cont !== null && i < lines.length - 1) continue;
    const full: string = buf.trim();
    buf = null;
    if (full) instructions.push(parseInstruction(full, startLine, false));
  }
  if (instructions.length === 0) throw invalidArgument('the Dockerfile (Dockerfile) cannot be empty');
  return { instructions, escape, warnings };
}
