import { expect } from "chai";
import { artifacts } from "hardhat";
import { Interface, type ErrorFragment, type FunctionFragment } from "ethers";
import { ADJUDICATOR_ABI, POLICY_MANAGER_ABI, STAKING_ESCROW_ABI, TOKEN_ABI } from "../../src/chain/abi";

const lists = {
  NKMSToken: TOKEN_ABI,
  StakingEscrow: STAKING_ESCROW_ABI,
  PolicyManager: POLICY_MANAGER_ABI,
  Adjudicator: ADJUDICATOR_ABI,
};

/** contracts whose errors bubble up through another's calls (PolicyManager calls the escrow) */
const callees: Record<string, string[]> = { PolicyManager: ["StakingEscrow"] };

/** a function's observable shape: selector signature, output types (names aside), mutability */
function shape(f: FunctionFragment): string {
  return `${f.format("sighash")} -> (${f.outputs.map((o) => o.format("sighash")).join(",")}) ${f.stateMutability}`;
}

describe("ABI fragments used by src/ match the compiled contracts", () => {
  for (const [name, fragments] of Object.entries(lists)) {
    it(`${name}: every function and error in src/chain/abi.ts exists with the same shape (errors: or in a callee)`, async () => {
      const compiled = new Interface((await artifacts.readArtifact(name)).abi);
      const reachable = [compiled];
      for (const callee of callees[name] ?? []) {
        reachable.push(new Interface((await artifacts.readArtifact(callee)).abi));
      }
      const ours = new Interface(fragments);
      const mismatches: string[] = [];
      ours.forEachFunction((f) => {
        const real = compiled.getFunction(f.selector);
        if (!real) mismatches.push(`missing function ${f.format("sighash")}`);
        else if (shape(real) !== shape(f)) mismatches.push(`${shape(f)} but the contract has ${shape(real)}`);
      });
      ours.forEachError((e: ErrorFragment) => {
        if (!reachable.some((i) => i.getError(e.selector))) {
          mismatches.push(`missing error ${e.format("sighash")}`);
        }
      });
      expect(mismatches).to.deep.equal([]);
    });
  }
});
