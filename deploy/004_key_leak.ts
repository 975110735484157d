import type { DeployFunction } from "hardhat-deploy/types";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { ZeroAddress } from "ethers";
import { deployParams } from "../src/chain/params";
import { PolicyManager__factory, StakingEscrow__factory } from "../typechain-types";

/**
 * Deploys the KeyLeakChallenge, grants it the escrow's slasher role and makes it the policy
 * manager's key-leak contract (both from the deployer, which governs them).
 */
const deployKeyLeakChallenge: DeployFunction = async (hre: HardhatRuntimeEnvironment) => {
  const { deployer } = await hre.getNamedAccounts();
  const { deploy, get } = hre.deployments;
  const params = deployParams(hre.network.name).keyLeak;
  const escrowAddress = (await get("StakingEscrow")).address;
  const policyManagerAddress = (await get("PolicyManager")).address;
  const deployed = await deploy("KeyLeakChallenge", {
    from: deployer,
    args: [escrowAddress, policyManagerAddress, params.alphaBps],
    log: hre.network.name !== "hardhat",
  });
  const signer = await hre.ethers.getSigner(deployer);
  const escrow = StakingEscrow__factory.connect(escrowAddress, signer);
  if (!(await escrow.isSlasher(deployed.address)))
    await (await escrow.setSlasher(deployed.address, true)).wait();
  const policyManager = PolicyManager__factory.connect(policyManagerAddress, signer);
  if ((await policyManager.keyLeakChallenge()) === ZeroAddress) {
    await (await policyManager.setKeyLeakChallenge(deployed.address)).wait();
  }
};

deployKeyLeakChallenge.tags = ["KeyLeakChallenge", "core"];
deployKeyLeakChallenge.dependencies = ["PolicyManager"];
export default deployKeyLeakChallenge;
