import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { equalBytes } from "@noble/curves/utils.js";
import { bytesToHex, concatBytes } from "@noble/hashes/utils.js";
import {
  CurvePoint,
  currentBackend,
  randomNonZeroScalar,
  scalarFromBytes,
  scalarToBytes,
  secureRandomBytes,
} from "./curve";
import { PreError } from "./errors";
import { hashToScalar, sha256 as hashMessage } from "./hash";

/** a non-zero scalar; its bytes never appear in `toString()` */
export class SecretKey {
  private publicKeyCache?: PublicKey;

  private constructor(/** @internal */ readonly scalar: bigint) {}

  static random(): SecretKey {
    return new SecretKey(randomNonZeroScalar());
  }

  /** 32 big-endian bytes in [1, n) */
  static fromBytes(bytes: Uint8Array): SecretKey {
    const k = scalarFromBytes(bytes, "SecretKey");
    if (k === 0n) throw new PreError("INVALID_SCALAR", "SecretKey: zero is not a key");
    return new SecretKey(k);
  }

  /** @internal */
  static fromScalar(k: bigint): SecretKey {
    return new SecretKey(k);
  }

  /** the reference's name for `fromBytes` */
  static fromBEBytes(bytes: Uint8Array): SecretKey {
    return SecretKey.fromBytes(bytes);
  }

  toBytes(): Uint8Array {
    return scalarToBytes(this.scalar);
  }

  /** the reference's name for `toBytes` */
  toBEBytes(): Uint8Array {
    return this.toBytes();
  }

  publicKey(): PublicKey {
    this.publicKeyCache ??= PublicKey.fromPoint(currentBackend().mulBase(this.scalar));
    return this.publicKeyCache;
  }

  toString(): string {
    return "SecretKey:...";
  }
}

/** a secp256k1 point, 33 bytes compressed */
export class PublicKey {
  private constructor(/** @internal */ readonly point: CurvePoint) {}

  /** @internal */
  static fromPoint(point: CurvePoint): PublicKey {
    return new PublicKey(point);
  }

  static fromBytes(bytes: Uint8Array): PublicKey {
    return new PublicKey(CurvePoint.fromBytes(bytes, "PublicKey"));
  }

  /** the reference's name for `fromBytes` */
  static fromCompressedBytes(bytes: Uint8Array): PublicKey {
    return PublicKey.fromBytes(bytes);
  }

  toBytes(): Uint8Array {
    return this.point.toBytes();
  }

  /** the reference's name for `toBytes` */
  toCompressedBytes(): Uint8Array {
    return this.toBytes();
  }

  equals(other: PublicKey): boolean {
    return this.point.equals(other.point);
  }

  toString(): string {
    return `PublicKey:${bytesToHex(this.toBytes())}`;
  }
}

/** ECDSA signature (r, s) over SHA-256 of the message; 64 bytes r‖s big-endian */
export class Signature {
  private constructor(private readonly bytes: Uint8Array) {}

  /** 64 bytes r‖s with 0 < r, s < n (a high s decodes but never verifies) */
  static fromBytes(bytes: Uint8Array): Signature {
    if (!(bytes instanceof Uint8Array) || bytes.length !== 64) {
      throw new PreError("INVALID_LENGTH", `Signature: expected 64 bytes, got ${bytes?.length}`);
    }
    const r = scalarFromBytes(bytes.subarray(0, 32), "Signature.r");
    const s = scalarFromBytes(bytes.subarray(32), "Signature.s");
    if (r === 0n || s === 0n) throw new PreError("INVALID_SCALAR", "Signature: r and s must be non-zero");
    return new Signature(bytes.slice());
  }

  /** the reference's name for `fromBytes` */
  static fromBEBytes(bytes: Uint8Array): Signature {
    return Signature.fromBytes(bytes);
  }

