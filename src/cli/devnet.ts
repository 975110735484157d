/**
 * A local NKMS network: the in-process Hardhat chain served over JSON-RPC on loopback, the
 * contract suite deployed by the deploy scripts, N funded and staked nodes serving HTTPS on
 * loopback (in this process, or each as its own `nkms node run` process), and a devnet file
 * every other command (and `nkms node`) reads.
 * Used by `nkms devnet up`, `npm run demo`, the end-to-end tests and the network benchmark.
 *
 * It needs the repository (hardhat.config.ts and deploy/): it is a development tool.
 */
import type { Command } from "commander";
import { getAddress, Wallet, type ContractRunner, type JsonRpcProvider, type Provider } from "ethers";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { CONTRACT_NAMES, type ContractName, type Deployment } from "../chain/deployments";
import { tokens } from "../chain/params";
import { clientContracts, type ClientContracts } from "../client/contracts";
import { ClientError } from "../client/errors";
import type { DevnetFile, NetworkConfig } from "../client/network";
import { loadConfig, type NodeConfig } from "../node/config";
import { initNode } from "../node/init";
import { createLogger, type Logger } from "../node/log";
import { startNode, type RunningNode } from "../node/run";
import { requestNode } from "../protocol/https";
import { CliError } from "./common";

export const DEVNET_PASSPHRASE = "nkms devnet passphrase (not a secret)";

/** the `nkms` command of this repository (devnet node processes run it) */
const BIN = path.resolve(__dirname, "..", "..", "bin", "nkms.cjs");

/**
 * The parts of the Hardhat runtime (with hardhat-deploy and hardhat-ethers) the devnet uses;
 * declared here because src/ is built without hardhat.config.ts and its plugins' type extensions.
 */
export interface DevnetHardhat {
  deployments: {
    fixture(tags: string[]): Promise<unknown>;
    all(): Promise<Record<string, { address: string }>>;
  };
  ethers: { provider: unknown; getSigners(): Promise<(ContractRunner & { address: string })[]> };
  network: { provider: { send(method: string, params: unknown[]): Promise<unknown> } };
}

export interface DevnetOptions {
  hre: DevnetHardhat;
  /** how many nodes to stake and run */
  nodes: number;
  /** directory for the devnet file and the node directories */
  dir: string;
  /** JSON-RPC port on 127.0.0.1 (0 = any free port) */
  rpcPort?: number;
  /** stake of node i in whole tokens (default 20 000 + 10 000·i) */
  stakeTokens?: (i: number) => bigint;
  /** nodes to run as their own `nkms node run` processes (as operators do): all (true) or these indexes */
  processes?: boolean | number[];
  /** tune each node's config before it starts */
  tune?: (config: NodeConfig, i: number) => void;
  logger?: Logger;
}

export interface DevnetNode {
  index: number;
  dir: string;
  configFile: string;
  config: NodeConfig;
  staker: Wallet;
  operator: string;
  url: string;
  /** set while the node runs in this process */
  running?: RunningNode;
  /** set while the node runs as a child process (`processes: true`) */
  process?: ChildProcess;
}

export interface Devnet {
  file: string;
  rpcUrl: string;
  chainId: bigint;
  deployment: Deployment;
  network: NetworkConfig;
  provider: Provider;
  /** contracts as the deployer (governance) */
  contracts: ClientContracts;
  deployer: { address: string };
  owner: Wallet;
  recipient: Wallet;
  nodes: DevnetNode[];
  /** starts node i (again), in this process or as a child process; resolves once it serves */
  startNode(i: number): Promise<void>;
  /** stops node i */
  stopNode(i: number): Promise<void>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Refuses a port something listens on already. Hardhat's JSON-RPC server cannot report that
 * (its listen error is thrown uncaught), so the port is tried first, just before it listens.
 */
async function checkPortFree(port: number): Promise<void> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EADDRINUSE") throw error;
    throw new CliError(
      "PORT_IN_USE",
      `port ${port} on 127.0.0.1 is in use (another devnet or JSON-RPC node?): stop it, or pass --port <port> (0: any free port)`,
    );
  });
  await new Promise((resolve) => server.close(resolve));
}

/** The fast duty schedule of devnet nodes (chain time can jump). */
function tuneForDevnet(config: NodeConfig): void {
  config.workers = 1;
  config.policyCacheTtlMs = 0;
  config.logLevel = "warn";
  config.duties.commitCheckIntervalMs = 250;
  config.duties.commitRetryDelayMs = 250;
  config.duties.gcIntervalMs = 5_000;
  config.duties.settleIntervalMs = 0;
}

/** Whether a node process is still running. */
const alive = (child?: ChildProcess): child is ChildProcess =>
  child !== undefined && child.exitCode === null && child.signalCode === null;

