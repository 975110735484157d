import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { PolicyManager__factory } from "../../typechain-types";
import {
  claimWindowPeriods,
  commit,
  currentPeriod,
  deployPolicyFixture,
  eip712Domain,
  maxFeeRate,
  minFeeRate,
  nextPeriod,
  rate,
  signPermit,
  signVoucher,
  unit,
  type PolicyEconomy,
} from "./fixtures";

const ID = "0x0102030405060708090a0b0c0d0e0f10";
const ID2 = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

describe("PolicyManager", () => {
  let e: PolicyEconomy;
  let pm: PolicyEconomy["policyManager"];
  beforeEach(async () => {
    e = await loadFixture(deployPolicyFixture);
    pm = e.policyManager.connect(e.owner);
  });

  /** A 3-node policy for periods [now + 1, now + 11). */
  async function create(id = ID, nodes = e.nodes.slice(0, 3), periods = 10n) {
    const start = (await currentPeriod()) + 1n;
    await pm.createPolicy(id, e.recipient.address, start, start + periods, rate, nodes);
    return { start, end: start + periods, nodes };
  }

  describe("deployment and governance", () => {
    it("refuses invalid parameters", async () => {
      const f = new PolicyManager__factory(e.governance);
      const g = e.governance.address;
      await expect(f.deploy(ethers.ZeroAddress, 1n, 2n, 1, g)).to.be.reverted;
      await expect(f.deploy(e.escrow, 0n, 2n, 1, g)).to.be.revertedWithCustomError(f, "InvalidParams");
      await expect(f.deploy(e.escrow, 3n, 2n, 1, g)).to.be.revertedWithCustomError(f, "InvalidParams");
      expect(await e.policyManager.token()).to.equal(await e.token.getAddress());
      expect(await e.policyManager.escrow()).to.equal(await e.escrow.getAddress());
      expect(await e.policyManager.claimWindowPeriods()).to.equal(BigInt(claimWindowPeriods));
    });

    it("lets only governance set the fee range, the key-leak contract and the pause", async () => {
      for (const call of [
        pm.setFeeRateRange(1n, 2n),
        pm.setKeyLeakChallenge(e.owner.address),
        pm.pause(),
        pm.unpause(),
      ]) {
        await expect(call).to.be.revertedWithCustomError(pm, "OwnableUnauthorizedAccount");
      }
      const gov = e.policyManager.connect(e.governance);
      await expect(gov.setFeeRateRange(5n, 7n)).to.emit(pm, "FeeRateRangeSet").withArgs(5n, 7n);
      expect([await pm.minFeeRate(), await pm.maxFeeRate()]).to.deep.equal([5n, 7n]);
      await expect(gov.setFeeRateRange(5n, 4n)).to.be.revertedWithCustomError(pm, "InvalidParams");
      await expect(gov.setKeyLeakChallenge(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        pm,
        "InvalidParams",
      );
      await expect(gov.setKeyLeakChallenge(e.others[4].address))
        .to.emit(pm, "KeyLeakChallengeSet")
        .withArgs(e.others[4].address);
      await expect(gov.setKeyLeakChallenge(e.others[3].address)).to.be.revertedWithCustomError(
        pm,
        "InvalidParams",
      );
    });

    it("pauses new policies and budgets, never revocations, claims or withdrawals", async () => {
      const { nodes } = await create();
      await pm.setReencryptionPrice(ID, 1n);
      await expect(e.policyManager.connect(e.governance).pause())
        .to.emit(pm, "Paused")
        .withArgs(e.governance.address);
      const start = (await currentPeriod()) + 1n;
      await expect(
        pm.createPolicy(ID2, e.recipient.address, start, start + 2n, rate, nodes),
      ).to.be.revertedWithCustomError(pm, "EnforcedPause");
      await expect(
        pm.createPolicyWithPermit(
          ID2,
          e.recipient.address,
          start,
          start + 2n,
          rate,
          nodes,
          0,
          0,
          ethers.ZeroHash,
          ethers.ZeroHash,
        ),
      ).to.be.revertedWithCustomError(pm, "EnforcedPause");
      await expect(pm.fundReencryptions(ID, 1n)).to.be.revertedWithCustomError(pm, "EnforcedPause");
      await expect(pm.deposit(1n)).to.be.revertedWithCustomError(pm, "EnforcedPause");
      await expect(
        pm.createPolicyFromBalance(ID2, e.recipient.address, start, start + 2n, rate, nodes),
      ).to.be.revertedWithCustomError(pm, "EnforcedPause");
      expect(await pm.paused()).to.equal(true);
      await expect(pm.revokePolicy(ID)).to.emit(pm, "PolicyRevoked");
      await expect(pm.withdraw()).to.be.revertedWithCustomError(pm, "NothingToWithdraw");
      await expect(e.policyManager.connect(e.governance).unpause())
        .to.emit(pm, "Unpaused")
        .withArgs(e.governance.address);
      await expect(pm.createPolicy(ID2, e.recipient.address, start, start + 2n, rate, nodes)).to.emit(
        pm,
        "PolicyCreated",
      );
    });
  });

  describe("createPolicy", () => {
    it("takes the fee for every node and period, a share of each node, and records the policy", async () => {
      const start = (await currentPeriod()) + 1n;
      const nodes = e.nodes.slice(0, 3);
      const before = await e.token.balanceOf(e.owner.address);
      await expect(pm.createPolicy(ID, e.recipient.address, start, start + 10n, rate, nodes))
        .to.emit(pm, "PolicyCreated")
        .withArgs(ID, e.owner.address, e.recipient.address);
      expect(await e.token.balanceOf(e.owner.address)).to.equal(before - 30n * rate);
      expect(await e.token.balanceOf(pm)).to.equal(30n * rate);
      const info = await pm.policyInfo(ID);
      expect(info.owner).to.equal(e.owner.address);
      expect(info.recipient).to.equal(e.recipient.address);
      expect([info.startPeriod, info.endPeriod, info.revokedAt, info.feeRate]).to.deep.equal([
        start,
        start + 10n,
        0n,
        rate,
      ]);
      expect(info.nodes).to.deep.equal(nodes);
      expect(await pm.isPolicyActive(ID)).to.equal(true);
      expect(await pm.isNodeActive(ID, 2)).to.equal(true);
      expect(await pm.isNodeActive(ID, 3)).to.equal(false);
      for (const n of nodes) expect((await e.escrow.shareCapacity(n)).held).to.equal(1n);
      expect((await e.escrow.shareCapacity(e.nodes[3])).held).to.equal(0n);
    });

    it("pays from the owner's balance here: deposits and refunds", async () => {
      const start = (await currentPeriod()) + 1n;
      const nodes = e.nodes.slice(0, 2);
      await expect(pm.deposit(0n)).to.be.revertedWithCustomError(pm, "InvalidParams");
      await expect(pm.deposit(15n * rate))
        .to.emit(pm, "Deposited")
        .withArgs(e.owner.address, 15n * rate);
      const before = await e.token.balanceOf(e.owner.address);
      await expect(pm.createPolicyFromBalance(ID, e.recipient.address, start, start + 5n, rate, nodes))
        .to.emit(pm, "PolicyCreated")
        .withArgs(ID, e.owner.address, e.recipient.address);
      expect(await pm.balanceOf(e.owner.address)).to.equal(5n * rate);
      expect(await e.token.balanceOf(e.owner.address)).to.equal(before);
      await expect(pm.createPolicyFromBalance(ID2, e.recipient.address, start, start + 5n, rate, nodes))
        .to.be.revertedWithCustomError(pm, "InsufficientBalance")
        .withArgs(10n * rate, 5n * rate);
      // the refund of a revocation lands in the wallet; settlement refunds land in the balance
      await pm.revokePolicy(ID);
      expect(await e.token.balanceOf(e.owner.address)).to.equal(before + 10n * rate);
      await pm.withdraw();
      expect(await e.token.balanceOf(e.owner.address)).to.equal(before + 15n * rate);
    });

    it("packs more than eight nodes correctly", async () => {
      // 10 stakers: the four of the fixture and six more
      const extra = (await ethers.getSigners()).slice(14, 20);
      for (const [i, s] of extra.entries()) {
        await e.token.transfer(s.address, 1_000n * unit);
        await e.token.connect(s).approve(e.escrow, ethers.MaxUint256);
        await e.escrow.connect(s).deposit(1_000n * unit, 30);
        await e.escrow.connect(s).bondOperator(ethers.Wallet.createRandom().address);
        expect(i).to.be.lessThan(6);
      }
      const nodes = [...e.nodes, ...extra.map((s) => s.address)].sort((a, b) =>
        BigInt(a) < BigInt(b) ? -1 : 1,
      );
      const start = await currentPeriod();
      await pm.createPolicy(ID, e.recipient.address, start, start + 2n, rate, nodes);
      expect(await pm.policyNodes(ID)).to.deep.equal(nodes);
    });

    it("refuses a used id, bad periods, a fee rate out of range and a bad node list", async () => {
      const { start, nodes } = await create();
      const r = e.recipient.address;
      await expect(pm.createPolicy(ID, r, start, start + 1n, rate, nodes))
        .to.be.revertedWithCustomError(pm, "PolicyExists")
        .withArgs(ID);
      const now = await currentPeriod();
      await expect(pm.createPolicy(ID2, r, now - 1n, now + 1n, rate, nodes))
        .to.be.revertedWithCustomError(pm, "InvalidPeriods")
        .withArgs(now - 1n, now + 1n, now);
      await expect(pm.createPolicy(ID2, r, now + 1n, now + 1n, rate, nodes)).to.be.revertedWithCustomError(
        pm,
        "InvalidPeriods",
      );
      await expect(pm.createPolicy(ID2, r, now, 2n ** 32n, rate, nodes)).to.be.revertedWithCustomError(
        pm,
        "InvalidPeriods",
      );
      await expect(pm.createPolicy(ID2, r, now, now + 1n, minFeeRate - 1n, nodes))
        .to.be.revertedWithCustomError(pm, "FeeRateOutOfRange")
        .withArgs(minFeeRate - 1n, minFeeRate, maxFeeRate);
      await expect(
        pm.createPolicy(ID2, r, now, now + 1n, maxFeeRate + 1n, nodes),
      ).to.be.revertedWithCustomError(pm, "FeeRateOutOfRange");
      for (const bad of [[], [nodes[1], nodes[0]], [nodes[0], nodes[0]]]) {
        await expect(pm.createPolicy(ID2, r, now, now + 1n, rate, bad)).to.be.revertedWithCustomError(
          pm,
          "InvalidNodes",
        );
      }
      await expect(
        pm.createPolicy(ID2, ethers.ZeroAddress, now, now + 1n, rate, nodes),
      ).to.be.revertedWithCustomError(pm, "InvalidNodes");
      const tooMany = Array.from({ length: 256 }, (_, i) => ethers.zeroPadValue(ethers.toBeHex(i + 1), 20));
      await expect(pm.createPolicy(ID2, r, now, now + 1n, rate, tooMany)).to.be.revertedWithCustomError(
        pm,
        "InvalidNodes",
      );
    });

    it("refuses a node that is not an active staker, is locked too briefly or is full", async () => {
      const now = await currentPeriod();
      const r = e.recipient.address;
      const outsider = e.others[2].address;
      await expect(pm.createPolicy(ID, r, now, now + 1n, rate, [outsider]))
        .to.be.revertedWithCustomError(e.escrow, "NodeNotEligible")
        .withArgs(outsider);
      const node = e.stakers[0];
      await e.escrow.connect(node).setWindDown(true); // locked for 30 more periods
      await expect(
        pm.createPolicy(ID, r, now, now + 31n, rate, [node.address]),
      ).to.be.revertedWithCustomError(e.escrow, "NodeNotEligible");
      await e.escrow.setStakeLimits(100n * unit, 100_000n * unit, 500n * unit); // 2 shares per node
      await pm.createPolicy(ID, r, now, now + 30n, rate, [node.address]);
      await pm.createPolicy(ID2, r, now, now + 30n, rate, [node.address]);
      await expect(
        pm.createPolicy("0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", r, now, now + 30n, rate, [node.address]),
      ).to.be.revertedWithCustomError(e.escrow, "NodeNotEligible");
    });

    it("accepts an EIP-2612 permit instead of an approval, even one a front-runner used first", async () => {
      const payer = e.others[3];
      const start = (await currentPeriod()) + 1n;
      const nodes = e.nodes.slice(0, 2);
      const value = 2n * 5n * rate;
      const deadline = start * 86_400n + 86_400n * 10n;
      const sig = await signPermit(e.token, payer, await pm.getAddress(), value, deadline);
      const args = [
        e.recipient.address,
        start,
        start + 5n,
        rate,
        nodes,
        deadline,
        sig.v,
        sig.r,
        sig.s,
      ] as const;
      await expect(e.policyManager.connect(payer).createPolicyWithPermit(ID, ...args)).to.emit(
        pm,
        "PolicyCreated",
      );
      expect(await e.token.allowance(payer.address, pm)).to.equal(0n);
      // a second policy: the permit is submitted by someone else first; creation still works
      const sig2 = await signPermit(e.token, payer, await pm.getAddress(), value, deadline);
      await e.token.connect(e.others[4]).permit(payer.address, pm, value, deadline, sig2.v, sig2.r, sig2.s);
      await expect(
        e.policyManager
          .connect(payer)
          .createPolicyWithPermit(
            ID2,
            e.recipient.address,
            start,
            start + 5n,
            rate,
            nodes,
            deadline,
            sig2.v,
            sig2.r,
            sig2.s,
          ),
      ).to.emit(pm, "PolicyCreated");
      // terms are checked before the permit: an absurd fee rate is refused, never an overflow
      await expect(
        e.policyManager
          .connect(payer)
          .createPolicyWithPermit(
            "0x" + "cd".repeat(16),
            e.recipient.address,
            start,
            start + 1n,
            2n ** 255n,
            nodes,
            deadline,
            sig2.v,
            sig2.r,
            sig2.s,
          ),
      ).to.be.revertedWithCustomError(pm, "FeeRateOutOfRange");
      await expect(
        e.policyManager
          .connect(payer)
          .createPolicyWithPermit(
            ID,
            e.recipient.address,
            start,
            start,
            rate,
            nodes,
            deadline,
            sig2.v,
            sig2.r,
            sig2.s,
          ),
      ).to.be.revertedWithCustomError(pm, "PolicyExists");
    });
  });

  describe("fees", () => {
    it("pays each node only the periods it committed to and refunds the others to the owner", async () => {
      const { start, nodes } = await create(ID, e.nodes.slice(0, 3), 4n);
      // node 0 commits to every period, node 1 to the first two, node 2 never
      for (let p = 0; p < 4; p++) {
        await commit(e, p < 2 ? [nodes[0], nodes[1]] : [nodes[0]]);
        await nextPeriod();
      }
      expect(await currentPeriod()).to.equal(start + 3n);
      await expect(pm.settle([ID]))
        .to.emit(pm, "FeesSettled")
        .withArgs(ID, (3n + 2n) * rate, (0n + 1n + 3n) * rate);
      expect(await pm.balanceOf(nodes[0])).to.equal(3n * rate);
      expect(await pm.balanceOf(nodes[1])).to.equal(2n * rate);
      expect(await pm.balanceOf(nodes[2])).to.equal(0n);
      expect(await pm.balanceOf(e.owner.address)).to.equal(4n * rate);
      expect((await pm.nodeState(ID, 0)).settledUntil).to.equal(start + 3n);
      // nothing more within the same period
      await expect(pm.settle([ID])).not.to.emit(pm, "FeesSettled");
      // the last period, then the shares come back
      await nextPeriod();
      await expect(pm.settle([ID]))
        .to.emit(pm, "FeesSettled")
        .withArgs(ID, rate, 2n * rate);
      for (const n of nodes) expect((await e.escrow.shareCapacity(n)).held).to.equal(0n);
      await nextPeriod();
      await expect(pm.settle([ID])).not.to.emit(pm, "FeesSettled");
      expect(await pm.isPolicyActive(ID)).to.equal(false);
      // everyone withdraws; the manager is left with nothing
      for (const n of nodes.slice(0, 2)) {
        const staker = e.stakers.find((s) => s.address === n)!;
        const owed = await pm.balanceOf(n);
        await expect(e.policyManager.connect(staker).withdraw()).to.emit(pm, "Withdrawn").withArgs(n, owed);
      }
      const before = await e.token.balanceOf(e.owner.address);
      await pm.withdraw();
      expect(await e.token.balanceOf(e.owner.address)).to.equal(before + 6n * rate);
      expect(await e.token.balanceOf(pm)).to.equal(0n);
      await expect(pm.withdraw())
        .to.be.revertedWithCustomError(pm, "NothingToWithdraw")
        .withArgs(e.owner.address);
    });

    it("refuses to settle an unknown policy", async () => {
      await expect(pm.settle([ID]))
        .to.be.revertedWithCustomError(pm, "PolicyNotFound")
        .withArgs(ID);
      await expect(pm.policyInfo(ID)).to.be.revertedWithCustomError(pm, "PolicyNotFound");
      expect(await pm.isPolicyActive(ID)).to.equal(false);
    });
  });

  describe("revocation", () => {
    it("refunds the periods after the current one and pays the nodes up to it", async () => {
      const { start, end, nodes } = await create(ID, e.nodes.slice(0, 3), 10n);
      await commit(e, nodes);
      await nextPeriod(); // start: the nodes serve it
      await commit(e, nodes);
      const before = await e.token.balanceOf(e.owner.address);
      await expect(pm.revokePolicy(ID))
        .to.emit(pm, "PolicyRevoked")
        .withArgs(ID, start + 1n, 3n * 9n * rate);
      expect(await e.token.balanceOf(e.owner.address)).to.equal(before + 27n * rate);
      expect(await pm.isPolicyActive(ID)).to.equal(false);
      expect((await pm.policyInfo(ID)).revokedAt).to.equal(start + 1n);
      for (const n of nodes) expect((await e.escrow.shareCapacity(n)).held).to.equal(0n);
      await expect(pm.revokePolicy(ID)).to.be.revertedWithCustomError(pm, "PolicyInactive").withArgs(ID);
      await nextPeriod(3);
      await expect(pm.settle([ID]))
        .to.emit(pm, "FeesSettled")
        .withArgs(ID, 3n * rate, 0n);
      expect(end).to.equal(start + 10n);
      expect(await e.token.balanceOf(pm)).to.equal(3n * rate);
    });

    it("refunds nothing when revoked in the last period", async () => {
      const { end, nodes } = await create(ID, e.nodes.slice(0, 2), 3n);
      await nextPeriod(Number(end - 1n - (await currentPeriod())));
      await expect(pm.revokeNode(ID, 0)).to.emit(pm, "NodeRevoked").withArgs(ID, nodes[0], end, 0n);
      await expect(pm.revokePolicy(ID)).to.emit(pm, "PolicyRevoked").withArgs(ID, end, 0n);
    });

    it("refunds everything when revoked before the start", async () => {
      await create(ID, e.nodes.slice(0, 2), 5n);
      await expect(pm.revokePolicy(ID))
        .to.emit(pm, "PolicyRevoked")
        .withArgs(ID, (await currentPeriod()) + 1n, 10n * rate);
      expect(await e.token.balanceOf(pm)).to.equal(0n);
    });

    it("lets only the owner revoke, only an active policy", async () => {
      const { nodes } = await create(ID, e.nodes.slice(0, 2), 2n);
      const other = e.policyManager.connect(e.others[3]);
      await expect(other.revokePolicy(ID))
        .to.be.revertedWithCustomError(pm, "NotPolicyOwner")
        .withArgs(ID, e.others[3].address);
      await expect(other.revokeNode(ID, 0)).to.be.revertedWithCustomError(pm, "NotPolicyOwner");
      await nextPeriod(3);
      await expect(pm.revokePolicy(ID)).to.be.revertedWithCustomError(pm, "PolicyInactive");
      await expect(pm.revokeNode(ID, 0)).to.be.revertedWithCustomError(pm, "PolicyInactive");
      expect(nodes).to.have.length(2);
    });

    it("revokes one node, then the rest of the policy, refunding each period once", async () => {
      const { start, nodes } = await create(ID, e.nodes.slice(0, 3), 6n);
      await nextPeriod(2); // start + 1
      await expect(pm.revokeNode(ID, 1))
        .to.emit(pm, "NodeRevoked")
        .withArgs(ID, nodes[1], start + 2n, 4n * rate);
      expect(await pm.isNodeActive(ID, 1)).to.equal(false);
      expect(await pm.isNodeActive(ID, 0)).to.equal(true);
      expect((await e.escrow.shareCapacity(nodes[1])).held).to.equal(0n);
      await expect(pm.revokeNode(ID, 1))
        .to.be.revertedWithCustomError(pm, "NodeAlreadyRevoked")
        .withArgs(ID, 1);
      await expect(pm.revokeNode(ID, 3)).to.be.revertedWithCustomError(pm, "InvalidPosition").withArgs(ID, 3);
      await nextPeriod();
      // start + 2: nodes 0 and 2 have 3 periods left after this one
      await expect(pm.revokePolicy(ID))
        .to.emit(pm, "PolicyRevoked")
        .withArgs(ID, start + 3n, 2n * 3n * rate);
      await nextPeriod(2);
      // nobody committed: every served period goes back to the owner
      await expect(pm.settle([ID]))
        .to.emit(pm, "FeesSettled")
        .withArgs(ID, 0n, (3n + 2n + 3n) * rate);
      expect(await e.token.balanceOf(pm)).to.equal(8n * rate);
    });
  });

  describe("pay per re-encryption", () => {
    async function metered() {
      const p = await create(ID, e.nodes.slice(0, 3), 5n);
      await pm.setReencryptionPrice(ID, 10n ** 15n);
      await pm.fundReencryptions(ID, 10n ** 18n); // 1 000 re-encryptions
      return p;
    }

    it("sets the price once, by the owner only", async () => {
      await create();
      await expect(e.policyManager.connect(e.others[3]).setReencryptionPrice(ID, 1n))
        .to.be.revertedWithCustomError(pm, "NotPolicyOwner")
        .withArgs(ID, e.others[3].address);
      await expect(pm.setReencryptionPrice(ID, 0n)).to.be.revertedWithCustomError(pm, "InvalidParams");
      await expect(pm.setReencryptionPrice(ID, 7n)).to.emit(pm, "ReencryptionPriceSet").withArgs(ID, 7n);
      await expect(pm.setReencryptionPrice(ID, 8n))
        .to.be.revertedWithCustomError(pm, "PriceAlreadySet")
        .withArgs(ID);
    });

    it("takes budget deposits from anyone for an active, priced policy", async () => {
      await expect(pm.fundReencryptions(ID, 1n))
        .to.be.revertedWithCustomError(pm, "PolicyInactive")
        .withArgs(ID);
      await create();
      await expect(pm.fundReencryptions(ID, 1n))
        .to.be.revertedWithCustomError(pm, "PriceNotSet")
        .withArgs(ID);
      await pm.setReencryptionPrice(ID, 7n);
      await expect(pm.fundReencryptions(ID, 0n)).to.be.revertedWithCustomError(pm, "InvalidParams");
      const funder = e.stakers[0];
      await e.token.connect(funder).approve(pm, 100n);
      await expect(e.policyManager.connect(funder).fundReencryptions(ID, 100n))
        .to.emit(pm, "ReencryptionsFunded")
        .withArgs(ID, funder.address, 100n);
      expect((await pm.metering(ID)).budget).to.equal(100n);
    });

    it("pays a node for the latest cumulative voucher, once per re-encryption", async () => {
      const { nodes } = await metered();
      const price = 10n ** 15n;
      const v5 = await signVoucher(pm, e.recipient, ID, nodes[1], 5n);
      const anyone = e.policyManager.connect(e.others[4]);
      await expect(anyone.claimReencryptions(ID, 1, 5n, v5))
        .to.emit(pm, "ReencryptionsPaid")
        .withArgs(ID, nodes[1], 5n, 5n * price);
      await expect(anyone.claimReencryptions(ID, 1, 5n, v5))
        .to.be.revertedWithCustomError(pm, "StaleVoucher")
        .withArgs(5n, 5n);
      const v3 = await signVoucher(pm, e.recipient, ID, nodes[1], 3n);
      await expect(anyone.claimReencryptions(ID, 1, 3n, v3)).to.be.revertedWithCustomError(
        pm,
        "StaleVoucher",
      );
      const v12 = await signVoucher(pm, e.recipient, ID, nodes[1], 12n);
      await expect(anyone.claimReencryptions(ID, 1, 12n, v12))
        .to.emit(pm, "ReencryptionsPaid")
        .withArgs(ID, nodes[1], 12n, 7n * price);
      expect(await pm.balanceOf(nodes[1])).to.equal(12n * price);
      expect(await pm.reencryptionsPaid(ID, nodes[1])).to.equal(12n);
      expect((await pm.metering(ID)).budget).to.equal(10n ** 18n - 12n * price);
    });

    it("refuses vouchers over budget, not by the recipient, for another node or policy", async () => {
      const { nodes } = await metered();
      const v2000 = await signVoucher(pm, e.recipient, ID, nodes[0], 2000n);
      await expect(pm.claimReencryptions(ID, 0, 2000n, v2000))
        .to.be.revertedWithCustomError(pm, "BudgetExceeded")
        .withArgs(2n * 10n ** 18n, 10n ** 18n);
      const forged = await signVoucher(pm, e.owner, ID, nodes[0], 5n);
      await expect(pm.claimReencryptions(ID, 0, 5n, forged))
        .to.be.revertedWithCustomError(pm, "InvalidVoucherSigner")
        .withArgs(e.owner.address);
      const forNode0 = await signVoucher(pm, e.recipient, ID, nodes[0], 5n);
      await expect(pm.claimReencryptions(ID, 1, 5n, forNode0)).to.be.revertedWithCustomError(
        pm,
        "InvalidVoucherSigner",
      );
      await expect(pm.claimReencryptions(ID, 3, 5n, forNode0)).to.be.revertedWithCustomError(
        pm,
        "InvalidPosition",
      );
      const otherPolicy = await signVoucher(pm, e.recipient, ID2, nodes[0], 5n);
      await expect(pm.claimReencryptions(ID, 0, 5n, otherPolicy)).to.be.revertedWithCustomError(
        pm,
        "InvalidVoucherSigner",
      );
      await expect(pm.claimReencryptions(ID, 0, 6n, forNode0)).to.be.revertedWithCustomError(
        pm,
        "InvalidVoucherSigner",
      );
      const exact = await signVoucher(pm, e.recipient, ID, nodes[0], 1000n);
      await expect(pm.claimReencryptions(ID, 0, 1000n, exact)).to.emit(pm, "ReencryptionsPaid");
      expect((await pm.metering(ID)).budget).to.equal(0n);
    });

    it("returns the rest of the budget to the owner after the claim window", async () => {
      const { end, nodes } = await metered();
      await expect(e.policyManager.connect(e.others[3]).reclaimBudget(ID)).to.be.revertedWithCustomError(
        pm,
        "NotPolicyOwner",
      );
      await expect(pm.reclaimBudget(ID))
        .to.be.revertedWithCustomError(pm, "ClaimWindowOpen")
        .withArgs(end + BigInt(claimWindowPeriods));
      await nextPeriod(Number(end - (await currentPeriod())) + claimWindowPeriods - 1);
      // a node can still claim inside the window
      const v = await signVoucher(pm, e.recipient, ID, nodes[2], 100n);
      await pm.claimReencryptions(ID, 2, 100n, v);
      await expect(pm.reclaimBudget(ID)).to.be.revertedWithCustomError(pm, "ClaimWindowOpen");
      await nextPeriod();
      const before = await e.token.balanceOf(e.owner.address);
      await expect(pm.reclaimBudget(ID))
        .to.emit(pm, "BudgetReclaimed")
        .withArgs(ID, 9n * 10n ** 17n);
      expect(await e.token.balanceOf(e.owner.address)).to.equal(before + 9n * 10n ** 17n);
      await expect(pm.reclaimBudget(ID)).to.be.revertedWithCustomError(pm, "NothingToWithdraw");
    });

    it("counts the claim window from a revocation", async () => {
      await metered();
      await pm.revokePolicy(ID);
      const revokedAt = (await pm.policyInfo(ID)).revokedAt;
      await expect(pm.reclaimBudget(ID))
        .to.be.revertedWithCustomError(pm, "ClaimWindowOpen")
        .withArgs(revokedAt + BigInt(claimWindowPeriods));
      await nextPeriod(claimWindowPeriods + 1);
      await expect(pm.reclaimBudget(ID)).to.emit(pm, "BudgetReclaimed");
    });
  });

  describe("key-leak revocation hook", () => {
    it("is callable by the key-leak contract only and reports the node's fee and served fee", async () => {
      const { start, nodes } = await create(ID, e.nodes.slice(0, 3), 10n);
      const challenge = e.others[4];
      await e.policyManager.connect(e.governance).setKeyLeakChallenge(challenge.address);
      await expect(pm.revokeLeakedNode(ID, 0))
        .to.be.revertedWithCustomError(pm, "NotKeyLeakChallenge")
        .withArgs(e.owner.address);
      await nextPeriod(4); // start + 3: periods start .. start + 3 served
      const hook = e.policyManager.connect(challenge);
      expect(await hook.revokeLeakedNode.staticCall(ID, 2)).to.deep.equal([nodes[2], 10n * rate, 4n * rate]);
      const before = await e.token.balanceOf(e.owner.address);
      await expect(hook.revokeLeakedNode(ID, 2))
        .to.emit(pm, "NodeRevoked")
        .withArgs(ID, nodes[2], start + 4n, 6n * rate);
      expect(await e.token.balanceOf(e.owner.address)).to.equal(before + 6n * rate);
      await expect(hook.revokeLeakedNode(ID, 2)).to.be.revertedWithCustomError(pm, "NodeAlreadyRevoked");
      await expect(hook.revokeLeakedNode(ID2, 0)).to.be.revertedWithCustomError(pm, "PolicyInactive");
    });
  });

  describe("views", () => {
    it("gives each node by position", async () => {
      const { nodes } = await create();
      for (const [i, n] of nodes.entries()) expect(await pm.nodeAt(ID, i)).to.equal(n);
      await expect(pm.nodeAt(ID, 3)).to.be.revertedWithCustomError(pm, "InvalidPosition").withArgs(ID, 3);
      await expect(pm.nodeAt(ID2, 0)).to.be.revertedWithCustomError(pm, "InvalidPosition");
    });

    it("hands governance over in two steps", async () => {
      const gov = e.policyManager.connect(e.governance);
      await expect(gov.transferOwnership(e.others[2].address)).to.emit(pm, "OwnershipTransferStarted");
      await expect(e.policyManager.connect(e.others[2]).acceptOwnership())
        .to.emit(pm, "OwnershipTransferred")
        .withArgs(e.governance.address, e.others[2].address);
      await expect(gov.pause()).to.be.revertedWithCustomError(pm, "OwnableUnauthorizedAccount");
    });

    it("exposes the voucher domain", async () => {
      expect(await pm.domainSeparator()).to.equal(
        ethers.TypedDataEncoder.hashDomain(await eip712Domain("NKMS PolicyManager", pm)),
      );
      expect(await pm.VOUCHER_TYPEHASH()).to.equal(
        ethers.id("ReencryptionVoucher(bytes16 policyId,address node,uint64 count)"),
      );
    });
  });
});