  /** strict DER: SEQUENCE { INTEGER r, INTEGER s }, minimal integers, nothing after it */
  static fromDerBytes(der: Uint8Array): Signature {
    const fail = (why: string): never => {
      throw new PreError("INVALID_ENCODING", `Signature DER: ${why}`);
    };
    if (!(der instanceof Uint8Array) || der.length < 8) fail("too short");
    if (der[0] !== 0x30 || der[1] !== der.length - 2) fail("bad SEQUENCE header or trailing bytes");
    let pos = 2;
    const integer = (): Uint8Array => {
      if (der[pos] !== 0x02) fail("expected INTEGER");
      const len = der[pos + 1];
      if (len === undefined || len === 0 || len > 33 || pos + 2 + len > der.length)
        fail("bad INTEGER length");
      const body = der.subarray(pos + 2, pos + 2 + len);
      if (body[0] & 0x80) fail("negative INTEGER");
      if (len > 1 && body[0] === 0 && !(body[1] & 0x80)) fail("non-minimal INTEGER");
      pos += 2 + len;
      const value = body[0] === 0 ? body.subarray(1) : body;
      if (value.length > 32) fail("INTEGER too large");
      const out = new Uint8Array(32);
      out.set(value, 32 - value.length);
      return out;
    };
    const r = integer();
    const s = integer();
    if (pos !== der.length) fail("trailing bytes");
    return Signature.fromBytes(concatBytes(r, s));
  }

  toBytes(): Uint8Array {
    return this.bytes.slice();
  }

  /** the reference's name for `toBytes` */
  toBEBytes(): Uint8Array {
    return this.toBytes();
  }

  toDerBytes(): Uint8Array {
    const integer = (v: Uint8Array): Uint8Array => {
      let i = 0;
      while (i < 31 && v[i] === 0) i++;
      const body = v[i] & 0x80 ? concatBytes(new Uint8Array([0]), v.subarray(i)) : v.subarray(i);
      return concatBytes(new Uint8Array([0x02, body.length]), body);
    };
    const seq = concatBytes(integer(this.bytes.subarray(0, 32)), integer(this.bytes.subarray(32)));
    return concatBytes(new Uint8Array([0x30, seq.length]), seq);
  }

  /** true when this signs `message` (hashed with SHA-256) under `verifyingKey`; high-s is rejected */
  verify(verifyingKey: PublicKey, message: Uint8Array): boolean {
    return currentBackend().verify(this.bytes, hashMessage(message), verifyingKey.point);
  }

  equals(other: Signature): boolean {
    return equalBytes(this.bytes, other.bytes);
  }

  toString(): string {
    return `Signature:${bytesToHex(this.bytes)}`;
  }
}

/** signs messages with a SecretKey (ECDSA, SHA-256, low-s, hedged RFC 6979 nonces) */
export class Signer {
  constructor(private readonly secretKey: SecretKey) {}

  sign(message: Uint8Array): Signature {
    return Signature.fromBytes(currentBackend().sign(hashMessage(message), this.secretKey.scalar));
  }

  verifyingKey(): PublicKey {
    return this.secretKey.publicKey();
  }

  toString(): string {
    return "Signer:...";
  }
}

const SEED_SIZE = 32;
const encoder = new TextEncoder();

function derive(seed: Uint8Array, prefix: string, label: Uint8Array, length: number): Uint8Array {
  return hkdf(sha256, seed, undefined, concatBytes(encoder.encode(prefix), label), length);
}

/** deterministic keys derived from a 32-byte secret seed and public labels */
export class SecretKeyFactory {
  private constructor(private readonly seed: Uint8Array) {}

  static random(): SecretKeyFactory {
    return new SecretKeyFactory(secureRandomBytes(SEED_SIZE));
  }

  static seedSize(): number {
    return SEED_SIZE;
  }

  /** `seed` must be 32 bytes of secret, uniformly random data */
  static fromSecureRandomness(seed: Uint8Array): SecretKeyFactory {
    if (!(seed instanceof Uint8Array) || seed.length !== SEED_SIZE) {
      throw new PreError(
        "INVALID_LENGTH",
        `SecretKeyFactory: expected a ${SEED_SIZE}-byte seed, got ${seed?.length}`,
      );
    }
    return new SecretKeyFactory(seed.slice());
  }

  makeKey(label: Uint8Array): SecretKey {
    const info = concatBytes(encoder.encode("KEY_DERIVATION/"), label);
    const okm = hkdf(sha256, this.seed, undefined, info, 64);
    return SecretKey.fromScalar(hashToScalar(info, [okm]));
  }

  /** 64 secret bytes for `label` */
  makeSecret(label: Uint8Array): Uint8Array {
    return derive(this.seed, "SECRET_DERIVATION/", label, 64);
  }

  makeFactory(label: Uint8Array): SecretKeyFactory {
    return new SecretKeyFactory(derive(this.seed, "FACTORY_DERIVATION/", label, SEED_SIZE));
  }

  toString(): string {
    return "SecretKeyFactory:...";
  }
}
