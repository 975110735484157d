/**
 * Typed handles on a deployment of the NKMS contracts, for the node and the CLI.
 * The ABI fragments are in ./abi (checked against the compiled contracts by
 * test/chain/abi.test.ts); the interfaces below type the part the node calls.
 */
import { Contract, type ContractRunner, type ContractTransactionResponse } from "ethers";
import { POLICY_MANAGER_ABI, STAKING_ESCROW_ABI } from "./abi";
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
      STAKING_ESCROW_ABI,
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
