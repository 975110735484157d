/**
 * Shared by the Adjudicator and evidence tests: cfrags from the reference implementation
 * (@nucypher/umbral-pre, test-only), its verdict on arbitrary cfrag bytes, and corruptions.
 */
import * as umbral from "@nucypher/umbral-pre";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToNumberBE, numberToBytesBE } from "@noble/curves/utils.js";
import { concatBytes, hexToBytes } from "@noble/hashes/utils.js";
import { sha256 } from "@noble/hashes/sha2.js";
import vectors from "../vectors/umbral/vectors_kfrags_cfrags.json";
import parameters from "../vectors/umbral/vectors_parameters.json";

export const FIELD_P = secp256k1.Point.Fp.ORDER;
export const ORDER_N = secp256k1.Point.Fn.ORDER;

/** The inputs of one cfrag's evidence, simple forms. */
export interface CFragCase {
  readonly capsule: Uint8Array;
  readonly cfrag: Uint8Array;
  readonly verifyingKey: Uint8Array;
  readonly delegatingKey: Uint8Array;
  readonly receivingKey: Uint8Array;
}

/** Every cfrag of the known-answer vectors (18 of them). */
export function vectorCases(): CFragCase[] {
  return vectors.cases.flatMap((c) =>
    c.frags.map((f) => ({
      capsule: hexToBytes(vectors.capsule_simple),
      cfrag: hexToBytes(f.cfrag_simple),
      verifyingKey: hexToBytes(vectors.verifying_pk),
      delegatingKey: hexToBytes(vectors.delegating_pk),
      receivingKey: hexToBytes(vectors.receiving_pk),
    })),
  );
}

/** Fresh cfrags made by the reference: one capsule, `shares` kfrags, one cfrag each. */
export function referenceCases(shares: number): CFragCase[] {
  const delegating = umbral.SecretKey.random();
  const receiving = umbral.SecretKey.random();
  const signer = new umbral.Signer(umbral.SecretKey.random());
  const [capsule] = umbral.encrypt(delegating.publicKey(), new TextEncoder().encode("evidence"));
  const kfrags = umbral.generateKFrags(delegating, receiving.publicKey(), signer, 1, shares, true, true);
  return kfrags.map((kfrag) => ({
    capsule: capsule.toBytesSimple(),
    cfrag: umbral.reencrypt(capsule, kfrag).toBytesSimple(),
    verifyingKey: signer.verifyingKey().toCompressedBytes(),
    delegatingKey: delegating.publicKey().toCompressedBytes(),
    receivingKey: receiving.publicKey().toCompressedBytes(),
  }));
}

/**
 * What a cheating node can make without the owner: a kfrag of its own for the policy's capsule
 * and recipient, signed by its own key. The cfrag's proof equations hold; its kfrag signature
 * does not verify under the owner's verifying key.
 */
export function selfMadeCFrag(c: CFragCase): Uint8Array {
  const capsule = umbral.Capsule.fromBytes(capsuleMsgpack(c.capsule));
  const ownKey = umbral.SecretKey.random();
  const ownSigner = new umbral.Signer(umbral.SecretKey.random());
  const receiving = umbral.PublicKey.fromCompressedBytes(c.receivingKey);
  const [kfrag] = umbral.generateKFrags(ownKey, receiving, ownSigner, 1, 1, true, true);
  return umbral.reencrypt(capsule, kfrag).toBytesSimple();
}

const bin = (b: Uint8Array) => concatBytes(Uint8Array.of(0xc4, b.length), b);

/** The reference only reads MessagePack; this rebuilds it from the simple forms. */
function capsuleMsgpack(simple: Uint8Array): Uint8Array {
  return concatBytes(
    Uint8Array.of(0x93),
    bin(simple.subarray(0, 33)),
    bin(simple.subarray(33, 66)),
    bin(simple.subarray(66)),
  );
}

export function cfragMsgpack(simple: Uint8Array): Uint8Array {
  const at = (o: number, l: number) => bin(simple.subarray(o, o + l));
  return concatBytes(
    Uint8Array.of(0x95),
    at(0, 33),
    at(33, 33),
    at(66, 32),
    at(98, 33),
    Uint8Array.of(0x96),
    at(131, 33),
    at(164, 33),
    at(197, 33),
    at(230, 33),
    at(263, 32),
    at(295, 64),
  );
}

