/**
 * The MessagePack subset written by the reference (rmp_serde): a struct is a fixarray of its
 * fields, a byte string is bin8, a boolean is c2/c3. Decoding accepts exactly the canonical
 * form the encoder writes and rejects anything else, including trailing bytes.
 */
import { PreError } from "./errors";

export type MsgValue = Uint8Array | boolean | readonly MsgValue[];

function encodedLength(v: MsgValue): number {
  if (typeof v === "boolean") return 1;
  if (v instanceof Uint8Array) return 2 + v.length;
  return 1 + v.reduce<number>((n, x) => n + encodedLength(x), 0);
}

function write(v: MsgValue, out: Uint8Array, pos: number): number {
  if (typeof v === "boolean") {
    out[pos] = v ? 0xc3 : 0xc2;
    return pos + 1;
  }
  if (v instanceof Uint8Array) {
    if (v.length > 0xff) throw new RangeError("bin8 holds at most 255 bytes");
    out[pos] = 0xc4;
    out[pos + 1] = v.length;
    out.set(v, pos + 2);
    return pos + 2 + v.length;
  }
  if (v.length > 15) throw new RangeError("fixarray holds at most 15 items");
  out[pos++] = 0x90 | v.length;
  for (const x of v) pos = write(x, out, pos);
  return pos;
}

export function encode(v: MsgValue): Uint8Array {
  const out = new Uint8Array(encodedLength(v));
  write(v, out, 0);
  return out;
}

/** a positional reader over one encoded struct */
export class MsgReader {
  private pos = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    if (!(bytes instanceof Uint8Array))
      throw new PreError("INVALID_ENCODING", `${what}: expected a Uint8Array`);
  }

  private fail(message: string): never {
    throw new PreError("INVALID_ENCODING", `${this.what}: ${message} at byte ${this.pos}`);
  }

  private byte(): number {
    if (this.pos >= this.bytes.length) {
      throw new PreError("INVALID_LENGTH", `${this.what}: unexpected end of data after ${this.pos} bytes`);
    }
    return this.bytes[this.pos++];
  }

  /** reads a fixarray header and checks its length */
  array(length: number): void {
    const b = this.byte();
    if ((b & 0xf0) !== 0x90) this.fail("expected an array");
    if ((b & 0x0f) !== length) this.fail(`expected an array of ${length} items, got ${b & 0x0f}`);
  }

  bin(length: number): Uint8Array {
    if (this.byte() !== 0xc4) this.fail("expected a bin8 byte string");
    const n = this.byte();
    if (n !== length) {
      throw new PreError("INVALID_LENGTH", `${this.what}: expected ${length} bytes, got ${n}`);
    }
    if (this.pos + n > this.bytes.length) {
      throw new PreError("INVALID_LENGTH", `${this.what}: byte string runs past the end of the data`);
    }
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  bool(): boolean {
    const b = this.byte();
    if (b === 0xc3) return true;
    if (b === 0xc2) return false;
    return this.fail("expected a boolean");
  }

  /** every object must use the whole input: trailing bytes are an error */
  end(): void {
    if (this.pos !== this.bytes.length) {
      throw new PreError(
        "TRAILING_BYTES",
        `${this.what}: ${this.bytes.length - this.pos} bytes after the object`,
      );
    }
  }
}

/** splits a fixed-layout byte string (the "simple" forms) into fields */
export function splitExact(bytes: Uint8Array, sizes: readonly number[], what: string): Uint8Array[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (!(bytes instanceof Uint8Array) || bytes.length !== total) {
    throw new PreError("INVALID_LENGTH", `${what}: expected ${total} bytes, got ${bytes?.length}`);
  }
  const out: Uint8Array[] = [];
  let pos = 0;
  for (const s of sizes) {
    out.push(bytes.slice(pos, pos + s));
    pos += s;
  }
  return out;
}
