import { expect } from "chai";
import fc from "fast-check";
import * as umbral from "@nucypher/umbral-pre";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { EVIDENCE_LAYOUT, EVIDENCE_Y_ORDER, buildEvidence } from "../../src/pre/evidence";
import { Capsule, CapsuleFrag, PublicKey, PreError } from "../../src/pre";
import vectors from "../vectors/umbral/vectors_kfrags_cfrags.json";
import {
  ORDER_N,
  cfragMsgpack,
  notOnCurve,
  proofWithOtherKey,
  randomPoint,
  referenceCases,
  referenceVerdict,
  scalarBytes,
  scalarOf,
  vectorCases,
  withField,
} from "../contracts/adjudicator-helpers";

const Fp = secp256k1.Point.Fp;
const word = (bytes: Uint8Array, offset: number) => scalarOf(bytes.subarray(offset, offset + 32));

/** The product at index i (z·E, h·e1, z·V, h·v1, z·U, h·u1), compressed, or "identity". */
function product(bytes: Uint8Array, i: number): string {
  const o = EVIDENCE_LAYOUT.products + 64 * i;
  const [x, y] = [word(bytes, o), word(bytes, o + 32)];
  if (x === 0n && y === 0n) return "identity";
  return secp256k1.Point.fromAffine({ x, y }).toHex(true);
}

/** The reference's own evidence object (MessagePack array of 16): the points we check against. */
function referenceEvidence(hex: string) {
  const bytes = hexToBytes(hex);
  expect(bytes.subarray(0, 3)).to.deep.equal(Uint8Array.of(0xdc, 0x00, 0x10));
  const points: string[] = [];
  let i = 3;
  for (let k = 0; k < 14; k++, i += 35) points.push(bytesToHex(bytes.subarray(i + 2, i + 35)));
  const [, ez, , e1h, , , vz, , v1h, , uz, , u1h] = points;
  const kfragSignatureV = bytes[i + 34] === 0xc3;
  return { ez, e1h, vz, v1h, uz, u1h, kfragSignatureV };
}

