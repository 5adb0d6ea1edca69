import { invalidArgument } from '@berth/errors';

/** Variables visible to an instruction: a lookup, so ENV lists and ARG maps both fit. */
export type Lookup = (name: string) => string | undefined;

/** `["A=1", "B=2"]` (last wins, as in a container's environment) as a lookup. */
export function envLookup(...lists: (readonly string[] | Record<string, string | undefined>)[]): Lookup {
  const m = new Map<string, string>();
  for (const l of lists) {
    if (Array.isArray(l)) {
      for (const kv of l as readonly string[]) {
        const i = kv.indexOf('=');
        if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
        else m.set(kv, '');
      }
    } else {
      for (const [k, v] of Object.entries(l)) if (v !== undefined) m.set(k, v);
    }
  }
  return (n) => m.get(n);
}

const NAME_CHAR = /[A-Za-z0-9_]/;

/**
 * The classic builder's word lexer: single quotes are literal, double quotes allow `$`
 * expansion, the escape character quotes the next character, `$var`, `${var}`,
 * `${var:-word}`, `${var:+word}`, `${var-word}`, `${var+word}` and `${var:?msg}` expand.
 * With `split`, blanks outside quotes separate words (ProcessWords); otherwise one word.
 */
class Lexer {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly escape: string,
    private readonly env: Lookup,
  ) {}

  words(split: boolean): string[] {
    const out: string[] = [];
    let cur = '';
    let has = false;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (split && (c === ' ' || c === '\t' || c === '\n')) {
        this.i++;
        if (has) out.push(cur);
        cur = '';
        has = false;
        continue;
      }
      has = true;
      if (c === "'") cur += this.single();
      else if (c === '"') cur += this.double();
      else if (c === '$') cur += this.dollar();
      else if (c === this.escape) {
        this.i++;
        if (this.i >= this.s.length) cur += c;
        else cur += this.s[this.i++];
      } else {
        cur += c;
        this.i++;
      }
    }
    if (has) out.push(cur);
    return out;
  }

  private single(): string {
    const end = this.s.indexOf("'", this.i + 1);
    if (end < 0) throw invalidArgument('unexpected end of statement while looking for matching single-quote');
    const v = this.s.slice(this.i + 1, end);
    this.i = end + 1;
    return v;
  }

  private double(): string {
    this.i++;
    let v = '';
    for (;;) {
      if (this.i >= this.s.length) throw invalidArgument('unexpected end of statement while looking for matching double-quote');
      const c = this.s[this.i]!;
      if (c === '"') {
        this.i++;
        return v;
      }
      if (c === '$') v += this.dollar();
      else if (c === this.escape && this.i + 1 < this.s.length) {
        const n = this.s[this.i + 1]!;
        if (n !== '"' && n !== '$' && n !== this.escape) v += c;
        v += n;
        this.i += 2;
      } else {
        v += c;
        this.i++;
      }
    }
  }

  private name(): string {
    let n = '';
    while (this.i < this.s.length && NAME_CHAR.test(this.s[this.i]!)) n += this.s[this.i++];
    return n;
  }

  private dollar(): string {
    this.i++;
    if (this.s[this.i] !== '{') {
      const n = this.name();
      return n ? (this.env(n) ?? '') : '$';
    }
    this.i++;
    const n = this.name();
    if (!n) throw invalidArgument(`failed to process "${this.s}": missing ':' in substitution`);
    const c = this.s[this.i];
    if (c === '}') {
      this.i++;
      return this.env(n) ?? '';
    }
    let op = '';
    if (c === ':') {
      op = ':';
      this.i++;
    }
    const kind = this.s[this.i];
    if (kind !== '-' && kind !== '+' && kind !== '?') {
      throw invalidArgument(`failed to process "${this.s}": unsupported modifier (${op}${kind ?? ''}) in substitution`);
    }
    op += kind;
    this.i++;
    const word = this.until('}');
    const v = this.env(n);
    const empty = v === undefined || (op.startsWith(':') && v === '');
    switch (op.replace(':', '')) {
      case '-':
        return empty ? word : v!;
      case '+':
        return empty ? '' : word;
      default:
        if (empty) throw invalidArgument(`failed to process "${this.s}": ${n}: ${word || 'is not allowed to be unset'}`);
        return v!;
    }
  }

  /** The word inside `${name:-word}`, itself expanded, up to the closing brace. */
  private until(close: string): string {
    let v = '';
    for (;;) {
      if (this.i >= this.s.length) throw invalidArgument(`failed to process "${this.s}": syntax error: missing '}'`);
      const c = this.s[this.i]!;
      if (c === close) {
        this.i++;
        return v;
      }
      if (c === '$') v += this.dollar();
      else if (c === "'") v += this.single();
      else if (c === '"') v += this.double();
      else if (c === this.escape && this.i + 1 < this.s.length) {
        v += this.s[this.i + 1];
        this.i += 2;
      } else {
        v += c;
        this.i++;
      }
    }
  }
}

/** One word with quotes removed and variables expanded (ENV values, WORKDIR, USER, ...). */
export function expandWord(s: string, env: Lookup, escape = '\\'): string {
  return new Lexer(s, escape, env).words(false)[0] ?? '';
}

/** Blank-separated words with quotes removed and variables expanded (COPY/ADD sources, EXPOSE, ...). */
export function expandWords(s: string, env: Lookup, escape = '\\'): string[] {
  return new Lexer(s, escape, env).words(true);
}

/** Blank-separated words with quotes kept (ENV/LABEL pairs are split before being expanded). */
export function splitKeepingQuotes(s: string, escape = '\\'): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === escape && quote === '"' && i + 1 < s.length) {
        cur += c + s[++i];
        continue;
      }
      if (c === quote) quote = '';
      cur += c;
      continue;
    }
    if (c === escape && i + 1 < s.length) {
      cur += c + s[++i];
    } else if (c === '"' || c === "'") {
      quote = c;
      cur += c;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (cur) out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quote) throw invalidArgument(`unexpected end of statement while looking for matching ${quote === '"' ? 'double' : 'single'}-quote`);
  if (cur) out.push(cur);
  return out;
}
