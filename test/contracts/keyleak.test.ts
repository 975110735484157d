import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, mine } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import * as umbral from "@nucypher/umbral-pre";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import fc from "fast-check";
import { KeyLeakChallenge__factory } from "../../typechain-types";
import type { KeyLeakChallenge } from "../../typechain-types";
import {
  currentPeriod,
  deployPolicyFixture,
  eip712Domain,
  nextPeriod,
  operatorOf,
  rate,
  testParams,
} from "./fixtures";
import { leakCommitment } from "../../src/chain/key-leak";

const N = secp256k1.Point.CURVE().n;
const ALPHA_BPS = 5_000n;
const ID = "0x0102030405060708090a0b0c0d0e0f10";

interface LeakedKfrag {
  /** the kfrag's key scalar rk */
  key: bigint;
  /** keccak256(x ‖ y) of the commitment u1 = rk·U */
  commitmentHash: string;
}

/**
 * Kfrags made by the reference implementation: KeyFrag bytes are MessagePack
 * [params [U], id, key, precursor, proof [commitment, sig, sig, flag, flag]].
 */
function referenceKfrags(shares: number): LeakedKfrag[] {
  const alice = umbral.SecretKey.random();
  const bob = umbral.SecretKey.random();
  const signer = new umbral.Signer(umbral.SecretKey.random());
  return umbral.generateKFrags(alice, bob.publicKey(), signer, 2, shares, true, true).map((k) => {
    const bytes = k.toBytes();
    expect(bytes.length).to.equal(310);
    expect(ethers.hexlify(bytes.slice(71, 73))).to.equal("0xc420"); // bin8, 32 bytes: the key
    expect(ethers.hexlify(bytes.slice(141, 143))).to.equal("0xc421"); // bin8, 33 bytes: the commitment
    const key = BigInt(ethers.hexlify(bytes.slice(73, 105)));
    const u1 = secp256k1.Point.fromBytes(bytes.slice(143, 176)).toBytes(false);
    return { key, commitmentHash: ethers.keccak256(u1.slice(1)) };
  });
}

async function deployKeyLeakFixture() {
  const e = await deployPolicyFixture();
  const challenge = await new KeyLeakChallenge__factory(e.governance).deploy(
    e.escrow,
    e.policyManager,
    ALPHA_BPS,
  );
  await e.escrow.setSlasher(challenge, true);
  await e.policyManager.setKeyLeakChallenge(challenge);
  const nodes = e.nodes.slice(0, 3);
  const start = (await currentPeriod()) + 1n;
  await e.policyManager
    .connect(e.owner)
    .createPolicy(ID, e.recipient.address, start, start + 10n, rate, nodes);
  return {
    ...e,
    challenge,
    nodes,
    start,
    end: start + 10n,
    operatorOf: (node: string) => operatorOf(e, node),
  };
}

async function signReceipt(
  challenge: KeyLeakChallenge,
  operator: HardhatEthersSigner,
  policyId: string,
  commitmentHash: string,
): Promise<string> {
  return operator.signTypedData(
    await eip712Domain("NKMS KeyLeakChallenge", challenge),
    {
      KfragReceipt: [
        { name: "policyId", type: "bytes16" },
        { name: "commitmentHash", type: "bytes32" },
      ],
    },
    { policyId, commitmentHash },
  );
}

