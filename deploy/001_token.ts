import type { DeployFunction } from "hardhat-deploy/types";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { parseUnits } from "ethers";
import { deployParams } from "../src/chain/params";

const deployToken: DeployFunction = async (hre: HardhatRuntimeEnvironment) => {
  const { deployer } = await hre.getNamedAccounts();
  const params = deployParams(hre.network.name);
  await hre.deployments.deploy("NKMSToken", {
    from: deployer,
    args: [parseUnits(params.maxSupplyTokens.toString(), 18), deployer],
    log: hre.network.name !== "hardhat",
  });
};

deployToken.tags = ["NKMSToken", "core"];
export default deployToken;
