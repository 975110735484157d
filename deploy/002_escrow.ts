import type { DeployFunction } from "hardhat-deploy/types";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { deployParams, escrowConstructorParams, tokens } from "../src/chain/params";
import { NKMSToken__factory, StakingEscrow__factory } from "../typechain-types";

/**
 * Deploys the StakingEscrow (governed by the deployer) and moves the reward reserve into it.
 * Slashing contracts get the slasher role from governance with `setSlasher(address, true)`.
 */
const deployEscrow: DeployFunction = async (hre: HardhatRuntimeEnvironment) => {
  const { deployer } = await hre.getNamedAccounts();
  const { deploy, get } = hre.deployments;
  const params = deployParams(hre.network.name);
  const token = await get("NKMSToken");
  const deployed = await deploy("StakingEscrow", {
    from: deployer,
    args: [token.address, escrowConstructorParams(params.escrow), deployer],
    log: hre.network.name !== "hardhat",
  });
  const signer = await hre.ethers.getSigner(deployer);
  const escrow = StakingEscrow__factory.connect(deployed.address, signer);
  if ((await escrow.initialReserve()) === 0n) {
    const reserve = tokens(params.rewardReserveTokens);
    await (await NKMSToken__factory.connect(token.address, signer).approve(escrow, reserve)).wait();
    await (await escrow.fundReserve(reserve)).wait();
  }
};

deployEscrow.tags = ["StakingEscrow", "core"];
deployEscrow.dependencies = ["NKMSToken"];
export default deployEscrow;
