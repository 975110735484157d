/**
 * Evidence for the Adjudicator contract: everything it needs to judge a cfrag on-chain with
 * ecrecover and field arithmetic only. Byte layout: docs/evidence.md (contracts/lib/UmbralCFragCheck.sol
 * reads the same offsets).
 *
 * The evidence is built from public data only (capsule, cfrag, public keys), so the arithmetic
 * here is variable-time. It works on any cfrag bytes, including corrupted ones: a field that does
 * not decode is part of the verdict, and the evidence carries the proof of it.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { bytesToNumberBE, numberToBytesBE } from "@noble/curves/utils.js";
import { PreError } from "./errors";

type NoblePoint = InstanceType<typeof secp256k1.Point>;

const Point = secp256k1.Point;
const Fp = Point.Fp;
const P = Fp.ORDER;
const N = Point.Fn.ORDER;

/** Umbral's second generator U (hash_to_curve of "POINT_U" with DST "PARAMETERS"). */
const POINT_U_BYTES = hexToBytes("03079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd");
const CFRAG_VERIFICATION_TAG = utf8ToBytes("CFRAG_VERIFICATION");

/** Offsets of the evidence layout (docs/evidence.md). */
export const EVIDENCE_LAYOUT = {
  capsule: 0,
  cfrag: 98,
  keys: 457,
  yCoordinates: 556,
  products: 812,
  recoveryId: 1196,
  length: 1197,
} as const;

/** The points whose y words the evidence carries, in order from EVIDENCE_LAYOUT.yCoordinates. */
export const EVIDENCE_Y_ORDER = ["e1", "v1", "precursor", "e2", "v2", "u1", "u2", "verifyingKey"] as const;

/** The cfrag fields (simple form offsets) that hold compressed points, in evidence order. */
const CFRAG_POINTS = { e1: 0, v1: 33, precursor: 98, e2: 131, v2: 164, u1: 197, u2: 230 } as const;
const CFRAG_Z = 263;
const CFRAG_KFRAG_ID = 66;
const CFRAG_SIGNATURE = 295;

/** Why a cfrag is incorrect, in the order the contract checks. */
export type CFragDefect =
  "UNDECODABLE_POINT" | "UNDECODABLE_SCALAR" | "E_EQUATION" | "V_EQUATION" | "U_EQUATION" | "KFRAG_SIGNATURE";

/** Bytes, or an object of the PRE library (or of the reference) with its simple form. */
export type CapsuleInput = Uint8Array | { toBytesSimple(): Uint8Array };
export type CFragInput = Uint8Array | { toBytesSimple(): Uint8Array };
export type PublicKeyInput = Uint8Array | { toCompressedBytes(): Uint8Array };

export interface EvidenceInput {
  /** 98-byte simple form, 105-byte MessagePack form, or a Capsule */
  readonly capsule: CapsuleInput;
  /** 359-byte simple form, 381-byte MessagePack form, or a CapsuleFrag (need not decode) */
  readonly cfrag: CFragInput;
  /** the policy owner's verifying key (signs the kfrags) */
  readonly verifyingKey: PublicKeyInput;
  readonly delegatingKey: PublicKeyInput;
  readonly receivingKey: PublicKeyInput;
}

export interface ReencryptionEvidence {
  /** the evidence in the contract's layout (EVIDENCE_LAYOUT.length bytes) */
  readonly bytes: Uint8Array;
  /** capsule, simple form */
  readonly capsule: Uint8Array;
  /** cfrag, simple form */
  readonly cfrag: Uint8Array;
  /** verifying ‖ delegating ‖ receiving key, compressed */
  readonly keys: Uint8Array;
  /** the challenge scalar h, when every cfrag field decodes */
  readonly challenge?: bigint;
  /** the verdict the contract reaches on this evidence */
  readonly correct: boolean;
  /** why the cfrag is incorrect (absent when correct) */
  readonly defect?: CFragDefect;
}

// ---------------------------------------------------------------------------------------
// decoding

function exact(bytes: Uint8Array, length: number, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new PreError("INVALID_LENGTH", `${what}: expected ${length} bytes, got ${bytes?.length}`);
  }
  return bytes;
}

/** MessagePack bin8 fields at fixed places: strips the headers, checks them. */
function unpackFixed(bytes: Uint8Array, header: readonly number[], what: string): Uint8Array {
  const out: number[] = [];
  let i = 0;
  for (const h of header) {
    if (h < 0) {
      // a bin8 field of -h bytes
      if (bytes[i] !== 0xc4 || bytes[i + 1] !== -h)
        throw new PreError("INVALID_ENCODING", `${what}: bad field at ${i}`);
      out.push(...bytes.subarray(i + 2, i + 2 - h));
      i += 2 - h;
    } else {
      if (bytes[i] !== h) throw new PreError("INVALID_ENCODING", `${what}: bad array header at ${i}`);
      i += 1;
    }
  }
  return Uint8Array.from(out);
}

