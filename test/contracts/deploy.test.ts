import { expect } from "chai";
import { deployments, ethers, getNamedAccounts } from "hardhat";
import { parseUnits } from "ethers";
import { deployParams } from "../../src/chain/params";
import { NKMSToken__factory } from "../../typechain-types";

describe("deployment (hardhat-deploy, in-process network)", () => {
  it("deploys the NKMS token with the whole configured supply held by the deployer", async () => {
    await deployments.fixture(["core"]);
    const { deployer } = await getNamedAccounts();
    const record = await deployments.get("NKMSToken");
    const token = NKMSToken__factory.connect(record.address, await ethers.getSigner(deployer));
    const supply = parseUnits(deployParams("hardhat").maxSupplyTokens.toString(), 18);
    expect(await token.maxSupply()).to.equal(supply);
    expect(await token.totalSupply()).to.equal(supply);
    expect(await token.balanceOf(deployer)).to.equal(supply);
    expect(await token.symbol()).to.equal("NKMS");
  });

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