/** The reference's verdict: the cfrag decodes and verifies against the capsule and keys. */
export function referenceVerdict(c: CFragCase): boolean {
  try {
    const capsule = umbral.Capsule.fromBytes(capsuleMsgpack(c.capsule));
    const cfrag = umbral.CapsuleFrag.fromBytes(cfragMsgpack(c.cfrag));
    cfrag.verify(
      capsule,
      umbral.PublicKey.fromCompressedBytes(c.verifyingKey),
      umbral.PublicKey.fromCompressedBytes(c.delegatingKey),
      umbral.PublicKey.fromCompressedBytes(c.receivingKey),
    );
    return true;
  } catch {
    return false;
  }
}

/** Fields of the cfrag simple form: [offset, length]. */
export const CFRAG_FIELDS = {
  e1: [0, 33],
  v1: [33, 33],
  kfragId: [66, 32],
  precursor: [98, 33],
  e2: [131, 33],
  v2: [164, 33],
  u1: [197, 33],
  u2: [230, 33],
  z: [263, 32],
  kfragSignatureR: [295, 32],
  kfragSignatureS: [327, 32],
} as const;
export type CFragField = keyof typeof CFRAG_FIELDS;
export const POINT_FIELDS = ["e1", "v1", "precursor", "e2", "v2", "u1", "u2"] as const;

export function withField(cfrag: Uint8Array, field: CFragField, value: Uint8Array): Uint8Array {
  const [offset, length] = CFRAG_FIELDS[field];
  if (value.length !== length) throw new Error(`${field} takes ${length} bytes`);
  const out = Uint8Array.from(cfrag);
  out.set(value, offset);
  return out;
}

export function field(cfrag: Uint8Array, name: CFragField): Uint8Array {
  const [offset, length] = CFRAG_FIELDS[name];
  return cfrag.subarray(offset, offset + length);
}

/** A valid compressed point nobody knows the relation of to the cfrag's points. */
export function randomPoint(): Uint8Array {
  return secp256k1.Point.BASE.multiply(bytesToNumberBE(secp256k1.utils.randomSecretKey())).toBytes(true);
}

/** A well-formed x that is no point's x (x³ + 7 not a square), compressed with prefix 02. */
export function notOnCurve(): Uint8Array {
  const Fp = secp256k1.Point.Fp;
  for (let x = 5n; ; x++) {
    const rhs = Fp.add(Fp.mul(Fp.sqr(x), x), 7n);
    if (Fp.pow(rhs, (FIELD_P - 1n) / 2n) !== 1n) return concatBytes(Uint8Array.of(2), numberToBytesBE(x, 32));
  }
}

/** A valid compressed point whose x is ≥ n (ecrecover cannot take it as r). */
export function pointWithLargeX(): Uint8Array {
  const Fp = secp256k1.Point.Fp;
  for (let x = ORDER_N + 1n; ; x++) {
    const rhs = Fp.add(Fp.mul(Fp.sqr(x), x), 7n);
    if (Fp.pow(rhs, (FIELD_P - 1n) / 2n) === 1n) return concatBytes(Uint8Array.of(3), numberToBytesBE(x, 32));
  }
}

export const scalarBytes = (k: bigint): Uint8Array => numberToBytesBE(k, 32);

/**
 * A cfrag made the way a node makes one (random t, z = t + h·rk), except that `point` uses
 * another key than rk: the other two equations hold, this one does not.
 */
export function proofWithOtherKey(c: CFragCase, point: "v1" | "u1"): Uint8Array {
  const P = secp256k1.Point;
  const [e, v, u] = [
    c.capsule.subarray(0, 33),
    c.capsule.subarray(33, 66),
    hexToBytes(parameters.u_compressed),
  ].map((b) => P.fromBytes(b));
  const [rk, other, t] = [3n, 5n, 7n].map((k) => k * 0x1234567890abcdefn);
  const e1 = e.multiply(rk);
  const v1 = v.multiply(point === "v1" ? other : rk);
  const u1 = u.multiply(point === "u1" ? other : rk);
  const [e2, v2, u2] = [e, v, u].map((q) => q.multiply(t));
  const tag = new TextEncoder().encode("CFRAG_VERIFICATION");
  const digest = sha256(
    concatBytes(
      Uint8Array.of(0, 0, 0, tag.length),
      tag,
      ...[e, e1, e2, v, v1, v2, u, u1, u2].map((q) => q.toBytes(true)),
    ),
  );
  const h = (scalarOf(digest) % (ORDER_N - 1n)) + 1n;
  let cfrag = c.cfrag;
  for (const [name, q] of [
    ["e1", e1],
    ["v1", v1],
    ["u1", u1],
    ["e2", e2],
    ["v2", v2],
    ["u2", u2],
  ] as const) {
    cfrag = withField(cfrag, name, q.toBytes(true));
  }
  return withField(cfrag, "z", scalarBytes((t + h * rk) % ORDER_N));
}

export const scalarOf = (b: Uint8Array): bigint => bytesToNumberBE(b);
