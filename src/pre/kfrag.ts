import { equalBytes } from "@noble/curves/utils.js";
import { bytesToHex, concatBytes } from "@noble/hashes/utils.js";
import {
  CurvePoint,
  POINT_U,
  currentBackend,
  invertScalar,
  modN,
  randomNonZeroScalar,
  scalarFromBytes,
  secureRandomBytes,
  scalarToBytes,
} from "./curve";
import { PreError } from "./errors";
import { hashToPolynomialArg, hashToSharedSecret } from "./hash";
import { type PublicKey, type SecretKey, Signature, type Signer } from "./keys";
import { MsgReader, encode } from "./msgpack";

export const KFRAG_ID_SIZE = 32;
/** the largest share count generateKFrags accepts (the reference has no limit) */
export const MAX_SHARES = 255;

/** id ‖ commitment ‖ precursor ‖ (01 ‖ delegating key | 00) ‖ (01 ‖ receiving key | 00) */
export function kfragSignatureMessage(
  kfragId: Uint8Array,
  commitment: CurvePoint,
  precursor: CurvePoint,
  delegatingPk: PublicKey | null,
  receivingPk: PublicKey | null,
): Uint8Array {
  const optional = (pk: PublicKey | null): Uint8Array =>
    pk ? concatBytes(new Uint8Array([1]), pk.toBytes()) : new Uint8Array([0]);
  return concatBytes(
    kfragId,
    commitment.toBytes(),
    precursor.toBytes(),
    optional(delegatingPk),
    optional(receivingPk),
  );
}

/**
 * A re-encryption key fragment. `signatureForProxy` signs the message with only the keys the
 * owner chose to sign; `signatureForReceiver` always signs both keys and travels in cfrags.
 */
export class KeyFrag {
  /** @internal use fromBytes, generateKFrags or reencrypt */
  constructor(
    /** @internal */ readonly id: Uint8Array,
    /** @internal */ readonly key: bigint,
    /** @internal */ readonly precursor: CurvePoint,
    /** @internal */ readonly commitment: CurvePoint,
    /** @internal */ readonly signatureForProxy: Signature,
    /** @internal */ readonly signatureForReceiver: Signature,
    /** @internal */ readonly delegatingKeySigned: boolean,
    /** @internal */ readonly receivingKeySigned: boolean,
  ) {}

  /**
   * Checks the commitment U·key and the owner's signature. Pass the delegating and receiving
   * keys when the kfrag was made with them signed (null otherwise).
   */
  verify(
    verifyingPk: PublicKey,
    delegatingPk: PublicKey | null = null,
    receivingPk: PublicKey | null = null,
  ): VerifiedKeyFrag {
    if (!currentBackend().mul(POINT_U, this.key).equals(this.commitment)) {
      throw new PreError("KFRAG_COMMITMENT_INVALID", "Invalid kfrag commitment");
    }
    if (this.delegatingKeySigned && !delegatingPk) {
      throw new PreError(
        "KFRAG_DELEGATING_KEY_NOT_PROVIDED",
        "A signature of a delegating key was included in this kfrag but the key is not provided",
      );
    }
    if (this.receivingKeySigned && !receivingPk) {
      throw new PreError(
        "KFRAG_RECEIVING_KEY_NOT_PROVIDED",
        "A signature of a receiving key was included in this kfrag, but the key is not provided",
      );
    }
    const message = kfragSignatureMessage(
      this.id,
      this.commitment,
      this.precursor,
      this.delegatingKeySigned ? delegatingPk : null,
      this.receivingKeySigned ? receivingPk : null,
    );
    if (!this.signatureForProxy.verify(verifyingPk, message)) {
      throw new PreError("KFRAG_SIGNATURE_INVALID", "Failed to verify the kfrag signature");
    }
    // Stricter than the reference: with both keys at hand, also check the signature the
    // cfrags will carry, so a proxy never accepts a kfrag whose cfrags would fail at the
    // receiver (and could be blamed on the proxy).
    if (
      delegatingPk &&
      receivingPk &&
      !this.signatureForReceiver.verify(
        verifyingPk,
        kfragSignatureMessage(this.id, this.commitment, this.precursor, delegatingPk, receivingPk),
      )
    ) {
      throw new PreError("KFRAG_SIGNATURE_INVALID", "The kfrag's signature for the receiver does not verify");
    }
    return new VerifiedKeyFrag(this, verifiedToken);
  }

  /** for kfrags verified earlier (e.g. read back from the node's own store): no checks */
  skipVerification(): VerifiedKeyFrag {
    return new VerifiedKeyFrag(this, verifiedToken);
  }

  /** MessagePack [[U], id, key, precursor, [commitment, sigProxy, sigReceiver, dSigned, rSigned]] (310 bytes) */
  toBytes(): Uint8Array {
    return encode([
      [POINT_U.toBytes()],
      this.id,
      scalarToBytes(this.key),
      this.precursor.toBytes(),
      [
        this.commitment.toBytes(),
        this.signatureForProxy.toBytes(),
        this.signatureForReceiver.toBytes(),
        this.delegatingKeySigned,
        this.receivingKeySigned,
      ],
    ]);
  }