describe("PRE evidence for the Adjudicator", () => {
  it("reproduces the reference's precomputed products for every vector cfrag", () => {
    const cases = vectors.cases.flatMap((c) => c.frags);
    for (const [i, c] of vectorCases().entries()) {
      const evidence = buildEvidence(c);
      expect(evidence.correct).to.equal(true);
      expect(evidence.bytes.length).to.equal(EVIDENCE_LAYOUT.length);
      const ref = referenceEvidence(cases[i].reencryption_evidence);
      expect([0, 1, 2, 3, 4, 5].map((k) => product(evidence.bytes, k))).to.deep.equal([
        ref.ez,
        ref.e1h,
        ref.vz,
        ref.v1h,
        ref.uz,
        ref.u1h,
      ]);
      // the reference's flag is the recovery id of the kfrag signature
      expect(evidence.bytes[EVIDENCE_LAYOUT.recoveryId]).to.equal(ref.kfragSignatureV ? 1 : 0);
    }
  });

  it("lays out capsule ‖ cfrag ‖ keys ‖ y words ‖ products ‖ recovery id", () => {
    const [c] = vectorCases();
    const { bytes } = buildEvidence(c);
    expect(bytes.subarray(0, 98)).to.deep.equal(c.capsule);
    expect(bytes.subarray(98, 457)).to.deep.equal(c.cfrag);
    expect(bytes.subarray(457, 556)).to.deep.equal(
      new Uint8Array([...c.verifyingKey, ...c.delegatingKey, ...c.receivingKey]),
    );
    const at = { e1: 0, v1: 33, precursor: 98, e2: 131, v2: 164, u1: 197, u2: 230 } as const;
    for (const [i, name] of EVIDENCE_Y_ORDER.entries()) {
      const compressed = name === "verifyingKey" ? c.verifyingKey : c.cfrag.subarray(at[name], at[name] + 33);
      const { y } = secp256k1.Point.fromBytes(compressed).toAffine();
      expect(word(bytes, EVIDENCE_LAYOUT.yCoordinates + 32 * i), name).to.equal(y);
    }
  });

  it("takes simple or MessagePack bytes, the reference's objects and this library's objects alike", () => {
    const c = vectors.cases[1].frags[2];
    const fromSimple = buildEvidence(vectorCases()[5]).bytes;
    const keys = {
      verifyingKey: hexToBytes(vectors.verifying_pk),
      delegatingKey: hexToBytes(vectors.delegating_pk),
      receivingKey: hexToBytes(vectors.receiving_pk),
    };
    const fromMsgpack = buildEvidence({
      capsule: hexToBytes(vectors.capsule),
      cfrag: hexToBytes(c.cfrag),
      ...keys,
    }).bytes;
    expect(fromMsgpack).to.deep.equal(fromSimple);
    const fromReference = buildEvidence({
      capsule: umbral.Capsule.fromBytes(hexToBytes(vectors.capsule)),
      cfrag: umbral.CapsuleFrag.fromBytes(hexToBytes(c.cfrag)),
      verifyingKey: umbral.PublicKey.fromCompressedBytes(keys.verifyingKey),
      delegatingKey: umbral.PublicKey.fromCompressedBytes(keys.delegatingKey),
      receivingKey: umbral.PublicKey.fromCompressedBytes(keys.receivingKey),
    }).bytes;
    expect(fromReference).to.deep.equal(fromSimple);
    const fromOurs = buildEvidence({
      capsule: Capsule.fromBytes(hexToBytes(vectors.capsule)),
      cfrag: CapsuleFrag.fromBytes(hexToBytes(c.cfrag)),
      verifyingKey: PublicKey.fromBytes(keys.verifyingKey),
      delegatingKey: PublicKey.fromBytes(keys.delegatingKey),
      receivingKey: PublicKey.fromBytes(keys.receivingKey),
    }).bytes;
    expect(fromOurs).to.deep.equal(fromSimple);
  });

  it("names the defect of a corrupted cfrag and carries what the contract needs to see it", () => {
    const [c] = referenceCases(1);
    const defect = (cfrag: Uint8Array) => buildEvidence({ ...c, cfrag }).defect;
    expect(defect(c.cfrag)).to.equal(undefined);
    expect(defect(withField(c.cfrag, "z", scalarBytes(ORDER_N)))).to.equal("UNDECODABLE_SCALAR");
    expect(defect(withField(c.cfrag, "e2", randomPoint()))).to.equal("E_EQUATION");
    expect(defect(proofWithOtherKey(c, "v1"))).to.equal("V_EQUATION");
    expect(defect(proofWithOtherKey(c, "u1"))).to.equal("U_EQUATION");
    expect(defect(withField(c.cfrag, "kfragId", new Uint8Array(32)))).to.equal("KFRAG_SIGNATURE");
    // a point with no y: the y word is a square root of −(x³ + 7), the proof the contract checks
    const noPoint = notOnCurve();
    const evidence = buildEvidence({ ...c, cfrag: withField(c.cfrag, "v1", noPoint) });
    expect(evidence.defect).to.equal("UNDECODABLE_POINT");
    const x = scalarOf(noPoint.subarray(1));
    const w = word(evidence.bytes, EVIDENCE_LAYOUT.yCoordinates + 32 * EVIDENCE_Y_ORDER.indexOf("v1"));
    expect(Fp.sqr(w)).to.equal(Fp.neg(Fp.add(Fp.mul(Fp.sqr(x), x), 7n)));
    // z = 0: z·E, z·V and z·U are the identity, written (0, 0)
    const zero = buildEvidence({ ...c, cfrag: withField(c.cfrag, "z", scalarBytes(0n)) });
    expect(zero.defect).to.equal("E_EQUATION");
    expect(product(zero.bytes, 0)).to.equal("identity");
    expect(product(zero.bytes, 1)).to.not.equal("identity");
  });

  it("agrees with the reference's verdict on randomly corrupted cfrags", () => {
    const [c] = referenceCases(1);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 358 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const cfrag = Uint8Array.from(c.cfrag);
        cfrag[at] ^= xor;
        const corrupted = { ...c, cfrag };
        expect(buildEvidence(corrupted).correct).to.equal(referenceVerdict(corrupted));
      }),
      { numRuns: 60 },
    );
  });

  it("refuses inputs it cannot turn into evidence, with PreError codes", () => {
    const [c] = vectorCases();
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).to.be.instanceOf(PreError);
        return (e as PreError).code;
      }
      return "no error";
    };
    expect(code(() => buildEvidence({ ...c, capsule: c.capsule.subarray(1) }))).to.equal("INVALID_LENGTH");
    expect(code(() => buildEvidence({ ...c, cfrag: c.cfrag.subarray(1) }))).to.equal("INVALID_LENGTH");
    expect(code(() => buildEvidence({ ...c, receivingKey: c.receivingKey.subarray(1) }))).to.equal(
      "INVALID_LENGTH",
    );
    const badHeader = cfragMsgpack(c.cfrag);
    badHeader[0] = 0x94;
    expect(code(() => buildEvidence({ ...c, cfrag: badHeader }))).to.equal("INVALID_ENCODING");
    const badField = cfragMsgpack(c.cfrag);
    badField[1] = 0xc5;
    expect(code(() => buildEvidence({ ...c, cfrag: badField }))).to.equal("INVALID_ENCODING");
    expect(code(() => buildEvidence({ ...c, verifyingKey: notOnCurve() }))).to.equal("INVALID_POINT");
    const noV = Uint8Array.from(c.capsule);
    noV.set(notOnCurve(), 33);
    expect(code(() => buildEvidence({ ...c, capsule: noV }))).to.equal("INVALID_POINT");
    // the cfrag itself may be anything of the right size: that is what the contract judges
    expect(buildEvidence({ ...c, cfrag: new Uint8Array(359) }).defect).to.equal("UNDECODABLE_POINT");
  });
});
