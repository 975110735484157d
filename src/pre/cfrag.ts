import { equalBytes } from "@noble/curves/utils.js";
import { bytesToHex, concatBytes } from "@noble/hashes/utils.js";
import { Capsule } from "./capsule";
import {
  CurvePoint,
  POINT_U,
  currentBackend,
  invertScalar,
  invertScalars,
  modN,
  randomNonZeroScalar,
  scalarFromBytes,
  scalarToBytes,
} from "./curve";
import { demKey, open } from "./dem";
import { PreError } from "./errors";
import { hashCapsulePoints, hashToCFragVerification, hashToPolynomialArg, hashToSharedSecret } from "./hash";
import { KFRAG_ID_SIZE, kfragSignatureMessage, type VerifiedKeyFrag } from "./kfrag";
import { type PublicKey, type SecretKey, Signature } from "./keys";
import { MsgReader, encode, splitExact } from "./msgpack";

/**
 * One proxy's re-encryption of a capsule: e1 = rk·E, v1 = rk·V, and a proof that the same
 * rk as in the kfrag commitment u1 = rk·U was used (points e2, v2, u2 = t·E, t·V, t·U and
 * z = t + h·rk with h = H(E, e1, e2, V, v1, v2, U, u1, u2)), plus the owner's kfrag signature.
 */
export class CapsuleFrag {
  static readonly SIMPLE_SIZE = 359;

  /** @internal use fromBytes, generateKFrags or reencrypt */
  constructor(
    /** @internal */ readonly e1: CurvePoint,
    /** @internal */ readonly v1: CurvePoint,
    /** @internal */ readonly kfragId: Uint8Array,
    /** @internal */ readonly precursor: CurvePoint,
    /** @internal */ readonly e2: CurvePoint,
    /** @internal */ readonly v2: CurvePoint,
    /** @internal */ readonly u1: CurvePoint,
    /** @internal */ readonly u2: CurvePoint,
    /** @internal */ readonly z: bigint,
    /** @internal */ readonly kfragSignature: Signature,
  ) {}

  /** @internal the challenge h of the proof */
  challenge(capsule: Capsule): bigint {
    return hashToCFragVerification([
      capsule.e,
      this.e1,
      this.e2,
      capsule.v,
      this.v1,
      this.v2,
      POINT_U,
      this.u1,
      this.u2,
    ]);
  }

  /** @internal true when the owner's signature over the kfrag fields verifies */
  signatureValid(verifyingPk: PublicKey, delegatingPk: PublicKey, receivingPk: PublicKey): boolean {
    const message = kfragSignatureMessage(this.kfragId, this.u1, this.precursor, delegatingPk, receivingPk);
    return this.kfragSignature.verify(verifyingPk, message);
  }

  /**
   * Checks the kfrag signature and the re-encryption proof against `capsule` and the three
   * keys of the grant.
   */
  verify(
    capsule: Capsule,
    verifyingPk: PublicKey,
    delegatingPk: PublicKey,
    receivingPk: PublicKey,
  ): VerifiedCapsuleFrag {
    if (!this.signatureValid(verifyingPk, delegatingPk, receivingPk)) {
      throw new PreError("CFRAG_SIGNATURE_INVALID", "Invalid CapsuleFrag signature");
    }
    const backend = currentBackend();
    const minusH = modN(-this.challenge(capsule));
    // z·X − h·x1 = x2 for X ∈ {E, V, U}; all public, so variable-time
    const ok =
      backend.mulAddPublic(capsule.e, this.z, this.e1, minusH).equals(this.e2) &&
      backend.mulAddPublic(capsule.v, this.z, this.v1, minusH).equals(this.v2) &&
      backend.mulAddPublic(POINT_U, this.z, this.u1, minusH).equals(this.u2);
    if (!ok) throw new PreError("CFRAG_PROOF_INVALID", "Failed to verify reencryption proof");
    return new VerifiedCapsuleFrag(this, verifiedToken);
  }

  /** for cfrags verified earlier: no checks */
  skipVerification(): VerifiedCapsuleFrag {
    return new VerifiedCapsuleFrag(this, verifiedToken);
  }

