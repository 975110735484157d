import type { DeployFunction } from "hardhat-deploy/types";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { ZeroAddress } from "ethers";
import { deployParams } from "../src/chain/params";
import { StakingEscrow__factory } from "../typechain-types";

/** Deploys the PolicyManager (governed by the deployer) and makes it the escrow's policy manager. */
const deployPolicyManager: DeployFunction = async (hre: HardhatRuntimeEnvironment) => {
  const { deployer } = await hre.getNamedAccounts();
  const { deploy, get } = hre.deployments;
  const p = deployParams(hre.network.name).policy;
  const escrowAddress = (await get("StakingEscrow")).address;
  const deployed = await deploy("PolicyManager", {
    from: deployer,
    args: [escrowAddress, p.minFeeRate, p.maxFeeRate, p.claimWindowPeriods, deployer],
    log: hre.network.name !== "hardhat",
  });
  const escrow = StakingEscrow__factory.connect(escrowAddress, await hre.ethers.getSigner(deployer));
  if ((await escrow.policyManager()) === ZeroAddress) {
    await (await escrow.setPolicyManager(deployed.address)).wait();
  }
};

deployPolicyManager.tags = ["PolicyManager", "core"];
deployPolicyManager.dependencies = ["StakingEscrow"];
export default deployPolicyManager;
