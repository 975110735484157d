import { bytesToHex, concatBytes } from "@noble/hashes/utils.js";
import {
  CurvePoint,
  GENERATOR,
  currentBackend,
  modN,
  randomNonZeroScalar,
  scalarFromBytes,
  scalarToBytes,
} from "./curve";
import { demKey, open, seal } from "./dem";
import { PreError } from "./errors";
import { hashCapsulePoints } from "./hash";
import type { PublicKey, SecretKey } from "./keys";
import { MsgReader, encode, splitExact } from "./msgpack";

/**
 * The encapsulated key of one message: points E = r·G, V = u·G and s = u + r·H(E, V).
 * Every Capsule in memory has passed the self-check s·G = V + H(E, V)·E.
 */
export class Capsule {
  static readonly SIMPLE_SIZE = 98;

  private constructor(
    /** @internal */ readonly e: CurvePoint,
    /** @internal */ readonly v: CurvePoint,
    /** @internal */ readonly s: bigint,
  ) {}

  private static checked(e: CurvePoint, v: CurvePoint, s: bigint): Capsule {
    const h = hashCapsulePoints(e, v);
    // s·G − h·E = V; public data, so variable-time arithmetic is fine
    if (!currentBackend().mulAddEqualsPublic(GENERATOR, s, e, modN(-h), v)) {
      throw new PreError("CAPSULE_VERIFICATION_FAILED", "Capsule self-verification failed");
    }
    return new Capsule(e, v, s);
  }

  /** @internal a fresh capsule for `pk` and the shared point it encapsulates */
  static fromPublicKey(pk: PublicKey): { capsule: Capsule; sharedPoint: CurvePoint } {
    const backend = currentBackend();
    const r = randomNonZeroScalar();
    const u = randomNonZeroScalar();
    const e = backend.mulBase(r);
    const v = backend.mulBase(u);
    const h = hashCapsulePoints(e, v);
    const capsule = new Capsule(e, v, modN(u + r * h));
    return { capsule, sharedPoint: backend.mul(pk.point, modN(r + u)) };
  }

  /** @internal (E + V)·sk, the shared point as the delegating key's owner sees it */
  openOriginal(sk: SecretKey): CurvePoint {
    const backend = currentBackend();
    return backend.mul(backend.add(this.e, this.v), sk.scalar);
  }

  /** MessagePack [E, V, s] (105 bytes); verifies the capsule */
  static fromBytes(bytes: Uint8Array): Capsule {
    const r = new MsgReader(bytes, "Capsule");
    r.array(3);
    const e = r.bin(33);
    const v = r.bin(33);
    const s = r.bin(32);
    r.end();
    return Capsule.fromParts(e, v, s);
  }

  /** E ‖ V ‖ s (98 bytes); verifies the capsule */
  static fromBytesSimple(bytes: Uint8Array): Capsule {
    const [e, v, s] = splitExact(bytes, [33, 33, 32], "Capsule");
    return Capsule.fromParts(e, v, s);
  }

  private static fromParts(e: Uint8Array, v: Uint8Array, s: Uint8Array): Capsule {
    return Capsule.checked(
      CurvePoint.fromBytes(e, "Capsule.E"),
      CurvePoint.fromBytes(v, "Capsule.V"),
      scalarFromBytes(s, "Capsule.s"),
    );
  }

  toBytes(): Uint8Array {
    return encode([this.e.toBytes(), this.v.toBytes(), scalarToBytes(this.s)]);
  }

  /** E ‖ V ‖ s, 98 bytes: the form the contracts read */
  toBytesSimple(): Uint8Array {
    return concatBytes(this.e.toBytes(), this.v.toBytes(), scalarToBytes(this.s));
  }

  equals(other: Capsule): boolean {
    return this.e.equals(other.e) && this.v.equals(other.v) && this.s === other.s;
  }

  toString(): string {
    return `Capsule:${bytesToHex(this.toBytesSimple()).slice(0, 16)}`;
  }
}

/** encrypts `plaintext` to `delegatingPk`; returns the capsule and nonce ‖ ciphertext ‖ tag */
export function encrypt(delegatingPk: PublicKey, plaintext: Uint8Array): [Capsule, Uint8Array] {
  const { capsule, sharedPoint } = Capsule.fromPublicKey(delegatingPk);
  return [capsule, seal(demKey(sharedPoint), plaintext, capsule.toBytesSimple())];
}

/** decrypts a ciphertext made by `encrypt` with the delegating secret key */
export function decryptOriginal(
  delegatingSk: SecretKey,
  capsule: Capsule,
  ciphertext: Uint8Array,
): Uint8Array {
  return open(demKey(capsule.openOriginal(delegatingSk)), ciphertext, capsule.toBytesSimple());
}
