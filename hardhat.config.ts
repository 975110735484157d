import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-toolbox";
import "hardhat-deploy";

/**
 * The Solidity compiler comes from the `solc` npm package (solcjs), so nothing is ever
 * downloaded. Keep SOLC_VERSION equal to the pinned `solc` version in package.json.
 */
const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solcPackage = require("solc/package.json") as { version: string };
  if (solcPackage.version !== SOLC_VERSION) {
    throw new Error(`solc npm package is ${solcPackage.version}, hardhat.config.ts pins ${SOLC_VERSION}`);
  }
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: `${SOLC_VERSION}+solcjs`,
  };
});

const testnetUrl = process.env.NKMS_RPC_URL;
const testnetKey = process.env.NKMS_DEPLOYER_KEY;

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: { optimizer: { enabled: true, runs: 10_000 }, evmVersion: "cancun" },
  },
  networks: {
    hardhat: {},
    localhost: { url: "http://127.0.0.1:8545" },
    ...(testnetUrl ? { testnet: { url: testnetUrl, accounts: testnetKey ? [testnetKey] : [] } } : {}),
  },
  namedAccounts: {
    deployer: { default: 0 },
  },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
  gasReporter: {
    enabled: process.env.REPORT_GAS === "1",
    currency: "USD",
    outputFile: process.env.REPORT_GAS_FILE,
    noColors: Boolean(process.env.REPORT_GAS_FILE),
  },
  mocha: { timeout: 120_000, reporter: require.resolve("./scripts/mocha-reporter.cjs") },
};

export default config;
