import { expect } from "chai";
import hre, { deployments, ethers, getNamedAccounts } from "hardhat";
import { Wallet, ZeroAddress } from "ethers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Adjudicator__factory, NKMSToken__factory, StakingEscrow__factory } from "../../typechain-types";
import { buildEvidence } from "../../src/pre/evidence";
import {
  ADJUDICATOR_PARAMS,
  evaluateArguments,
  reencryptionLeaf,
  signReencryptionBatch,
} from "../../src/chain/adjudicator";
import { bindingProof, bindingRoots } from "../../src/chain/merkle";
import { deployParams, tokens } from "../../src/chain/params";
import { referenceCases, scalarBytes, withField } from "./adjudicator-helpers";
import type { CFragCase } from "./adjudicator-helpers";

/** The targets, in gas per evaluation transaction. */
const CORRECT_TARGET = 110_000n;
const INCORRECT_TARGET = 180_000n;
/** solidity-coverage instruments the contracts and turns the optimizer off: gas figures mean nothing then. */
const measuringGas = !(hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean })
  .__SOLIDITY_COVERAGE_RUNNING;

/** The deployed system (fixture "core"): a staker with the minimum stake and a bonded operator. */
async function deployedSystem() {
  await deployments.fixture(["core"]);
  const { deployer } = await getNamedAccounts();
  const governance = await ethers.getSigner(deployer);
  const [, staker, reporter] = await ethers.getSigners();
  const token = NKMSToken__factory.connect((await deployments.get("NKMSToken")).address, governance);
  const escrow = StakingEscrow__factory.connect((await deployments.get("StakingEscrow")).address, governance);
  const adjudicator = Adjudicator__factory.connect((await deployments.get("Adjudicator")).address, reporter);
  const params = deployParams("hardhat").escrow;
  const stake = tokens(params.minStakeTokens);
  await token.transfer(staker.address, stake);
  await token.connect(staker).approve(escrow, stake);
  await escrow.connect(staker).deposit(stake, params.minLockPeriods);
  const operator = Wallet.createRandom();
  await escrow.connect(staker).bondOperator(operator.address);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const address = await adjudicator.getAddress();
  /**
   * Signs an answer holding `c` (and `others`, after it) as the node does (one root per run of 8)
   * and submits `c` as the reporter, with its proof; returns the receipt's gas and verdict.
   */
  const submit = async (c: CFragCase, others: CFragCase[] = []) => {
    const leaves = [c, ...others].map(reencryptionLeaf);
    const { root, proof } = bindingProof(leaves, 0);
    const signature = await signReencryptionBatch(operator, chainId, address, bindingRoots(leaves)[root]);
    const args = evaluateArguments(buildEvidence(c), proof, signature);
    const correct = await adjudicator.evaluateCFrag.staticCall(...args);
    const receipt = await (await adjudicator.evaluateCFrag(...args)).wait();
    return { correct, gas: receipt!.gasUsed };
  };
  return { token, escrow, adjudicator, staker, reporter, operator, stake, submit, params };
}

/** Seven other cfrags that fill a run of 8 with the one submitted (its proof: 3 hashes). */
const run = (filler: CFragCase): CFragCase[] =>
  Array.from({ length: 7 }, (_, i) => ({
    ...filler,
    cfrag: withField(filler.cfrag, "z", scalarBytes(BigInt(i + 1))),
  }));

