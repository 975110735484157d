import type { DeployFunction } from "hardhat-deploy/types";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { ADJUDICATOR_PARAMS } from "../src/chain/adjudicator";
import { StakingEscrow__factory } from "../typechain-types";

/** Deploys the Adjudicator and grants it the escrow's slasher role (the deployer governs the escrow). */
const deployAdjudicator: DeployFunction = async (hre: HardhatRuntimeEnvironment) => {
  const { deployer } = await hre.getNamedAccounts();
  const { deploy, get } = hre.deployments;
  const p = ADJUDICATOR_PARAMS;
  const escrowAddress = (await get("StakingEscrow")).address;
  const deployed = await deploy("Adjudicator", {
    from: deployer,
    args: [
      escrowAddress,
      p.basePenalty,
      p.penaltyHistoryCoefficient,
      p.percentagePenaltyCoefficient,
      p.rewardCoefficient,
    ],
    log: hre.network.name !== "hardhat",
  });
  const escrow = StakingEscrow__factory.connect(escrowAddress, await hre.ethers.getSigner(deployer));
  if (!(await escrow.isSlasher(deployed.address))) {
    await (await escrow.setSlasher(deployed.address, true)).wait();
  }
};

deployAdjudicator.tags = ["Adjudicator", "core"];
deployAdjudicator.dependencies = ["StakingEscrow"];
export default deployAdjudicator;
