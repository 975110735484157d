/**
 * Test harness for the node: the contracts deployed on the in-process Hardhat network by the
 * deploy scripts, exposed over JSON-RPC on a loopback port (hardhat's JsonRpcServer), so a
 * node — in this process or a child process — talks to the chain exactly as in production.
 */
import hre from "hardhat";
import { JsonRpcServer } from "hardhat/internal/hardhat-network/jsonrpc/server";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { writeDevnetFile, type ContractName } from "../../src/chain/deployments";
import { tokens } from "../../src/chain/params";
import { loadConfig, type NodeConfig } from "../../src/node/config";
import { initNode } from "../../src/node/init";
import { createLogger, type Logger } from "../../src/node/log";
import { requestNode } from "../../src/protocol/https";
import { startNode, type RunningNode } from "../../src/node/run";
import { NKMSToken__factory, StakingEscrow__factory } from "../../typechain-types";
import type { NKMSToken, StakingEscrow } from "../../typechain-types";

export const PASSPHRASE = "correct horse battery staple";
const BIN = path.join(__dirname, "..", "..", "bin", "nkms.cjs");

export interface TestNet {
  rpcUrl: string;
  deploymentsFile: string;
  dir: string;
  token: NKMSToken;
  escrow: StakingEscrow;
  governance: HardhatEthersSigner;
  signers: HardhatEthersSigner[];
  periodLength: number;
  close(): Promise<void>;
}

export async function startTestNet(): Promise<TestNet> {
  await hre.deployments.fixture(["core"]);
  const signers = await hre.ethers.getSigners();
  const governance = signers[0];
  const all = await hre.deployments.all();
  const contracts: Partial<Record<ContractName, string>> = {};
  for (const [name, record] of Object.entries(all)) contracts[name as ContractName] = record.address;
  const server = new JsonRpcServer({ hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
  const { port } = await server.listen();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-node-test-"));
  const deploymentsFile = path.join(dir, "devnet.json");
  writeDevnetFile(deploymentsFile, { chainId: 31337n, contracts });
  const token = NKMSToken__factory.connect(contracts.NKMSToken!, governance);
  const escrow = StakingEscrow__factory.connect(contracts.StakingEscrow!, governance);
  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    deploymentsFile,
    dir,
    token,
    escrow,
    governance,
    signers,
    periodLength: Number(await escrow.periodLength()),
    async close() {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface TestNode {
  dir: string;
  configFile: string;
  config: NodeConfig;
  operator: string;
  staker: HardhatEthersSigner;
  encryptingKey: string;
  tlsFingerprint: string;
}

/** Inits a node directory with fast test settings; stakes and bonds it unless `bond` is false. */
export async function createTestNode(
  net: TestNet,
  staker: HardhatEthersSigner,
  options: { bond?: boolean; stakeTokens?: bigint; tune?: (config: NodeConfig) => void } = {},
): Promise<TestNode> {
  const dir = fs.mkdtempSync(path.join(net.dir, "node-"));
  const result = await initNode({
    dir,
    passphrase: PASSPHRASE,
    rpcUrl: net.rpcUrl,
    deploymentsFile: net.deploymentsFile,
    publicHost: "127.0.0.1",
    listenHost: "127.0.0.1",
    port: await freePort(),
    scryptN: 1 << 10,
  });
  const raw = JSON.parse(fs.readFileSync(result.configFile, "utf8")) as NodeConfig;
  raw.workers = 2;
  raw.policyCacheTtlMs = 0;
  raw.logLevel = "warn";
  raw.duties.commitCheckIntervalMs = 100;
  raw.duties.commitRetryDelayMs = 100;
  raw.duties.gcIntervalMs = 200;
  raw.duties.settleIntervalMs = 0;
  options.tune?.(raw);
  fs.writeFileSync(result.configFile, JSON.stringify(raw, null, 2));
  await hre.network.provider.send("hardhat_setBalance", [result.operatorAddress, "0x56BC75E2D63100000"]);
  if (options.bond ?? true) {
    const value = tokens(options.stakeTokens ?? 20_000n);
    await net.token.connect(net.governance).transfer(staker.address, value);
    await net.token.connect(staker).approve(net.escrow, value);
    await net.escrow.connect(staker).deposit(value, 60);
    await net.escrow.connect(staker).bondOperator(result.operatorAddress);
  }
  return {
    dir,
    configFile: result.configFile,
    config: loadConfig(result.configFile),
    operator: result.operatorAddress,
    staker,
    encryptingKey: result.encryptingKey,
    tlsFingerprint: result.tlsFingerprint,
  };
}

/** Collects the node's JSON log lines (for asserting on alarms). */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { logger: createLogger("debug", (line) => lines.push(JSON.parse(line))), lines };
}

export async function runTestNode(node: TestNode, logger?: Logger): Promise<RunningNode> {
  return startNode(node.config, PASSPHRASE, { logger: logger ?? createLogger("warn") });
}

/** Moves chain time to the start of the next period and mines a block. */
export async function nextPeriod(net: TestNet): Promise<void> {
  const now = await time.latest();
  await time.increaseTo((Math.floor(now / net.periodLength) + 1) * net.periodLength);
}

/** Polls `condition` (real time) until it holds or `timeoutMs` passes. */
export async function eventually(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs the node as its own process (`nkms node run`), with extra Node flags if given. */
export function spawnNode(node: TestNode, nodeArgs: string[] = []): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, BIN, "node", "run", "--config", node.configFile], {
    env: { ...process.env, NKMS_PASSPHRASE: PASSPHRASE },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** Waits until the node answers its health check. */
export async function waitServing(node: TestNode): Promise<void> {
  await eventually(
    () =>
      requestNode({ url: node.config.publicUrl, method: "GET", path: "/health", timeoutMs: 1000 }).then(
        () => true,
        () => false,
      ),
    120_000,
  );
}