function capsuleSimple(input: CapsuleInput): Uint8Array {
  const bytes = input instanceof Uint8Array ? input : input.toBytesSimple();
  if (bytes.length === 105) return unpackFixed(bytes, [0x93, -33, -33, -32], "Capsule");
  return exact(bytes, 98, "capsule");
}

function cfragSimple(input: CFragInput): Uint8Array {
  const bytes = input instanceof Uint8Array ? input : input.toBytesSimple();
  if (bytes.length === 381) {
    return unpackFixed(bytes, [0x95, -33, -33, -32, -33, 0x96, -33, -33, -33, -33, -32, -64], "CapsuleFrag");
  }
  return exact(bytes, 359, "cfrag");
}

function publicKeyBytes(input: PublicKeyInput, what: string): Uint8Array {
  return exact(input instanceof Uint8Array ? input : input.toCompressedBytes(), 33, what);
}

const toBigInt = bytesToNumberBE;
const word = (value: bigint): Uint8Array => numberToBytesBE(value, 32);

/**
 * The reference (k256) also decodes SEC1's "compact" tag 05 ‖ x, as the even-y point, and
 * re-encodes it as 02 ‖ x wherever it hashes the point; so do the contract and this module.
 */
function canonical(point: Uint8Array): Uint8Array {
  return point[0] === 5 ? concatBytes(Uint8Array.of(2), point.subarray(1)) : point;
}

/**
 * A compressed point as the contract sees it: the point when it decodes, and the word the
 * evidence carries for it (its y, or a proof w² = −(x³ + 7) that no point has this x, or 0).
 */
function decodePoint(bytes: Uint8Array): { point?: NoblePoint; yWord: bigint } {
  const prefix = bytes[0];
  const x = toBigInt(bytes.subarray(1, 33));
  if ((prefix !== 2 && prefix !== 3 && prefix !== 5) || x >= P) return { yWord: 0n };
  const rhs = Fp.add(Fp.mul(Fp.sqr(x), x), 7n);
  try {
    let y = Fp.sqrt(rhs);
    if ((y & 1n) !== (prefix === 3 ? 1n : 0n)) y = Fp.neg(y);
    return { point: Point.fromAffine({ x, y }), yWord: y };
  } catch {
    return { yWord: Fp.sqrt(Fp.neg(rhs)) };
  }
}

function affineWords(point: NoblePoint | undefined): Uint8Array {
  if (!point || point.is0()) return new Uint8Array(64); // the identity is written (0, 0)
  const { x, y } = point.toAffine();
  return concatBytes(word(x), word(y));
}

// ---------------------------------------------------------------------------------------
// the verdict

/** h = hash-to-scalar(SHA-256(len(tag) ‖ tag ‖ E ‖ e1 ‖ e2 ‖ V ‖ v1 ‖ v2 ‖ U ‖ u1 ‖ u2)) */
function challengeScalar(capsule: Uint8Array, cfrag: Uint8Array): bigint {
  const point = (o: number) => canonical(cfrag.subarray(o, o + 33));
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, CFRAG_VERIFICATION_TAG.length);
  const digest = sha256(
    concatBytes(
      length,
      CFRAG_VERIFICATION_TAG,
      canonical(capsule.subarray(0, 33)),
      point(CFRAG_POINTS.e1),
      point(CFRAG_POINTS.e2),
      canonical(capsule.subarray(33, 66)),
      point(CFRAG_POINTS.v1),
      point(CFRAG_POINTS.v2),
      POINT_U_BYTES,
      point(CFRAG_POINTS.u1),
      point(CFRAG_POINTS.u2),
    ),
  );
  return (toBigInt(digest) % (N - 1n)) + 1n;
}

/**
 * Which recovery id (0 or 1) recovers `key` from the ECDSA/SHA-256 signature over `message`,
 * or undefined if neither does (the signature does not verify). High s is accepted, as by the
 * reference implementation.
 */
function kfragSignatureRecovery(
  signature: Uint8Array,
  message: Uint8Array,
  key: NoblePoint,
): 0 | 1 | undefined {
  const r = toBigInt(signature.subarray(0, 32));
  const s = toBigInt(signature.subarray(32, 64));
  if (r === 0n || r >= N || s === 0n || s >= N) return undefined;
  const m = toBigInt(sha256(message)) % N;
  const rInv = Point.Fn.inv(r);
  for (const id of [0, 1] as const) {
    const candidate = new Uint8Array(33);
    candidate[0] = 2 + id;
    candidate.set(word(r), 1);
    const { point: rPoint } = decodePoint(candidate);
    if (!rPoint) return undefined;
    // Q = r⁻¹·(s·R − m·G)
    const q = rPoint
      .multiplyUnsafe(s)
      .subtract(m === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(m))
      .multiplyUnsafe(rInv);
    if (q.equals(key)) return id;
  }
  return undefined;
}

