/**
 * The data owner ("Alice"): label keys from a seed, grants, revocations and access logs.
 */
import { randomBytes } from "node:crypto";
import {
  computeAddress,
  getAddress,
  hexlify,
  NonceManager,
  type ContractTransactionResponse,
  type Signer as EthSigner,
} from "ethers";
import {
  generateKFrags,
  PublicKey,
  SecretKey,
  SecretKeyFactory,
  Signer,
  StreamDecryptor,
  type VerifiedKeyFrag,
} from "../pre";
import { encode } from "../protocol/codec";
import {
  AccessLog,
  AccessLogRequest,
  PolicyShare,
  RevocationAck,
  RevocationOrder,
  ShareReceipt,
} from "../protocol/messages";
import { PolicyMap, checkPolicyMap, sealPolicyMap } from "../protocol/policy-map";
import {
  buildAccessLogRequest,
  buildPolicyShare,
  buildRevocationOrder,
  verifyAccessLog,
} from "../protocol/build";
import { messageHash, signUmbral } from "../protocol/signing";
import { deadline, gather } from "./async";
import { clientContracts, revertOf, type ClientContracts } from "./contracts";
import { ClientError, NodesFailedError, type NodeFailure } from "./errors";
import type { NetworkConfig } from "./network";
import { failureOf, NodeCallError, NodeConnector, nodeInfoFromMetadata, type NodeInfo } from "./nodes";
import { stakeWeightedOrder } from "./sampling";
import { decryptStream } from "./writer";

const encoder = new TextEncoder();
const OWNER_SIGNING_LABEL = encoder.encode("nkms/owner-signing-key");
const LABEL_PREFIX = "nkms/label/";

export interface OwnerOptions {
  /** 32 secret random bytes: every label key and the owner's signing key derive from it */
  seed: Uint8Array;
  network: NetworkConfig;
  /**
   * pays fees and sends the owner's transactions. The Owner counts the account's nonces itself
   * (asking the chain once): a grant sends up to four transactions back to back, and a provider
   * may answer a nonce query from its cache (ethers' JsonRpcProvider shares identical requests for
   * 250 ms) with the nonce just used. An application that also sends from this account elsewhere
   * passes an ethers NonceManager it uses itself, which then counts them instead.
   */
  wallet: EthSigner;
  connector?: NodeConnector;
  /** per-node request timeout (default 10 s) */
  nodeTimeoutMs?: number;
}

export interface GrantOptions {
  /** the recipient's public key (compressed, 33 bytes) */
  recipient: Uint8Array | PublicKey;
  label: string;
  /** m: how many nodes must answer for the recipient to decrypt */
  threshold: number;
  /** n: how many nodes hold a share */
  shares: number;
  /** how many periods the policy lasts, from the current one */
  periods: number;
  /** fee per node per period, in the token's smallest unit */
  feeRate: bigint;
  /** optional pay-per-re-encryption: price per capsule and the budget deposited now */
  metering?: { price: bigint; budget: bigint };
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface TransactionRecord {
  name: string;
  hash: string;
  gasUsed: bigint;
}

export interface GrantResult {
  policyId: string;
  /** the signed map (the owner keeps it: revoke and accessLog take it) */
  map: PolicyMap;
  /** the same map encrypted to the recipient: send these bytes to them */
  sealedMap: Uint8Array;
  nodes: NodeInfo[];
  /** each holding node's signed receipt for its share (custody proof for key-leak challenges) */
  receipts: ShareReceipt[];
  /** nodes that could not be used (not reachable, share refused) and why */
  failures: NodeFailure[];
  fee: bigint;
  transactions: TransactionRecord[];
}

export interface RevokeResult {
  acknowledged: string[];
  failures: NodeFailure[];
  /** acknowledgements needed for a guarantee: n − m + 1 */
  required: number;
  /** true once at least n − m + 1 nodes confirmed they deleted their kfrag */
  guaranteed: boolean;
  /** the on-chain revocation (refund of unserved periods), if it was sent */
  transaction?: TransactionRecord;
}

export interface AccessLogRecord {
  sequence: bigint;
  /** the entry's hash (keccak-256 of its encoding): what the next entry links to, and what a
   * later read is checked against (AccessLogHead) */
  hash: string;
  requester: string;
  requestHash: string;
  capsuleHashes: string[];
  servedAt: Date;
}

/**
 * An entry of a node's log read before (its last record's sequence and hash): a later read must
 * still hold it, so a node that truncates or rewrites its log is caught. The Owner remembers the
 * heads it read; an application that keeps them across runs passes them back to accessLog.
 */
export interface AccessLogHead {
  node: string;
  sequence: bigint;
  hash: string;
}

export interface AccessLogReport {
  /** every node's verified log, in the map's order */
  nodes: { node: string; url: string; entries: AccessLogRecord[] }[];
  /** nodes whose log could not be fetched or did not verify */
  failures: NodeFailure[];
}

/** The owner's keys, all derived from the seed: label keys and the signing key. No network. */
export class OwnerKeys {
  readonly signer: Signer;
  private readonly factory: SecretKeyFactory;

