/**
 * The SSH wire encoding (RFC 4251 §5) that OpenSSH's key file (PROTOCOL.key) and signature
 * (PROTOCOL.sshsig) formats are made of: big-endian uint32, length-prefixed `string`, `mpint`.
 */

/** Reads RFC 4251 §5 data types, bounds-checked; `corrupt` makes the error for a short or malformed buffer. */
export class SshReader {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly corrupt: () => Error,
  ) {}

  /** The error for a malformed field. */
  fail(): Error {
    return this.corrupt();
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw this.corrupt();
    this.pos += n;
    return this.buf.subarray(this.pos - n, this.pos);
  }

  uint32(): number {
    return this.bytes(4).readUInt32BE(0);
  }

  /** `string` (and an `mpint`, read as its bytes): uint32 length, then the bytes. */
  string(): Buffer {
    return this.bytes(this.uint32());
  }
}

export function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** `string`: uint32 length, then the bytes. */
export function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  return Buffer.concat([uint32(bytes.length), bytes]);
}

/** `mpint` of an unsigned value: no leading zeros, but a 0 byte before a high bit (two's complement). */
export function sshMpint(value: Buffer): Buffer {
  const v = withoutLeadingZeros(value);
  return sshString(v.length > 0 && v[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

export function withoutLeadingZeros(value: Buffer): Buffer {
  let i = 0;
  while (i < value.length && value[i] === 0) i++;
  return value.subarray(i);
}