export async function startDevnet(o: DevnetOptions): Promise<Devnet> {
  const { hre } = o;
  if (!Number.isInteger(o.nodes) || o.nodes < 1)
    throw new Error(`--nodes must be a positive integer, got ${o.nodes}`);
  await hre.deployments.fixture(["core"]);
  const contracts: Partial<Record<ContractName, string>> = {};
  for (const [name, record] of Object.entries(await hre.deployments.all())) {
    if ((CONTRACT_NAMES as readonly string[]).includes(name))
      contracts[name as ContractName] = record.address;
  }
  // the JSON-RPC server hardhat's own `node` task uses, over the in-process network
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { JsonRpcServer } = require("hardhat/internal/hardhat-network/jsonrpc/server") as {
    JsonRpcServer: new (config: { hostname: string; port: number; provider: unknown }) => {
      listen(): Promise<{ address: string; port: number }>;
      close(): Promise<void>;
    };
  };
  const server = new JsonRpcServer({
    hostname: "127.0.0.1",
    port: o.rpcPort ?? 0,
    provider: hre.network.provider,
  });
  if (o.rpcPort) await checkPortFree(o.rpcPort);
  const { port } = await server.listen();
  // from here on a failure stops what was started (a listening server would keep the process up)
  const nodes: DevnetNode[] = [];
  const stopOne = async (i: number) => {
    const node = nodes[i];
    const { running, process: child } = node;
    node.running = undefined;
    node.process = undefined;
    await running?.close();
    if (alive(child)) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
  };
  const stopAll = async () => {
    await Promise.all(nodes.map((node) => stopOne(node.index)));
  };
  try {
    fs.mkdirSync(o.dir, { recursive: true });
    const rpcUrl = `http://127.0.0.1:${port}`;
    const provider = hre.ethers.provider as unknown as JsonRpcProvider;
    const chainId = (await provider.getNetwork()).chainId;
    const deployment: Deployment = { chainId, contracts };
    const [deployerSigner] = await hre.ethers.getSigners();
    const governance = clientContracts(deployment, deployerSigner);

    const fund = async (address: string, nkms: bigint) => {
      await hre.network.provider.send("hardhat_setBalance", [address, "0x56BC75E2D63100000"]);
      if (nkms > 0n) await (await governance.token.transfer(address, nkms)).wait();
    };
    const owner = new Wallet(Wallet.createRandom().privateKey, provider);
    const recipient = new Wallet(Wallet.createRandom().privateKey, provider);
    await fund(owner.address, tokens(100_000n));
    await fund(recipient.address, 0n);

    const file = path.join(o.dir, "devnet.json");
    const devnetFile: DevnetFile = {
      chainId: Number(chainId),
      rpcUrl,
      contracts: contracts as Record<string, string>,
      nodes: [],
      accounts: { owner: owner.privateKey, recipient: recipient.privateKey, stakers: [] },
    };
    const write = () => fs.writeFileSync(file, JSON.stringify(devnetFile, null, 2) + "\n");
    write();

    const logger = o.logger ?? createLogger("warn");
    for (let i = 0; i < o.nodes; i++) {
      const dir = path.join(o.dir, `node-${i}`);
      fs.rmSync(dir, { recursive: true, force: true });
      const init = await initNode({
        dir,
        passphrase: DEVNET_PASSPHRASE,
        rpcUrl,
        deploymentsFile: file,
        publicHost: "127.0.0.1",
        listenHost: "127.0.0.1",
        port: await freePort(),
        scryptN: 1 << 10,
      });
      const raw = JSON.parse(fs.readFileSync(init.configFile, "utf8")) as NodeConfig;
      tuneForDevnet(raw);
      o.tune?.(raw, i);
      fs.writeFileSync(init.configFile, JSON.stringify(raw, null, 2) + "\n");
      const staker = new Wallet(Wallet.createRandom().privateKey, provider);
      const stake = tokens(o.stakeTokens?.(i) ?? 20_000n + 10_000n * BigInt(i));
      await fund(staker.address, stake);
      await fund(init.operatorAddress, 0n);
      const asStaker = clientContracts(deployment, staker);
      await (await asStaker.token.approve(contracts.StakingEscrow!, stake)).wait();
      await (await asStaker.escrow.deposit(stake, 60)).wait();
      await (await asStaker.escrow.bondOperator(init.operatorAddress)).wait();
      const node: DevnetNode = {
        index: i,
        dir,
        configFile: init.configFile,
        config: loadConfig(init.configFile),
        staker,
        operator: getAddress(init.operatorAddress),
        url: init.config.publicUrl,
      };
      nodes.push(node);
      devnetFile.nodes.push({
        url: node.url,
        staker: staker.address,
        operator: node.operator,
        configFile: init.configFile,
      });
      devnetFile.accounts.stakers.push(staker.privateKey);
    }
    write();

    const passphraseFile = path.join(o.dir, "passphrase");
    fs.writeFileSync(passphraseFile, DEVNET_PASSPHRASE, { mode: 0o600 });
    const startOne = async (i: number) => {
      const node = nodes[i];
      if (node.running || alive(node.process)) return;
      const asProcess = o.processes === true || (Array.isArray(o.processes) && o.processes.includes(i));
      if (!asProcess) {
        node.running = await startNode(node.config, DEVNET_PASSPHRASE, { logger });
        return;
      }
      const child = spawn(
        process.execPath,
        [BIN, "node", "run", "--config", node.configFile, "--passphrase-file", passphraseFile],
        { stdio: ["ignore", "ignore", fs.openSync(path.join(node.dir, "node.log"), "a")] },
      );
      node.process = child;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const up = await requestNode({
          url: node.url,
          method: "GET",
          path: "/health",
          timeoutMs: 1_000,
        }).then(
          () => true,
          () => false,
        );
        if (up) return;
        if (child.exitCode !== null || Date.now() > deadline) {
          child.kill("SIGKILL");
          node.process = undefined;
          throw new Error(`node ${i} did not start (see ${path.join(node.dir, "node.log")})`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    // every start settles before a failure is reported, so that what did start is stopped
    const started = await Promise.allSettled(nodes.map((n) => startOne(n.index)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    // Nodes are sampled once committed to the next period. Move the chain into that period and
    // wait for the next commitments, so every node also serves (and earns) the current period.
    const waitForCommitments = async (period: bigint) => {
      for (const node of nodes) {
        const deadline = Date.now() + 30_000;
        while (!(await governance.escrow.committed(node.staker.address, period))) {
          if (Date.now() > deadline) {
            throw new Error(`node ${node.index} (${node.staker.address}) did not commit to period ${period}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    const period = BigInt(await governance.escrow.currentPeriod());
    await waitForCommitments(period + 1n);
    const periodLength = BigInt(await governance.escrow.periodLength());
    await hre.network.provider.send("evm_setNextBlockTimestamp", [
      `0x${((period + 1n) * periodLength).toString(16)}`,
    ]);
    await hre.network.provider.send("evm_mine", []);
    await waitForCommitments(period + 2n);

    return {
      file,
      rpcUrl,
      chainId,
      deployment,
      network: { chainId, deployment, nodeUrls: nodes.map((n) => n.url) },
      provider,
      contracts: governance,
      deployer: { address: deployerSigner.address },
      owner,
      recipient,
      nodes,
      startNode: startOne,
      stopNode: stopOne,
      async close() {
        await stopAll();
        await server.close();
      },
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    await server.close();
    throw error;
  }
}

/** `nkms devnet up --nodes N`: the devnet until Ctrl-C. */
export function registerDevnetCommands(program: Command): void {
  const devnet = program
    .command("devnet")
    .description("a local NKMS network for development (needs the repository)");
  devnet
    .command("up")
    .description(
      "start a Hardhat JSON-RPC chain, deploy the contracts, fund and stake N nodes, run them over HTTPS on loopback, write a devnet file; Ctrl-C stops everything",
    )
    .option("--nodes <n>", "how many nodes", "5")
    .option("--port <port>", "JSON-RPC port on 127.0.0.1", "8545")
    .option("--dir <dir>", "where the node directories go", ".nkms-devnet")
    .option("--file <file>", "where to write the devnet file other commands read", "devnet.json")
    .option("--processes", "run each node as its own `nkms node run` process (default: all in this one)")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nExample:\n  nkms devnet up --nodes 5        # then, in another terminal: nkms keys new --out alice.json",
    )
    .action(async (o) => {
      const nodes = Number(o.nodes);
      const port = Number(o.port);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50)
        throw new ClientError("INVALID_ARGUMENT", `--nodes must be 1…50, got ${o.nodes}`);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new ClientError("INVALID_ARGUMENT", `--port: not a port: ${o.port}`);
      const root = path.resolve(__dirname, "..", "..");
      if (!fs.existsSync(path.join(root, "hardhat.config.ts"))) {
        throw new ClientError(
          "INVALID_ARGUMENT",
          "`nkms devnet` runs from the NKMS repository (hardhat.config.ts not found)",
        );
      }
      const dir = path.resolve(o.dir);
      const file = path.resolve(o.file);
      // hardhat finds its config from the working directory, and the nodes' worker threads
      // resolve ts-node from it: run from the repository
      process.chdir(root);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const hre = require("hardhat") as DevnetHardhat;
      const net = await startDevnet({ hre, nodes, dir, rpcPort: port, processes: Boolean(o.processes) });
      fs.copyFileSync(net.file, file);
      const summary = {
        devnetFile: file,
        rpcUrl: net.rpcUrl,
        chainId: net.chainId,
        contracts: net.deployment.contracts,
        nodes: net.nodes.map((n) => ({ url: n.url, staker: n.staker.address, operator: n.operator })),
        owner: net.owner.address,
        recipient: net.recipient.address,
      };
      if (o.json)
        process.stdout.write(
          JSON.stringify(summary, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) + "\n",
        );
      else {
        process.stdout.write(`devnet up: chain ${net.chainId} at ${net.rpcUrl}, ${nodes} nodes\n`);
        for (const n of summary.nodes) process.stdout.write(`  node ${n.url}  staker ${n.staker}\n`);
        process.stdout.write(
          `devnet file: ${file} (test keys inside; never use them elsewhere)\nCtrl-C to stop.\n`,
        );
      }
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await net.close();
      process.stderr.write("devnet stopped\n");
      process.exit(0);
    });
}