  constructor(seed: Uint8Array) {
    this.factory = SecretKeyFactory.fromSecureRandomness(seed);
    this.signer = new Signer(this.factory.makeKey(OWNER_SIGNING_LABEL));
  }

  /** The owner's Umbral verifying key: kfrags, shares, maps and orders are signed with it. */
  get verifyingKey(): PublicKey {
    return this.signer.verifyingKey();
  }

  /** The secret key of a label (only the owner has it). */
  labelSecret(label: string): SecretKey {
    if (label.length === 0) throw new ClientError("INVALID_ARGUMENT", "a label must not be empty");
    return this.factory.makeKey(encoder.encode(LABEL_PREFIX + label));
  }

  /** The public key of a label: writers encrypt to it. */
  labelKey(label: string): PublicKey {
    return this.labelSecret(label).publicKey();
  }

  /** Decrypts a stream encrypted to one of the owner's labels, without any node. */
  decryptStream(label: string, source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    const secret = this.labelSecret(label);
    return decryptStream(source, ({ header }) => StreamDecryptor.original(secret, header));
  }
}

/** The owner's handle on the network. */
export class Owner extends OwnerKeys {
  readonly contracts: ClientContracts;
  private readonly connector: NodeConnector;
  private readonly ownConnector: boolean;

  /** the last entry read of each node's log, by policy id and node */
  private readonly logHeads = new Map<string, AccessLogHead>();

  /** the account's next nonce once known (see transact); undefined: ask the chain */
  private nonce?: number;

  constructor(private readonly o: OwnerOptions) {
    super(o.seed);
    this.contracts = clientContracts(o.network.deployment, o.wallet);
    this.ownConnector = !o.connector;
    this.connector = o.connector ?? new NodeConnector(o.nodeTimeoutMs);
  }

