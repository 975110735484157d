import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { TypedDataEncoder, Wallet, getBytes, hexlify } from "ethers";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { concatBytes } from "@noble/hashes/utils.js";
import { Adjudicator__factory, EscrowForAdjudicatorTest__factory } from "../../typechain-types";
import { EVIDENCE_LAYOUT, EVIDENCE_Y_ORDER, buildEvidence } from "../../src/pre/evidence";
import * as pre from "../../src/pre";
import {
  AdjudicatorInputError,
  REENCRYPTION_TYPES,
  batchDigest,
  evaluateArguments,
  recoverBatchSigner,
  reencryptionLeaf,
  signReencryptionBatch,
} from "../../src/chain/adjudicator";
import { merkleProof, merkleRoot } from "../../src/chain/merkle";
import { OperatorKey } from "../../src/protocol/signing";
import type { TypedDataSigner } from "../../src/chain/adjudicator";
import {
  FIELD_P,
  ORDER_N,
  POINT_FIELDS,
  field,
  notOnCurve,
  pointWithLargeX,
  proofWithOtherKey,
  randomPoint,
  referenceCases,
  referenceVerdict,
  scalarBytes,
  scalarOf,
  selfMadeCFrag,
  vectorCases,
  withField,
} from "./adjudicator-helpers";
import type { CFragCase, CFragField } from "./adjudicator-helpers";

const BASE_PENALTY = 100n;
const HISTORY_COEFFICIENT = 50n;
const PERCENTAGE_COEFFICIENT = 10n;
const REWARD_COEFFICIENT = 4n;
const STAKE = 10_000n;

/** Offsets in the evidence (docs/evidence.md). */
const Y = EVIDENCE_LAYOUT.yCoordinates;
const Y_INDEX = Object.fromEntries(EVIDENCE_Y_ORDER.map((name, i) => [name, i])) as Record<
  (typeof EVIDENCE_Y_ORDER)[number],
  number
>;
const PRODUCTS = EVIDENCE_LAYOUT.products; // z·E, h·e1, z·V, h·v1, z·U, h·u1 (64 bytes each)
const RECOVERY_ID = EVIDENCE_LAYOUT.recoveryId;

async function deployFixture() {
  const [deployer, staker, reporter, other] = await ethers.getSigners();
  const escrow = await new EscrowForAdjudicatorTest__factory(deployer).deploy();
  const adjudicator = await new Adjudicator__factory(deployer).deploy(
    escrow,
    BASE_PENALTY,
    HISTORY_COEFFICIENT,
    PERCENTAGE_COEFFICIENT,
    REWARD_COEFFICIENT,
  );
  await escrow.setSlasher(adjudicator, true);
  const operator = Wallet.createRandom();
  await escrow.setStake(staker.address, operator.address, STAKE);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const address = await adjudicator.getAddress();
  /** The node's binding signature of an answer holding `c` alone: root = leaf, empty proof. */
  const sign = (c: CFragCase, signer: TypedDataSigner = operator) =>
    signReencryptionBatch(signer, chainId, address, reencryptionLeaf(c));
  return { deployer, staker, reporter, other, escrow, adjudicator, operator, chainId, address, sign };
}
type Fixture = Awaited<ReturnType<typeof deployFixture>>;

/** Signs `c` as the node, submits its evidence as the reporter, returns the contract's verdict. */
async function judge(
  f: Fixture,
  c: CFragCase,
  evidence: Uint8Array = buildEvidence(c).bytes,
): Promise<boolean> {
  const args = evaluateArguments(evidence, [], await f.sign(c));
  const adjudicator = f.adjudicator.connect(f.reporter);
  const correct = await adjudicator.evaluateCFrag.staticCall(...args);
  await expect(adjudicator.evaluateCFrag(...args)).to.emit(f.adjudicator, "CFragEvaluated");
  return correct;
}

function setWord(evidence: Uint8Array, offset: number, value: bigint): Uint8Array {
  const out = Uint8Array.from(evidence);
  out.set(scalarBytes(value), offset);
  return out;
}

const word = (evidence: Uint8Array, offset: number) => scalarOf(evidence.subarray(offset, offset + 32));

/** Ways to corrupt each field of a cfrag. */
function corruptions(cfrag: Uint8Array, name: CFragField): [string, Uint8Array][] {
  const value = field(cfrag, name);
  const flipped = Uint8Array.from(value);
  flipped[flipped.length - 1] ^= 1;
  if ((POINT_FIELDS as readonly string[]).includes(name)) {
    const negated = Uint8Array.from(value);
    negated[0] ^= 1; // 02 <-> 03: the opposite point
    return [
      ["another point", randomPoint()],
      ["the opposite point", negated],
      ["one bit of x flipped", flipped],
      ["an x with no point", notOnCurve()],
      ["prefix 04", concatBytes(Uint8Array.of(4), value.subarray(1))],
      ["prefix 05 (compact: the even-y point)", concatBytes(Uint8Array.of(5), value.subarray(1))],
      ["x ≥ p", concatBytes(Uint8Array.of(2), new Uint8Array(32).fill(0xff))],
      ["a point with x ≥ n", pointWithLargeX()],
    ];
  }
  if (name === "kfragId") return [["one bit flipped", flipped]];
  const k = scalarOf(value);
  return [
    ["plus one", scalarBytes((k + 1n) % ORDER_N)],
    ["zero", scalarBytes(0n)],
    ["n", scalarBytes(ORDER_N)],
    ["all ones", new Uint8Array(32).fill(0xff)],
    ["negated (n − k)", scalarBytes(ORDER_N - k)],
  ];
}

