/**
 * The contracts the SDK and the CLI call, over the ABI fragments of src/chain/abi.ts (checked
 * against the compiled contracts by test/chain/abi.test.ts).
 */
import { Contract, type ContractRunner } from "ethers";
import { ADJUDICATOR_ABI, POLICY_MANAGER_ABI, STAKING_ESCROW_ABI, TOKEN_ABI } from "../chain/abi";
import { contractAddress, type Deployment } from "../chain/deployments";

/** ethers Contracts over the deployment; methods are called by name (`contracts.policyManager.createPolicy(…)`). */
export interface ClientContracts {
  token: Contract;
  escrow: Contract;
  policyManager: Contract;
  adjudicator?: Contract;
}

export function clientContracts(deployment: Deployment, runner: ContractRunner): ClientContracts {
  return {
    token: new Contract(contractAddress(deployment, "NKMSToken"), TOKEN_ABI, runner),
    escrow: new Contract(contractAddress(deployment, "StakingEscrow"), STAKING_ESCROW_ABI, runner),
    policyManager: new Contract(contractAddress(deployment, "PolicyManager"), POLICY_MANAGER_ABI, runner),
    adjudicator: deployment.contracts.Adjudicator
      ? new Contract(deployment.contracts.Adjudicator, ADJUDICATOR_ABI, runner)
      : undefined,
  };
}
