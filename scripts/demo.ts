/**
 * `npm run demo`: the NKMS story on the in-process Hardhat network. It grows with each
 * layer that lands; today it deploys the contract suite and prints what was deployed.
 */
import hre from "hardhat";
import { formatUnits } from "ethers";
import { NKMSToken__factory } from "../typechain-types";

function step(title: string): void {
  console.log(`\n== ${title}`);
}

async function main(): Promise<void> {
  step("Deploy the contract suite (hardhat-deploy, in-process network)");
  await hre.deployments.fixture(["core"]);
  const [deployer] = await hre.ethers.getSigners();
  const rows: { contract: string; address: string; gasUsed: string }[] = [];
  for (const [name, record] of Object.entries(await hre.deployments.all())) {
    rows.push({
      contract: name,
      address: record.address,
      gasUsed: record.receipt?.gasUsed?.toString() ?? "?",
    });
  }
  console.table(rows);

  const token = NKMSToken__factory.connect((await hre.deployments.get("NKMSToken")).address, deployer);
  console.log(
    `NKMSToken: max supply ${formatUnits(await token.maxSupply(), 18)} NKMS, deployer holds ${formatUnits(
      await token.balanceOf(deployer.address),
      18,
    )} NKMS`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