  private fields(): [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array[]] {
    return [
      this.e1.toBytes(),
      this.v1.toBytes(),
      this.kfragId,
      this.precursor.toBytes(),
      [
        this.e2.toBytes(),
        this.v2.toBytes(),
        this.u1.toBytes(),
        this.u2.toBytes(),
        scalarToBytes(this.z),
        this.kfragSignature.toBytes(),
      ],
    ];
  }

  /** MessagePack [e1, v1, id, precursor, [e2, v2, u1, u2, z, signature]] (381 bytes) */
  toBytes(): Uint8Array {
    return encode(this.fields());
  }

  /** e1 ‖ v1 ‖ id ‖ precursor ‖ e2 ‖ v2 ‖ u1 ‖ u2 ‖ z ‖ signature, 359 bytes: the form the contracts read */
  toBytesSimple(): Uint8Array {
    const [e1, v1, id, precursor, proof] = this.fields();
    return concatBytes(e1, v1, id, precursor, ...proof);
  }

  static fromBytes(bytes: Uint8Array): CapsuleFrag {
    const r = new MsgReader(bytes, "CapsuleFrag");
    r.array(5);
    const head = [r.bin(33), r.bin(33), r.bin(KFRAG_ID_SIZE), r.bin(33)];
    r.array(6);
    const proof = [r.bin(33), r.bin(33), r.bin(33), r.bin(33), r.bin(32), r.bin(64)];
    r.end();
    return CapsuleFrag.fromParts([...head, ...proof]);
  }

  static fromBytesSimple(bytes: Uint8Array): CapsuleFrag {
    return CapsuleFrag.fromParts(splitExact(bytes, [33, 33, 32, 33, 33, 33, 33, 33, 32, 64], "CapsuleFrag"));
  }

  private static fromParts(p: Uint8Array[]): CapsuleFrag {
    return new CapsuleFrag(
      CurvePoint.fromBytes(p[0], "CapsuleFrag.e1"),
      CurvePoint.fromBytes(p[1], "CapsuleFrag.v1"),
      p[2],
      CurvePoint.fromBytes(p[3], "CapsuleFrag.precursor"),
      CurvePoint.fromBytes(p[4], "CapsuleFrag.e2"),
      CurvePoint.fromBytes(p[5], "CapsuleFrag.v2"),
      CurvePoint.fromBytes(p[6], "CapsuleFrag.u1"),
      CurvePoint.fromBytes(p[7], "CapsuleFrag.u2"),
      scalarFromBytes(p[8], "CapsuleFrag.z"),
      Signature.fromBytes(p[9]),
    );
  }

  equals(other: CapsuleFrag): boolean {
    return equalBytes(this.toBytesSimple(), other.toBytesSimple());
  }

  toString(): string {
    return `CapsuleFrag:${bytesToHex(this.kfragId).slice(0, 16)}`;
  }
}

const verifiedToken = Symbol("verified");

/** a CapsuleFrag that passed `verify` (or was explicitly trusted); only these decrypt */
export class VerifiedCapsuleFrag {
  /** @internal */
  constructor(
    readonly cfrag: CapsuleFrag,
    token: symbol,
  ) {
    if (token !== verifiedToken) throw new TypeError("VerifiedCapsuleFrag is made by CapsuleFrag.verify");
  }

  toBytes(): Uint8Array {
    return this.cfrag.toBytes();
  }

  toBytesSimple(): Uint8Array {
    return this.cfrag.toBytesSimple();
  }

  unverify(): CapsuleFrag {
    return this.cfrag;
  }

  equals(other: VerifiedCapsuleFrag): boolean {
    return this.cfrag.equals(other.cfrag);
  }

  toString(): string {
    return `Verified${this.cfrag.toString()}`;
  }
}

