import { expect } from "chai";
import { deployments, ethers, getNamedAccounts } from "hardhat";
import { deployParams, escrowConstructorParams, tokens } from "../../src/chain/params";
import {
  KeyLeakChallenge__factory,
  NKMSToken__factory,
  PolicyManager__factory,
  StakingEscrow__factory,
} from "../../typechain-types";

describe("deployment (hardhat-deploy, in-process network)", () => {
  it("deploys the token and the escrow, with the reward reserve moved into the escrow", async () => {
    await deployments.fixture(["core"]);
    const { deployer } = await getNamedAccounts();
    const signer = await ethers.getSigner(deployer);
    const params = deployParams("hardhat");
    const token = NKMSToken__factory.connect((await deployments.get("NKMSToken")).address, signer);
    const escrow = StakingEscrow__factory.connect((await deployments.get("StakingEscrow")).address, signer);
    const supply = tokens(params.maxSupplyTokens);
    const reserve = tokens(params.rewardReserveTokens);
    expect(await token.maxSupply()).to.equal(supply);
    expect(await token.totalSupply()).to.equal(supply);
    expect(await token.symbol()).to.equal("NKMS");
    expect(await token.balanceOf(escrow)).to.equal(reserve);
    expect(await token.balanceOf(deployer)).to.equal(supply - reserve);
    expect(await escrow.rewardReserve()).to.equal(reserve);
    expect(await escrow.owner()).to.equal(deployer);
    expect(await escrow.token()).to.equal(await token.getAddress());
    expect(await escrow.periodLength()).to.equal(BigInt(params.escrow.periodLength));
    expect(await escrow.minStake()).to.equal(tokens(params.escrow.minStakeTokens));
    const policyManager = PolicyManager__factory.connect(
      (await deployments.get("PolicyManager")).address,
      signer,
    );
    expect(await escrow.policyManager()).to.equal(await policyManager.getAddress());
    expect(await policyManager.escrow()).to.equal(await escrow.getAddress());
    expect(await policyManager.minFeeRate()).to.equal(params.policy.minFeeRate);
    expect(await policyManager.maxFeeRate()).to.equal(params.policy.maxFeeRate);
    expect(await policyManager.owner()).to.equal(deployer);
    const challenge = KeyLeakChallenge__factory.connect(
      (await deployments.get("KeyLeakChallenge")).address,
      signer,
    );
    expect(await escrow.isSlasher(challenge)).to.equal(true);
    expect(await policyManager.keyLeakChallenge()).to.equal(await challenge.getAddress());
    expect(await challenge.alphaBps()).to.equal(BigInt(params.keyLeak.alphaBps));
  });

  it("is idempotent: a second run leaves the reserve as it was", async () => {
    await deployments.fixture(["core"]);
    await deployments.run(["core"], { resetMemory: false, deletePreviousDeployments: false });
    const escrow = await deployments.get("StakingEscrow");
    const token = NKMSToken__factory.connect((await deployments.get("NKMSToken")).address, ethers.provider);
    expect(await token.balanceOf(escrow.address)).to.equal(
      tokens(deployParams("hardhat").rewardReserveTokens),
    );
  });

  for (const network of ["hardhat", "testnet"]) {
    it(`accepts the ${network} parameters in every contract`, async () => {
      const [deployer] = await ethers.getSigners();
      const p = deployParams(network);
      const e = p.escrow;
      const token = await new NKMSToken__factory(deployer).deploy(
        tokens(p.maxSupplyTokens),
        deployer.address,
      );
      const escrow = await new StakingEscrow__factory(deployer).deploy(
        token,
        escrowConstructorParams(e),
        deployer.address,
      );
      await token.approve(escrow, tokens(p.rewardReserveTokens));
      await expect(escrow.fundReserve(tokens(p.rewardReserveTokens))).to.emit(escrow, "ReserveFunded");
      const policyManager = await new PolicyManager__factory(deployer).deploy(
        escrow,
        p.policy.minFeeRate,
        p.policy.maxFeeRate,
        p.policy.claimWindowPeriods,
        deployer.address,
      );
      expect(await policyManager.periodLength()).to.equal(BigInt(e.periodLength));
      await new KeyLeakChallenge__factory(deployer).deploy(escrow, policyManager, p.keyLeak.alphaBps);
    });
  }

  it("refuses a zero supply or a zero holder", async () => {
    const [deployer] = await ethers.getSigners();
    const factory = new NKMSToken__factory(deployer);
    await expect(factory.deploy(0n, deployer.address)).to.be.revertedWithCustomError(
      factory,
      "NKMSTokenInvalidSetup",
    );
    await expect(factory.deploy(1n, ethers.ZeroAddress)).to.be.revertedWithCustomError(
      factory,
      "NKMSTokenInvalidSetup",
    );
  });
});