/**
 * Builds the Adjudicator's evidence for a cfrag and computes the verdict the contract will
 * reach. Throws a PreError (INVALID_LENGTH, INVALID_ENCODING, INVALID_POINT) when the capsule or
 * a key is malformed: such evidence cannot be judged. The cfrag itself may be anything of the
 * right length.
 */
export function buildEvidence(input: EvidenceInput): ReencryptionEvidence {
  const capsule = capsuleSimple(input.capsule);
  const cfrag = cfragSimple(input.cfrag);
  const keys = concatBytes(
    publicKeyBytes(input.verifyingKey, "verifyingKey"),
    publicKeyBytes(input.delegatingKey, "delegatingKey"),
    publicKeyBytes(input.receivingKey, "receivingKey"),
  );

  const required = (bytes: Uint8Array, what: string): { point: NoblePoint; yWord: bigint } => {
    const decoded = decodePoint(bytes);
    if (!decoded.point) throw new PreError("INVALID_POINT", `${what}: not a compressed point on the curve`);
    return { point: decoded.point, yWord: decoded.yWord };
  };
  const e = required(capsule.subarray(0, 33), "capsule E");
  const v = required(capsule.subarray(33, 66), "capsule V");
  // the contract takes E and V as ecrecover bases only, which needs x < n (fails with probability 2^-128)
  for (const [name, point] of [
    ["E", e.point],
    ["V", v.point],
  ] as const) {
    if (point.toAffine().x >= N)
      throw new PreError("INVALID_POINT", `capsule ${name}: x ≥ n, cannot be checked on-chain`);
  }
  const verifyingKey = required(keys.subarray(0, 33), "verifyingKey");
  const cfragPoints = Object.fromEntries(
    Object.entries(CFRAG_POINTS).map(([name, o]) => [name, decodePoint(cfrag.subarray(o, o + 33))]),
  ) as Record<keyof typeof CFRAG_POINTS, ReturnType<typeof decodePoint>>;

  const yWords = EVIDENCE_Y_ORDER.map(
    (name) => (name === "verifyingKey" ? verifyingKey : cfragPoints[name]).yWord,
  );
  // z·E, h·e1, z·V, h·v1, z·U, h·u1; those after the first failing equation stay unset (written 0)
  const products = new Array<NoblePoint | undefined>(6).fill(undefined);
  let recoveryId = 0;
  const verdict = ((): { correct: boolean; defect?: CFragDefect; challenge?: bigint } => {
    const { e1, v1, precursor, e2, v2, u1, u2 } = cfragPoints;
    if (![e1, v1, precursor, e2, v2, u1, u2].every((p) => p.point))
      return { correct: false, defect: "UNDECODABLE_POINT" };
    const z = toBigInt(cfrag.subarray(CFRAG_Z, CFRAG_Z + 32));
    if (z >= N) return { correct: false, defect: "UNDECODABLE_SCALAR" };
    const h = challengeScalar(capsule, cfrag);
    const equations = [
      [e.point, e1.point!, e2.point!, "E_EQUATION"],
      [v.point, v1.point!, v2.point!, "V_EQUATION"],
      [Point.fromBytes(POINT_U_BYTES), u1.point!, u2.point!, "U_EQUATION"],
    ] as const;
    for (const [i, [base, p1, p2, defect]] of equations.entries()) {
      const zBase = z === 0n ? Point.ZERO : base.multiplyUnsafe(z);
      const hP1 = p1.multiplyUnsafe(h);
      products[2 * i] = zBase;
      products[2 * i + 1] = hP1;
      if (!zBase.equals(p2.add(hP1))) return { correct: false, defect, challenge: h };
    }
    const id = CFRAG_KFRAG_ID;
    const message = concatBytes(
      cfrag.subarray(id, id + 32),
      canonical(cfrag.subarray(CFRAG_POINTS.u1, CFRAG_POINTS.u1 + 33)),
      canonical(cfrag.subarray(CFRAG_POINTS.precursor, CFRAG_POINTS.precursor + 33)),
      Uint8Array.of(1),
      canonical(keys.subarray(33, 66)),
      Uint8Array.of(1),
      canonical(keys.subarray(66, 99)),
    );
    const recovered = kfragSignatureRecovery(
      cfrag.subarray(CFRAG_SIGNATURE, CFRAG_SIGNATURE + 64),
      message,
      verifyingKey.point,
    );
    if (recovered === undefined) return { correct: false, defect: "KFRAG_SIGNATURE", challenge: h };
    recoveryId = recovered;
    return { correct: true, challenge: h };
  })();

  const bytes = concatBytes(
    capsule,
    cfrag,
    keys,
    ...yWords.map(word),
    ...products.map(affineWords),
    Uint8Array.of(recoveryId),
  );
  return { bytes, capsule, cfrag, keys, ...verdict };
}