/** a proxy's work: re-encrypts `capsule` with one verified kfrag and proves it did so correctly */
export function reencrypt(capsule: Capsule, verifiedKFrag: VerifiedKeyFrag): VerifiedCapsuleFrag {
  const backend = currentBackend();
  const kfrag = verifiedKFrag.kfrag;
  const rk = kfrag.key;
  const t = randomNonZeroScalar();
  // rk·E, rk·V, t·E, t·V, t·U in one constant-time call
  const [e1, v1, e2, v2, u2] = backend.mulMany(
    [capsule.e, capsule.v, POINT_U],
    [rk, t],
    [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
      [2, 1],
    ],
  );
  const u1 = kfrag.commitment;
  const h = hashToCFragVerification([capsule.e, e1, e2, capsule.v, v1, v2, POINT_U, u1, u2]);
  const z = modN(t + h * rk);
  const cfrag = new CapsuleFrag(
    e1,
    v1,
    kfrag.id,
    kfrag.precursor,
    e2,
    v2,
    u1,
    u2,
    z,
    kfrag.signatureForReceiver,
  );
  return cfrag.skipVerification();
}

/** @internal the shared point from `threshold` or more verified cfrags */
export function openReencrypted(
  receivingSk: SecretKey,
  delegatingPk: PublicKey,
  capsule: Capsule,
  cfrags: readonly CapsuleFrag[],
): CurvePoint {
  if (cfrags.length === 0) throw new PreError("NO_CFRAGS", "no CapsuleFrags given");
  const precursor = cfrags[0].precursor;
  if (!cfrags.every((c) => c.precursor.equals(precursor))) {
    throw new PreError("CFRAGS_MISMATCHED", "CapsuleFrags are not pairwise consistent");
  }
  const backend = currentBackend();
  const receivingPoint = receivingSk.publicKey().point;
  const dh = backend.mul(precursor, receivingSk.scalar);
  const xs = cfrags.map((c) => hashToPolynomialArg(precursor, receivingPoint, dh, c.kfragId));
  if (new Set(xs).size !== xs.length) {
    throw new PreError("CFRAGS_REPEATED", "Some of the CapsuleFrags are repeated");
  }
  // Lagrange coefficients at 0: λᵢ = Π_{j≠i} xⱼ / (xⱼ − xᵢ), with one batched inversion
  const denominators: bigint[] = [];
  for (let i = 0; i < xs.length; i++) {
    let den = 1n;
    for (let j = 0; j < xs.length; j++) if (j !== i) den = modN(den * (xs[j] - xs[i]));
    denominators.push(den);
  }
  const inverses = invertScalars(denominators);
  let ePrime = CurvePoint.IDENTITY;
  let vPrime = CurvePoint.IDENTITY;
  for (let i = 0; i < xs.length; i++) {
    let lambda = inverses[i];
    for (let j = 0; j < xs.length; j++) if (j !== i) lambda = modN(lambda * xs[j]);
    ePrime = backend.add(ePrime, backend.mul(cfrags[i].e1, lambda));
    vPrime = backend.add(vPrime, backend.mul(cfrags[i].v1, lambda));
  }
  const d = hashToSharedSecret(precursor, receivingPoint, dh);
  const h = hashCapsulePoints(capsule.e, capsule.v);
  // the reconstruction must satisfy (s/d)·P_delegating = h·E' + V'
  const lhs = backend.mul(delegatingPk.point, modN(capsule.s * invertScalar(d)));
  const rhs = backend.add(backend.mulPublic(ePrime, h), vPrime); // h is public
  if (!lhs.equals(rhs)) {
    throw new PreError(
      "REENCRYPTED_VALIDATION_FAILED",
      "Re-encryption error on open: Internal validation failed",
    );
  }
  return backend.mul(backend.add(ePrime, vPrime), d);
}

/**
 * The receiver's decryption from `threshold` (or more) verified cfrags of the capsule.
 */
export function decryptReencrypted(
  receivingSk: SecretKey,
  delegatingPk: PublicKey,
  capsule: Capsule,
  verifiedCFrags: readonly VerifiedCapsuleFrag[],
  ciphertext: Uint8Array,
): Uint8Array {
  const shared = openReencrypted(
    receivingSk,
    delegatingPk,
    capsule,
    verifiedCFrags.map((v) => v.cfrag),
  );
  return open(demKey(shared), ciphertext, capsule.toBytesSimple());
}