  static fromBytes(bytes: Uint8Array): KeyFrag {
    const r = new MsgReader(bytes, "KeyFrag");
    r.array(5);
    r.array(1);
    const u = r.bin(33);
    const id = r.bin(KFRAG_ID_SIZE);
    const key = r.bin(32);
    const precursor = r.bin(33);
    r.array(5);
    const commitment = r.bin(33);
    const sigProxy = r.bin(64);
    const sigReceiver = r.bin(64);
    const delegatingKeySigned = r.bool();
    const receivingKeySigned = r.bool();
    r.end();
    if (!CurvePoint.fromBytes(u, "KeyFrag.params.u").equals(POINT_U)) {
      throw new PreError("INVALID_PARAMETERS", "KeyFrag: parameters differ from the standard point U");
    }
    return new KeyFrag(
      id,
      scalarFromBytes(key, "KeyFrag.key"),
      CurvePoint.fromBytes(precursor, "KeyFrag.precursor"),
      CurvePoint.fromBytes(commitment, "KeyFrag.commitment"),
      Signature.fromBytes(sigProxy),
      Signature.fromBytes(sigReceiver),
      delegatingKeySigned,
      receivingKeySigned,
    );
  }

  equals(other: KeyFrag): boolean {
    return equalBytes(this.toBytes(), other.toBytes());
  }

  toString(): string {
    return `KeyFrag:${bytesToHex(this.id).slice(0, 16)}`;
  }
}

const verifiedToken = Symbol("verified");

/** a KeyFrag that passed `verify` (or was explicitly trusted); only these can re-encrypt */
export class VerifiedKeyFrag {
  /** @internal */
  constructor(
    readonly kfrag: KeyFrag,
    token: symbol,
  ) {
    if (token !== verifiedToken) throw new TypeError("VerifiedKeyFrag is made by KeyFrag.verify");
  }

  toBytes(): Uint8Array {
    return this.kfrag.toBytes();
  }

  /** the plain KeyFrag, e.g. to send it on */
  unverify(): KeyFrag {
    return this.kfrag;
  }

  equals(other: VerifiedKeyFrag): boolean {
    return this.kfrag.equals(other.kfrag);
  }

  toString(): string {
    return `Verified${this.kfrag.toString()}`;
  }
}

/**
 * Splits the re-encryption key from `delegatingSk` to `receivingPk` into `shares` kfrags,
 * any `threshold` of which suffice. 1 ≤ threshold ≤ shares ≤ 255.
 */
export function generateKFrags(
  delegatingSk: SecretKey,
  receivingPk: PublicKey,
  signer: Signer,
  threshold: number,
  shares: number,
  signDelegatingKey: boolean,
  signReceivingKey: boolean,
): VerifiedKeyFrag[] {
  if (!Number.isInteger(threshold) || !Number.isInteger(shares) || threshold < 1 || threshold > shares) {
    throw new PreError(
      "INVALID_ARGUMENT",
      `need 1 ≤ threshold ≤ shares, got threshold ${threshold}, shares ${shares}`,
    );
  }
  if (shares > MAX_SHARES)
    throw new PreError("INVALID_ARGUMENT", `at most ${MAX_SHARES} shares, got ${shares}`);
  const backend = currentBackend();
  const delegatingPk = delegatingSk.publicKey();
  const receivingPoint = receivingPk.point;

  // the precursor is an ephemeral DH key with the receiver; the DH point feeds d and the x's
  const precursorSk = randomNonZeroScalar();
  const precursor = backend.mulBase(precursorSk);
  const dh = backend.mul(receivingPoint, precursorSk);
  const d = hashToSharedSecret(precursor, receivingPoint, dh);

  const coefficients = [modN(delegatingSk.scalar * invertScalar(d))];
  for (let i = 1; i < threshold; i++) coefficients.push(randomNonZeroScalar());

  const kfrags: VerifiedKeyFrag[] = [];
  for (let i = 0; i < shares; i++) {
    const id = secureRandomBytes(KFRAG_ID_SIZE);
    const x = hashToPolynomialArg(precursor, receivingPoint, dh, id);
    let key = 0n;
    for (let j = coefficients.length - 1; j >= 0; j--) key = modN(key * x + coefficients[j]);
    const commitment = backend.mul(POINT_U, key);
    const signatureForReceiver = signer.sign(
      kfragSignatureMessage(id, commitment, precursor, delegatingPk, receivingPk),
    );
    const signatureForProxy = signer.sign(
      kfragSignatureMessage(
        id,
        commitment,
        precursor,
        signDelegatingKey ? delegatingPk : null,
        signReceivingKey ? receivingPk : null,
      ),
    );
    const kfrag = new KeyFrag(
      id,
      key,
      precursor,
      commitment,
      signatureForProxy,
      signatureForReceiver,
      signDelegatingKey,
      signReceivingKey,
    );
    kfrags.push(kfrag.skipVerification());
  }
  return kfrags;
}
