/**
 * Signing and verifying protocol messages. Owners and recipients sign with their Umbral
 * signer (ECDSA over SHA-256 of the signing payload, 64-byte r‖s); nodes sign with their
 * operator key over keccak256 of the payload (65-byte r‖s‖v, v ∈ {27, 28}), so a contract can
 * `ecrecover` a node's signature.
 */
import { computeAddress, getAddress, hexlify, verifyMessage } from "ethers";
import { keccak_256 } from "@noble/hashes/sha3.js";
import path from "node:path";
import secp256k1 from "secp256k1";
import { PublicKey, Signature, Signer } from "../pre";
import { addonEcdsaSignRecoverable, ORDER } from "../pre/curve";
import { encode, signingPayload, type MessageType } from "./codec";
import { BadSignatureError } from "./errors";

/**
 * The text a policy owner signs with its Ethereum account (EIP-191 personal message) to bind
 * its Umbral keys to the policy on chain: the node recovers the signer and compares it with
 * PolicyManager's owner of the policy.
 */
export function ownerBindingMessage(share: {
  policyId: Uint8Array;
  node: string;
  ownerVerifyingKey: Uint8Array;
  delegatingKey: Uint8Array;
  recipientVerifyingKey: Uint8Array;
}): string {
  return [
    "NKMS policy share binding v1",
    `policy ${hexlify(share.policyId)}`,
    `node ${getAddress(share.node)}`,
    `owner key ${hexlify(share.ownerVerifyingKey)}`,
    `delegating key ${hexlify(share.delegatingKey)}`,
    `recipient key ${hexlify(share.recipientVerifyingKey)}`,
  ].join("\n");
}

/** The address that made a share's owner binding (compare with the on-chain policy owner). */
export function recoverOwnerBinding(
  share: Parameters<typeof ownerBindingMessage>[0] & { ownerBinding: Uint8Array },
): string {
  try {
    return verifyMessage(ownerBindingMessage(share), hexlify(share.ownerBinding));
  } catch {
    throw new BadSignatureError("PolicyShare", "malformed owner binding signature");
  }
}

interface KeccakState {
  initialize(rate: number, capacity: number): void;
  absorb(data: Buffer): void;
  absorbLastFewBits(bits: number): void;
  squeeze(length: number): Buffer;
}

/**
 * The `keccak` package's native sponge (a prebuilt addon, ~10× faster than JavaScript on the
 * node's hot path: several hashes per re-encryption), or undefined where it does not load.
 */
const nativeKeccak: KeccakState | undefined = (() => {
  try {
    // the addon itself, not the package index (which falls back to JavaScript silently)
    const dir = path.dirname(require.resolve("keccak/package.json"));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require(require.resolve("node-gyp-build", { paths: [dir] })) as (
      dir: string,
    ) => new () => KeccakState;
    const State = load(dir);
    return new State();
  } catch {
    return undefined;
  }
})();

/** @internal which keccak implementation is in use */
export const keccakEngine: "native" | "noble" = nativeKeccak ? "native" : "noble";

