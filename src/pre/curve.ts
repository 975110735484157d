/**
 * secp256k1 points and scalars behind two interchangeable backends:
 *
 * - `noble`: @noble/curves, pure TypeScript (browsers, anywhere);
 * - `native`: libsecp256k1 through the `secp256k1` package's Node binding.
 *
 * Both give identical results. Operations on secret scalars (`mul`, `mulBase`) are
 * constant-time point multiplications in both: noble's blinded `multiply`, libsecp256k1's
 * `ecmult_const` (reached through `ecdh`) and `ecmult_gen` (`publicKeyCreate`). Note that
 * libsecp256k1's `publicKeyTweakMul` and `publicKeyTweakAdd` use the variable-time
 * `secp256k1_ecmult`, so they serve only `mulPublic`, `mulAddPublic` and `msmPublic`, which
 * are called with public scalars only (proof and signature verification). Scalar arithmetic mod n uses bigint,
 * like noble itself: JavaScript gives no constant-time guarantee for bigint operations.
 *
 * A `CurvePoint` is immutable and keeps whichever encodings have been computed (33-byte
 * compressed, 65-byte uncompressed for libsecp256k1, a noble projective point), so points
 * stay valid when the backend changes. The identity point is a first-class value here even
 * though libsecp256k1 cannot represent it: sums and products that reach it return
 * `CurvePoint.IDENTITY`, and only its serialization is an error.
 */
import { secp256k1, secp256k1_hasher } from "@noble/curves/secp256k1.js";
import { mulAddUnsafe, pippenger } from "@noble/curves/abstract/curve.js";
import type { WeierstrassPoint } from "@noble/curves/abstract/weierstrass.js";
import { equalBytes } from "@noble/curves/utils.js";
import { randomBytes } from "@noble/hashes/utils.js";
import { PreError } from "./errors";

type NoblePoint = WeierstrassPoint<bigint>;
const NoblePointCons = secp256k1.Point;

/** the order of the secp256k1 group */
export const ORDER: bigint = NoblePointCons.Fn.ORDER;

// ---------------------------------------------------------------------------------------
// scalars (bigint in [0, n))

export function modN(a: bigint): bigint {
  const r = a % ORDER;
  return r < 0n ? r + ORDER : r;
}

/** 32 big-endian bytes of k (0 ≤ k < 2²⁵⁶) */
export function scalarToBytes(k: bigint): Uint8Array {
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) view.setBigUint64(8 * i, BigInt.asUintN(64, k >> BigInt(192 - 64 * i)));
  return out;
}

/** big-endian bytes (a multiple of 8 long) to an integer */
function wordsToBigInt(bytes: Uint8Array): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let k = 0n;
  for (let i = 0; i < bytes.length; i += 8) k = (k << 64n) | view.getBigUint64(i);
  return k;
}

const POOL_SIZE = 4096;
let pool = new Uint8Array(0);
let poolPosition = 0;

/**
 * Cryptographically secure random bytes (crypto.getRandomValues), drawn from a 4 KiB pool
 * because each getRandomValues call costs about as much as hashing a kilobyte. Bytes are
 * wiped from the pool as they are handed out.
 */
export function secureRandomBytes(length: number): Uint8Array {
  if (length > POOL_SIZE / 4) return randomBytes(length);
  if (poolPosition + length > pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolPosition = 0;
  }
  const out = pool.slice(poolPosition, poolPosition + length);
  pool.fill(0, poolPosition, poolPosition + length);
  poolPosition += length;
  return out;
}

/** 32 big-endian bytes to a scalar; values ≥ n are rejected, not reduced */
export function scalarFromBytes(bytes: Uint8Array, what: string): bigint {
  if (bytes.length !== 32)
    throw new PreError("INVALID_LENGTH", `${what}: expected 32 bytes, got ${bytes.length}`);
  const k = wordsToBigInt(bytes);
  if (k >= ORDER) throw new PreError("INVALID_SCALAR", `${what}: scalar is not below the group order`);
  return k;
}

/** a uniformly random scalar in [1, n) */
export function randomNonZeroScalar(): bigint {
  // 64 bytes reduced mod n−1: bias below 2^-250
  return (wordsToBigInt(secureRandomBytes(64)) % (ORDER - 1n)) + 1n;
}

