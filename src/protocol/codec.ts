/**
 * Binary framing of protocol messages: a 4-byte header (type tag u16, major u8, minor u8, all
 * big-endian) followed by the fields in declaration order. Fixed-size fields are raw bytes;
 * variable ones carry a big-endian length; lists carry a count. Every length is checked
 * against a declared limit before anything is allocated, so hostile input cannot make the
 * decoder allocate more than the input size.
 */
import { getAddress, getBytes, hexlify } from "ethers";
import {
  InvalidFieldError,
  MessageTooLargeError,
  TrailingBytesError,
  TruncatedMessageError,
  UnexpectedMessageTypeError,
  UnknownMessageTypeError,
  UnsupportedVersionError,
} from "./errors";

export class Writer {
  private chunks: Uint8Array[] = [];
  private size = 0;

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
  }

  uint(value: number | bigint, width: 1 | 2 | 4 | 8): void {
    const out = new Uint8Array(width);
    let v = BigInt(value);
    for (let i = width - 1; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    this.push(out);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

export class Reader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  take(length: number, what: string): Uint8Array {
    if (length > this.remaining) throw new TruncatedMessageError(what, length, this.remaining);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  uint(width: 1 | 2 | 4 | 8, what: string): bigint {
    let v = 0n;
    for (const byte of this.take(width, what)) v = (v << 8n) | BigInt(byte);
    return v;
  }
}

/** One field's wire form. `where` names the field in error messages ("PolicyShare.nodes"). */
export interface Field<T> {
  write(w: Writer, value: T, where: string): void;
  read(r: Reader, where: string): T;
}

function smallUint(width: 1 | 2 | 4): Field<number> {
  const max = 2 ** (8 * width) - 1;
  return {
    write(w, value, where) {
      if (!Number.isInteger(value) || value < 0 || value > max) {
        throw new InvalidFieldError(...split(where), `expected an integer in [0, ${max}], got ${value}`);
      }
      w.uint(value, width);
    },
    read: (r, where) => Number(r.uint(width, where)),
  };
}

export const u8 = (): Field<number> => smallUint(1);
export const u32 = (): Field<number> => smallUint(4);

export function u64(): Field<bigint> {
  return {
    write(w, value, where) {
      if (value < 0n || value >= 1n << 64n) throw new InvalidFieldError(...split(where), "out of u64 range");
      w.uint(value, 8);
    },
    read: (r, where) => r.uint(8, where),
  };
}

export function fixedBytes(length: number): Field<Uint8Array> {
  return {
    write(w, value, where) {
      if (value.length !== length) {
        throw new InvalidFieldError(...split(where), `expected ${length} bytes, got ${value.length}`);
      }
      w.push(value);
    },
    read: (r, where) => r.take(length, where).slice(),
  };
}

/** A 20-byte Ethereum address, held as its checksummed hex string. */
export function address(): Field<string> {
  const raw = fixedBytes(20);
  return {
    write(w, value, where) {
      let normalized: string;
      try {
        normalized = checksummed(value);
      } catch {
        throw new InvalidFieldError(...split(where), `not an address: ${String(value).slice(0, 50)}`);
      }
      raw.write(w, getBytes(normalized), where);
    },
    read: (r, where) => checksummed(hexlify(raw.read(r, where))),
  };
}

/**
 * getAddress with a small memo: checksumming costs a keccak, and a node encodes and decodes
 * the same few addresses (its own, its clients') on every request.
 */
const checksums = new Map<string, string>();
function checksummed(value: string): string {
  let out = checksums.get(value);
  if (out === undefined) {
    out = getAddress(value);
    if (checksums.size >= 4096) checksums.clear();
    checksums.set(value, out);
  }
  return out;
}

/** Bytes with a u32 length prefix, at most `maxLength` of them. */
export function varBytes(maxLength: number): Field<Uint8Array> {
  return lengthPrefixed(4, maxLength);
}

/** Bytes behind a big-endian length prefix of `prefixBytes` bytes, at most `maxLength` of them. */
function lengthPrefixed(prefixBytes: 2 | 4, maxLength: number): Field<Uint8Array> {
  return {
    write(w, value, where) {
      if (value.length > maxLength) throw new MessageTooLargeError(where, value.length, maxLength);
      w.uint(value.length, prefixBytes);
      w.push(value);
    },
    read(r, where) {
      const length = Number(r.uint(prefixBytes, where));
      if (length > maxLength) throw new MessageTooLargeError(where, length, maxLength);
      return r.take(length, where).slice();
    },
  };
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 text with a u16 length prefix. */
export function text(maxLength: number): Field<string> {
  const bytes = lengthPrefixed(2, maxLength);
  return {
    write: (w, value, where) => bytes.write(w, new TextEncoder().encode(value), where),
    read(r, where) {
      const raw = bytes.read(r, where);
      try {
        return utf8Decoder.decode(raw);
      } catch {
        throw new InvalidFieldError(...split(where), "not valid UTF-8");
      }
    },
  };
}

/** A list with a u16 count, at most `maxItems` items. */
export function list<T>(item: Field<T>, maxItems: number): Field<T[]> {
  return {
    write(w, values, where) {
      if (values.length > maxItems) throw new MessageTooLargeError(where, values.length, maxItems);
      w.uint(values.length, 2);
      values.forEach((value, i) => item.write(w, value, `${where}[${i}]`));
    },
    read(r, where) {
      const count = Number(r.uint(2, where));
      if (count > maxItems) throw new MessageTooLargeError(where, count, maxItems);
      const out: T[] = [];
      for (let i = 0; i < count; i++) out.push(item.read(r, `${where}[${i}]`));
      return out;
    },
  };
}

export type Fields<T> = { readonly [K in keyof T]: Field<T[K]> };

/**
 * A message type: its tag, its version and its fields in wire order. `signature`, when set,
 * names the field that holds the signature over everything else (see `signingPayload`).
 */
export interface MessageType<T> {
  readonly tag: number;
  readonly name: string;
  readonly major: number;
  readonly minor: number;
  readonly fields: Fields<T>;
  readonly signature?: keyof T & string;
}

const registry = new Map<number, MessageType<unknown>>();

export function defineMessage<T>(type: MessageType<T>): MessageType<T> {
  if (registry.has(type.tag)) throw new Error(`message tag ${type.tag} defined twice`);
  registry.set(type.tag, type as MessageType<unknown>);
  return type;
}

/**
 * The minor version a decoded message arrived with, kept on the value (not enumerable, so
 * copies and comparisons ignore it): encoding and signing it again use the sender's header, so
 * a newer minor version's signatures and hashes check here too.
 */
const RECEIVED_MINOR = Symbol("received minor version");

function writeHeader<T>(w: Writer, type: MessageType<T>, value: T): void {
  w.uint(type.tag, 2);
  w.uint(type.major, 1);
  w.uint((value as { [RECEIVED_MINOR]?: number })[RECEIVED_MINOR] ?? type.minor, 1);
}

function writeFields<T>(w: Writer, type: MessageType<T>, value: T, skip?: keyof T): void {
  for (const key of Object.keys(type.fields) as (keyof T & string)[]) {
    if (key === skip) continue;
    type.fields[key].write(w, value[key], `${type.name}.${key}`);
  }
}

export function encode<T>(type: MessageType<T>, value: T): Uint8Array {
  const w = new Writer();
  writeHeader(w, type, value);
  writeFields(w, type, value);
  return w.finish();
}

/**
 * The bytes a signature of this message covers: a domain tag naming the message type and its
 * major version, the header, and every field except the signature itself. A signature made
 * for one type or major version therefore never verifies as another.
 */
export function signingPayload<T>(type: MessageType<T>, value: T): Uint8Array {
  const w = new Writer();
  w.push(new TextEncoder().encode(`NKMS/${type.name}/v${type.major}\0`));
  writeHeader(w, type, value);
  writeFields(w, type, value, type.signature);
  return w.finish();
}

export interface Header {
  readonly tag: number;
  readonly major: number;
  readonly minor: number;
}

export function readHeader(bytes: Uint8Array): Header {
  const r = new Reader(bytes);
  return {
    tag: Number(r.uint(2, "message header")),
    major: Number(r.uint(1, "message header")),
    minor: Number(r.uint(1, "message header")),
  };
}

/** The message type registered for this tag; throws UnknownMessageTypeError otherwise. */
export function typeOf(bytes: Uint8Array): MessageType<unknown> {
  const { tag } = readHeader(bytes);
  const type = registry.get(tag);
  if (!type) throw new UnknownMessageTypeError(tag);
  return type;
}

/**
 * Decodes `bytes` as a message of `type`. Refuses other or unknown tags, another major
 * version (a newer minor version is read as this one: minors only add meaning, never bytes;
 * the value remembers it for its signature and hash), truncated input and trailing bytes.
 */
export function decode<T>(type: MessageType<T>, bytes: Uint8Array): T {
  const r = new Reader(bytes);
  const tag = Number(r.uint(2, `${type.name} header`));
  const major = Number(r.uint(1, `${type.name} header`));
  const minor = Number(r.uint(1, `${type.name} header`));
  if (tag !== type.tag) {
    const other = registry.get(tag);
    if (!other) throw new UnknownMessageTypeError(tag);
    throw new UnexpectedMessageTypeError(type.name, other.name);
  }
  if (major !== type.major) throw new UnsupportedVersionError(type.name, major, type.major);
  const out = {} as T;
  for (const key of Object.keys(type.fields) as (keyof T & string)[]) {
    out[key] = type.fields[key].read(r, `${type.name}.${key}`);
  }
  if (r.remaining > 0) throw new TrailingBytesError(type.name, r.remaining);
  if (minor !== type.minor) Object.defineProperty(out, RECEIVED_MINOR, { value: minor });
  return out;
}

function split(where: string): [string, string] {
  const dot = where.indexOf(".");
  return dot < 0 ? [where, "value"] : [where.slice(0, dot), where.slice(dot + 1)];
}
