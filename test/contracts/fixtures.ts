import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { NKMSToken__factory, PolicyManager__factory, StakingEscrow__factory } from "../../typechain-types";
import type { NKMSToken, PolicyManager, StakingEscrow } from "../../typechain-types";

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

export const minFeeRate = 10n ** 15n;
export const maxFeeRate = 10n ** 21n;
export const claimWindowPeriods = 3;
export const rate = 10n ** 18n; // 1 NKMS per node per period

export interface PolicyEconomy extends Economy {
  policyManager: PolicyManager;
  owner: HardhatEthersSigner;
  recipient: HardhatEthersSigner;
  /** the four stakers' addresses in increasing order (a policy's node list must be sorted) */
  nodes: string[];
}

/** A policy manager with the test fee range and claim window, set as the escrow's. */
export async function deployPolicyManager(e: Economy): Promise<PolicyManager> {
  const policyManager = await new PolicyManager__factory(e.governance).deploy(
    e.escrow,
    minFeeRate,
    maxFeeRate,
    claimWindowPeriods,
    e.governance.address,
  );
  await e.escrow.setPolicyManager(policyManager);
  return policyManager;
}

/** Token, escrow and policy manager; four stakers locked for 30 periods with operators bonded. */
export async function deployPolicyFixture(): Promise<PolicyEconomy> {
  const e = await deployEscrowFixture();
  const policyManager = await deployPolicyManager(e);
  await stakeAndBond(e, 4, 1_000n * unit, 30);
  const [owner, recipient] = e.others;
  await e.token.connect(owner).approve(policyManager, ethers.MaxUint256);
  const nodes = e.stakers.map((s) => s.address).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  return { ...e, policyManager, owner, recipient, nodes };
}

/** The EIP-712 domain (version 1, this chain) of the contract `name` at `contract`'s address. */
export async function eip712Domain(name: string, contract: { getAddress(): Promise<string> }) {
  const { chainId } = await ethers.provider.getNetwork();
  return { name, version: "1", chainId, verifyingContract: await contract.getAddress() };
}

/** A voucher for `count` re-encryptions by `node`, signed by `signer` (EIP-712). */
export async function signVoucher(
  policyManager: PolicyManager,
  signer: HardhatEthersSigner,
  policyId: string,
  node: string,
  count: bigint,
): Promise<string> {
  return signer.signTypedData(
    await eip712Domain("NKMS PolicyManager", policyManager),
    {
      ReencryptionVoucher: [
        { name: "policyId", type: "bytes16" },
        { name: "node", type: "address" },
        { name: "count", type: "uint64" },
      ],
    },
    { policyId, node, count },
  );
}

/** Operators of the given stakers commit to the next period. */
export async function commit(e: Economy, stakerAddresses: string[]): Promise<void> {
  for (const a of stakerAddresses) {
    await e.escrow.connect(operatorOf(e, a)).commitToNextPeriod();
  }
}

/** The operator paired with the staker at `stakerAddress` (operators[i] with stakers[i]). */
export function operatorOf(e: Economy, stakerAddress: string): HardhatEthersSigner {
  return e.operators[e.stakers.findIndex((s) => s.address === stakerAddress)];
}

/** An EIP-2612 permit of the NKMS token, signed by `owner`, for its current nonce. */
export async function signPermit(
  token: NKMSToken,
  owner: HardhatEthersSigner,
  spender: string,
  value: bigint,
  deadline: bigint,
): Promise<ReturnType<typeof ethers.Signature.from>> {
  const nonce = await token.nonces(owner.address);
  const types = {
    Permit: [
      { name: "owner", type: "address" },
      { name: "spender", type: "address" },
      { name: "value", type: "uint256" },
      { name: "nonce", type: "uint256" },
      { name: "deadline", type: "uint256" },
    ],
  };
  const domain = await eip712Domain("NKMS", token);
  const message = { owner: owner.address, spender, value, nonce, deadline };
  return ethers.Signature.from(await owner.signTypedData(domain, types, message));
}