/**
 * a⁻¹ mod n. The extended Euclidean algorithm's running time depends on its input, so it
 * inverts a·b for a fresh random b and multiplies by b: the timing then only depends on a
 * uniformly random value, not on (possibly secret) a. Three times faster than Fermat.
 */
export function invertScalar(a: bigint): bigint {
  if (a === 0n) throw new PreError("INVALID_SCALAR", "zero has no inverse");
  const blind = randomNonZeroScalar();
  return modN(NoblePointCons.Fn.inv(modN(a * blind)) * blind);
}

/** inverts every element with one field inversion (Montgomery's trick) */
export function invertScalars(values: readonly bigint[]): bigint[] {
  const prefix: bigint[] = [];
  let acc = 1n;
  for (const v of values) {
    if (v === 0n) throw new PreError("INVALID_SCALAR", "zero has no inverse");
    prefix.push(acc);
    acc = modN(acc * v);
  }
  let inv = invertScalar(acc);
  const out = new Array<bigint>(values.length);
  for (let i = values.length - 1; i >= 0; i--) {
    out[i] = modN(inv * prefix[i]);
    inv = modN(inv * values[i]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// points

export class CurvePoint {
  /** the point at infinity; it has no 33-byte encoding */
  static readonly IDENTITY = new CurvePoint(true);

  private compressedBytes?: Uint8Array;
  private uncompressedBytes?: Uint8Array;
  private noblePoint?: NoblePoint;

  private constructor(readonly isIdentity: boolean) {}

  /** @internal trusted: the caller guarantees a valid 65-byte encoding */
  static fromUncompressed(bytes: Uint8Array): CurvePoint {
    const p = new CurvePoint(false);
    p.uncompressedBytes = bytes;
    return p;
  }

  /** @internal */
  static fromNoble(point: NoblePoint): CurvePoint {
    if (point.is0()) return CurvePoint.IDENTITY;
    const p = new CurvePoint(false);
    p.noblePoint = point;
    return p;
  }

  /** a 33-byte compressed SEC1 point; anything else (including identity) is an INVALID_POINT */
  static fromBytes(bytes: Uint8Array, what = "point"): CurvePoint {
    if (!(bytes instanceof Uint8Array) || bytes.length !== 33) {
      throw new PreError("INVALID_LENGTH", `${what}: expected 33 bytes, got ${bytes?.length}`);
    }
    if (bytes[0] !== 2 && bytes[0] !== 3)
      throw new PreError("INVALID_POINT", `${what}: not a compressed point`);
    const p = currentBackend().decompress(bytes);
    if (!p) throw new PreError("INVALID_POINT", `${what}: not on the curve`);
    return p;
  }

  toBytes(): Uint8Array {
    if (this.compressedBytes) return this.compressedBytes;
    if (this.isIdentity) throw new PreError("INVALID_POINT", "the identity point has no 33-byte encoding");
    if (this.uncompressedBytes) {
      const u = this.uncompressedBytes;
      const c = new Uint8Array(33);
      c[0] = 2 + (u[64] & 1);
      c.set(u.subarray(1, 33), 1);
      this.compressedBytes = c;
    } else {
      this.compressedBytes = this.noblePoint!.toBytes(true);
    }
    return this.compressedBytes;
  }

  /** @internal 65-byte form for libsecp256k1 (not defined for identity) */
  uncompressed(): Uint8Array {
    if (!this.uncompressedBytes) {
      if (this.noblePoint) this.uncompressedBytes = this.noblePoint.toBytes(false);
      else if (native) this.uncompressedBytes = native.publicKeyConvert(this.compressedBytes!, false);
      else this.uncompressedBytes = NoblePointCons.fromBytes(this.compressedBytes!).toBytes(false);
    }
    return this.uncompressedBytes;
  }

  /** @internal */
  noble(): NoblePoint {
    if (!this.noblePoint) {
      if (this.isIdentity) this.noblePoint = NoblePointCons.ZERO;
      else this.noblePoint = NoblePointCons.fromBytes(this.uncompressedBytes ?? this.compressedBytes!);
    }
    return this.noblePoint;
  }

  equals(other: CurvePoint): boolean {
    if (this.isIdentity || other.isIdentity) return this.isIdentity === other.isIdentity;
    if (this.noblePoint && other.noblePoint) return this.noblePoint.equals(other.noblePoint);
    return equalBytes(this.toBytes(), other.toBytes());
  }
}

// ---------------------------------------------------------------------------------------
// backends

export type BackendName = "noble" | "native";

export interface CurveBackend {
  readonly name: BackendName;
  /** parses 33 compressed bytes (prefix already checked); undefined when not on the curve */
  decompress(bytes: Uint8Array): CurvePoint | undefined;
  /** k·G, constant-time */
  mulBase(k: bigint): CurvePoint;
  /** k·P, constant-time */
  mul(p: CurvePoint, k: bigint): CurvePoint;
  /** k·P; variable-time: public scalars only */
  mulPublic(p: CurvePoint, k: bigint): CurvePoint;
  add(p: CurvePoint, q: CurvePoint): CurvePoint;
  /** a·P + b·Q; variable-time: public inputs only */
  mulAddPublic(p: CurvePoint, a: bigint, q: CurvePoint, b: bigint): CurvePoint;
  /** whether a·P + b·Q = R (a verification equation); variable-time: public inputs only */
  mulAddEqualsPublic(p: CurvePoint, a: bigint, q: CurvePoint, b: bigint, r: CurvePoint): boolean;
  /** Σ kᵢ·Pᵢ; variable-time: public inputs only */
  msmPublic(points: readonly CurvePoint[], scalars: readonly bigint[]): CurvePoint;
  /**
   * scalars[j]·points[i] for each pair [i, j] of `pairs`, constant-time in the scalars. One
   * call for several products lets a backend share work (a point's table, one inversion).
   */
  mulMany(
    points: readonly CurvePoint[],
    scalars: readonly bigint[],
    pairs: readonly (readonly [number, number])[],
  ): CurvePoint[];
  /** ECDSA over a 32-byte digest, low-s, RFC 6979 nonce hedged with fresh randomness */
  sign(digest: Uint8Array, sk: bigint): Uint8Array;
  /** ECDSA verification; rejects high-s signatures */
  verify(signature: Uint8Array, digest: Uint8Array, pk: CurvePoint): boolean;
  /** `verify` of many signatures under one key (public data), one result each */
  verifyMany(signatures: readonly Uint8Array[], digests: readonly Uint8Array[], pk: CurvePoint): boolean[];
}

/** mulMany from single products */
function mulEach(
  mul: (p: CurvePoint, k: bigint) => CurvePoint,
  points: readonly CurvePoint[],
  scalars: readonly bigint[],
  pairs: readonly (readonly [number, number])[],
): CurvePoint[] {
  return pairs.map(([i, j]) => mul(points[i], scalars[j]));
}

const nobleBackend: CurveBackend = {
  name: "noble",
  decompress(bytes) {
    let p: NoblePoint;
    try {
      p = NoblePointCons.fromBytes(bytes);
    } catch {
      return undefined;
    }
    return CurvePoint.fromNoble(p);
  },
  mulBase(k) {
    return k === 0n ? CurvePoint.IDENTITY : CurvePoint.fromNoble(NoblePointCons.BASE.multiply(k));
  },
  mul(p, k) {
    if (p.isIdentity || k === 0n) return CurvePoint.IDENTITY;
    return CurvePoint.fromNoble(p.noble().multiply(k));
  },
  mulPublic(p, k) {
    return CurvePoint.fromNoble(p.noble().multiplyUnsafe(k));
  },
  add(p, q) {
    return CurvePoint.fromNoble(p.noble().add(q.noble()));
  },
  mulAddPublic(p, a, q, b) {
    // G and U carry window tables: multiplying them on their own beats a joint Strauss walk
    if (hasTable(p) || hasTable(q)) {
      return CurvePoint.fromNoble(p.noble().multiplyUnsafe(a).add(q.noble().multiplyUnsafe(b)));
    }
    return CurvePoint.fromNoble(mulAddUnsafe(NoblePointCons, [p.noble(), q.noble()], [a, b]));
  },
  mulAddEqualsPublic(p, a, q, b, r) {
    return nobleBackend.mulAddPublic(p, a, q, b).equals(r);
  },
  msmPublic(points, scalars) {
    return CurvePoint.fromNoble(
      pippenger(
        NoblePointCons,
        points.map((p) => p.noble()),
        [...scalars],
      ),
    );
  },
  mulMany(points, scalars, pairs) {
    return mulEach(nobleBackend.mul, points, scalars, pairs);
  },
  sign(digest, sk) {
    return secp256k1.sign(digest, scalarToBytes(sk), {
      prehash: false,
      lowS: true,
      extraEntropy: secureRandomBytes(32),
    });
  },
  verify(signature, digest, pk) {
    // ECDSA verification on the cached point (noble's verify would decompress it each time)
    const Fn = NoblePointCons.Fn;
    const r = wordsToBigInt(signature.subarray(0, 32));
    const s = wordsToBigInt(signature.subarray(32, 64));
    if (r === 0n || s === 0n || r >= ORDER || s > ORDER >> 1n || pk.isIdentity) return false;
    const w = Fn.inv(s); // public data: variable-time inversion is fine
    const e = Fn.create(wordsToBigInt(digest));
    const R = NoblePointCons.BASE.multiplyUnsafe(Fn.mul(e, w)).add(pk.noble().multiplyUnsafe(Fn.mul(r, w)));
    return !R.is0() && Fn.create(R.toAffine().x) === r;
  },
  verifyMany(signatures, digests, pk) {
    // every signature is checked against the same key: a window table for it pays
    if (signatures.length > 1) prepareBase(pk);
    return signatures.map((sig, i) => nobleBackend.verify(sig, digests[i], pk));
  },
};

function hasTable(p: CurvePoint): boolean {
  return p === GENERATOR || p === POINT_U;
}

/** noble points given a window table by prepareBase */
const prepared = new WeakSet<NoblePoint>();

/** `p` is about to be a base of many public multiplications: a width-6 table (~1400 points, a few ms) makes each later multiplyUnsafe ~4× cheaper */
function prepareBase(p: CurvePoint): void {
  if (p.isIdentity || hasTable(p) || prepared.has(p.noble())) return;
  p.noble().precompute(6, false);
  prepared.add(p.noble());
}

type NativeSecp256k1 = typeof import("secp256k1");

function loadNative(): NativeSecp256k1 | undefined {
  try {
    // the binding itself, not the package index (which silently falls back to elliptic.js)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("secp256k1/bindings.js") as NativeSecp256k1;
  } catch {
    return undefined;
  }
}

const native = loadNative();

function nativeBackend(lib: NativeSecp256k1): CurveBackend {
  // publicKeyTweakMul runs libsecp256k1's variable-time secp256k1_ecmult: public scalars only
  const mulPublic = (p: CurvePoint, k: bigint): CurvePoint => {
    if (p.isIdentity || k === 0n) return CurvePoint.IDENTITY;
    return CurvePoint.fromUncompressed(lib.publicKeyTweakMul(p.uncompressed(), scalarToBytes(k), false));
  };
  // ecdh runs the constant-time secp256k1_ecmult_const; its hash callback hands back x and y
  const xbuf = new Uint8Array(32);
  const ybuf = new Uint8Array(32);
  const rawPoint = (x: Uint8Array, y: Uint8Array): Uint8Array => {
    const out = new Uint8Array(65);
    out[0] = 4;
    out.set(x, 1);
    out.set(y, 33);
    return out;
  };
  const mul = (p: CurvePoint, k: bigint): CurvePoint => {
    if (p.isIdentity || k === 0n) return CurvePoint.IDENTITY;
    const out = lib.ecdh(
      p.uncompressed(),
      scalarToBytes(k),
      { hashfn: rawPoint, xbuf, ybuf },
      new Uint8Array(65),
    );
    return CurvePoint.fromUncompressed(out);
  };
  const mulBase = (k: bigint): CurvePoint =>
    k === 0n
      ? CurvePoint.IDENTITY
      : CurvePoint.fromUncompressed(lib.publicKeyCreate(scalarToBytes(k), false));
  const add = (p: CurvePoint, q: CurvePoint): CurvePoint => {
    if (p.isIdentity) return q;
    if (q.isIdentity) return p;
    const pu = p.uncompressed();
    const qu = q.uncompressed();
    // libsecp256k1 cannot return the identity: P + (−P) is decided here
    if (equalBytes(pu.subarray(1, 33), qu.subarray(1, 33)) && !equalBytes(pu, qu)) return CurvePoint.IDENTITY;
    return CurvePoint.fromUncompressed(lib.publicKeyCombine([pu, qu], false));
  };
  const verify = (signature: Uint8Array, digest: Uint8Array, pk: CurvePoint): boolean => {
    if (pk.isIdentity) return false;
    try {
      return lib.ecdsaVerify(signature, digest, pk.uncompressed());
    } catch {
      return false;
    }
  };
  return {
    name: "native",
    decompress(bytes) {
      try {
        return CurvePoint.fromUncompressed(lib.publicKeyConvert(bytes, false));
      } catch {
        return undefined;
      }
    },
    mulBase,
    mul,
    mulPublic,
    add,
    mulAddPublic(p, a, q, b) {
      if (p === GENERATOR && a !== 0n) {
        // Q' + a·G in one call (publicKeyTweakAdd uses the generator's precomputed table)
        const qb = mulPublic(q, b);
        if (qb.isIdentity) return mulBase(a);
        try {
          return CurvePoint.fromUncompressed(
            lib.publicKeyTweakAdd(qb.uncompressed(), scalarToBytes(a), false),
          );
        } catch {
          return CurvePoint.IDENTITY; // a < n, so the only failure left is a sum at infinity
        }
      }
      return add(mulPublic(p, a), mulPublic(q, b));
    },
    mulAddEqualsPublic(p, a, q, b, r) {
      return this.mulAddPublic(p, a, q, b).equals(r);
    },
    msmPublic(points, scalars) {
      let acc = CurvePoint.IDENTITY;
      for (let i = 0; i < points.length; i++) acc = add(acc, mulPublic(points[i], scalars[i]));
      return acc;
    },
    mulMany(points, scalars, pairs) {
      return mulEach(mul, points, scalars, pairs);
    },
    sign(digest, sk) {
      return lib.ecdsaSign(digest, scalarToBytes(sk), { data: secureRandomBytes(32) }).signature;
    },
    verify,
    verifyMany(signatures, digests, pk) {
      return signatures.map((sig, i) => verify(sig, digests[i], pk));
    },
  };
}

/** the functions of our own addon, native/nkms_secp256k1.c (see there for the contracts) */
interface NkmsAddon {
  mulMany(points: Uint8Array, scalars: Uint8Array, pairs: Uint8Array): Uint8Array;
  mulGen(k: Uint8Array): Uint8Array;
  msm(points: Uint8Array, scalars: Uint8Array, g: Uint8Array | null): Uint8Array | null;
  ecdsaVerify(signature: Uint8Array, digest: Uint8Array, pk: Uint8Array): boolean;
  ecdsaVerifyMany(signatures: Uint8Array, digests: Uint8Array, pk: Uint8Array): Uint8Array;
  randomize(seed: Uint8Array): void;
  mulAddGEquals(point: Uint8Array, a: Uint8Array, g: Uint8Array, expected: Uint8Array): boolean;
  decompress(points: Uint8Array): Uint8Array | null;
  ecdsaSignRecoverable(digest: Uint8Array, seckey: Uint8Array): Uint8Array;
}

/** @internal why the addon did not load (undefined when it did) */
export let addonLoadError: string | undefined;

function loadAddon(): NkmsAddon | undefined {
  try {
    // an explicit path, built by scripts/build-native.cjs: src/pre or dist/pre → native/build/Release
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { join } = require("node:path") as typeof import("node:path");
    const file = join(__dirname, "..", "..", "native", "build", "Release", "nkms_secp256k1.node");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(file) as NkmsAddon;
    // fresh blinding for the constant-time fixed-base multiplications (G and U)
    addon.randomize(randomBytes(32));
    return addon;
  } catch (e) {
    addonLoadError = e instanceof Error ? e.message : String(e);
    return undefined;
  }
}

/**
 * The `native` backend on our addon: constant-time products by secret scalars with
 * secp256k1_ecmult_const (tables shared between products of one point, no JS callback) and
 * a blinded fixed-base comb for U; multi-scalar multiplication with Strauss/Pippenger
 * (secp256k1_ecmult_multi_var and a variant that does not split 128-bit scalars); ECDSA
 * verification of many signatures by one key with a table for the key; a·P + g·G and the
 * capsule self-check in one `secp256k1_ecmult` walk; decompression. Sums and (Umbral) signing
 * stay with the `secp256k1` binding.
 */
function addonBackend(addon: NkmsAddon, lib: NativeSecp256k1): CurveBackend {
  const base = nativeBackend(lib);
  const packPoints = (points: readonly CurvePoint[]): Uint8Array => {
    const out = new Uint8Array(65 * points.length);
    for (let i = 0; i < points.length; i++) out.set(points[i].uncompressed(), 65 * i);
    return out;
  };
  const packScalars = (scalars: readonly bigint[]): Uint8Array => {
    const out = new Uint8Array(32 * scalars.length);
    for (let i = 0; i < scalars.length; i++) out.set(scalarToBytes(scalars[i]), 32 * i);
    return out;
  };
  // a·P + b·Q with one side G and the other a live term, as the addon's (point, k, g) arguments
  const splitGenerator = (
    p: CurvePoint,
    a: bigint,
    q: CurvePoint,
    b: bigint,
  ): [Uint8Array, Uint8Array, Uint8Array] | undefined => {
    if (p === GENERATOR && q !== GENERATOR && !q.isIdentity && b !== 0n)
      return [q.uncompressed(), scalarToBytes(b), scalarToBytes(a)];
    if (q === GENERATOR && p !== GENERATOR && !p.isIdentity && a !== 0n)
      return [p.uncompressed(), scalarToBytes(a), scalarToBytes(b)];
    return undefined;
  };
  const fromResult = (bytes: Uint8Array | null): CurvePoint =>
    bytes ? CurvePoint.fromUncompressed(bytes) : CurvePoint.IDENTITY;
  const msmPublic = (points: readonly CurvePoint[], scalars: readonly bigint[]): CurvePoint => {
    // G goes to libsecp256k1's precomputed generator tables; identity and zero terms drop out
    let g = 0n;
    const ps: CurvePoint[] = [];
    const ks: bigint[] = [];
    for (let i = 0; i < points.length; i++) {
      if (points[i].isIdentity || scalars[i] === 0n) continue;
      if (points[i] === GENERATOR) g = modN(g + scalars[i]);
      else {
        ps.push(points[i]);
        ks.push(scalars[i]);
      }
    }
    if (ps.length === 0 && g === 0n) return CurvePoint.IDENTITY;
    return fromResult(addon.msm(packPoints(ps), packScalars(ks), g === 0n ? null : scalarToBytes(g)));
  };
  const mulMany = (
    points: readonly CurvePoint[],
    scalars: readonly bigint[],
    pairs: readonly (readonly [number, number])[],
  ): CurvePoint[] => {
    if (
      pairs.length <= 255 &&
      points.length <= 255 &&
      scalars.length <= 255 &&
      points.every((p) => !p.isIdentity) &&
      scalars.every((k) => k !== 0n)
    ) {
      // the usual case: every product is live, all inputs cross as they are
      const result = addon.mulMany(packPoints(points), packScalars(scalars), new Uint8Array(pairs.flat()));
      return pairs.map((_, n) => CurvePoint.fromUncompressed(result.subarray(65 * n, 65 * n + 65)));
    }
    const out: CurvePoint[] = new Array<CurvePoint>(pairs.length).fill(CurvePoint.IDENTITY);
    const live: number[] = [];
    for (let q = 0; q < pairs.length; q++) {
      const [i, j] = pairs[q];
      if (!points[i].isIdentity && scalars[j] !== 0n) live.push(q);
    }
    if (live.length === 0) return out;
    // only the points and scalars of live products cross (the addon rejects identity and 0)
    const pointIndex = new Map<number, number>();
    const scalarIndex = new Map<number, number>();
    const indices = new Uint8Array(2 * live.length);
    live.forEach((q, n) => {
      const [i, j] = pairs[q];
      if (!pointIndex.has(i)) pointIndex.set(i, pointIndex.size);
      if (!scalarIndex.has(j)) scalarIndex.set(j, scalarIndex.size);
      indices[2 * n] = pointIndex.get(i)!;
      indices[2 * n + 1] = scalarIndex.get(j)!;
    });
    const result = addon.mulMany(
      packPoints([...pointIndex.keys()].map((i) => points[i])),
      packScalars([...scalarIndex.keys()].map((j) => scalars[j])),
      indices,
    );
    live.forEach((q, n) => {
      out[q] = CurvePoint.fromUncompressed(result.subarray(65 * n, 65 * n + 65));
    });
    return out;
  };
  return {
    ...base,
    decompress(bytes) {
      const u = addon.decompress(bytes);
      return u ? CurvePoint.fromUncompressed(u) : undefined;
    },
    mulBase(k) {
      return k === 0n ? CurvePoint.IDENTITY : CurvePoint.fromUncompressed(addon.mulGen(scalarToBytes(k)));
    },
    mul(p, k) {
      return mulMany([p], [k], [[0, 0]])[0];
    },
    mulMany,
    mulPublic(p, k) {
      return msmPublic([p], [k]);
    },
    mulAddPublic(p, a, q, b) {
      // G goes to libsecp256k1's precomputed generator tables inside msm
      return msmPublic([p, q], [a, b]);
    },
    mulAddEqualsPublic(p, a, q, b, r) {
      // compared inside the addon, in Jacobian coordinates: no inversion, no encoding
      const split = r.isIdentity ? undefined : splitGenerator(p, a, q, b);
      if (split) return addon.mulAddGEquals(...split, r.uncompressed());
      return this.mulAddPublic(p, a, q, b).equals(r);
    },
    msmPublic,
    verify(signature, digest, pk) {
      if (pk.isIdentity || signature.length !== 64 || digest.length !== 32) return false;
      return addon.ecdsaVerify(signature, digest, pk.uncompressed());
    },
    verifyMany(signatures, digests, pk) {
      if (signatures.length < 2) return signatures.map((sig, i) => this.verify(sig, digests[i], pk));
      if (pk.isIdentity || signatures.some((s, i) => s.length !== 64 || digests[i].length !== 32)) {
        return signatures.map((sig, i) => base.verify(sig, digests[i], pk));
      }
      const sigs = new Uint8Array(64 * signatures.length);
      const dgs = new Uint8Array(32 * signatures.length);
      signatures.forEach((sig, i) => sigs.set(sig, 64 * i));
      digests.forEach((d, i) => dgs.set(d, 32 * i));
      return Array.from(addon.ecdsaVerifyMany(sigs, dgs, pk.uncompressed()), (v) => v === 1);
    },
  };
}

/**
 * How the `native` backend reaches libsecp256k1: `addon`, our own Node-API addon
 * (native/build/Release/nkms_secp256k1.node, built by scripts/build-native.cjs), or `binding`, the
 * `secp256k1` package's binding alone (slower: no multi-scalar multiplication, a JS callback
 * per constant-time product).
 */
export type NativeEngine = "addon" | "binding";

const addon = native ? loadAddon() : undefined;

const nativeEngines: Partial<Record<NativeEngine, CurveBackend>> = native
  ? { ...(addon ? { addon: addonBackend(addon, native) } : {}), binding: nativeBackend(native) }
  : {};

/**
 * @internal ECDSA with libsecp256k1's RFC 6979 nonce (no extra data) in our addon: 65 bytes
 * r ‖ s ‖ recovery id, low s, byte-identical to the `secp256k1` package's `ecdsaSign` and
 * constant-time in the key and the nonce. Undefined when the addon did not load. Throws a
 * TypeError on a key outside [1, n) or lengths other than 32.
 */
export const addonEcdsaSignRecoverable: ((digest: Uint8Array, seckey: Uint8Array) => Uint8Array) | undefined =
  addon ? (digest, seckey) => addon.ecdsaSignRecoverable(digest, seckey) : undefined;

/** " (the addon's load error)" for a missing `addon` engine, else "" */
function whyNotLoaded(engine: string): string {
  return engine === "addon" && addonLoadError ? ` (${addonLoadError})` : "";
}

/** @internal the engine chosen by a value of NKMS_PRE_NATIVE_ENGINE (unset or "auto": addon when loaded) */
export function nativeEngineForEnv(requested: string | undefined): NativeEngine | undefined {
  if (!native) return undefined;
  if (!requested || requested === "auto") return nativeEngines.addon ? "addon" : "binding";
  if (!nativeEngines[requested as NativeEngine]) {
    throw new PreError(
      "BACKEND_UNAVAILABLE",
      `NKMS_PRE_NATIVE_ENGINE=${requested}: no such native engine loaded${whyNotLoaded(requested)}`,
    );
  }
  return requested as NativeEngine;
}

let nativeEngine = nativeEngineForEnv(
  typeof process !== "undefined" ? process.env?.NKMS_PRE_NATIVE_ENGINE : undefined,
);

const backends: Partial<Record<BackendName, CurveBackend>> = {
  noble: nobleBackend,
  ...(nativeEngine ? { native: nativeEngines[nativeEngine] } : {}),
};

/** @internal the backend chosen by a value of NKMS_PRE_BACKEND (unset or "auto": native when loaded) */
export function backendForEnv(requested: string | undefined): BackendName {
  if (!requested || requested === "auto") return backends.native ? "native" : "noble";
  if (!backends[requested as BackendName]) {
    throw new PreError("BACKEND_UNAVAILABLE", `NKMS_PRE_BACKEND=${requested}: no such backend loaded`);
  }
  return requested as BackendName;
}

let active: CurveBackend =
  backends[backendForEnv(typeof process !== "undefined" ? process.env?.NKMS_PRE_BACKEND : undefined)]!;

/** @internal */
export function currentBackend(): CurveBackend {
  return active;
}

/**
 * Selects the curve backend for all later operations. `native` needs the libsecp256k1
 * binding of the `secp256k1` package to have loaded (Node on a supported platform).
 */
export function setBackend(name: BackendName): void {
  const b = backends[name];
  if (!b) throw new PreError("BACKEND_UNAVAILABLE", `backend "${name}" is not available here`);
  active = b;
}

/** the backend in use: `native` by default when the binding loads, else `noble` (env NKMS_PRE_BACKEND overrides) */
export function getBackend(): BackendName {
  return active.name;
}

/** the backends that loaded in this environment */
export function availableBackends(): BackendName[] {
  return (Object.keys(backends) as BackendName[]).filter((n) => backends[n]);
}

/** how the `native` backend reaches libsecp256k1 (undefined when it did not load) */
export function getNativeEngine(): NativeEngine | undefined {
  return nativeEngine;
}

/** the native engines that loaded here: `addon` needs native/build/Release/nkms_secp256k1.node */
export function availableNativeEngines(): NativeEngine[] {
  return (Object.keys(nativeEngines) as NativeEngine[]).filter((n) => nativeEngines[n]);
}

/** selects the engine behind the `native` backend (for tests and benchmarks) */
export function setNativeEngine(engine: NativeEngine): void {
  const b = nativeEngines[engine];
  if (!b) {
    throw new PreError(
      "BACKEND_UNAVAILABLE",
      `native engine "${engine}" is not available here${whyNotLoaded(engine)}`,
    );
  }
  const wasActive = active === backends.native;
  nativeEngine = engine;
  backends.native = b;
  if (wasActive) active = b;
}

// ---------------------------------------------------------------------------------------
// fixed points

/** U = hash_to_curve(secp256k1_XMD:SHA-256_SSWU_RO_, "POINT_U", DST "PARAMETERS"), computed once */
export const POINT_U: CurvePoint = (() => {
  const msg = new TextEncoder().encode("POINT_U");
  const u = secp256k1_hasher.hashToCurve(msg, { DST: "PARAMETERS" }) as NoblePoint;
  // a window table for noble's fixed-base multiplications by U
  u.precompute(8, false);
  return CurvePoint.fromNoble(u);
})();

export const GENERATOR: CurvePoint = CurvePoint.fromNoble(NoblePointCons.BASE);
