import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { NKMSToken__factory, StakingEscrow__factory } from "../../typechain-types";
import type { NKMSToken, StakingEscrow } from "../../typechain-types";

/** 18 decimals. */
export const unit = 10n ** 18n;
export const DAY = 86_400;

/** Small, round parameters so that expected values are easy to compute by hand. */
export const testParams = {
  periodLength: DAY,
  minLockPeriods: 5,
  minBondingPeriods: 2,
  issuancePerPeriod: 1_000n * unit,
  k1: 2,
  k2: 4,
  kmax: 2,
  minStake: 100n * unit,
  maxStake: 100_000n * unit,
  stakePerShare: 50n * unit,
};
export const testReserve = 1_000_000n * unit;
export const testSupply = 20_000_000n * unit;

export interface Economy {
  token: NKMSToken;
  escrow: StakingEscrow;
  governance: HardhatEthersSigner;
  /** stakers, each funded with 1 000 000 NKMS and approved to the escrow */
  stakers: HardhatEthersSigner[];
  /** operators (hot keys), one per staker, not bonded yet */
  operators: HardhatEthersSigner[];
  others: HardhatEthersSigner[];
}

/** Token + escrow with the reserve funded; no policy manager. */
export async function deployEscrowFixture(): Promise<Economy> {
  const signers = await ethers.getSigners();
  const governance = signers[0];
  const stakers = signers.slice(1, 5);
  const operators = signers.slice(5, 9);
  const others = signers.slice(9, 14);
  const token = await new NKMSToken__factory(governance).deploy(testSupply, governance.address);
  const escrow = await new StakingEscrow__factory(governance).deploy(token, testParams, governance.address);
  await token.approve(escrow, testReserve);
  await escrow.fundReserve(testReserve);
  for (const s of [...stakers, ...others]) {
    await token.transfer(s.address, 1_000_000n * unit);
    await token.connect(s).approve(escrow, ethers.MaxUint256);
  }
  // start at the beginning of a period so that a test's few transactions stay inside it
  const now = await time.latest();
  await time.increaseTo(Math.ceil((now + 1) / DAY) * DAY + DAY);
  return { token, escrow, governance, stakers, operators, others };
}

/** Moves to the start of the next period. */
export async function nextPeriod(periods = 1): Promise<void> {
  const now = await time.latest();
  await time.increaseTo((Math.floor(now / DAY) + periods) * DAY);
}

export async function currentPeriod(): Promise<bigint> {
  return BigInt(Math.floor((await time.latest()) / DAY));
}

/** Deposit + bond for each of the first `n` stakers. */
export async function stakeAndBond(
  e: Economy,
  n: number,
  value = 1_000n * unit,
  periods = 10,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    await e.escrow.connect(e.stakers[i]).deposit(value, periods);
    await e.escrow.connect(e.stakers[i]).bondOperator(e.operators[i].address);
  }
}
