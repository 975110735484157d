/**
 * Typed handles on a deployment of the NKMS contracts, for the node and the CLI.
 *
 * Why not the typechain factories: `typechain-types/` is generated outside `src/`, and the
 * build (tsconfig.build.json, rootDir src) cannot include it, so `src/` carries the few
 * functions it calls as human-readable ABI fragments with matching TypeScript signatures. The
 * node tests run every one of them against the compiled contracts, so a drift fails a test.
 */
import { Contract, type ContractRunner, type ContractTransactionResponse } from "ethers";
import { contractAddress, type Deployment } from "./deployments";

type View<Args extends unknown[], R> = (...args: Args) => Promise<R>;
type Send<Args extends unknown[]> = (...args: Args) => Promise<ContractTransactionResponse>;

export interface StakingEscrowHandle {
  getAddress(): Promise<string>;
  stakerFromOperator: View<[operator: string], string>;
  operatorOf: View<[staker: string], string>;
  currentPeriod: View<[], bigint>;
  periodLength: View<[], bigint>;
  committed: View<[staker: string, period: bigint | number], boolean>;
  shareCapacity: View<[staker: string], [bigint, bigint] & { capacity: bigint; held: bigint }>;
  stakeOf: View<[staker: string], bigint>;
  lockedStakeAt: View<[staker: string, period: bigint | number], bigint>;
  commitToNextPeriod: Send<[]>;
  settle: Send<[staker: string]>;
}

const ESCROW_ABI = [
  "function stakerFromOperator(address operator) view returns (address)",
  "function operatorOf(address staker) view returns (address)",
  "function currentPeriod() view returns (uint32)",
  "function periodLength() view returns (uint32)",
  "function committed(address staker, uint256 period) view returns (bool)",
  "function shareCapacity(address staker) view returns (uint256 capacity, uint256 held)",
  "function stakeOf(address staker) view returns (uint256)",
  "function lockedStakeAt(address staker, uint256 period) view returns (uint256)",
  "function commitToNextPeriod()",
  "function settle(address staker)",
  "error NotOperator(address account)",
  "error NoActiveLock(address staker)",
  "error AlreadyCommitted(address staker, uint256 period)",
  "error EnforcedPause()",
];

export interface PolicyManagerHandle {
  getAddress(): Promise<string>;
  policyInfo: View<
    [policyId: string],
    [string, string, bigint, bigint, bigint, bigint, string[]] & {
      owner: string;
      recipient: string;
      startPeriod: bigint;
      endPeriod: bigint;
      revokedAt: bigint;
      feeRate: bigint;
      nodes: string[];
    }
  >;
  nodeState: View<[policyId: string, position: number], { settledUntil: bigint; revokedAt: bigint }>;
  metering: View<[policyId: string], [bigint, bigint] & { budget: bigint; price: bigint }>;
  reencryptionsPaid: View<[policyId: string, node: string], bigint>;
  balanceOf: View<[account: string], bigint>;
  settle: Send<[policyIds: string[]]>;
  withdraw: Send<[]>;
  claimReencryptions: Send<[policyId: string, position: number, count: bigint, signature: string]>;
}

const POLICY_MANAGER_ABI = [
  "function policyInfo(bytes16 policyId) view returns (address owner, address recipient, uint256 startPeriod, uint256 endPeriod, uint256 revokedAt, uint256 feeRate, address[] nodes)",
  "function nodeState(bytes16 policyId, uint256 position) view returns (tuple(uint32 settledUntil, uint32 revokedAt))",
  "function metering(bytes16 policyId) view returns (uint96 budget, uint96 price)",
  "function reencryptionsPaid(bytes16 policyId, address node) view returns (uint64)",
  "function balanceOf(address account) view returns (uint256)",
  "function settle(bytes16[] policyIds)",
  "function withdraw()",
  "function claimReencryptions(bytes16 policyId, uint256 position, uint64 count, bytes signature)",
  "error PolicyNotFound(bytes16 policyId)",
  "error InvalidVoucherSigner(address signer)",
  "error StaleVoucher(uint256 count, uint256 paid)",
  "error BudgetExceeded(uint256 value, uint256 budget)",
  "error NothingToWithdraw(address account)",
  "error EnforcedPause()",
];

export interface NkmsContracts {
  escrow: StakingEscrowHandle;
  policyManager: PolicyManagerHandle;
  adjudicator: string;
  keyLeakChallenge: string;
}

export function connectContracts(deployment: Deployment, runner: ContractRunner): NkmsContracts {
  return {
    escrow: new Contract(
      contractAddress(deployment, "StakingEscrow"),
      ESCROW_ABI,
      runner,
    ) as unknown as StakingEscrowHandle,
    policyManager: new Contract(
      contractAddress(deployment, "PolicyManager"),
      POLICY_MANAGER_ABI,
      runner,
    ) as unknown as PolicyManagerHandle,
    adjudicator: contractAddress(deployment, "Adjudicator"),
    keyLeakChallenge: contractAddress(deployment, "KeyLeakChallenge"),
  };
}