describe("KeyLeakChallenge", () => {
  const kfrags = referenceKfrags(3);
  let f: Awaited<ReturnType<typeof deployKeyLeakFixture>>;
  let receipts: string[];
  beforeEach(async () => {
    f = await loadFixture(deployKeyLeakFixture);
    receipts = await Promise.all(
      f.nodes.map((node, i) => signReceipt(f.challenge, f.operatorOf(node), ID, kfrags[i].commitmentHash)),
    );
  });

  /** commit, then reveal a block later, as `challenger` */
  async function challenge(
    challenger: HardhatEthersSigner,
    position: number,
    leaked: LeakedKfrag,
    receipt: string,
  ) {
    const salt = ethers.hexlify(ethers.randomBytes(32));
    await f.challenge
      .connect(challenger)
      .commit(leakCommitment(challenger.address, ID, position, leaked.key, salt));
    return f.challenge
      .connect(challenger)
      .reveal(ID, position, leaked.key, salt, leaked.commitmentHash, receipt);
  }

  it("refuses invalid parameters", async () => {
    const factory = new KeyLeakChallenge__factory(f.governance);
    for (const deploying of [
      factory.deploy(ethers.ZeroAddress, f.policyManager, 1n),
      factory.deploy(f.escrow, ethers.ZeroAddress, 1n),
      factory.deploy(f.escrow, f.policyManager, 10_000n),
    ]) {
      await expect(deploying).to.be.revertedWithCustomError(factory, "InvalidParams");
    }
  });

  it("gives the receipt digest a node signs (EIP-712)", async () => {
    const digest = ethers.TypedDataEncoder.hash(
      await eip712Domain("NKMS KeyLeakChallenge", f.challenge),
      {
        KfragReceipt: [
          { name: "policyId", type: "bytes16" },
          { name: "commitmentHash", type: "bytes32" },
        ],
      },
      { policyId: ID, commitmentHash: kfrags[0].commitmentHash },
    );
    expect(await f.challenge.receiptDigest(ID, kfrags[0].commitmentHash)).to.equal(digest);
    expect(ethers.recoverAddress(digest, receipts[0])).to.equal(f.operatorOf(f.nodes[0]).address);
  });

  it("computes the address of rk·U with one ecrecover, matching the reference kfrag's commitment", async () => {
    for (const k of kfrags) {
      expect(await f.challenge.keyCommitmentAddress(k.key)).to.equal(
        ethers.getAddress("0x" + k.commitmentHash.slice(26)),
      );
    }
    await expect(f.challenge.keyCommitmentAddress(0n)).to.be.revertedWithCustomError(
      f.challenge,
      "InvalidKey",
    );
    await expect(f.challenge.keyCommitmentAddress(N)).to.be.revertedWithCustomError(
      f.challenge,
      "InvalidKey",
    );
  });

  it("slashes exactly the node whose kfrag leaked, paying the challenger and refunding the owner", async () => {
    const challenger = f.others[3];
    await nextPeriod(4); // start + 3: t = 4 periods served (the current one included), T = 10
    const victim = f.nodes[1];
    const stakeBefore = await Promise.all(f.nodes.map((n) => f.escrow.stakeOf(n)));
    const ownerBefore = await f.token.balanceOf(f.owner.address);
    const challengerBefore = await f.token.balanceOf(challenger.address);
    const supplyBefore = await f.token.totalSupply();
    const servedFee = 4n * rate;
    const reward = (servedFee * ALPHA_BPS) / 10_000n;
    const collateral =
      servedFee - reward < testParams.stakePerShare ? servedFee - reward : testParams.stakePerShare;
    await expect(challenge(challenger, 1, kfrags[1], receipts[1]))
      .to.emit(f.challenge, "LeakProven")
      .withArgs(
        ID,
        victim,
        challenger.address,
        10n * rate,
        servedFee,
        reward,
        collateral,
        collateral + servedFee,
      )
      .and.to.emit(f.policyManager, "NodeRevoked")
      .withArgs(ID, victim, f.start + 4n, 6n * rate);
    const stakeAfter = await Promise.all(f.nodes.map((n) => f.escrow.stakeOf(n)));
    expect(stakeAfter).to.deep.equal([
      stakeBefore[0],
      stakeBefore[1] - collateral - servedFee,
      stakeBefore[2],
    ]);
    expect(await f.token.balanceOf(f.owner.address)).to.equal(ownerBefore + 6n * rate); // (1 − t/T)·f
    expect(await f.token.balanceOf(challenger.address)).to.equal(challengerBefore + reward); // α·f·t/T
    expect(await f.token.totalSupply()).to.equal(supplyBefore - collateral - (servedFee - reward)); // c + (1 − α)·f·t/T
    expect(await f.policyManager.isNodeActive(ID, 1)).to.equal(false);
    expect(await f.policyManager.isNodeActive(ID, 0)).to.equal(true);
  });

  it("refuses a kfrag of another node, under either node's receipt", async () => {
    const challenger = f.others[3];
    // node 0's key with node 1's receipt and position: the key does not open the commitment
    const mixed = { key: kfrags[0].key, commitmentHash: kfrags[1].commitmentHash };
    await expect(challenge(challenger, 1, mixed, receipts[1]))
      .to.be.revertedWithCustomError(f.challenge, "KeyMismatch")
      .withArgs(kfrags[1].commitmentHash);
    // node 0's key and receipt, blamed on node 1
    const signer = f.operatorOf(f.nodes[0]).address;
    await expect(challenge(challenger, 1, kfrags[0], receipts[0]))
      .to.be.revertedWithCustomError(f.challenge, "ReceiptNotByNode")
      .withArgs(signer, f.nodes[1]);
    // a receipt the owner made up herself binds no node
    const forged = await signReceipt(f.challenge, f.owner, ID, kfrags[1].commitmentHash);
    await expect(challenge(challenger, 1, kfrags[1], forged)).to.be.revertedWithCustomError(
      f.challenge,
      "ReceiptNotByNode",
    );
    // a receipt for another policy
    const otherPolicy = await signReceipt(
      f.challenge,
      f.operatorOf(f.nodes[1]),
      "0x" + "ab".repeat(16),
      kfrags[1].commitmentHash,
    );
    await expect(challenge(challenger, 1, kfrags[1], otherPolicy)).to.be.revertedWithCustomError(
      f.challenge,
      "ReceiptNotByNode",
    );
    await expect(challenge(challenger, 3, kfrags[1], receipts[1])).to.be.revertedWithCustomError(
      f.policyManager,
      "InvalidPosition",
    );
  });

  it("refuses a stale or revoked policy", async () => {
    const challenger = f.others[3];
    await f.policyManager.connect(f.owner).revokeNode(ID, 2);
    await expect(challenge(challenger, 2, kfrags[2], receipts[2])).to.be.revertedWithCustomError(
      f.policyManager,
      "NodeAlreadyRevoked",
    );
    await f.policyManager.connect(f.owner).revokePolicy(ID);
    await expect(challenge(challenger, 0, kfrags[0], receipts[0])).to.be.revertedWithCustomError(
      f.policyManager,
      "PolicyInactive",
    );
  });

  it("refuses a challenge after the policy ended", async () => {
    await nextPeriod(Number(f.end - (await currentPeriod())));
    await expect(challenge(f.others[3], 0, kfrags[0], receipts[0])).to.be.revertedWithCustomError(
      f.policyManager,
      "PolicyInactive",
    );
  });

  it("cannot be front-run: a copied reveal fails, a late commitment loses", async () => {
    const [honest, thief] = [f.others[3], f.others[4]];
    await nextPeriod(); // the policy's first period: t = 1
    const salt = ethers.hexlify(ethers.randomBytes(32));
    const k = kfrags[0];
    await f.challenge.connect(honest).commit(leakCommitment(honest.address, ID, 0, k.key, salt));
    // the thief copies the reveal from the mempool: the commitment names the honest challenger
    const expectedCommitment = leakCommitment(thief.address, ID, 0, k.key, salt);
    await expect(f.challenge.connect(thief).reveal(ID, 0, k.key, salt, k.commitmentHash, receipts[0]))
      .to.be.revertedWithCustomError(f.challenge, "UnknownCommitment")
      .withArgs(expectedCommitment);
    // ... then commits with what it saw and reveals in the same block as its commitment: too early
    await network.provider.send("evm_setAutomine", [false]);
    let commitTx, revealTx;
    try {
      commitTx = await f.challenge.connect(thief).commit(expectedCommitment);
      revealTx = await f.challenge
        .connect(thief)
        .reveal(ID, 0, k.key, salt, k.commitmentHash, receipts[0], { gasLimit: 500_000 });
      await mine();
    } finally {
      await network.provider.send("evm_setAutomine", [true]);
    }
    await expect(commitTx.wait()).not.to.be.rejected;
    await expect(revealTx.wait()).to.be.rejected;
    const trace = await network.provider.send("debug_traceTransaction", [revealTx.hash]);
    expect(f.challenge.interface.parseError("0x" + trace.returnValue.replace(/^0x/, ""))?.name).to.equal(
      "RevealTooEarly",
    );
    // the honest reveal lands first; the thief's later one finds the node revoked
    await expect(f.challenge.connect(honest).reveal(ID, 0, k.key, salt, k.commitmentHash, receipts[0]))
      .to.emit(f.challenge, "LeakProven")
      .withArgs(ID, f.nodes[0], honest.address, 10n * rate, rate, rate / 2n, rate / 2n, rate + rate / 2n);
    await expect(
      f.challenge.connect(thief).reveal(ID, 0, k.key, salt, k.commitmentHash, receipts[0]),
    ).to.be.revertedWithCustomError(f.policyManager, "NodeAlreadyRevoked");
  });

  it("refuses a reused proof or commitment", async () => {
    const challenger = f.others[3];
    const salt = ethers.hexlify(ethers.randomBytes(32));
    const k = kfrags[2];
    const commitment = leakCommitment(challenger.address, ID, 2, k.key, salt);
    await expect(f.challenge.connect(challenger).commit(commitment))
      .to.emit(f.challenge, "ChallengeCommitted")
      .withArgs(commitment, challenger.address);
    await expect(f.challenge.commit(commitment)).to.be.revertedWithCustomError(f.challenge, "InvalidParams");
    await f.challenge.connect(challenger).reveal(ID, 2, k.key, salt, k.commitmentHash, receipts[2]);
    expect(await f.challenge.commitments(commitment)).to.equal(0n);
    await expect(f.challenge.connect(challenger).reveal(ID, 2, k.key, salt, k.commitmentHash, receipts[2]))
      .to.be.revertedWithCustomError(f.challenge, "UnknownCommitment")
      .withArgs(commitment);
    await expect(challenge(challenger, 2, k, receipts[2])).to.be.revertedWithCustomError(
      f.policyManager,
      "NodeAlreadyRevoked",
    );
  });

  it("binds a node to receipts signed by an operator it has since replaced", async () => {
    const node = f.nodes[1];
    const staker = f.stakers.find((s) => s.address === node)!;
    await nextPeriod(testParams.minBondingPeriods);
    await f.escrow.connect(staker).bondOperator(ethers.Wallet.createRandom().address);
    expect(await f.escrow.operatorStaker(f.operatorOf(node).address)).to.equal(node);
    await expect(challenge(f.others[3], 1, kfrags[1], receipts[1])).to.emit(f.challenge, "LeakProven");
  });

  it("takes no more than the node's stake", async () => {
    const node = f.nodes[0];
    await f.escrow.setSlasher(f.governance.address, true);
    await f.escrow.slash(node, (await f.escrow.stakeOf(node)) - 1n, ethers.ZeroAddress, 0n);
    await nextPeriod(3);
    await expect(challenge(f.others[3], 0, kfrags[0], receipts[0]))
      .to.emit(f.challenge, "LeakProven")
      .withArgs(ID, node, f.others[3].address, 10n * rate, 3n * rate, (3n * rate) / 2n, (3n * rate) / 2n, 1n);
  });

  describe("payout arithmetic (fast-check)", () => {
    it("splits the fee as the seed says and never lets a framing owner destroy more than she pays", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.bigInt({ min: 1n, max: 10_000n }), // T
          fc.bigInt({ min: 0n, max: 10_000n }), // t (clamped to T)
          fc.bigInt({ min: 1n, max: 10n ** 24n }), // fee rate per period
          fc.bigInt({ min: 0n, max: 10n ** 27n }), // collateral cap (stake per share)
          async (T, tRaw, feeRate, cap) => {
            const t = tRaw > T ? T : tRaw;
            const f0 = feeRate * T;
            const servedFee = feeRate * t; // f·t/T, exact since f = rate·T
            const [reward, collateral] = await f.challenge.payouts(servedFee, cap);
            expect(reward).to.equal((f0 * t * ALPHA_BPS) / (T * 10_000n)); // α·f·t/T
            expect(reward).to.be.at.most(servedFee);
            expect(collateral).to.equal(cap < servedFee - reward ? cap : servedFee - reward);
            // refund + challenger + burned fee part = the whole fee: nothing created or lost
            const refund = f0 - servedFee; // (1 − t/T)·f
            expect(refund + reward + (servedFee - reward)).to.equal(f0);
            // framing: the owner pays the node f·t/T and gets α·f·t/T back as challenger, so her
            // net cost (1 − α)·f·t/T is at least what the node loses net of its fees (c)
            expect(servedFee - reward).to.be.at.least(collateral);
          },
        ),
        { numRuns: 200 },
      );
    });

    it("holds end to end over random challenge times", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 9 }),
          fc.integer({ min: 0, max: 2 }),
          async (elapsed, position) => {
            const g = await loadFixture(deployKeyLeakFixture);
            const challenger = g.others[3];
            if (elapsed > 0) await nextPeriod(elapsed);
            const now = await currentPeriod();
            const revokedAt = now + 1n > g.start ? now + 1n : g.start;
            const servedFee = (revokedAt - g.start) * rate;
            const reward = (servedFee * ALPHA_BPS) / 10_000n;
            const collateral =
              servedFee - reward < testParams.stakePerShare ? servedFee - reward : testParams.stakePerShare;
            const node = g.nodes[position];
            const [stake, owner, supply] = await Promise.all([
              g.escrow.stakeOf(node),
              g.token.balanceOf(g.owner.address),
              g.token.totalSupply(),
            ]);
            const receipt = await signReceipt(
              g.challenge,
              g.operatorOf(node),
              ID,
              kfrags[position].commitmentHash,
            );
            const salt = ethers.ZeroHash;
            await g.challenge
              .connect(challenger)
              .commit(leakCommitment(challenger.address, ID, position, kfrags[position].key, salt));
            await g.challenge
              .connect(challenger)
              .reveal(ID, position, kfrags[position].key, salt, kfrags[position].commitmentHash, receipt);
            expect(await g.escrow.stakeOf(node)).to.equal(stake - collateral - servedFee);
            expect(await g.token.balanceOf(g.owner.address)).to.equal(owner + 10n * rate - servedFee);
            expect(await g.token.totalSupply()).to.equal(supply - collateral - (servedFee - reward));
          },
        ),
        { numRuns: 6 },
      );
    });
  });
});
