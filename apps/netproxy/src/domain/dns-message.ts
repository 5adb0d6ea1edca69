/** The few parts of a DNS message (RFC 1035) the embedded server needs: one question, A answers. */

export interface Question {
  id: number;
  name: string;
  type: number;
  /** Byte offset just past the question, where answers go. */
  end: number;
}

export const TYPE_A = 1;
const FLAG_QR = 0x8000;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
export const RCODE_NXDOMAIN = 3;

/** Reads the first question; undefined for anything malformed (it is dropped, as resolvers do). */
export function parseQuery(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1 || msg.readUInt16BE(2) & FLAG_QR) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) {
      off++;
      break;
    }
    if (len > 63 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return { id: msg.readUInt16BE(0), name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), end: off + 4 };
}

/** A reply to the query carrying A records (none for NOERROR/NODATA), or an error code. */
export function reply(query: Buffer, q: Question, addrs: string[], rcode = 0): Buffer {
  const head = Buffer.from(query.subarray(0, q.end));
  head.writeUInt16BE(FLAG_QR | (query.readUInt16BE(2) & FLAG_RD) | FLAG_RA | rcode, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(addrs.length, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(0, 10);
  const answers = addrs.map((ip) => {
    const a = Buffer.alloc(16);
    a.writeUInt16BE(0xc00c, 0); // a pointer to the name in the question
    a.writeUInt16BE(TYPE_A, 2);
    a.writeUInt16BE(1, 4);
    a.writeUInt32BE(600, 6);
    a.writeUInt16BE(4, 10);
    ip.split('.').forEach((b, i) => (a[12 + i] = Number(b)));
    return a;
  });
  return Buffer.concat([head, ...answers]);
}
