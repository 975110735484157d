import { expect } from "chai";
import hre from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { hexlify, randomBytes } from "ethers";
import type { ContractTransactionResponse } from "ethers";
import { commit, currentPeriod, deployPolicyFixture, nextPeriod, rate } from "./fixtures";

/** solidity-coverage instruments the contracts, which changes every gas figure */
const instrumented =
  (hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING === true;

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  return receipt!.gasUsed;
}

/**
 * The gas targets, measured from receipts in steady state (not the first use of a
 * storage slot: a staker's first commitment and the first commitment of a period pay for new
 * slots, which the table in docs/gas.md lists separately).
 */
describe("gas targets", function () {
  before(function () {
    if (instrumented) this.skip();
  });

  it("commits with reward settlement in at most 100k gas", async () => {
    const e = await loadFixture(deployPolicyFixture);
    const [a, b] = e.nodes;
    for (let i = 0; i < 3; i++) {
      await commit(e, [b]); // another staker commits first each period
      await commit(e, [a]);
      await nextPeriod();
    }
    await commit(e, [b]);
    const i = e.stakers.findIndex((s) => s.address === a);
    const tx = e.escrow.connect(e.operators[i]).commitToNextPeriod();
    await expect(tx).to.emit(e.escrow, "Rewarded");
    const gas = await gasOf(tx);
    console.log(`      commitToNextPeriod with settlement: ${gas} gas`);
    expect(gas).to.be.at.most(100_000n);
  });

  it("creates a 3-node policy in at most 140k gas and revokes it in at most 150k", async () => {
    const e = await loadFixture(deployPolicyFixture);
    const pm = e.policyManager.connect(e.owner);
    const start = (await currentPeriod()) + 1n;
    const nodes = e.nodes.slice(0, 3);
    const r = e.recipient.address;
    // a first policy makes the nodes' share counters and the manager's balance non-zero, as on a
    // live network; policy ids are random 16 bytes, as clients make them
    await pm.createPolicy(randomId(), r, start, start + 30n, rate, nodes);
    const id = randomId();
    const approved = await gasOf(pm.createPolicy(id, r, start, start + 30n, rate, nodes));
    const revoke = await gasOf(pm.revokePolicy(id));
    await pm.deposit(1_000n * rate);
    const fromBalance = await gasOf(
      pm.createPolicyFromBalance(randomId(), r, start, start + 30n, rate, nodes),
    );
    console.log(
      `      createPolicy (3 nodes): ${approved} gas with an approval, ${fromBalance} paid from the balance;` +
        ` revokePolicy (3 nodes): ${revoke} gas`,
    );
    expect(fromBalance).to.be.at.most(140_000n);
    expect(approved).to.be.at.most(145_000n);
    expect(revoke).to.be.at.most(150_000n);
  });
});

function randomId(): string {
  return hexlify(randomBytes(16));
}
