import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToNumberBE } from "@noble/curves/utils.js";
import { ORDER, getBackend, type CurvePoint } from "./curve";
import { nodeCrypto } from "./node";

const encoder = new TextEncoder();

/**
 * The parts written one after another into a buffer this module reuses, for a hash taken at
 * once (`hashJoined`, which wipes it afterwards: the parts may be key material).
 */
let scratch = new Uint8Array(1024);
function join(parts: readonly Uint8Array[]): number {
  let length = 0;
  for (const p of parts) length += p.length;
  if (length > scratch.length) scratch = new Uint8Array(Math.max(length, 2 * scratch.length));
  let offset = 0;
  for (const p of parts) {
    scratch.set(p, offset);
    offset += p.length;
  }
  return length;
}

/**
 * OpenSSL's SHA-256 of the first `length` bytes of the scratch buffer, in one call
 * (`crypto.hash`), then wiped. Not `createHash`: a Hash object per digest is a native object
 * with a weak handle, and the thousands a second a node's crypto workers made stretched their
 * young-generation GC pauses to several milliseconds.
 */
function hashJoined(length: number, encoding: "hex"): string;
function hashJoined(length: number, encoding: "buffer"): Uint8Array;
function hashJoined(length: number, encoding: "hex" | "buffer"): string | Uint8Array {
  try {
    const data = scratch.subarray(0, length);
    return encoding === "hex" ? nodeCrypto!.hash("sha256", data) : nodeCrypto!.hash("sha256", data, "buffer");
  } finally {
    scratch.fill(0, 0, length);
  }
}

const native = () => nodeCrypto !== undefined && getBackend() === "native";

/** SHA-256 of the concatenated parts: OpenSSL on the native backend, noble otherwise */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (native()) return hashJoined(join(parts), "buffer");
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/** u32be(len(tag)), what a tagged digest starts with */
const tagLength = (tag: Uint8Array): Uint8Array =>
  Uint8Array.of(tag.length >>> 24, (tag.length >>> 16) & 255, (tag.length >>> 8) & 255, tag.length & 255);

/** SHA-256(u32be(len(tag)) ‖ tag ‖ parts…), the reference's domain-separated digest */
export function taggedDigest(tag: Uint8Array, parts: readonly Uint8Array[]): Uint8Array {
  return sha256(tagLength(tag), tag, ...parts);
}

/** (d mod (n−1)) + 1: a digest's value as a non-zero scalar */
const nonZeroScalar = (d: bigint): bigint => (d % (ORDER - 1n)) + 1n;

/** a digest as a non-zero scalar: (d mod (n−1)) + 1 */
export function digestToNonZeroScalar(digest: Uint8Array): bigint {
  return nonZeroScalar(bytesToNumberBE(digest));
}

export function hashToScalar(tag: Uint8Array, parts: readonly Uint8Array[]): bigint {
  if (!native()) return digestToNonZeroScalar(taggedDigest(tag, parts));
  // the tagged digest as hex straight into a bigint: no digest bytes to allocate
  const digest = hashJoined(join([tagLength(tag), tag, ...parts]), "hex");
  return nonZeroScalar(BigInt("0x" + digest));
}

const TAG_POLYNOMIAL_ARG = encoder.encode("POLYNOMIAL_ARG");
const TAG_SHARED_SECRET = encoder.encode("SHARED_SECRET");
const TAG_CAPSULE_POINTS = encoder.encode("CAPSULE_POINTS");
const TAG_CFRAG_VERIFICATION = encoder.encode("CFRAG_VERIFICATION");

export function hashCapsulePoints(e: CurvePoint, v: CurvePoint): bigint {
  return hashToScalar(TAG_CAPSULE_POINTS, [e.toBytes(), v.toBytes()]);
}

/** d = H(precursor, receiving key, DH point): makes Umbral non-interactive */
export function hashToSharedSecret(precursor: CurvePoint, receivingPk: CurvePoint, dh: CurvePoint): bigint {
  return hashToScalar(TAG_SHARED_SECRET, [precursor.toBytes(), receivingPk.toBytes(), dh.toBytes()]);
}

/** the Shamir x-coordinate of a kfrag */
export function hashToPolynomialArg(
  precursor: CurvePoint,
  receivingPk: CurvePoint,
  dh: CurvePoint,
  kfragId: Uint8Array,
): bigint {
  return hashToScalar(TAG_POLYNOMIAL_ARG, [
    precursor.toBytes(),
    receivingPk.toBytes(),
    dh.toBytes(),
    kfragId,
  ]);
}

export function hashToCFragVerification(points: readonly CurvePoint[]): bigint {
  return hashToScalar(
    TAG_CFRAG_VERIFICATION,
    points.map((p) => p.toBytes()),
  );
}
