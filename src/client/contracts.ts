/**
 * The contracts the SDK and the CLI call, over the ABI fragments of src/chain/abi.ts (checked
 * against the compiled contracts by test/chain/abi.test.ts).
 */
import { Contract, Interface, type ContractRunner } from "ethers";
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

const INTERFACES = [TOKEN_ABI, STAKING_ESCROW_ABI, POLICY_MANAGER_ABI, ADJUDICATOR_ABI].map(
  (abi) => new Interface(abi),
);

/**
 * The contracts' custom error in a failed call or transaction, as `Name(arg, …)`; undefined when
 * there is none. ethers decodes a revert against the called contract's ABI only for calls; the
 * gas estimate of a transaction leaves the raw revert data, decoded here against all our ABIs.
 */
export function revertOf(error: unknown): string | undefined {
  const e = error as { revert?: { name?: string; args?: unknown[] } | null; data?: unknown };
  let revert = e.revert?.name ? e.revert : undefined;
  if (!revert && typeof e.data === "string" && e.data.length >= 10) {
    for (const iface of INTERFACES) {
      const parsed = iface.parseError(e.data);
      if (parsed) {
        revert = parsed;
        break;
      }
    }
  }
  return revert ? `${revert.name}(${(revert.args ?? []).map(String).join(", ")})` : undefined;
}
