/** `nkms node init | run | status`: set up, run and inspect a re-encryption node. */
import type { Command } from "commander";
import { formatUnits, getAddress, hexlify } from "ethers";
import fs from "node:fs";
import path from "node:path";
import { requestNode } from "../protocol/https";
import { connectNodeChain } from "../node/chain-contracts";
import { loadConfig } from "../node/config";
import { nodeFiles } from "../node/files";
import { checkNotInitialised, initNode } from "../node/init";
import { startNode } from "../node/run";
import { NodeStorage } from "../node/storage";
import { pemFingerprint } from "../node/tls";
import { output } from "./common";
import { readPassphrase } from "./passphrase";

export function registerNodeCommands(program: Command): void {
  const node = program.command("node").description("run a re-encryption node");

  node
    .command("init")
    .description("create the operator key, the encrypting key, a TLS certificate and a config file")
    .requiredOption("--dir <dir>", "the node's directory (config.json and data/ are created in it)")
    .requiredOption("--rpc-url <url>", "Ethereum JSON-RPC endpoint")
    .option(
      "--network <name>",
      "hardhat-deploy network whose deployments/<name>/ (in the current directory) holds the addresses",
    )
    .option("--deployments <file>", "a devnet file { chainId, contracts: { Name: address } } instead")
    .option("--host <host>", "host name or IP clients reach this node at", "127.0.0.1")
    .option("--port <port>", "HTTPS port", "9151")
    .option("--listen <host>", "address to listen on", "0.0.0.0")
    .option("--staker <address>", "the staker that will bond this operator (default: read on chain)")
    .option("--passphrase-file <file>", "read the keystore passphrase from a file")
    .option("--scrypt-n <n>", "scrypt work factor of the keystores (power of two)", "131072")
    .addHelpText(
      "after",
      "\nExample:\n  nkms node init --dir ~/.nkms/node1 --rpc-url http://127.0.0.1:8545 --network localhost",
    )
    .action(async (o) => {
      if (!o.network && !o.deployments) {
        throw Object.assign(new Error("give --network <name> or --deployments <file>"), { code: "USAGE" });
      }
      // refused before the passphrase is asked for
      checkNotInitialised(path.resolve(o.dir));
      const passphrase = await readPassphrase({ passphraseFile: o.passphraseFile, confirm: true });
      const result = await initNode({
        dir: path.resolve(o.dir),
        passphrase,
        rpcUrl: o.rpcUrl,
        network: o.network,
        deploymentsFile: o.deployments,
        publicHost: o.host,
        port: Number(o.port),
        listenHost: o.listen,
        staker: o.staker ? getAddress(o.staker) : undefined,
        scryptN: Number(o.scryptN),
      });
      output(
        {
          config: result.configFile,
          operator: result.operatorAddress,
          encryptingKey: result.encryptingKey,
          tlsFingerprint: result.tlsFingerprint,
          url: result.config.publicUrl,
        },
        false,
      );
      process.stdout.write(
        `\nNext: fund the operator with ETH for gas, bond it from the staker ` +
          `(StakingEscrow.bondOperator(${result.operatorAddress})), then run\n` +
          `  nkms node run --config ${result.configFile}\n`,
      );
    });

  node
    .command("run")
    .description("start the node (HTTPS service and on-chain duties) until interrupted")
    .requiredOption("--config <file>", "the node's config.json")
    .option("--passphrase-file <file>", "read the keystore passphrase from a file")
    .addHelpText(
      "after",
      "\nExample:\n  nkms node run --config ~/.nkms/node1/config.json --passphrase-file ~/.nkms/node1.pass",
    )
    .action(async (o) => {
      const config = loadConfig(o.config);
      const passphrase = await readPassphrase({ passphraseFile: o.passphraseFile });
      const running = await startNode(config, passphrase);
      const stop = () => {
        void running.close().then(() => process.exit(0));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });

  node
    .command("status")
    .description("show the node's on-chain and local state")
    .requiredOption("--config <file>", "the node's config.json")
    .option("--json", "print JSON")
    .addHelpText("after", "\nExample:\n  nkms node status --config ~/.nkms/node1/config.json --json")
    .action(async (o) => {
      const config = loadConfig(o.config);
      const files = nodeFiles(config.dataDir);
      const operator = getAddress(
        "0x" +
          (
            JSON.parse(fs.readFileSync(files.operatorKeystore, "utf8")) as { address: string }
          ).address.replace(/^0x/, ""),
      );
      const chain = await connectNodeChain(config);
      const staker = await chain.stakerOfOperator(operator);
      const period = await chain.currentPeriod();
      const bonded = staker !== "0x0000000000000000000000000000000000000000";
      const local = NodeStorage.readStats(config.dataDir) ?? "no database yet (the node has not run)";
      const fingerprint = pemFingerprint(fs.readFileSync(files.tlsCert, "utf8"));
      let service: unknown = "not reachable";
      try {
        const health = await requestNode({
          url: config.publicUrl,
          tlsFingerprint: fingerprint,
          method: "GET",
          path: "/health",
          timeoutMs: 3000,
        });
        service = JSON.parse(Buffer.from(health.body).toString("utf8"));
      } catch (error) {
        service = `not reachable: ${(error as Error).message}`;
      }
      const capacity = bonded ? await chain.shareCapacity(staker) : undefined;
      const status = {
        operator,
        operatorBalanceEth: formatUnits(await chain.balance(operator), 18),
        bonded,
        staker: bonded ? staker : null,
        currentPeriod: period,
        committedNext: bonded ? await chain.isCommitted(staker, period + 1) : false,
        shareCapacity: capacity ? String(capacity.capacity) : null,
        sharesHeldOnChain: capacity ? String(capacity.held) : null,
        url: config.publicUrl,
        tlsFingerprint: hexlify(fingerprint),
        local,
        service,
      };
      output(status, o.json);
      chain.destroy();
    });
}