/** keccak-256 of bytes, as bytes (no hex round trip: nodes hash on every request). */
export function keccak(bytes: Uint8Array): Uint8Array {
  if (!nativeKeccak) return keccak_256(bytes);
  // Keccak-256: rate 1088 bits, capacity 512, the original padding (0x01), 32 bytes out
  nativeKeccak.initialize(1088, 512);
  nativeKeccak.absorb(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  nativeKeccak.absorbLastFewBits(0x01);
  return new Uint8Array(nativeKeccak.squeeze(32));
}

/** keccak256 of the full encoding: the identity of a message (receipts and logs point to it). */
export function messageHash<T>(type: MessageType<T>, value: T): Uint8Array {
  return keccak(encode(type, value));
}

/** The digest an operator signature of this message is made over. */
export function operatorDigest<T>(type: MessageType<T>, value: T): Uint8Array {
  return keccak(signingPayload(type, value));
}

/** A node's operator key held in memory; signs with libsecp256k1. */
export class OperatorKey {
  readonly address: string;
  readonly publicKey: Uint8Array;
  private readonly secret: Uint8Array;

  constructor(privateKey: Uint8Array) {
    if (privateKey.length !== 32 || !secp256k1.privateKeyVerify(privateKey)) {
      throw new TypeError("operator key must be a valid 32-byte secp256k1 secret");
    }
    this.secret = Uint8Array.from(privateKey);
    this.publicKey = secp256k1.publicKeyCreate(this.secret, true);
    this.address = computeAddress(hexlify(this.publicKey));
  }

  /**
   * 65 bytes r‖s‖v (v = 27 + recovery id) over a 32-byte digest: RFC 6979 nonce, low s. In
   * nkms/pre's addon when it is loaded (byte-identical, constant-time, ~15 % less CPU), else
   * with the `secp256k1` package.
   */
  signDigest(digest: Uint8Array): Uint8Array {
    if (addonEcdsaSignRecoverable) {
      const out = addonEcdsaSignRecoverable(digest, this.secret);
      out[64] += 27;
      return out;
    }
    const { signature, recid } = secp256k1.ecdsaSign(digest, this.secret);
    const out = new Uint8Array(65);
    out.set(signature, 0);
    out[64] = 27 + recid;
    return out;
  }

  /** Fills `value.signature` (the type's signature field) and returns the signed message. */
  sign<T>(type: MessageType<T>, value: Omit<T, "signature">): T {
    const unsigned = { ...value, signature: new Uint8Array(65) } as T;
    return { ...unsigned, signature: this.signDigest(operatorDigest(type, unsigned)) };
  }
}

/** The address that signed this operator-signed message; BadSignatureError if none can. */
export function recoverOperator<T extends { signature: Uint8Array }>(type: MessageType<T>, value: T): string {
  const signer = recoverDigestSigner(operatorDigest(type, value), value.signature);
  if (!signer) throw new BadSignatureError(type.name, "malformed operator signature");
  return signer;
}

const HALF_ORDER = ORDER >> 1n;

/**
 * The Ethereum address whose key made this 65-byte r‖s‖v signature (v ∈ {27, 28}, low s, as
 * OperatorKey signs and OpenZeppelin's ECDSA accepts) over `digest`, or undefined if it is
 * malformed. Recovery runs in libsecp256k1 (JavaScript recovery costs milliseconds, and a
 * client checks a node's signature on every answer).
 */
export function recoverDigestSigner(digest: Uint8Array, signature: Uint8Array): string | undefined {
  if (signature.length !== 65 || (signature[64] !== 27 && signature[64] !== 28)) return undefined;
  if (BigInt(hexlify(signature.subarray(32, 64))) > HALF_ORDER) return undefined;
  let publicKey: Uint8Array;
  try {
    publicKey = secp256k1.ecdsaRecover(signature.subarray(0, 64), signature[64] - 27, digest, false);
  } catch {
    return undefined; // r or s out of range, or no point with this r
  }
  return getAddress(hexlify(keccak(publicKey.subarray(1)).subarray(12)));
}

/** Checks that `expectedOperator` signed this message. */
export function verifyOperator<T extends { signature: Uint8Array }>(
  type: MessageType<T>,
  value: T,
  expectedOperator: string,
): void {
  if (recoverOperator(type, value) !== getAddress(expectedOperator)) {
    throw new BadSignatureError(type.name, `not signed by operator ${expectedOperator}`);
  }
}

/** Signs with an Umbral signer (owner or recipient). */
export function signUmbral<T>(type: MessageType<T>, value: Omit<T, "signature">, signer: Signer): T {
  const unsigned = { ...value, signature: new Uint8Array(64) } as T;
  return { ...unsigned, signature: signer.sign(signingPayload(type, unsigned)).toBEBytes() };
}

/** Checks an Umbral signature of this message against a compressed verifying key. */
export function verifyUmbral<T extends { signature: Uint8Array }>(
  type: MessageType<T>,
  value: T,
  verifyingKey: Uint8Array,
): void {
  let ok = false;
  try {
    const key = PublicKey.fromCompressedBytes(verifyingKey);
    ok = Signature.fromBEBytes(value.signature).verify(key, signingPayload(type, value));
  } catch {
    throw new BadSignatureError(type.name, "malformed signature or verifying key");
  }
  if (!ok) throw new BadSignatureError(type.name, "signature does not match the verifying key");
}