describe("Adjudicator", () => {
  describe("correct cfrags", () => {
    it("judges every cfrag of the known-answer vectors correct and slashes no one", async () => {
      const f = await loadFixture(deployFixture);
      for (const c of vectorCases()) expect(await judge(f, c)).to.equal(true);
      expect(await f.escrow.stakeOf(f.staker.address)).to.equal(STAKE);
      expect(await f.adjudicator.penaltyHistory(f.staker.address)).to.equal(0n);
    });

    it("judges fresh cfrags of the reference implementation correct, whatever the recovery id hint says", async () => {
      const f = await loadFixture(deployFixture);
      for (const c of referenceCases(4)) {
        const evidence = buildEvidence(c).bytes;
        evidence[RECOVERY_ID] ^= 1; // the wrong id first: the contract tries the other one
        expect(await judge(f, c, evidence)).to.equal(true);
      }
      expect(await f.escrow.stakeOf(f.staker.address)).to.equal(STAKE);
    });

    it("judges cfrags made by this project's PRE library correct", async () => {
      const f = await loadFixture(deployFixture);
      const delegating = pre.SecretKey.random();
      const receiving = pre.SecretKey.random();
      const signer = new pre.Signer(pre.SecretKey.random());
      const [capsule] = pre.encrypt(delegating.publicKey(), new TextEncoder().encode("ours"));
      for (const kfrag of pre.generateKFrags(delegating, receiving.publicKey(), signer, 2, 3, true, true)) {
        const statement = {
          capsule: capsule.toBytesSimple(),
          cfrag: pre.reencrypt(capsule, kfrag).toBytesSimple(),
          verifyingKey: signer.verifyingKey().toBytes(),
          delegatingKey: delegating.publicKey().toBytes(),
          receivingKey: receiving.publicKey().toBytes(),
        };
        expect(referenceVerdict(statement)).to.equal(true);
        expect(await judge(f, statement)).to.equal(true);
      }
      expect(await f.escrow.stakeOf(f.staker.address)).to.equal(STAKE);
    });

    it("accepts a kfrag signature with a high s, as the reference does", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const s = scalarOf(field(c.cfrag, "kfragSignatureS"));
      const highS = { ...c, cfrag: withField(c.cfrag, "kfragSignatureS", scalarBytes(ORDER_N - s)) };
      expect(referenceVerdict(highS)).to.equal(true);
      expect(await judge(f, highS)).to.equal(true);
    });
  });

  describe("incorrect cfrags", () => {
    for (const name of Object.keys({
      e1: 0,
      v1: 0,
      kfragId: 0,
      precursor: 0,
      e2: 0,
      v2: 0,
      u1: 0,
      u2: 0,
      z: 0,
      kfragSignatureR: 0,
      kfragSignatureS: 0,
    }) as CFragField[]) {
      it(`judges every corruption of ${name} as the reference does, and slashes exactly when incorrect`, async () => {
        const f = await loadFixture(deployFixture);
        const [c] = referenceCases(1);
        let expectedPenalties = 0n;
        for (const [how, value] of corruptions(c.cfrag, name)) {
          const corrupted = { ...c, cfrag: withField(c.cfrag, name, value) };
          const expected = referenceVerdict(corrupted);
          expect(buildEvidence(corrupted).correct, `evidence verdict, ${name}: ${how}`).to.equal(expected);
          expect(await judge(f, corrupted), `${name}: ${how}`).to.equal(expected);
          if (!expected) expectedPenalties += 1n;
          expect(await f.adjudicator.penaltyHistory(f.staker.address)).to.equal(expectedPenalties);
        }
        expect(expectedPenalties).to.be.greaterThan(0n);
      });
    }

    it("judges a cfrag incorrect when the node signed it for another capsule", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const [other] = referenceCases(1);
      const wrongCapsule = { ...c, capsule: other.capsule };
      expect(referenceVerdict(wrongCapsule)).to.equal(false);
      expect(await judge(f, wrongCapsule)).to.equal(false);
    });

    it("judges a cfrag incorrect when the node vouched for keys its kfrag was not signed for", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      for (const key of ["verifyingKey", "delegatingKey", "receivingKey"] as const) {
        const wrongKey = { ...c, [key]: randomPoint() };
        expect(referenceVerdict(wrongKey)).to.equal(false);
        expect(await judge(f, wrongKey), key).to.equal(false);
      }
      expect(await f.adjudicator.penaltyHistory(f.staker.address)).to.equal(3n);
    });

    it("reads the reference's compact form 05 ‖ x as the even-y point, in the cfrag and in the keys", async () => {
      const f = await loadFixture(deployFixture);
      const verdicts = new Set<boolean>();
      for (const c of referenceCases(3)) {
        const compact = (p: Uint8Array) => concatBytes(Uint8Array.of(5), p.subarray(1));
        const variants: CFragCase[] = [
          ...POINT_FIELDS.map((name) => ({
            ...c,
            cfrag: withField(c.cfrag, name, compact(field(c.cfrag, name))),
          })),
          { ...c, verifyingKey: compact(c.verifyingKey) },
          { ...c, delegatingKey: compact(c.delegatingKey) },
          { ...c, receivingKey: compact(c.receivingKey) },
        ];
        for (const variant of variants) {
          const expected = referenceVerdict(variant); // correct exactly when the original y was even
          verdicts.add(expected);
          expect(buildEvidence(variant).correct).to.equal(expected);
          expect(await judge(f, variant)).to.equal(expected);
        }
      }
      expect([...verdicts].sort()).to.deep.equal([false, true]);
    });

    it("judges a self-made kfrag's cfrag incorrect: its proof holds but the owner never signed it", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const claimed = { ...c, cfrag: selfMadeCFrag(c) };
      const evidence = buildEvidence(claimed);
      expect(evidence.defect).to.equal("KFRAG_SIGNATURE"); // the three equations hold
      expect(referenceVerdict(claimed)).to.equal(false);
      expect(await judge(f, claimed)).to.equal(false);
    });

    it("judges a proof whose V or U equation alone fails incorrect", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      for (const point of ["v1", "u1"] as const) {
        const forged = { ...c, cfrag: proofWithOtherKey(c, point) };
        expect(buildEvidence(forged).defect).to.equal(point === "v1" ? "V_EQUATION" : "U_EQUATION");
        expect(referenceVerdict(forged)).to.equal(false);
        expect(await judge(f, forged), point).to.equal(false);
      }
    });

    it("decides the degenerate case z = 0, where z·E is the identity", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const zero = { ...c, cfrag: withField(c.cfrag, "z", scalarBytes(0n)) };
      const evidence = buildEvidence(zero).bytes;
      expect(word(evidence, PRODUCTS)).to.equal(0n);
      expect(await judge(f, zero)).to.equal(false);
    });

    it("decides the degenerate case e2 = −z·E, where the sum check meets a repeated x", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const z = scalarOf(field(c.cfrag, "z"));
      const e = secp256k1.Point.fromBytes(c.capsule.subarray(0, 33));
      const crafted = { ...c, cfrag: withField(c.cfrag, "e2", e.multiply(z).negate().toBytes(true)) };
      expect(referenceVerdict(crafted)).to.equal(false);
      expect(await judge(f, crafted)).to.equal(false);
    });
  });

  describe("forged evidence", () => {
    it("refuses products that are not the claimed multiples, for a correct and for an incorrect cfrag", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const wrong = { ...c, cfrag: withField(c.cfrag, "e2", randomPoint()) };
      for (const subject of [c, wrong]) {
        const evidence = buildEvidence(subject).bytes;
        const args = evaluateArguments(evidence, [], await f.sign(subject));
        for (let i = 0; i < 2; i++) {
          const offset = PRODUCTS + 64 * i;
          // the opposite point: on the curve, but not the product
          const negated = setWord(evidence, offset + 32, FIELD_P - word(evidence, offset + 32));
          await expect(f.adjudicator.evaluateCFrag(negated, [], args[2]))
            .to.be.revertedWithCustomError(f.adjudicator, "UmbralCFragBadProduct")
            .withArgs(offset);
          const offCurve = setWord(evidence, offset + 32, (word(evidence, offset + 32) + 1n) % FIELD_P);
          await expect(f.adjudicator.evaluateCFrag(offCurve, [], args[2]))
            .to.be.revertedWithCustomError(f.adjudicator, "UmbralCFragBadProduct")
            .withArgs(offset);
        }
      }
    });

    it("refuses products forged to make an incorrect cfrag's equation hold", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const wrong = { ...c, cfrag: withField(c.cfrag, "e2", randomPoint()) };
      const evidence = buildEvidence(wrong).bytes;
      const hE1 = secp256k1.Point.fromAffine({
        x: word(evidence, PRODUCTS + 64),
        y: word(evidence, PRODUCTS + 96),
      });
      const fakeZE = secp256k1.Point.fromBytes(field(wrong.cfrag, "e2")).add(hE1).toAffine();
      const forged = setWord(setWord(evidence, PRODUCTS, fakeZE.x), PRODUCTS + 32, fakeZE.y);
      await expect(f.adjudicator.evaluateCFrag(forged, [], await f.sign(wrong)))
        .to.be.revertedWithCustomError(f.adjudicator, "UmbralCFragBadProduct")
        .withArgs(PRODUCTS);
    });

    it("refuses the identity as z·E when z is not zero, and anything else when it is", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const identity = setWord(setWord(buildEvidence(c).bytes, PRODUCTS, 0n), PRODUCTS + 32, 0n);
      await expect(f.adjudicator.evaluateCFrag(identity, [], await f.sign(c))).to.be.revertedWithCustomError(
        f.adjudicator,
        "UmbralCFragBadProduct",
      );
      const zero = { ...c, cfrag: withField(c.cfrag, "z", scalarBytes(0n)) };
      const notIdentity = setWord(buildEvidence(zero).bytes, PRODUCTS + 32, 1n);
      await expect(f.adjudicator.evaluateCFrag(notIdentity, [], await f.sign(zero)))
        .to.be.revertedWithCustomError(f.adjudicator, "UmbralCFragBadProduct")
        .withArgs(PRODUCTS);
    });

    it("refuses y coordinates that are neither the point's nor a proof that it does not decode", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const evidence = buildEvidence(c).bytes;
      const signature = await f.sign(c);
      for (const [name, index, pointOffset] of [
        ["e1", Y_INDEX.e1, 98],
        ["e2", Y_INDEX.e2, 98 + 131],
        ["verifyingKey", Y_INDEX.verifyingKey, 457],
      ] as const) {
        const offset = Y + 32 * index;
        const otherRoot = setWord(evidence, offset, FIELD_P - word(evidence, offset));
        await expect(f.adjudicator.evaluateCFrag(otherRoot, [], signature), name)
          .to.be.revertedWithCustomError(f.adjudicator, "UmbralCFragBadCoordinate")
          .withArgs(pointOffset);
      }
    });

    it("refuses to judge a capsule or verifying key that does not decode", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const badCapsule = { ...c, capsule: concatBytes(Uint8Array.of(4), c.capsule.subarray(1)) };
      expect(() => buildEvidence(badCapsule))
        .to.throw()
        .with.property("code", "INVALID_POINT");
      const evidence = Uint8Array.from(buildEvidence(c).bytes);
      evidence.set(badCapsule.capsule, 0);
      await expect(f.adjudicator.evaluateCFrag(evidence, [], await f.sign(badCapsule)))
        .to.be.revertedWithCustomError(f.adjudicator, "UmbralCFragUndecodableInput")
        .withArgs(0);
      // E off the curve: ecrecover recovers nothing from it, so z·E cannot be checked
      const offCurve = Uint8Array.from(buildEvidence(c).bytes);
      offCurve.set(notOnCurve(), 0);
      const offCurveCase = { ...c, capsule: offCurve.subarray(0, 98) };
      await expect(f.adjudicator.evaluateCFrag(offCurve, [], await f.sign(offCurveCase)))
        .to.be.revertedWithCustomError(f.adjudicator, "UmbralCFragBadProduct")
        .withArgs(PRODUCTS);
      // E with x ≥ n cannot be an ecrecover base
      const largeE = Uint8Array.from(buildEvidence(c).bytes);
      largeE.set(pointWithLargeX(), 0);
      const largeECase = { ...c, capsule: largeE.subarray(0, 98) };
      expect(() => buildEvidence(largeECase))
        .to.throw()
        .with.property("code", "INVALID_POINT");
      await expect(f.adjudicator.evaluateCFrag(largeE, [], await f.sign(largeECase)))
        .to.be.revertedWithCustomError(f.adjudicator, "UmbralCFragUndecodableInput")
        .withArgs(0);
      const badKey = { ...c, verifyingKey: concatBytes(Uint8Array.of(2), new Uint8Array(32).fill(0xff)) };
      const keyEvidence = Uint8Array.from(buildEvidence(c).bytes);
      keyEvidence.set(badKey.verifyingKey, 457);
      await expect(f.adjudicator.evaluateCFrag(keyEvidence, [], await f.sign(badKey)))
        .to.be.revertedWithCustomError(f.adjudicator, "UmbralCFragUndecodableInput")
        .withArgs(457);
    });

    it("refuses evidence of the wrong length", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const evidence = buildEvidence(c).bytes;
      await expect(
        f.adjudicator.evaluateCFrag(evidence.subarray(0, EVIDENCE_LAYOUT.length - 1), [], await f.sign(c)),
      )
        .to.be.revertedWithCustomError(f.adjudicator, "UmbralCFragBadEvidenceLength")
        .withArgs(EVIDENCE_LAYOUT.length - 1);
    });

    it("refuses a statement not signed by a bonded operator: another key, another chain, altered bytes", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const wrong = { ...c, cfrag: withField(c.cfrag, "z", scalarBytes(1n)) };
      const evidence = buildEvidence(wrong).bytes;
      const outsider = Wallet.createRandom();
      await expect(f.adjudicator.evaluateCFrag(evidence, [], await f.sign(wrong, outsider)))
        .to.be.revertedWithCustomError(f.adjudicator, "AdjudicatorUnknownOperator")
        .withArgs(outsider.address);
      const otherChain = await signReencryptionBatch(
        f.operator,
        f.chainId + 1n,
        f.address,
        reencryptionLeaf(wrong),
      );
      await expect(f.adjudicator.evaluateCFrag(evidence, [], otherChain)).to.be.revertedWithCustomError(
        f.adjudicator,
        "AdjudicatorUnknownOperator",
      );
      // the node signed the correct cfrag; a reporter cannot reuse that signature for other bytes
      await expect(f.adjudicator.evaluateCFrag(evidence, [], await f.sign(c))).to.be.revertedWithCustomError(
        f.adjudicator,
        "AdjudicatorUnknownOperator",
      );
      await expect(
        f.adjudicator.evaluateCFrag(evidence, [], new Uint8Array(64)),
      ).to.be.revertedWithCustomError(f.adjudicator, "ECDSAInvalidSignatureLength");
      expect(await f.adjudicator.penaltyHistory(f.staker.address)).to.equal(0n);
    });

    it("judges a correct cfrag signed by any key without touching any stake", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const unbonded = Wallet.createRandom();
      const args = evaluateArguments(buildEvidence(c), [], await f.sign(c, unbonded));
      await expect(f.adjudicator.connect(f.reporter).evaluateCFrag(...args))
        .to.emit(f.adjudicator, "CFragEvaluated")
        .withArgs(hexlify(reencryptionLeaf(c)), unbonded.address, f.reporter.address, true, 0n)
        .and.not.to.emit(f.escrow, "Slashed");
      expect(await f.escrow.stakeOf(f.staker.address)).to.equal(STAKE);
    });

    it("judges each statement once: a replay, even with a malleated signature, reverts", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const wrong = { ...c, cfrag: withField(c.cfrag, "z", scalarBytes(1n)) };
      const evidence = buildEvidence(wrong).bytes;
      const signature = await f.sign(wrong);
      await f.adjudicator.evaluateCFrag(evidence, [], signature);
      const leaf = hexlify(reencryptionLeaf(wrong));
      expect(await f.adjudicator.evaluated(leaf)).to.equal(true);
      expect(await f.adjudicator.statementLeaf(evidence)).to.equal(leaf);
      await expect(f.adjudicator.evaluateCFrag(evidence, [], signature))
        .to.be.revertedWithCustomError(f.adjudicator, "AdjudicatorAlreadyEvaluated")
        .withArgs(leaf);
      const sig = ethers.Signature.from(signature);
      const malleated = ethers.concat([
        sig.r,
        ethers.toBeHex(ORDER_N - BigInt(sig.s), 32),
        sig.v === 27 ? "0x1c" : "0x1b",
      ]);
      await expect(f.adjudicator.evaluateCFrag(evidence, [], malleated)).to.be.revertedWithCustomError(
        f.adjudicator,
        "AdjudicatorAlreadyEvaluated",
      );
      // other precomputed bytes (a flipped recovery id hint) do not make a new statement
      const rehinted = Uint8Array.from(evidence);
      rehinted[RECOVERY_ID] ^= 1;
      await expect(f.adjudicator.evaluateCFrag(rehinted, [], signature)).to.be.revertedWithCustomError(
        f.adjudicator,
        "AdjudicatorAlreadyEvaluated",
      );
      expect(await f.adjudicator.penaltyHistory(f.staker.address)).to.equal(1n);
    });

    it("never judges a correct cfrag incorrect when the call is starved of gas: it reverts instead", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const args = evaluateArguments(buildEvidence(c), [], await f.sign(c));
      const needed = await f.adjudicator.evaluateCFrag.estimateGas(...args);
      let reverted = 0;
      for (let gasLimit = 60_000n; gasLimit <= needed; gasLimit += 400n) {
        try {
          expect(await f.adjudicator.evaluateCFrag.staticCall(...args, { gasLimit })).to.equal(true);
        } catch (e) {
          expect(String(e)).to.not.include("AssertionError");
          reverted += 1;
        }
      }
      expect(reverted).to.be.greaterThan(0);
    });

    it("refuses a high-s node signature (a malleated copy) for a statement not yet judged", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const sig = ethers.Signature.from(await f.sign(c));
      const malleated = ethers.concat([
        sig.r,
        ethers.toBeHex(ORDER_N - BigInt(sig.s), 32),
        sig.v === 27 ? "0x1c" : "0x1b",
      ]);
      await expect(
        f.adjudicator.evaluateCFrag(buildEvidence(c).bytes, [], malleated),
      ).to.be.revertedWithCustomError(f.adjudicator, "ECDSAInvalidSignatureS");
    });
  });

  describe("penalties", () => {
    const incorrect = (c: CFragCase, k: bigint) => ({ ...c, cfrag: withField(c.cfrag, "z", scalarBytes(k)) });

    it("takes base + history·previous penalties, capped at stake / percentage, and pays penalty / reward coefficient", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      let stake = STAKE;
      let reward = 0n;
      for (let i = 0n; i < 3n; i++) {
        const penalty = BASE_PENALTY + HISTORY_COEFFICIENT * i;
        expect(await f.adjudicator.penaltyFor(f.staker.address)).to.equal(penalty);
        const wrong = incorrect(c, i + 1n);
        const args = evaluateArguments(buildEvidence(wrong), [], await f.sign(wrong));
        await expect(f.adjudicator.connect(f.reporter).evaluateCFrag(...args))
          .to.emit(f.adjudicator, "CFragEvaluated")
          .withArgs(hexlify(reencryptionLeaf(wrong)), f.operator.address, f.reporter.address, false, penalty)
          .and.to.emit(f.escrow, "Slashed")
          .withArgs(f.staker.address, penalty, f.reporter.address, penalty / REWARD_COEFFICIENT);
        stake -= penalty;
        reward += penalty / REWARD_COEFFICIENT;
        expect(await f.escrow.stakeOf(f.staker.address)).to.equal(stake);
        expect(await f.escrow.rewardOf(f.reporter.address)).to.equal(reward);
      }
      // a small stake: the cap binds
      await f.escrow.setStake(f.staker.address, f.operator.address, 700n);
      expect(await f.adjudicator.penaltyFor(f.staker.address)).to.equal(70n);
      expect(await judge(f, incorrect(c, 10n))).to.equal(false);
      expect(await f.escrow.stakeOf(f.staker.address)).to.equal(630n);
      expect(await f.escrow.rewardOf(f.reporter.address)).to.equal(reward + 70n / REWARD_COEFFICIENT);
    });

    it("never takes more than the stake, whatever the history", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      await f.escrow.setStake(f.staker.address, f.operator.address, 9n); // 9 / 10 = 0
      expect(await judge(f, incorrect(c, 5n))).to.equal(false);
      expect(await f.escrow.stakeOf(f.staker.address)).to.equal(9n);
      expect(await f.adjudicator.penaltyHistory(f.staker.address)).to.equal(1n);
    });

    it("slashes the staker of an operator it has since unbonded", async () => {
      const f = await loadFixture(deployFixture);
      await f.escrow.unbond(f.staker.address);
      expect(await f.escrow.stakerFromOperator(f.operator.address)).to.equal(ethers.ZeroAddress);
      const [c] = referenceCases(1);
      expect(await judge(f, incorrect(c, 4n))).to.equal(false);
      expect(await f.escrow.stakeOf(f.staker.address)).to.equal(STAKE - BASE_PENALTY);
    });

    it("reverts the whole evaluation when the escrow refuses to slash (no slasher role)", async () => {
      const f = await loadFixture(deployFixture);
      await f.escrow.setSlasher(f.adjudicator, false);
      const [c] = referenceCases(1);
      const wrong = incorrect(c, 3n);
      await expect(
        f.adjudicator.evaluateCFrag(buildEvidence(wrong).bytes, [], await f.sign(wrong)),
      ).to.be.revertedWithCustomError(f.escrow, "EscrowForAdjudicatorTestNotSlasher");
      expect(await f.adjudicator.evaluated(reencryptionLeaf(wrong))).to.equal(false);
    });

    it("refuses a zero escrow or zero divisors at deployment", async () => {
      const [deployer] = await ethers.getSigners();
      const factory = new Adjudicator__factory(deployer);
      const escrow = Wallet.createRandom().address;
      for (const [address, percentage, reward] of [
        [ethers.ZeroAddress, 1n, 1n],
        [escrow, 0n, 1n],
        [escrow, 1n, 0n],
      ] as const) {
        await expect(factory.deploy(address, 1n, 1n, percentage, reward)).to.be.revertedWithCustomError(
          factory,
          "AdjudicatorInvalidSetup",
        );
      }
    });
  });

  describe("answers signed once, over the Merkle root of their statements", () => {
    const wrongs = (c: CFragCase, n: number, from = 1n) =>
      Array.from({ length: n }, (_, i) => ({
        ...c,
        cfrag: withField(c.cfrag, "z", scalarBytes(from + BigInt(i))),
      }));

    /** The node's answer holding `cases`: their leaves and its binding signature of their root. */
    async function answer(f: Fixture, cases: CFragCase[]) {
      const leaves = cases.map(reencryptionLeaf);
      const signature = await signReencryptionBatch(f.operator, f.chainId, f.address, merkleRoot(leaves));
      return { leaves, signature };
    }

    for (const n of [5, 64]) {
      it(`slashes a wrong cfrag at every index of a ${n}-cfrag answer, each with its own proof`, async () => {
        const f = await loadFixture(deployFixture);
        const [c] = referenceCases(1);
        const cases = wrongs(c, n);
        const { leaves, signature } = await answer(f, cases);
        for (const [i, wrong] of cases.entries()) {
          const args = evaluateArguments(buildEvidence(wrong), merkleProof(leaves, i), signature);
          await expect(f.adjudicator.connect(f.reporter).evaluateCFrag(...args), `index ${i}`)
            .to.emit(f.adjudicator, "CFragEvaluated")
            .withArgs(hexlify(leaves[i]), f.operator.address, f.reporter.address, false, anyValue)
            .and.to.emit(f.escrow, "Slashed");
          expect(await f.adjudicator.evaluated(leaves[i])).to.equal(true);
        }
        expect(await f.adjudicator.penaltyHistory(f.staker.address)).to.equal(BigInt(n));
      });
    }

    it("judges a correct cfrag of an answer correct and slashes no one", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const cases = [...wrongs(c, 2), c, ...wrongs(c, 2, 10n)];
      const { leaves, signature } = await answer(f, cases);
      const args = evaluateArguments(buildEvidence(c), merkleProof(leaves, 2), signature);
      expect(await f.adjudicator.evaluateCFrag.staticCall(...args)).to.equal(true);
      await expect(f.adjudicator.connect(f.reporter).evaluateCFrag(...args))
        .to.emit(f.adjudicator, "CFragEvaluated")
        .withArgs(hexlify(leaves[2]), f.operator.address, f.reporter.address, true, 0n)
        .and.not.to.emit(f.escrow, "Slashed");
      expect(await f.escrow.stakeOf(f.staker.address)).to.equal(STAKE);
    });

    it("recovers someone else from a proof that does not lead to the signed root: nothing judged", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const cases = wrongs(c, 5);
      const { leaves, signature } = await answer(f, cases);
      const other = await answer(f, wrongs(c, 5, 100n));
      const evidence = buildEvidence(cases[2]).bytes;
      const proof = merkleProof(leaves, 2);
      const flipped = proof.map((sibling, i) => {
        const out = Uint8Array.from(sibling);
        if (i === 1) out[31] ^= 1;
        return out;
      });
      for (const [how, badProof, badSignature] of [
        ["the proof of another leaf", merkleProof(leaves, 3), signature],
        ["one proof element flipped", flipped, signature],
        ["a proof one element short", proof.slice(0, -1), signature],
        ["the leaf moved to another answer's root", merkleProof(other.leaves, 2), other.signature],
      ] as const) {
        await expect(f.adjudicator.evaluateCFrag(evidence, [...badProof], badSignature), how)
          .to.be.revertedWithCustomError(f.adjudicator, "AdjudicatorUnknownOperator")
          .withArgs((address: string) => address !== f.operator.address);
      }
      expect(await f.adjudicator.evaluated(leaves[2])).to.equal(false);
      expect(await f.adjudicator.penaltyHistory(f.staker.address)).to.equal(0n);
      // the leaf's own proof does lead to the root
      await expect(f.adjudicator.evaluateCFrag(evidence, proof, signature)).to.emit(f.escrow, "Slashed");
    });

    it("judges a wrong cfrag once, even when the node signed it in two answers", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const [wrong, ...rest] = wrongs(c, 4);
      const first = await answer(f, [wrong, rest[0], rest[1]]);
      const second = await answer(f, [rest[2], wrong]);
      expect(hexlify(merkleRoot(first.leaves))).to.not.equal(hexlify(merkleRoot(second.leaves)));
      const evidence = buildEvidence(wrong);
      await f.adjudicator.evaluateCFrag(
        ...evaluateArguments(evidence, merkleProof(first.leaves, 0), first.signature),
      );
      await expect(
        f.adjudicator.evaluateCFrag(
          ...evaluateArguments(evidence, merkleProof(second.leaves, 1), second.signature),
        ),
      )
        .to.be.revertedWithCustomError(f.adjudicator, "AdjudicatorAlreadyEvaluated")
        .withArgs(hexlify(first.leaves[0]));
      expect(await f.adjudicator.penaltyHistory(f.staker.address)).to.equal(1n);
    });

    it("takes an empty proof for a one-cfrag answer (root = leaf), and no other", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const [wrong] = wrongs(c, 1);
      const { leaves, signature } = await answer(f, [wrong]);
      expect(merkleProof(leaves, 0)).to.deep.equal([]);
      const evidence = buildEvidence(wrong).bytes;
      await expect(
        f.adjudicator.evaluateCFrag(evidence, [leaves[0]], signature),
      ).to.be.revertedWithCustomError(f.adjudicator, "AdjudicatorUnknownOperator");
      await expect(f.adjudicator.evaluateCFrag(evidence, [], signature)).to.emit(f.escrow, "Slashed");
    });

    it("does not take the operator's signature of the leaf itself, or of the statement as EIP-712 data", async () => {
      const f = await loadFixture(deployFixture);
      const [c] = referenceCases(1);
      const [wrong] = wrongs(c, 1);
      const evidence = buildEvidence(wrong).bytes;
      const leaf = reencryptionLeaf(wrong);
      const operatorKey = new OperatorKey(getBytes(f.operator.privateKey));
      const statement = await f.operator.signTypedData(
        { name: "NKMS Adjudicator", version: "1", chainId: f.chainId, verifyingContract: f.address },
        REENCRYPTION_TYPES,
        {
          capsuleHash: ethers.keccak256(wrong.capsule),
          cfragHash: ethers.keccak256(wrong.cfrag),
          keysHash: ethers.keccak256(
            concatBytes(wrong.verifyingKey, wrong.delegatingKey, wrong.receivingKey),
          ),
        },
      );
      for (const [how, signature] of [
        ["the leaf", operatorKey.signDigest(leaf)],
        ["the Reencryption statement", statement],
      ] as const) {
        await expect(f.adjudicator.evaluateCFrag(evidence, [], signature), how)
          .to.be.revertedWithCustomError(f.adjudicator, "AdjudicatorUnknownOperator")
          .withArgs((address: string) => address !== f.operator.address);
      }
      expect(await f.adjudicator.evaluated(leaf)).to.equal(false);
      // the same key over the batch digest is the operator's
      const batch = operatorKey.signDigest(batchDigest(f.chainId, f.address, leaf));
      await expect(f.adjudicator.evaluateCFrag(evidence, [], batch)).to.emit(f.escrow, "Slashed");
    });
  });

  describe("the node's signing helpers (src/chain/adjudicator.ts)", () => {
    it("make the leaf and the batch digest the contract computes, and a signature that recovers the operator", async () => {
      const f = await loadFixture(deployFixture);
      const cases = referenceCases(3);
      const leaves = cases.map(reencryptionLeaf);
      const c = cases[0];
      const structHash = TypedDataEncoder.hashStruct("Reencryption", REENCRYPTION_TYPES, {
        capsuleHash: ethers.keccak256(c.capsule),
        cfragHash: ethers.keccak256(c.cfrag),
        keysHash: ethers.keccak256(concatBytes(c.verifyingKey, c.delegatingKey, c.receivingKey)),
      });
      expect(hexlify(leaves[0])).to.equal(structHash);
      expect(await f.adjudicator.statementLeaf(buildEvidence(c).bytes)).to.equal(structHash);
      const root = merkleRoot(leaves);
      const digest = hexlify(batchDigest(f.chainId, f.address, root));
      expect(await f.adjudicator.batchDigest(root)).to.equal(digest);
      expect(
        TypedDataEncoder.hash(
          { name: "NKMS Adjudicator", version: "1", chainId: f.chainId, verifyingContract: f.address },
          { ReencryptionBatch: [{ name: "root", type: "bytes32" }] },
          { root },
        ),
      ).to.equal(digest);
      const signature = await signReencryptionBatch(f.operator, f.chainId, f.address, root);
      // the node's OperatorKey and an ethers Wallet sign the same bytes (RFC 6979)
      const operatorKey = new OperatorKey(getBytes(f.operator.privateKey));
      expect(hexlify(operatorKey.signDigest(getBytes(digest)))).to.equal(signature);
      expect(recoverBatchSigner(f.chainId, f.address, root, signature)).to.equal(f.operator.address);
      expect(recoverBatchSigner(f.chainId + 1n, f.address, root, signature)).to.not.equal(f.operator.address);
      expect(await f.adjudicator.REENCRYPTION_TYPEHASH()).to.equal(
        ethers.id("Reencryption(bytes32 capsuleHash,bytes32 cfragHash,bytes32 keysHash)"),
      );
      expect(await f.adjudicator.REENCRYPTION_BATCH_TYPEHASH()).to.equal(
        ethers.id("ReencryptionBatch(bytes32 root)"),
      );
    });

    it("refuse parts of the wrong size and a non-positive chain id with typed errors", async () => {
      const [c] = referenceCases(1);
      const address = Wallet.createRandom().address;
      const root = reencryptionLeaf(c);
      const failure = (f: () => unknown) => {
        try {
          f();
        } catch (e) {
          expect(e).to.be.instanceOf(AdjudicatorInputError);
          return (e as AdjudicatorInputError).code;
        }
        return "no error";
      };
      expect(failure(() => reencryptionLeaf({ ...c, cfrag: c.cfrag.subarray(1) }))).to.equal("BAD_LENGTH");
      expect(failure(() => reencryptionLeaf({ ...c, capsule: new Uint8Array(105) }))).to.equal("BAD_LENGTH");
      expect(failure(() => reencryptionLeaf({ ...c, receivingKey: new Uint8Array(65) }))).to.equal(
        "BAD_LENGTH",
      );
      expect(failure(() => batchDigest(0, address, root))).to.equal("BAD_CHAIN_ID");
      expect(failure(() => batchDigest(1, address, root.subarray(1)))).to.equal("BAD_LENGTH");
      const signature = new Uint8Array(65);
      expect(failure(() => evaluateArguments(buildEvidence(c), [], new Uint8Array(64)))).to.equal(
        "BAD_LENGTH",
      );
      expect(failure(() => evaluateArguments(buildEvidence(c), [new Uint8Array(31)], signature))).to.equal(
        "BAD_LENGTH",
      );
      expect(failure(() => recoverBatchSigner(1, address, root, new Uint8Array(64)))).to.equal("BAD_LENGTH");
      expect(recoverBatchSigner(1, address, root, signature)).to.equal(undefined);
    });
  });
});