  /** The reachable nodes among the network's known URLs; failures say which were not. */
  async discover(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<{
    nodes: NodeInfo[];
    failures: NodeFailure[];
  }> {
    const urls = this.o.network.nodeUrls;
    const found = await gather(
      urls,
      (url, signal) =>
        this.connector.discover(url, this.o.network.chainId, { signal, timeoutMs: options.timeoutMs }),
      { needed: Math.max(1, urls.length), mode: "all", signal: options.signal },
    );
    const byStaker = new Map<string, NodeInfo>();
    for (const { value } of found.successes) byStaker.set(value.staker, value);
    return {
      nodes: [...byStaker.values()],
      failures: found.failures.map(({ candidate, error }) =>
        failureOf({ staker: "?", url: candidate }, error),
      ),
    };
  }

  /**
   * Grants `recipient` m-of-n access to `label` for `periods` periods: samples n active nodes
   * (stake-weighted, reachable ones only), pays the PolicyManager, delivers the shares in
   * parallel and returns the policy map. A node that takes no share after payment is revoked
   * on-chain (its fee refunded) and left out of the map; fewer than m shares fail the grant
   * and revoke the policy.
   */
  async grant(g: GrantOptions): Promise<GrantResult> {
    const { threshold: m, shares: n } = g;
    if (!Number.isInteger(m) || !Number.isInteger(n) || m < 1 || m > n || n > 255) {
      throw new ClientError("INVALID_ARGUMENT", `need 1 ≤ threshold ≤ shares ≤ 255, got ${m} of ${n}`);
    }
    if (!Number.isInteger(g.periods) || g.periods < 1) {
      throw new ClientError("INVALID_ARGUMENT", `periods must be a positive integer, got ${g.periods}`);
    }
    const recipientKey =
      g.recipient instanceof PublicKey ? g.recipient : PublicKey.fromCompressedBytes(g.recipient);
    const d = deadline("grant", g.timeoutMs, g.signal);
    try {
      const transactions: TransactionRecord[] = [];
      const { escrow, policyManager, token } = this.contracts;
      const startPeriod = BigInt(await escrow.currentPeriod());
      const endPeriod = startPeriod + BigInt(g.periods);

      // 1. candidates: reachable known nodes that are active through the policy's last period
      const discovered = await this.discover({ signal: d.signal });
      const failures = [...discovered.failures];
      const count = await escrow.stakerCount();
      const [active, stakes] = (await escrow.activeStakers(endPeriod - 1n, 0n, count)) as [
        string[],
        bigint[],
      ];
      const stakeOf = new Map(active.map((a, i) => [getAddress(a), stakes[i]]));
      const candidates: (NodeInfo & { stake: bigint })[] = [];
      for (const node of discovered.nodes) {
        const stake = stakeOf.get(node.staker);
        if (stake === undefined) {
          failures.push({
            node: node.staker,
            url: node.url,
            code: "NOT_ACTIVE",
            message: "not staked, bonded and committed through the policy",
          });
          continue;
        }
        const [capacity, held] = (await escrow.shareCapacity(node.staker)) as [bigint, bigint];
        if (held >= capacity) {
          failures.push({
            node: node.staker,
            url: node.url,
            code: "OVER_CAPACITY",
            message: `holds ${held} of ${capacity} shares`,
          });
          continue;
        }
        candidates.push({ ...node, stake });
      }
      const chosen = stakeWeightedOrder(candidates).slice(0, n);
      if (chosen.length < n) {
        throw new NodesFailedError("NOT_ENOUGH_NODES", `grant of ${m}-of-${n}`, n, chosen.length, failures);
      }
      chosen.sort((a, b) => (BigInt(a.staker) < BigInt(b.staker) ? -1 : 1));

      // 2. pay
      const policyId = randomBytes(16);
      const policyIdHex = hexlify(policyId);
      const fee = g.feeRate * BigInt(n) * BigInt(g.periods);
      const budget = g.metering?.budget ?? 0n;
      const owner = await this.o.wallet.getAddress();
      const spender = await policyManager.getAddress();
      if ((await token.allowance(owner, spender)) < fee + budget) {
        transactions.push(
          await this.transact("approve", (overrides) => token.approve(spender, fee + budget, overrides)),
        );
      }
      transactions.push(
        await this.transact("createPolicy", (overrides) =>
          policyManager.createPolicy(
            policyIdHex,
            computeAddress(hexlify(recipientKey.toCompressedBytes())),
            startPeriod,
            endPeriod,
            g.feeRate,
            chosen.map((c) => c.staker),
            overrides,
          ),
        ),
      );
      if (g.metering) {
        const { price } = g.metering;
        transactions.push(
          await this.transact("setReencryptionPrice", (overrides) =>
            policyManager.setReencryptionPrice(policyIdHex, price, overrides),
          ),
        );
        if (budget > 0n) {
          transactions.push(
            await this.transact("fundReencryptions", (overrides) =>
              policyManager.fundReencryptions(policyIdHex, budget, overrides),
            ),
          );
        }
      }

      // 3. shares, in parallel
      const label = this.labelSecret(g.label);
      const kfrags = generateKFrags(label, recipientKey, this.signer, m, n, true, true);
      const delivered = await gather(
        chosen.map((node, i) => ({ node, kfrag: kfrags[i] })),
        ({ node, kfrag }, signal) => this.deliver(node, policyId, label, recipientKey, kfrag, signal),
        { needed: n, mode: "all", signal: d.signal },
      );
      const held = new Set(delivered.successes.map((s) => s.candidate.node.staker));
      for (const { candidate, error } of delivered.failures) failures.push(failureOf(candidate.node, error));
      const position = (staker: string) => chosen.findIndex((c) => c.staker === staker);
      if (held.size < m) {
        transactions.push(
          await this.transact("revokePolicy", (overrides) =>
            policyManager.revokePolicy(policyIdHex, overrides),
          ),
        );
        throw new NodesFailedError(
          "GRANT_FAILED",
          `grant of ${m}-of-${n} (policy revoked and refunded)`,
          m,
          held.size,
          failures,
        );
      }
      for (const node of chosen.filter((c) => !held.has(c.staker))) {
        transactions.push(
          await this.transact(`revokeNode ${node.staker}`, (overrides) =>
            policyManager.revokeNode(policyIdHex, position(node.staker), overrides),
          ),
        );
      }

      // 4. the map, for the recipient
      const nodes = chosen.filter((c) => held.has(c.staker)).map(({ stake: _stake, ...info }) => info);
      const unsigned: Omit<PolicyMap, "signature"> = {
        policyId,
        chainId: this.o.network.chainId,
        policyManager: getAddress(spender),
        label: g.label,
        ownerVerifyingKey: this.verifyingKey.toCompressedBytes(),
        delegatingKey: label.publicKey().toCompressedBytes(),
        recipientKey: recipientKey.toCompressedBytes(),
        threshold: m,
        nodes: nodes.map((node) => node.metadata),
        startPeriod,
        endPeriod,
        reencryptionPrice: g.metering?.price ?? 0n,
      };
      const sealedMap = sealPolicyMap(unsigned, this.signer);
      const map = signUmbral(PolicyMap, unsigned, this.signer);
      const receipts = delivered.successes.map((s) => s.value);
      return { policyId: policyIdHex, map, sealedMap, nodes, receipts, failures, fee, transactions };
    } finally {
      d.dispose();
    }
  }

  private async deliver(
    node: NodeInfo,
    policyId: Uint8Array,
    label: SecretKey,
    recipientKey: PublicKey,
    kfrag: VerifiedKeyFrag,
    signal: AbortSignal,
  ): Promise<ShareReceipt> {
    const share = await buildPolicyShare({
      policyId,
      node: node.staker,
      nodeEncryptingKey: node.encryptingKey,
      kfrag,
      ownerSigner: this.signer,
      delegatingKey: label.publicKey().toCompressedBytes(),
      recipientVerifyingKey: recipientKey.toCompressedBytes(),
      ownerAccount: this.o.wallet,
    });
    const receipt = await this.connector.send(node, "/v1/shares", encode(PolicyShare, share), ShareReceipt, {
      signal,
    });
    if (
      !same(receipt.policyId, policyId) ||
      receipt.node !== node.staker ||
      !same(receipt.shareHash, messageHash(PolicyShare, share)) ||
      !same(receipt.kfragId, kfrag.kfrag.id)
    ) {
      throw new NodeCallError(node, "BAD_RECEIPT", "the receipt is not for the share sent");
    }
    return receipt;
  }

  /**
   * Sends a signed revocation order to every node of the policy in parallel and, unless
   * `onChain` is false, revokes the policy on-chain (unserved periods are refunded). Reports
   * which nodes acknowledged; the revocation is guaranteed once n − m + 1 did, since then at
   * most m − 1 kfrags remain anywhere.
   */
  async revoke(
    map: PolicyMap,
    options: { onChain?: boolean; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<RevokeResult> {
    const nodes = checkPolicyMap(map).map((_, i) => nodeInfoFromMetadata(map.nodes[i]));
    const d = deadline("revoke", options.timeoutMs, options.signal);
    try {
      const acks = await gather(
        nodes,
        async (node, signal) => {
          const order = buildRevocationOrder({
            policyId: map.policyId,
            node: node.staker,
            ownerSigner: this.signer,
          });
          const ack = await this.connector.send(
            node,
            "/v1/revoke",
            encode(RevocationOrder, order),
            RevocationAck,
            { signal },
          );
          if (
            !same(ack.orderHash, messageHash(RevocationOrder, order)) ||
            !same(ack.policyId, map.policyId) ||
            ack.node !== node.staker
          ) {
            throw new NodeCallError(node, "BAD_ACK", "the acknowledgement is not for this order");
          }
          return ack;
        },
        { needed: nodes.length, mode: "all", signal: d.signal },
      );
      // total shares n = the policy's on-chain node count; nodes left out of the map never held one
      const n = nodes.length;
      const required = n - map.threshold + 1;
      let transaction: TransactionRecord | undefined;
      if (options.onChain ?? true) {
        const id = hexlify(map.policyId);
        if (await this.contracts.policyManager.isPolicyActive(id)) {
          transaction = await this.transact("revokePolicy", (overrides) =>
            this.contracts.policyManager.revokePolicy(id, overrides),
          );
        }
      }
      const acknowledged = acks.successes.map((s) => s.candidate.staker);
      return {
        acknowledged,
        failures: acks.failures.map(({ candidate, error }) => failureOf(candidate, error)),
        required,
        guaranteed: acknowledged.length >= required,
        transaction,
      };
    } finally {
      d.dispose();
    }
  }

  /**
   * Fetches every node's access log of the policy and verifies each entry and the chain, and
   * that it still holds the entries read before (by this Owner, or given as `heads`): a node
   * whose log was truncated or rewritten is reported as a failure (ACCESS_LOG_INVALID).
   */
  async accessLog(
    map: PolicyMap,
    options: { timeoutMs?: number; signal?: AbortSignal; heads?: AccessLogHead[] } = {},
  ): Promise<AccessLogReport> {
    const nodes = checkPolicyMap(map).map((_, i) => nodeInfoFromMetadata(map.nodes[i]));
    const d = deadline("access log", options.timeoutMs, options.signal);
    try {
      const logs = await gather(
        nodes,
        (node, signal) => this.nodeLog(map, node, signal, options.heads ?? []),
        {
          needed: nodes.length,
          mode: "all",
          signal: d.signal,
        },
      );
      const byNode = new Map(logs.successes.map((s) => [s.candidate.staker, s.value]));
      return {
        nodes: nodes
          .filter((node) => byNode.has(node.staker))
          .map((node) => ({ node: node.staker, url: node.url, entries: byNode.get(node.staker)! })),
        failures: logs.failures.map(({ candidate, error }) => failureOf(candidate, error)),
      };
    } finally {
      d.dispose();
    }
  }

  private async nodeLog(
    map: PolicyMap,
    node: NodeInfo,
    signal: AbortSignal,
    given: AccessLogHead[],
  ): Promise<AccessLogRecord[]> {
    const records = await this.readNodeLog(map, node, signal);
    const key = `${hexlify(map.policyId)}:${node.staker}`;
    const remembered = this.logHeads.get(key);
    const heads = [
      ...given.filter((h) => getAddress(h.node) === node.staker),
      ...(remembered ? [remembered] : []),
    ];
    for (const head of heads) {
      if (records[Number(head.sequence)]?.hash !== head.hash) {
        throw new NodeCallError(
          node,
          "ACCESS_LOG_INVALID",
          `the log no longer holds entry ${head.sequence} as read before: truncated or rewritten`,
        );
      }
    }
    const last = records[records.length - 1];
    if (last) this.logHeads.set(key, { node: node.staker, sequence: last.sequence, hash: last.hash });
    return records;
  }

  private async readNodeLog(map: PolicyMap, node: NodeInfo, signal: AbortSignal): Promise<AccessLogRecord[]> {
    const records: AccessLogRecord[] = [];
    let previous: Uint8Array = new Uint8Array(32);
    for (;;) {
      const fromSequence = BigInt(records.length);
      const request = buildAccessLogRequest({
        policyId: map.policyId,
        node: node.staker,
        ownerSigner: this.signer,
        fromSequence,
      });
      const page = await this.connector.send(
        node,
        "/v1/access-log",
        encode(AccessLogRequest, request),
        AccessLog,
        {
          signal,
        },
      );
      let verified: ReturnType<typeof verifyAccessLog>;
      try {
        if (!same(page.policyId, map.policyId) || page.node !== node.staker) {
          throw new ClientError("ACCESS_LOG_INVALID", "the log is for another policy or node");
        }
        verified = verifyAccessLog(page, node, map.policyId, fromSequence, previous);
      } catch (error) {
        throw new NodeCallError(node, "ACCESS_LOG_INVALID", (error as Error).message);
      }
      verified.entries.forEach((entry, i) => {
        previous = verified.hashes[i];
        records.push({
          sequence: entry.sequence,
          hash: hexlify(verified.hashes[i]),
          requester: hexlify(entry.requesterVerifyingKey),
          requestHash: hexlify(entry.requestHash),
          capsuleHashes: entry.capsuleHashes.map((h) => hexlify(h)),
          servedAt: new Date(Number(entry.servedAt)),
        });
      });
      if (!page.more || page.entries.length === 0) return records;
    }
  }

  /**
   * Sends a transaction with the account's next nonce and waits for it to be mined. A transaction
   * refused before it was sent (a revert found by the gas estimate) leaves its nonce free for the
   * next; one refused because its nonce was taken (by a transaction sent from this account
   * elsewhere) makes the next ask the chain again.
   */
  private async transact(
    name: string,
    send: (overrides: { nonce?: number }) => Promise<ContractTransactionResponse>,
  ): Promise<TransactionRecord> {
    // a NonceManager counts the nonces itself
    const counted = !(this.o.wallet instanceof NonceManager);
    const nonce = counted ? (this.nonce ?? (await this.o.wallet.getNonce("pending"))) : undefined;
    let sent: ContractTransactionResponse;
    try {
      sent = await send(nonce === undefined ? {} : { nonce });
    } catch (error) {
      this.nonce = (error as { code?: string }).code === "NONCE_EXPIRED" ? undefined : nonce;
      throw chainError(name, error);
    }
    if (nonce !== undefined) this.nonce = nonce + 1;
    return confirmed(name, sent);
  }

  /** Releases the connections of the node connector this owner created. */
  close(): void {
    if (this.ownConnector) this.connector.close();
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Waits for a transaction to be mined; a refused or failed one is a CHAIN_ERROR naming `name`. */
export async function mined(
  name: string,
  pending: Promise<ContractTransactionResponse>,
): Promise<TransactionRecord> {
  let tx: ContractTransactionResponse;
  try {
    tx = await pending;
  } catch (error) {
    throw chainError(name, error);
  }
  return confirmed(name, tx);
}

/** Waits for a sent transaction to be mined; a failed one is a CHAIN_ERROR naming `name`. */
async function confirmed(name: string, tx: ContractTransactionResponse): Promise<TransactionRecord> {
  let receipt: Awaited<ReturnType<ContractTransactionResponse["wait"]>>;
  try {
    receipt = await tx.wait();
  } catch (error) {
    throw chainError(name, error);
  }
  if (!receipt || receipt.status !== 1)
    throw new ClientError("CHAIN_ERROR", `${name}: transaction ${tx.hash} failed`);
  return { name, hash: tx.hash, gasUsed: receipt.gasUsed };
}

/** A chain failure as a ClientError naming the contract's custom error when there is one. */
export function chainError(what: string, error: unknown): ClientError {
  const e = error as { shortMessage?: string; message?: string };
  const detail = revertOf(error) ?? e.shortMessage ?? e.message ?? String(error);
  return new ClientError("CHAIN_ERROR", `${what}: ${detail}`, { cause: error });
}