describe("Adjudicator with the deployed StakingEscrow (end to end)", () => {
  it("still slashes for a cfrag signed before the staker unbonded its operator", async () => {
    const { escrow, staker, operator, stake, submit, params } = await deployedSystem();
    const [c] = referenceCases(1);
    await time.increase(params.periodLength * (params.minBondingPeriods + 1));
    await escrow.connect(staker).bondOperator(ZeroAddress);
    expect(await escrow.stakerFromOperator(operator.address)).to.equal(ZeroAddress);
    const { correct } = await submit({ ...c, cfrag: withField(c.cfrag, "z", scalarBytes(1n)) });
    expect(correct).to.equal(false);
    expect(await escrow.stakeOf(staker.address)).to.equal(stake - ADJUDICATOR_PARAMS.basePenalty);
  });

  it("is deployed with the slasher role and the configured penalties", async () => {
    const { escrow, adjudicator } = await deployedSystem();
    expect(await escrow.isSlasher(adjudicator)).to.equal(true);
    expect(await adjudicator.escrow()).to.equal(await escrow.getAddress());
    expect(await adjudicator.basePenalty()).to.equal(ADJUDICATOR_PARAMS.basePenalty);
    expect(await adjudicator.penaltyHistoryCoefficient()).to.equal(
      ADJUDICATOR_PARAMS.penaltyHistoryCoefficient,
    );
    expect(await adjudicator.percentagePenaltyCoefficient()).to.equal(
      ADJUDICATOR_PARAMS.percentagePenaltyCoefficient,
    );
    expect(await adjudicator.rewardCoefficient()).to.equal(ADJUDICATOR_PARAMS.rewardCoefficient);
  });

  it(`judges correct cfrags for at most ${CORRECT_TARGET} gas and leaves the stake alone`, async () => {
    const { escrow, staker, stake, submit } = await deployedSystem();
    for (const c of referenceCases(3)) {
      const { correct, gas } = await submit(c);
      expect(correct).to.equal(true);
      if (measuringGas) expect(gas).to.be.at.most(CORRECT_TARGET);
    }
    expect(await escrow.stakeOf(staker.address)).to.equal(stake);
  });

  it(`keeps the deepest proof the protocol gives (3 hashes, a run of 8 cfrags) within ${CORRECT_TARGET} gas, at most 3 × 900 more than a lone cfrag`, async () => {
    const { submit } = await deployedSystem();
    const [c, filler] = referenceCases(2);
    const lone = await submit(c);
    const { correct, gas } = await submit(
      { ...c, cfrag: withField(c.cfrag, "z", scalarBytes(1n)) },
      run(filler),
    );
    expect([lone.correct, correct]).to.deep.equal([true, false]);
    const [a] = referenceCases(1);
    const deep = await submit(a, run(filler));
    expect(deep.correct).to.equal(true);
    console.log(
      `      evaluateCFrag, correct: proof of 0: ${lone.gas} gas, of 3: ${deep.gas}; incorrect, of 3: ${gas}`,
    );
    if (measuringGas) {
      expect(deep.gas).to.be.at.most(CORRECT_TARGET);
      expect(deep.gas - lone.gas).to.be.at.most(3n * 900n);
    }
  });

  it(`slashes for incorrect cfrags (${INCORRECT_TARGET} gas at most, the first offence too): stake taken, reporter paid, rest burned`, async () => {
    const { token, escrow, adjudicator, staker, reporter, stake, submit } = await deployedSystem();
    const [c] = referenceCases(1);
    const p = ADJUDICATOR_PARAMS;
    let expectedStake = stake;
    for (let i = 0n; i < 3n; i++) {
      const supply = await token.totalSupply();
      const balance = await token.balanceOf(reporter.address);
      const uncapped = p.basePenalty + p.penaltyHistoryCoefficient * i;
      const cap = expectedStake / p.percentagePenaltyCoefficient;
      const penalty = uncapped < cap ? uncapped : cap;
      const reward = penalty / p.rewardCoefficient;
      // the worst case: every check runs, the kfrag signature fails last, the proof is the deepest
      const wrongId = { ...c, cfrag: withField(c.cfrag, "kfragId", scalarBytes(i + 1n)) };
      const { correct, gas } = await submit(wrongId, run(c));
      console.log(
        `      evaluateCFrag, incorrect (kfrag signature, offence ${i + 1n}), proof of 3: ${gas} gas`,
      );
      expect(correct).to.equal(false);
      if (measuringGas) expect(gas).to.be.at.most(INCORRECT_TARGET);
      expectedStake -= penalty;
      expect(await escrow.stakeOf(staker.address)).to.equal(expectedStake);
      expect(await token.balanceOf(reporter.address)).to.equal(balance + reward);
      expect(await token.totalSupply()).to.equal(supply - (penalty - reward));
      expect(await adjudicator.penaltyHistory(staker.address)).to.equal(i + 1n);
    }
  });
});
