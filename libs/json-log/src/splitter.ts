/**
 * Docker's log copier hands the driver at most 16 KiB at a time: a longer line becomes several
 * entries without a newline (joined again when read), so one endless line never grows memory.
 */
export const MAX_ENTRY_BYTES = 16 * 1024;

/** Splits a byte stream into lines (newline kept), and lines longer than `max` into pieces. */
export class LineSplitter {
  private rest: Buffer = Buffer.alloc(0);

  constructor(private readonly max = MAX_ENTRY_BYTES) {}

  push(chunk: Buffer): Buffer[] {
    const data = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: Buffer[] = [];
    let start = 0;
    for (;;) {
      const nl = data.indexOf(10, start);
      const end = nl < 0 ? data.length : nl + 1;
      if (nl >= 0 && end - start <= this.max) {
        out.push(data.subarray(start, end));
        start = end;
      } else if (data.length - start >= this.max) {
        out.push(data.subarray(start, start + this.max));
        start += this.max;
      } else break;
    }
    this.rest = Buffer.from(data.subarray(start));
    return out;
  }

  /** The partial rest (a last line without newline), when the stream ends. */
  flush(): Buffer | undefined {
    if (!this.rest.length) return undefined;
    const r = this.rest;
    this.rest = Buffer.alloc(0);
    return r;
  }
}
