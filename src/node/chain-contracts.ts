/**
 * The node's chain access over JSON-RPC and the deployed contracts (NodeChain, chain.ts).
 */
import {
  FetchRequest,
  hexlify,
  JsonRpcProvider,
  Network,
  Wallet,
  type TransactionRequest,
  type ContractTransactionResponse,
} from "ethers";
import { connectContracts, type NkmsContracts } from "../chain/contracts";
import { DeploymentError, loadDeployment } from "../chain/deployments";
import type { NodeChain, PolicyInfo } from "./chain";
import type { NodeConfig } from "./config";

export class ContractNodeChain implements NodeChain {
  readonly adjudicator: string;
  readonly keyLeakChallenge: string;
  /** the operator's transactions, one at a time: concurrent sends would reuse a nonce */
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    readonly chainId: bigint,
    readonly policyManager: string,
    private readonly provider: JsonRpcProvider,
    private readonly contracts: NkmsContracts,
    private readonly periodSeconds: number,
  ) {
    this.adjudicator = contracts.adjudicator;
    this.keyLeakChallenge = contracts.keyLeakChallenge;
  }

  async now(): Promise<number> {
    // straight to the RPC: ethers caches the latest block number for a while
    const block = (await this.provider.send("eth_getBlockByNumber", ["latest", false])) as {
      timestamp?: string;
    } | null;
    if (!block?.timestamp) throw new Error("the RPC returned no latest block");
    return Number(block.timestamp);
  }

  stakerOfOperator(operator: string): Promise<string> {
    return this.contracts.escrow.stakerFromOperator(operator);
  }

  async policy(policyId: Uint8Array, node: string): Promise<PolicyInfo | undefined> {
    const id = hexlify(policyId);
    const pm = this.contracts.policyManager;
    let info: Awaited<ReturnType<typeof pm.policyInfo>>;
    try {
      info = await pm.policyInfo(id);
    } catch (error) {
      if ((error as { revert?: { name?: string } }).revert?.name === "PolicyNotFound") return undefined;
      throw error;
    }
    const position = info.nodes.findIndex((n) => n === node);
    const [nodeState, metering, claimed] = await Promise.all([
      position >= 0 ? pm.nodeState(id, position) : undefined,
      pm.metering(id),
      pm.reencryptionsPaid(id, node),
    ]);
    return {
      owner: info.owner,
      recipient: info.recipient,
      nodes: [...info.nodes],
      startTime: Number(info.startPeriod) * this.periodSeconds,
      endTime: Number(info.endPeriod) * this.periodSeconds,
      revoked: info.revokedAt !== 0n || (nodeState !== undefined && nodeState.revokedAt !== 0n),
      price: metering.price,
      budget: metering.budget,
      claimed,
    };
  }

  async shareCapacity(staker: string): Promise<{ capacity: bigint; held: bigint }> {
    const [capacity, held] = await this.contracts.escrow.shareCapacity(staker);
    return { capacity, held };
  }

  async currentPeriod(): Promise<number> {
    return Number(await this.contracts.escrow.currentPeriod());
  }

  isCommitted(staker: string, period: number): Promise<boolean> {
    return this.contracts.escrow.committed(staker, period);
  }

  commitToNextPeriod(): Promise<void> {
    return this.send(() => this.contracts.escrow.commitToNextPeriod());
  }

  async settle(staker: string, policyIds: Uint8Array[]): Promise<void> {
    await this.send(() => this.contracts.escrow.settle(staker));
    // fees are credited to the staker's balance in PolicyManager; the staker withdraws them
    if (policyIds.length > 0)
      await this.send(() => this.contracts.policyManager.settle(policyIds.map((id) => hexlify(id))));
  }

  claimReencryptions(
    policyId: Uint8Array,
    position: number,
    count: bigint,
    signature: Uint8Array,
  ): Promise<void> {
    return this.send(() =>
      this.contracts.policyManager.claimReencryptions(hexlify(policyId), position, count, hexlify(signature)),
    );
  }

  /** Sends one operator transaction after the previous one was mined; fails if it reverted. */
  private send(transaction: () => Promise<ContractTransactionResponse>): Promise<void> {
    const run = async () => {
      const tx = await transaction();
      const receipt = await tx.wait();
      if (!receipt || receipt.status !== 1) throw new Error(`transaction ${tx.hash} failed`);
    };
    const result = this.sending.then(run, run);
    this.sending = result.catch(() => undefined);
    return result;
  }

  balance(address: string): Promise<bigint> {
    return this.provider.getBalance(address);
  }

  destroy(): void {
    this.provider.destroy();
  }
}

/**
 * The operator's signer: its transactions get a quarter more gas than estimated, because the
 * state they run against can change between the estimate and the block (a period begins, another
 * settlement lands), and a duty that runs out of gas costs its fee and waits for the next try.
 */
class OperatorWallet extends Wallet {
  override async estimateGas(tx: TransactionRequest): Promise<bigint> {
    return ((await super.estimateGas(tx)) * 5n) / 4n;
  }
}

/**
 * Connects to config.chain: the RPC (its chain id must match the deployment's) and, when
 * `operatorSecret` is given, a signer for the operator's transactions.
 */
export async function connectNodeChain(
  config: NodeConfig,
  operatorSecret?: Uint8Array,
): Promise<ContractNodeChain> {
  const deployment = loadDeployment({
    file: config.chain.deploymentsFile,
    network: config.chain.network,
    root: config.chain.root,
  });
  const request = new FetchRequest(config.chain.rpcUrl);
  request.timeout = 15_000;
  const probe = new JsonRpcProvider(request);
  let network: Network;
  try {
    network = await probe.getNetwork();
  } finally {
    probe.destroy();
  }
  if (deployment.chainId !== undefined && deployment.chainId !== network.chainId) {
    throw new DeploymentError(
      "DEPLOYMENT_INVALID",
      `the RPC serves chain ${network.chainId} but the deployment is for chain ${deployment.chainId}`,
    );
  }
  const provider = new JsonRpcProvider(request, network, {
    staticNetwork: network,
    pollingInterval: 250,
    cacheTimeout: -1,
  });
  const runner = operatorSecret ? new OperatorWallet(hexlify(operatorSecret), provider) : provider;
  const contracts = connectContracts(deployment, runner);
  const periodSeconds = Number(await contracts.escrow.periodLength());
  return new ContractNodeChain(
    network.chainId,
    await contracts.policyManager.getAddress(),
    provider,
    contracts,
    periodSeconds,
  );
}
