import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { StakingEscrow__factory } from "../../typechain-types";
import type { StakingEscrow } from "../../typechain-types";
import {
  currentPeriod,
  deployEscrowFixture,
  nextPeriod,
  stakeAndBond,
  testParams,
  testReserve,
  unit,
  type Economy,
} from "./fixtures";

/** The reward formula, written independently of the contract. */
function expectedReward(reserve: bigint, amount: bigint, total: bigint, remaining: bigint): bigint {
  const p = testParams;
  const coef = BigInt(p.k1) + (remaining < BigInt(p.kmax) ? remaining : BigInt(p.kmax));
  return (p.issuancePerPeriod * reserve * amount * coef) / (testReserve * total * BigInt(p.k2));
}

async function expectStake(
  escrow: StakingEscrow,
  staker: string,
  value: bigint,
  locked: bigint,
): Promise<void> {
  expect([await escrow.stakeOf(staker), (await escrow.stakeInfo(staker)).locked]).to.deep.equal([
    value,
    locked,
  ]);
}

describe("StakingEscrow", () => {
  let e: Economy;
  beforeEach(async () => {
    e = await loadFixture(deployEscrowFixture);
  });

  describe("deployment and governance", () => {
    it("refuses invalid parameters", async () => {
      const f = new StakingEscrow__factory(e.governance);
      const g = e.governance.address;
      const bad = [
        { periodLength: 0 },
        { minLockPeriods: 0 },
        { k2: 0 },
        { k1: 3 },
        { issuancePerPeriod: 0n },
        { minStake: 0n },
        { maxStake: 1n },
        { stakePerShare: 0n },
      ];
      for (const change of bad) {
        await expect(f.deploy(e.token, { ...testParams, ...change }, g)).to.be.revertedWithCustomError(
          f,
          "InvalidParams",
        );
      }
      await expect(f.deploy(ethers.ZeroAddress, testParams, g)).to.be.revertedWithCustomError(
        f,
        "InvalidParams",
      );
    });

    it("holds the reserve once funded, and only once", async () => {
      expect(await e.token.balanceOf(e.escrow)).to.equal(testReserve);
      expect(await e.escrow.rewardReserve()).to.equal(testReserve);
      expect(await e.escrow.initialReserve()).to.equal(testReserve);
      await expect(e.escrow.fundReserve(testReserve)).to.be.revertedWithCustomError(
        e.escrow,
        "ReserveAlreadyFunded",
      );
      const fresh = await new StakingEscrow__factory(e.governance).deploy(
        e.token,
        testParams,
        e.governance.address,
      );
      await expect(fresh.fundReserve(testParams.issuancePerPeriod)).to.be.revertedWithCustomError(
        fresh,
        "InvalidParams",
      );
      await e.token.approve(fresh, 5000n * unit);
      await expect(fresh.fundReserve(5000n * unit))
        .to.emit(fresh, "ReserveFunded")
        .withArgs(5000n * unit);
    });

    it("lets only governance set slashers, limits, the policy manager and the pause", async () => {
      const outsider = e.others[0];
      const esc = e.escrow.connect(outsider);
      for (const call of [
        esc.setSlasher(outsider.address, true),
        esc.setStakeLimits(1n, 2n, 1n),
        esc.setPolicyManager(outsider.address),
        esc.pause(),
        esc.unpause(),
        esc.fundReserve(1n),
      ]) {
        await expect(call).to.be.revertedWithCustomError(e.escrow, "OwnableUnauthorizedAccount");
      }
    });

    it("hands governance over in two steps", async () => {
      const next = e.others[2];
      await expect(e.escrow.transferOwnership(next.address))
        .to.emit(e.escrow, "OwnershipTransferStarted")
        .withArgs(e.governance.address, next.address);
      expect(await e.escrow.owner()).to.equal(e.governance.address);
      await expect(e.escrow.connect(e.others[3]).acceptOwnership()).to.be.revertedWithCustomError(
        e.escrow,
        "OwnableUnauthorizedAccount",
      );
      await expect(e.escrow.connect(next).acceptOwnership())
        .to.emit(e.escrow, "OwnershipTransferred")
        .withArgs(e.governance.address, next.address);
      await expect(e.escrow.setSlasher(next.address, true)).to.be.revertedWithCustomError(
        e.escrow,
        "OwnableUnauthorizedAccount",
      );
      await e.escrow.connect(next).setSlasher(next.address, true);
    });

    it("grants and revokes the slasher role", async () => {
      const a = e.others[0].address;
      await expect(e.escrow.setSlasher(a, true)).to.emit(e.escrow, "SlasherSet").withArgs(a, true);
      expect(await e.escrow.isSlasher(a)).to.equal(true);
      await expect(e.escrow.setSlasher(a, false)).to.emit(e.escrow, "SlasherSet").withArgs(a, false);
      expect(await e.escrow.isSlasher(a)).to.equal(false);
    });

    it("sets the policy manager once, never to zero", async () => {
      await expect(e.escrow.setPolicyManager(ethers.ZeroAddress)).to.be.revertedWithCustomError(
        e.escrow,
        "InvalidParams",
      );
      const pm = e.others[0].address;
      await expect(e.escrow.setPolicyManager(pm)).to.emit(e.escrow, "PolicyManagerSet").withArgs(pm);
      await expect(e.escrow.setPolicyManager(pm)).to.be.revertedWithCustomError(
        e.escrow,
        "PolicyManagerAlreadySet",
      );
    });

    it("sets the stake limits within sense", async () => {
      await expect(e.escrow.setStakeLimits(10n, 20n, 5n))
        .to.emit(e.escrow, "StakeLimitsSet")
        .withArgs(10n, 20n, 5n);
      expect(await e.escrow.minStake()).to.equal(10n);
      expect(await e.escrow.maxStake()).to.equal(20n);
      expect(await e.escrow.stakePerShare()).to.equal(5n);
      await expect(e.escrow.setStakeLimits(10n, 9n, 5n)).to.be.revertedWithCustomError(
        e.escrow,
        "InvalidParams",
      );
      await expect(e.escrow.setStakeLimits(2n ** 96n, 2n ** 97n, 5n)).to.be.revertedWithCustomError(
        e.escrow,
        "SafeCastOverflowedUintDowncast",
      );
    });

    it("pauses deposits, locks, bonding and commitments, but never withdrawals", async () => {
      const [s] = e.stakers;
      await stakeAndBond(e, 1);
      await expect(e.escrow.pause()).to.emit(e.escrow, "Paused").withArgs(e.governance.address);
      const esc = e.escrow.connect(s);
      for (const call of [
        esc.deposit(100n * unit, 5),
        esc.lock(1n, 5),
        esc.prolong(1),
        esc.bondOperator(ethers.ZeroAddress),
        e.escrow.connect(e.operators[0]).commitToNextPeriod(),
      ]) {
        await expect(call).to.be.revertedWithCustomError(e.escrow, "EnforcedPause");
      }
      await esc.setWindDown(true);
      await nextPeriod(10);
      await expect(esc.withdraw(1_000n * unit)).to.emit(e.escrow, "Withdrawn");
      await expect(e.escrow.unpause()).to.emit(e.escrow, "Unpaused").withArgs(e.governance.address);
      await expect(esc.deposit(100n * unit, 5)).to.emit(e.escrow, "Deposited");
    });
  });

  describe("stakes and locks", () => {
    it("deposits and locks, giving each new staker the next index", async () => {
      const [a, b] = e.stakers;
      await expect(e.escrow.connect(a).deposit(1_000n * unit, 7))
        .to.emit(e.escrow, "Deposited")
        .withArgs(a.address, 1_000n * unit, 7);
      await e.escrow.connect(b).deposit(500n * unit, 5);
      await e.escrow.connect(a).deposit(100n * unit, 5);
      expect(await e.escrow.stakerCount()).to.equal(2n);
      expect(await e.escrow.stakers(0)).to.equal(a.address);
      expect((await e.escrow.stakeInfo(b.address)).index).to.equal(2n);
      const st = await e.escrow.stakeInfo(a.address);
      expect(st.locked).to.equal(1_100n * unit);
      expect(st.lockEnd).to.equal(7n); // remaining lock kept: the longer of 7 and 5
      expect(await e.escrow.stakeOf(a.address)).to.equal(1_100n * unit);
      expect(await e.token.balanceOf(e.escrow)).to.equal(testReserve + 1_600n * unit);
    });

    it("refuses an empty deposit, a short lock and a stake out of range", async () => {
      const esc = e.escrow.connect(e.stakers[0]);
      await expect(esc.deposit(0, 5)).to.be.revertedWithCustomError(e.escrow, "ZeroValue");
      await expect(esc.deposit(100n * unit, 4))
        .to.be.revertedWithCustomError(e.escrow, "LockTooShort")
        .withArgs(4, 5);
      await expect(esc.deposit(99n * unit, 5))
        .to.be.revertedWithCustomError(e.escrow, "StakeOutOfRange")
        .withArgs(99n * unit, testParams.minStake, testParams.maxStake);
      await expect(esc.deposit(100_001n * unit, 5)).to.be.revertedWithCustomError(
        e.escrow,
        "StakeOutOfRange",
      );
    });

    it("keeps the remaining lock without wind-down and lets it run down with it", async () => {
      const [s] = e.stakers;
      const esc = e.escrow.connect(s);
      await esc.deposit(1_000n * unit, 5);
      const start = await currentPeriod();
      await nextPeriod(20);
      expect(await e.escrow.lockedStakeAt(s.address, start + 100n)).to.equal(1_000n * unit);
      await expect(esc.withdraw(1n))
        .to.be.revertedWithCustomError(e.escrow, "InsufficientUnlocked")
        .withArgs(1n, 0n);
      await expect(esc.setWindDown(true)).to.emit(e.escrow, "WindDownSet").withArgs(s.address, true);
      const now = await currentPeriod();
      expect((await e.escrow.stakeInfo(s.address)).lockEnd).to.equal(now + 5n);
      expect(await e.escrow.lockedStakeAt(s.address, now + 4n)).to.equal(1_000n * unit);
      expect(await e.escrow.lockedStakeAt(s.address, now + 5n)).to.equal(0n);
      await nextPeriod(2);
      await esc.setWindDown(true); // no change, no event
      await expect(esc.setWindDown(false)).to.emit(e.escrow, "WindDownSet").withArgs(s.address, false);
      expect((await e.escrow.stakeInfo(s.address)).lockEnd).to.equal(3n);
      // wind down to the end: turning it off then leaves no lock at all
      await esc.setWindDown(true);
      await nextPeriod(3);
      await esc.setWindDown(false);
      expect((await e.escrow.stakeInfo(s.address)).lockEnd).to.equal(0n);
      expect(await e.escrow.lockedStakeAt(s.address, await currentPeriod())).to.equal(0n);
    });

    it("prolongs an active lock only", async () => {
      const [s, t] = e.stakers;
      await e.escrow.connect(s).deposit(1_000n * unit, 5);
      await expect(e.escrow.connect(s).prolong(0)).to.be.revertedWithCustomError(e.escrow, "ZeroValue");
      await expect(e.escrow.connect(s).prolong(3)).to.emit(e.escrow, "Prolonged").withArgs(s.address, 3);
      expect((await e.escrow.stakeInfo(s.address)).lockEnd).to.equal(8n);
      await expect(e.escrow.connect(t).prolong(3))
        .to.be.revertedWithCustomError(e.escrow, "NoActiveLock")
        .withArgs(t.address);
    });

    it("withdraws what is unlocked after the lock ends, and only that", async () => {
      const [s] = e.stakers;
      const esc = e.escrow.connect(s);
      await esc.deposit(1_000n * unit, 5);
      await esc.setWindDown(true);
      await nextPeriod(4);
      await expect(esc.withdraw(1n)).to.be.revertedWithCustomError(e.escrow, "InsufficientUnlocked");
      await nextPeriod(1);
      await expect(esc.withdraw(0)).to.be.revertedWithCustomError(e.escrow, "ZeroValue");
      await expect(esc.withdraw(1_000n * unit + 1n)).to.be.revertedWithCustomError(
        e.escrow,
        "InsufficientUnlocked",
      );
      const before = await e.token.balanceOf(s.address);
      await expect(esc.withdraw(400n * unit))
        .to.emit(e.escrow, "Withdrawn")
        .withArgs(s.address, 400n * unit);
      expect(await e.token.balanceOf(s.address)).to.equal(before + 400n * unit);
      await expectStake(e.escrow, s.address, 600n * unit, 0n);
      // a new lock starts from the unlocked remainder
      await expect(esc.lock(700n * unit, 5)).to.be.revertedWithCustomError(e.escrow, "InsufficientUnlocked");
      await expect(esc.lock(600n * unit, 6))
        .to.emit(e.escrow, "Locked")
        .withArgs(s.address, 600n * unit, 6);
      expect(await e.escrow.lockedStakeAt(s.address, (await currentPeriod()) + 5n)).to.equal(600n * unit);
    });
  });

  describe("operators", () => {
    it("bonds an operator, one staker per operator, changing it only after the minimum time", async () => {
      const [a, b] = e.stakers;
      const [opA, opB] = e.operators;
      await expect(e.escrow.connect(a).bondOperator(opA.address))
        .to.emit(e.escrow, "OperatorBonded")
        .withArgs(a.address, opA.address, await currentPeriod());
      expect(await e.escrow.stakerFromOperator(opA.address)).to.equal(a.address);
      expect(await e.escrow.operatorOf(a.address)).to.equal(opA.address);
      expect(await e.escrow.bondInfo(a.address)).to.deep.equal([opA.address, await currentPeriod()]);
      await expect(e.escrow.connect(b).bondOperator(opA.address))
        .to.be.revertedWithCustomError(e.escrow, "OperatorInUse")
        .withArgs(opA.address);
      const since = await currentPeriod();
      await nextPeriod(1);
      await expect(e.escrow.connect(a).bondOperator(opB.address))
        .to.be.revertedWithCustomError(e.escrow, "BondingTooRecent")
        .withArgs(since, since + 2n);
      await nextPeriod(1);
      await e.escrow.connect(a).bondOperator(opB.address);
      expect(await e.escrow.stakerFromOperator(opA.address)).to.equal(ethers.ZeroAddress);
      expect(await e.escrow.stakerFromOperator(opB.address)).to.equal(a.address);
      await nextPeriod(2);
      await e.escrow.connect(a).bondOperator(ethers.ZeroAddress);
      expect(await e.escrow.operatorOf(a.address)).to.equal(ethers.ZeroAddress);
      expect(await e.escrow.stakerFromOperator(opB.address)).to.equal(ethers.ZeroAddress);
      // an operator belongs to its first staker for ever: what it signed stays attributable
      expect(await e.escrow.operatorStaker(opB.address)).to.equal(a.address);
      await expect(e.escrow.connect(b).bondOperator(opB.address))
        .to.be.revertedWithCustomError(e.escrow, "OperatorInUse")
        .withArgs(opB.address);
      await nextPeriod(2);
      await e.escrow.connect(a).bondOperator(opA.address);
      expect(await e.escrow.stakerFromOperator(opA.address)).to.equal(a.address);
    });
  });

  describe("commitments and rewards", () => {
    it("commits the operator's staker to the next period, once", async () => {
      await stakeAndBond(e, 1);
      const [s] = e.stakers;
      const op = e.escrow.connect(e.operators[0]);
      const next = (await currentPeriod()) + 1n;
      await expect(op.commitToNextPeriod())
        .to.emit(e.escrow, "Committed")
        .withArgs(s.address, next, 1_000n * unit);
      expect(await e.escrow.committed(s.address, next)).to.equal(true);
      expect(await e.escrow.committed(s.address, next - 1n)).to.equal(false);
      expect(await e.escrow.committedStake(next)).to.equal(1_000n * unit);
      await expect(op.commitToNextPeriod())
        .to.be.revertedWithCustomError(e.escrow, "AlreadyCommitted")
        .withArgs(s.address, next);
      await expect(e.escrow.connect(e.others[0]).commitToNextPeriod())
        .to.be.revertedWithCustomError(e.escrow, "NotOperator")
        .withArgs(e.others[0].address);
    });

    it("refuses a commitment beyond the lock", async () => {
      const [s] = e.stakers;
      await e.escrow.connect(s).bondOperator(e.operators[0].address);
      await expect(e.escrow.connect(e.operators[0]).commitToNextPeriod())
        .to.be.revertedWithCustomError(e.escrow, "NoActiveLock")
        .withArgs(s.address);
      await e.escrow.connect(s).deposit(1_000n * unit, 5);
      await e.escrow.connect(s).setWindDown(true);
      await nextPeriod(4); // the last locked period is the current one
      await expect(e.escrow.connect(e.operators[0]).commitToNextPeriod()).to.be.revertedWithCustomError(
        e.escrow,
        "NoActiveLock",
      );
    });

    it("pays each committed period in proportion to stake and lock, nothing for missed ones", async () => {
      const [a, b] = e.stakers;
      await e.escrow.connect(a).deposit(3_000n * unit, 10);
      await e.escrow.connect(a).bondOperator(e.operators[0].address);
      await e.escrow.connect(b).deposit(1_000n * unit, 10);
      await e.escrow.connect(b).bondOperator(e.operators[1].address);
      await e.escrow.connect(b).setWindDown(true);
      const opA = e.escrow.connect(e.operators[0]);
      const opB = e.escrow.connect(e.operators[1]);
      const p0 = await currentPeriod();
      const bEnd = p0 + 10n;
      await opA.commitToNextPeriod();
      await opB.commitToNextPeriod(); // both commit to p0 + 1
      await nextPeriod();
      await opA.commitToNextPeriod(); // only a commits to p0 + 2: b misses it
      expect(await e.escrow.pendingReward(a.address)).to.equal(0n); // p0 + 1 is still running
      await nextPeriod();
      // p0 + 1 is over: a's reward for it (4 000 locked, a has 3 000, lock 10 ≥ kmax)
      const reserve0 = testReserve;
      const ra1 = expectedReward(reserve0, 3_000n * unit, 4_000n * unit, 10n);
      const rb1 = expectedReward(reserve0 - ra1, 1_000n * unit, 4_000n * unit, bEnd - (p0 + 1n));
      expect(await e.escrow.pendingReward(a.address)).to.equal(ra1);
      await expect(opA.commitToNextPeriod())
        .to.emit(e.escrow, "Rewarded")
        .withArgs(a.address, p0 + 1n, ra1);
      expect(await e.escrow.stakeOf(a.address)).to.equal(3_000n * unit + ra1);
      // b settles p0 + 1 without committing; the reserve has shrunk by a's reward
      await expect(e.escrow.settle(b.address))
        .to.emit(e.escrow, "Rewarded")
        .withArgs(b.address, p0 + 1n, rb1);
      expect(await e.escrow.rewardReserve()).to.equal(reserve0 - ra1 - rb1);
      // b's missed period p0 + 2 earns nothing; a alone earns the whole of it (and of p0 + 3,
      // both settled at once, from the same reserve)
      await nextPeriod(2);
      const reserve1 = reserve0 - ra1 - rb1;
      const ra2 = expectedReward(reserve1, 3_000n * unit, 3_000n * unit, 10n);
      expect(ra2).to.equal((testParams.issuancePerPeriod * reserve1) / testReserve);
      await expect(e.escrow.settle(a.address))
        .to.emit(e.escrow, "Rewarded")
        .withArgs(a.address, p0 + 2n, ra2)
        .and.to.emit(e.escrow, "Rewarded")
        .withArgs(a.address, p0 + 3n, ra2);
      expect(await e.escrow.pendingCommitments(a.address)).to.deep.equal([0n, 0n, 0n, 0n]);
      expect(await e.escrow.stakeOf(a.address)).to.equal(3_000n * unit + ra1 + 2n * ra2);
      expect(await e.escrow.stakeOf(b.address)).to.equal(1_000n * unit + rb1);
      // the escrow holds exactly the stakes and the remaining reserve
      const held = (await e.escrow.stakeOf(a.address)) + (await e.escrow.stakeOf(b.address));
      expect(await e.token.balanceOf(e.escrow)).to.equal(held + (await e.escrow.rewardReserve()));
    });

    it("settles nothing when nothing is finished", async () => {
      await stakeAndBond(e, 1);
      await e.escrow.connect(e.operators[0]).commitToNextPeriod();
      await expect(e.escrow.settle(e.stakers[0].address)).not.to.emit(e.escrow, "Rewarded");
      await expect(e.escrow.settle(e.others[0].address)).not.to.emit(e.escrow, "Rewarded");
      await nextPeriod();
      await expect(e.escrow.settle(e.stakers[0].address)).not.to.emit(e.escrow, "Rewarded");
      expect(await e.escrow.pendingCommitments(e.stakers[0].address)).to.deep.equal([
        0n,
        0n,
        await currentPeriod(),
        1_000n * unit,
      ]);
    });

    it("settles rewards before a withdrawal and lets them be locked", async () => {
      await stakeAndBond(e, 1);
      const [s] = e.stakers;
      await e.escrow.connect(e.operators[0]).commitToNextPeriod();
      await nextPeriod(2);
      const reward = await e.escrow.pendingReward(s.address);
      expect(reward).to.be.greaterThan(0n);
      await expect(e.escrow.connect(s).withdraw(reward)).to.emit(e.escrow, "Rewarded");
      expect(await e.escrow.stakeOf(s.address)).to.equal(1_000n * unit);
    });

    it("counts committed periods over many words of the bitmap", async () => {
      await stakeAndBond(e, 1, 1_000n * unit, 600);
      const [s] = e.stakers;
      const first = (await currentPeriod()) + 1n;
      const committedList: bigint[] = [];
      for (let i = 0; i < 300; i += 37) {
        if (i > 0) await nextPeriod(37);
        await e.escrow.connect(e.operators[0]).commitToNextPeriod();
        committedList.push((await currentPeriod()) + 1n);
      }
      const count = async (from: bigint, to: bigint) => e.escrow.committedPeriods(s.address, from, to);
      expect(await count(first, first + 1000n)).to.equal(BigInt(committedList.length));
      expect(await count(first + 1n, committedList[7])).to.equal(6n);
      expect(await count(first + 1n, committedList[7] + 1n)).to.equal(7n);
      expect(await count(first, first)).to.equal(0n);
      expect(await count(first + 5n, first)).to.equal(0n);
    });
  });

  describe("views for clients", () => {
    it("lists active stakers with their stake, page by page", async () => {
      await stakeAndBond(e, 4);
      // a staker that never bonded an operator is never active
      await e.escrow.connect(e.others[0]).deposit(5_000n * unit, 30);
      // staker 2 never commits; staker 3 has no lock through period +20
      await e.escrow.connect(e.stakers[3]).setWindDown(true);
      for (const i of [0, 1, 3]) await e.escrow.connect(e.operators[i]).commitToNextPeriod();
      await e.escrow.connect(e.stakers[0]).deposit(500n * unit, 10);
      const until = (await currentPeriod()) + 20n;
      const [active, stakes, total] = await e.escrow.activeStakers(until, 0, 10);
      expect(active).to.deep.equal([e.stakers[0].address, e.stakers[1].address]);
      expect(stakes).to.deep.equal([1_500n * unit, 1_000n * unit]);
      expect(total).to.equal(2_500n * unit);
      expect((await e.escrow.activeStakers(until, 0, 5)).active).to.have.length(2);
      const page = await e.escrow.activeStakers(until, 1, 2);
      expect(page.active).to.deep.equal([e.stakers[1].address]);
      expect((await e.escrow.activeStakers(until, 10, 5)).active).to.deep.equal([]);
      const soon = await e.escrow.activeStakers((await currentPeriod()) + 2n, 0, 4);
      expect(soon.active).to.have.length(3);
      // committed to the current period still counts as active; to none, not
      await nextPeriod();
      expect((await e.escrow.activeStakers(until, 0, 4)).active).to.have.length(2);
      await nextPeriod();
      expect((await e.escrow.activeStakers(until, 0, 4)).active).to.have.length(0);
    });

    it("gives share capacity in proportion to locked stake", async () => {
      await stakeAndBond(e, 1, 1_020n * unit);
      expect(await e.escrow.shareCapacity(e.stakers[0].address)).to.deep.equal([20n, 0n]);
      expect(await e.escrow.shareCapacity(e.others[0].address)).to.deep.equal([0n, 0n]);
    });
  });

  describe("policy shares", () => {
    let pm: Economy["others"][number];
    beforeEach(async () => {
      pm = e.others[4];
      await e.escrow.setPolicyManager(pm.address);
    });

    it("takes and releases shares for the policy manager only", async () => {
      await stakeAndBond(e, 2, 100n * unit);
      const nodes = [e.stakers[1].address, e.stakers[0].address];
      const end = (await currentPeriod()) + 3n;
      await expect(e.escrow.takeShares(nodes, end))
        .to.be.revertedWithCustomError(e.escrow, "NotPolicyManager")
        .withArgs(e.governance.address);
      await expect(e.escrow.releaseShares([1])).to.be.revertedWithCustomError(e.escrow, "NotPolicyManager");
      expect(await e.escrow.connect(pm).takeShares.staticCall(nodes, end)).to.deep.equal([2n | (1n << 32n)]);
      await e.escrow.connect(pm).takeShares(nodes, end);
      expect(await e.escrow.shareCapacity(nodes[0])).to.deep.equal([2n, 1n]);
      await e.escrow.connect(pm).takeShares(nodes, end);
      await expect(e.escrow.connect(pm).takeShares(nodes, end))
        .to.be.revertedWithCustomError(e.escrow, "NodeNotEligible")
        .withArgs(nodes[0]);
      await e.escrow.connect(pm).releaseShares([2]);
      await e.escrow.connect(pm).releaseShares([2]);
      await e.escrow.connect(pm).releaseShares([2]); // never below zero
      expect((await e.escrow.stakeInfo(nodes[0])).shares).to.equal(0n);
    });

    it("takes no share from a node list out of order or with a node twice", async () => {
      await stakeAndBond(e, 2, 100n * unit);
      const [low, high] = [e.stakers[0].address, e.stakers[1].address].sort((a, b) =>
        BigInt(a) < BigInt(b) ? -1 : 1,
      );
      const end = (await currentPeriod()) + 3n;
      for (const bad of [
        [high, low],
        [low, low],
        [ethers.ZeroAddress, low],
      ]) {
        await expect(e.escrow.connect(pm).takeShares(bad, end)).to.be.revertedWithCustomError(
          e.escrow,
          "InvalidNodes",
        );
      }
      expect((await e.escrow.stakeInfo(low)).shares).to.equal(0n);
      expect(await e.escrow.connect(pm).takeShares.staticCall([low, high], end)).to.have.length(1);
    });

    it("takes no share beyond the 16-bit share counter, whatever the stake", async () => {
      await e.escrow.setStakeLimits(1n, 1_000n * unit, 1n); // a share per wei of stake
      await stakeAndBond(e, 1, 100n * unit);
      const node = e.stakers[0].address;
      const end = (await currentPeriod()) + 3n;
      // set the share counter to 2^16 - 2 in the stake's storage slot (65 534 policies' worth)
      const before = await e.escrow.stakeInfo(node);
      const address = await e.escrow.getAddress();
      let slot: string | undefined;
      for (let p = 0n; p < 16n && !slot; p++) {
        const s = ethers.keccak256(
          ethers.AbiCoder.defaultAbiCoder().encode(["address", "uint256"], [node, p]),
        );
        const word = BigInt(await ethers.provider.getStorage(address, s));
        if (word !== 0n && (word & ((1n << 96n) - 1n)) === before.locked) slot = s;
      }
      const word = BigInt(await ethers.provider.getStorage(address, slot!));
      const full = word | (0xfffen << 144n); // `shares` sits at bits 144..159
      await ethers.provider.send("hardhat_setStorageAt", [address, slot, ethers.toBeHex(full, 32)]);
      expect((await e.escrow.stakeInfo(node)).shares).to.equal(0xfffen);
      await e.escrow.connect(pm).takeShares([node], end);
      expect((await e.escrow.stakeInfo(node)).shares).to.equal(0xffffn);
      await expect(e.escrow.connect(pm).takeShares([node], end))
        .to.be.revertedWithCustomError(e.escrow, "NodeNotEligible")
        .withArgs(node);
    });

    it("keeps a node locked through its policies even when it winds down", async () => {
      const [a] = e.stakers;
      await stakeAndBond(e, 1, 1_000n * unit, 5);
      const end = (await currentPeriod()) + 40n;
      await e.escrow.connect(pm).takeShares([a.address], end);
      expect((await e.escrow.stakeInfo(a.address)).sharesUntil).to.equal(end);
      await e.escrow.connect(a).setWindDown(true); // 5 periods left, but a policy runs for 40
      expect((await e.escrow.stakeInfo(a.address)).lockEnd).to.equal(end);
      await nextPeriod(39);
      await expect(e.escrow.connect(a).withdraw(1n)).to.be.revertedWithCustomError(
        e.escrow,
        "InsufficientUnlocked",
      );
      await nextPeriod(1);
      await e.escrow.connect(a).withdraw(1_000n * unit);
    });

    it("refuses a node without operator or whose lock ends before the policy", async () => {
      const [a, b] = e.stakers;
      await e.escrow.connect(a).deposit(1_000n * unit, 5);
      const end = (await currentPeriod()) + 5n;
      await expect(e.escrow.connect(pm).takeShares([a.address], end))
        .to.be.revertedWithCustomError(e.escrow, "NodeNotEligible")
        .withArgs(a.address);
      await e.escrow.connect(b).deposit(1_000n * unit, 5);
      await e.escrow.connect(b).bondOperator(e.operators[1].address);
      await e.escrow.connect(b).setWindDown(true);
      await e.escrow.connect(pm).takeShares([b.address], end);
      await expect(e.escrow.connect(pm).takeShares([b.address], end + 1n)).to.be.revertedWithCustomError(
        e.escrow,
        "NodeNotEligible",
      );
    });
  });

  describe("slashing", () => {
    let slasher: Economy["others"][number];
    beforeEach(async () => {
      slasher = e.others[3];
      await e.escrow.setSlasher(slasher.address, true);
    });

    it("refuses callers without the slasher role", async () => {
      await expect(e.escrow.slash(e.stakers[0].address, 1n, e.others[0].address, 0n))
        .to.be.revertedWithCustomError(e.escrow, "NotSlasher")
        .withArgs(e.governance.address);
    });

    it("takes the penalty, pays the reporter and burns the rest", async () => {
      await stakeAndBond(e, 1);
      const [s] = e.stakers;
      const reporter = e.others[0];
      const supply = await e.token.totalSupply();
      const before = await e.token.balanceOf(reporter.address);
      await expect(e.escrow.connect(slasher).slash(s.address, 300n * unit, reporter.address, 100n * unit))
        .to.emit(e.escrow, "Slashed")
        .withArgs(s.address, 300n * unit, reporter.address, 100n * unit);
      expect(await e.token.balanceOf(reporter.address)).to.equal(before + 100n * unit);
      expect(await e.token.totalSupply()).to.equal(supply - 200n * unit);
      await expectStake(e.escrow, s.address, 700n * unit, 700n * unit);
    });

    it("counts every slash of a staker (the Adjudicator's penalty history)", async () => {
      await stakeAndBond(e, 2);
      const [s, other] = e.stakers;
      expect(await e.escrow.slashCount(s.address)).to.equal(0n);
      await e.escrow.connect(slasher).slash(s.address, unit, e.others[0].address, 0n);
      await e.escrow.connect(slasher).slash(s.address, unit, ethers.ZeroAddress, 0n);
      expect(await e.escrow.slashCount(s.address)).to.equal(2n);
      expect(await e.escrow.slashCount(other.address)).to.equal(0n);
    });

    it("never takes more than the stake, nor pays more than it takes", async () => {
      await stakeAndBond(e, 1);
      const [s] = e.stakers;
      const reporter = e.others[0].address;
      expect(
        await e.escrow.connect(slasher).slash.staticCall(s.address, 5_000n * unit, reporter, 0n),
      ).to.equal(1_000n * unit);
      await expect(e.escrow.connect(slasher).slash(s.address, 5_000n * unit, reporter, 9_000n * unit))
        .to.emit(e.escrow, "Slashed")
        .withArgs(s.address, 1_000n * unit, reporter, 1_000n * unit);
      expect(await e.escrow.stakeOf(s.address)).to.equal(0n);
      await expect(e.escrow.connect(slasher).slash(s.address, 1n, reporter, 1n))
        .to.emit(e.escrow, "Slashed")
        .withArgs(s.address, 0n, reporter, 0n);
    });

    it("burns everything when there is no reporter", async () => {
      await stakeAndBond(e, 1);
      const supply = await e.token.totalSupply();
      await expect(e.escrow.connect(slasher).slash(e.stakers[0].address, 10n, ethers.ZeroAddress, 5n))
        .to.emit(e.escrow, "Slashed")
        .withArgs(e.stakers[0].address, 10n, ethers.ZeroAddress, 0n);
      expect(await e.token.totalSupply()).to.equal(supply - 10n);
    });

    it("reaches unlocked rewards but leaves the lock untouched when they cover the penalty", async () => {
      await stakeAndBond(e, 1);
      const [s] = e.stakers;
      await e.escrow.connect(e.operators[0]).commitToNextPeriod();
      await nextPeriod(2);
      await e.escrow.settle(s.address);
      const value = await e.escrow.stakeOf(s.address);
      await e.escrow.connect(slasher).slash(s.address, value - 1_000n * unit, ethers.ZeroAddress, 0n);
      await expectStake(e.escrow, s.address, 1_000n * unit, 1_000n * unit);
    });
  });
});
