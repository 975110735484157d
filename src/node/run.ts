/**
 * `nkms node run`: loads the keys, opens the database, checks the node's bonding on chain
 * (refusing to serve unbonded), starts the duties, the crypto workers and the HTTPS server.
 */
import { getAddress } from "ethers";
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import { SecretKey } from "../pre";
import { OperatorKey } from "../protocol/signing";
import { PolicyCache, type NodeChain } from "./chain";
import { connectNodeChain } from "./chain-contracts";
import type { NodeConfig } from "./config";
import { Duties } from "./duties";
import { NotBondedError } from "./errors";
import { nodeFiles } from "./files";
import { lockDataDir } from "./lock";
import { NodeServer } from "./http";
import { readKeystore } from "./keystore";
import { createLogger, type Logger } from "./log";
import { nodeMetrics } from "./metrics";
import { CryptoPool } from "./pool";
import { NodeService } from "./service";
import { NodeStorage } from "./storage";
import { pemFingerprint } from "./tls";

/** How often the database's write-ahead log is checkpointed in the background. */
const CHECKPOINT_INTERVAL_MS = 250;

export interface RunningNode {
  address: AddressInfo;
  staker: string;
  operator: string;
  service: NodeService;
  storage: NodeStorage;
  duties: Duties;
  chain: NodeChain;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** the chain access to use instead of connecting to config.chain (tests) */
  chain?: (operatorSecret: Uint8Array) => Promise<NodeChain>;
}

export async function startNode(
  config: NodeConfig,
  passphrase: string,
  options: StartOptions = {},
): Promise<RunningNode> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const files = nodeFiles(config.dataDir);
  const operatorSecret = await readKeystore(files.operatorKeystore, passphrase);
  const encryptingSecret = await readKeystore(files.encryptingKeystore, passphrase);
  const operator = new OperatorKey(operatorSecret);
  const encryptingKey = SecretKey.fromBEBytes(encryptingSecret).publicKey().toCompressedBytes();
  const tls = {
    certPem: fs.readFileSync(files.tlsCert, "utf8"),
    keyPem: fs.readFileSync(files.tlsKey, "utf8"),
  };
  // before anything that acts: another process on this data directory refuses this one.
  // What is opened is closed in reverse order, on a failed start and on close.
  const opened: (() => unknown)[] = [lockDataDir(config.dataDir)];
  const closeAll = async () => {
    for (const close of opened.splice(0).reverse()) await close();
  };
  try {
    const chain = options.chain
      ? await options.chain(operatorSecret)
      : await connectNodeChain(config, operatorSecret);
    const bondedTo = await chain.stakerOfOperator(operator.address);
    const staker = getAddress(config.chain.staker ?? bondedTo);

    const metrics = nodeMetrics(() => storage.sizeBytes());
    opened.push(metrics.stop);
    const storage = new NodeStorage(config.dataDir, {
      checkpointIntervalMs: CHECKPOINT_INTERVAL_MS,
      onCheckpointError: (message) => {
        logger.error("database checkpoint failed", { error: message });
        metrics.errors.inc({ code: "CHECKPOINT_FAILED" });
      },
    });
    opened.push(() => storage.close());
    metrics.shares.set(storage.countShares());
    const duties = new Duties(chain, config, staker, operator.address, storage, logger, metrics);
    opened.push(() => duties.stop());
    await duties.start();

    const pool = new CryptoPool({ encryptingSecret, nice: config.workerNice }, config.workers);
    opened.push(() => pool.close());
    const service = new NodeService({
      config,
      storage,
      pool,
      policies: new PolicyCache(chain, staker, config.policyCacheTtlMs),
      operator,
      staker,
      chainId: chain.chainId,
      adjudicator: chain.adjudicator,
      policyManager: chain.policyManager,
      keyLeakChallenge: chain.keyLeakChallenge,
      encryptingKey,
      tlsFingerprint: pemFingerprint(tls.certPem),
      logger,
      metrics,
      capacity: async () => (await chain.shareCapacity(staker)).capacity,
    });
    const server = new NodeServer({
      config,
      service,
      tls,
      logger,
      metrics,
      health: () => ({
        status: duties.state.consecutiveCommitFailures > 0 ? "degraded" : "ok",
        staker,
        operator: operator.address,
        shares: storage.countShares(),
        ...duties.state,
      }),
    });
    await pool.ready();
    const address = await server.listen();
    opened.push(() => server.close());
    logger.info("node serving", {
      url: config.publicUrl,
      listen: `${address.address}:${address.port}`,
      staker,
      operator: operator.address,
      workers: pool.size,
    });
    return {
      address,
      staker,
      operator: operator.address,
      service,
      storage,
      duties,
      chain,
      async close() {
        await closeAll();
        logger.info("node stopped");
      },
    };
  } catch (error) {
    if (error instanceof NotBondedError)
      logger.error("refusing to serve: the operator is not bonded", { error });
    await closeAll();
    throw error;
  }
}
