/**
 * The node's request handlers: protocol messages in, signed protocol messages out. Every
 * refusal is a NodeError (see errors.ts); the HTTP layer (http.ts) maps it to a 4xx.
 */
import { bindingDigests } from "../chain/adjudicator";
import { decode, encode } from "../protocol/codec";
import {
  AccessLog,
  AccessLogEntry,
  AccessLogRequest,
  MAX_ACCESS_LOG_PAGE,
  NodeMetadata,
  PolicyShare,
  ReencryptionRequest,
  ReencryptionResponse,
  RevocationAck,
  RevocationOrder,
  ShareReceipt,
} from "../protocol/messages";
import { keccak, messageHash, OperatorKey, recoverOwnerBinding, verifyUmbral } from "../protocol/signing";
import { recoverVoucherSigner } from "../protocol/vouchers";
import { commitmentHash, custodyDigest } from "../protocol/custody";
import type { PolicyCache, PolicyInfo } from "./chain";
import type { NodeConfig } from "./config";
import type { ShareKeys } from "./crypto-worker";
import { NodeError, refuse } from "./errors";
import type { Logger } from "./log";
import type { NodeMetrics } from "./metrics";
import { WorkerTaskError, taskSizes, type CryptoPool } from "./pool";
import type { NodeStorage, StoredShare } from "./storage";

export const SOFTWARE_VERSION = "nkms-node/0.1.0";

export interface ServiceDeps {
  config: NodeConfig;
  storage: NodeStorage;
  pool: CryptoPool;
  policies: PolicyCache;
  operator: OperatorKey;
  staker: string;
  chainId: bigint;
  /** the Adjudicator: the EIP-712 domain of the binding signatures */
  adjudicator: string;
  policyManager: string;
  keyLeakChallenge: string;
  encryptingKey: Uint8Array;
  tlsFingerprint: Uint8Array;
  logger: Logger;
  metrics: NodeMetrics;
  /** how many shares the staker's stake covers, read from the chain */
  capacity: () => Promise<bigint>;
}

const ZERO_HASH = new Uint8Array(32);

export class NodeService {
  private metadataCache?: { at: number; bytes: Uint8Array };
  /** nonces of requests being served right now, so a replay racing its original is refused early */
  private inFlight = new Set<string>();

  /** the decoded keys of the shares the storage holds in memory, decoded once per share */
  private readonly shareKeys = new WeakMap<StoredShare, ShareKeys>();

  constructor(private readonly d: ServiceDeps) {}

  /** The signed metadata, re-signed at most once a minute. */
  metadata(): Uint8Array {
    const now = Date.now();
    if (!this.metadataCache || now - this.metadataCache.at > 60_000) {
      const signed = this.d.operator.sign(NodeMetadata, {
        chainId: this.d.chainId,
        staker: this.d.staker,
        operator: this.d.operator.address,
        verifyingKey: this.d.operator.publicKey,
        encryptingKey: this.d.encryptingKey,
        tlsFingerprint: this.d.tlsFingerprint,
        url: this.d.config.publicUrl,
        softwareVersion: SOFTWARE_VERSION,
        timestamp: BigInt(now),
      });
      this.metadataCache = { at: now, bytes: encode(NodeMetadata, signed) };
    }
    return this.metadataCache.bytes;
  }

  async storeShare(body: Uint8Array): Promise<Uint8Array> {
    const share = decode(PolicyShare, body);
    this.checkAddressedToMe(share.node);
    verifyUmbral(PolicyShare, share, share.ownerVerifyingKey);
    if (this.d.storage.getTombstone(share.policyId)) {
      throw refuse.gone(
        "POLICY_REVOKED",
        "this policy was revoked on this node; its share is not accepted again",
      );
    }
    const shareHash = messageHash(PolicyShare, share);
    const existing = this.d.storage.getShare(share.policyId);
    if (existing) {
      if (!Buffer.from(existing.share).equals(body)) {
        throw refuse.conflict("SHARE_EXISTS", "this node already holds another share of this policy");
      }
    }
    const policy = await this.activePolicy(share.policyId, { fresh: true });
    if (!policy.nodes.includes(this.d.staker)) {
      throw refuse.forbidden("NOT_LISTED", "this node is not one of the policy's nodes");
    }
    if (recoverOwnerBinding(share) !== policy.owner) {
      throw refuse.forbidden(
        "NOT_OWNER",
        "the share's owner binding is not signed by the policy's on-chain owner",
      );
    }
    const overCapacity = () =>
      refuse.conflict("OVER_CAPACITY", "the staker's stake does not cover another policy share");
    const capacity = existing ? undefined : await this.chainRead(() => this.d.capacity());
    if (capacity !== undefined && BigInt(this.d.storage.countShares()) >= capacity) throw overCapacity();
    const opened = await this.crypto({ kind: "openShare", ...shareKeys(share) });
    if (opened.kind !== "openShare") throw new Error("worker answered another task");
    const stored: StoredShare = {
      policyId: share.policyId,
      share: body,
      ownerVerifyingKey: share.ownerVerifyingKey,
      recipientVerifyingKey: share.recipientVerifyingKey,
      kfragId: opened.kfragId,
      expiresAt: policy.endTime,
      storedAt: Date.now(),
    };
    // checked again where the share is written: concurrent uploads, a revocation meanwhile
    const outcome = this.d.storage.putShare(stored, capacity);
    if (outcome === "revoked") throw this.revoked();
    if (outcome === "full") throw overCapacity();
    if (outcome === "exists") {
      // held already, or a concurrent upload of the same policy won the insert: answer only for
      // identical bytes
      const winner = this.d.storage.getShare(share.policyId);
      if (!winner || !Buffer.from(winner.share).equals(body)) {
        throw refuse.conflict("SHARE_EXISTS", "this node already holds another share of this policy");
      }
    }
    this.d.metrics.shares.set(this.d.storage.countShares());
    const commitment = commitmentHash(opened.commitment);
    const receipt = this.d.operator.sign(ShareReceipt, {
      policyId: share.policyId,
      node: this.d.staker,
      shareHash,
      kfragId: opened.kfragId,
      commitmentHash: commitment,
      custodySignature: this.d.operator.signDigest(
        custodyDigest(this.d.chainId, this.d.keyLeakChallenge, share.policyId, commitment),
      ),
      storedAt: BigInt(existing?.storedAt ?? stored.storedAt),
    });
    return encode(ShareReceipt, receipt);
  }

  async reencrypt(body: Uint8Array): Promise<Uint8Array> {
    const request = decode(ReencryptionRequest, body);
    this.checkAddressedToMe(request.node);
    if (request.capsules.length === 0)
      throw refuse.badRequest("NO_CAPSULES", "the request carries no capsule");
    if (request.capsules.length > this.d.config.limits.maxCapsulesPerRequest) {
      throw refuse.tooLarge(`at most ${this.d.config.limits.maxCapsulesPerRequest} capsules per request`);
    }
    const stored = this.shareOf(request.policyId);
    if (!Buffer.from(stored.recipientVerifyingKey).equals(Buffer.from(request.recipientVerifyingKey))) {
      throw refuse.forbidden("NOT_RECIPIENT", "the requester is not this policy's recipient");
    }
    verifyUmbral(ReencryptionRequest, request, stored.recipientVerifyingKey);
    this.checkFresh(request.issuedAt);
    const nonceKey = this.nonceKey("reencrypt", request.recipientVerifyingKey, request.nonce);
    const nonceId = Buffer.from(nonceKey).toString("hex");
    if (this.inFlight.has(nonceId) || this.d.storage.hasNonce(nonceKey)) throw this.replayed();
    this.inFlight.add(nonceId);
    try {
      const policy = await this.activePolicy(request.policyId, { fresh: false });
      const voucher = this.checkVoucher(request, policy);
      const result = await this.reencryptOnWorkers(this.shareKeysOf(stored), request.capsules);
      // the hash of the request's bytes as received (its full encoding, which the recipient
      // hashes too): messageHash without encoding the request again
      const requestHash = keccak(body);
      let entryHash: Uint8Array = ZERO_HASH;
      const served = { capsules: request.capsules.length, voucher };
      // committed with the other answers of this turn; refused if the policy was revoked (or the
      // nonce used) while the workers ran
      const outcome = await this.d.storage.commitServed(
        nonceKey,
        this.nonceExpiry(),
        request.policyId,
        served,
        (head) => {
          const entry = this.d.operator.sign(AccessLogEntry, {
            policyId: request.policyId,
            node: this.d.staker,
            sequence: head ? head.sequence + 1n : 0n,
            previousHash: head?.hash ?? ZERO_HASH,
            requesterVerifyingKey: request.recipientVerifyingKey,
            requestHash,
            capsuleHashes: result.capsuleHashes,
            servedAt: BigInt(Date.now()),
          });
          const bytes = encode(AccessLogEntry, entry);
          entryHash = keccak(bytes);
          return { entry: bytes, hash: entryHash, sequence: entry.sequence };
        },
      );
      if (outcome === "revoked") throw this.revoked();
      if (outcome === "replayed") throw this.replayed();
      this.d.metrics.reencryptions.inc({}, request.capsules.length);
      const response = this.d.operator.sign(ReencryptionResponse, {
        policyId: request.policyId,
        node: this.d.staker,
        requestHash,
        accessLogEntryHash: entryHash,
        cfrags: result.cfrags,
        // one binding signature per run of 8 statements, over their Merkle root
        bindingSignatures: bindingDigests(this.d.chainId, this.d.adjudicator, result.leaves).map((digest) =>
          this.d.operator.signDigest(digest),
        ),
      });
      return encode(ReencryptionResponse, response);
    } finally {
      this.inFlight.delete(nonceId);
    }
  }

  async revoke(body: Uint8Array): Promise<Uint8Array> {
    const order = decode(RevocationOrder, body);
    this.checkAddressedToMe(order.node);
    const ownerKey = this.ownerKeyOf(order.policyId);
    verifyUmbral(RevocationOrder, order, ownerKey);
    this.checkFresh(order.issuedAt);
    const orderHash = messageHash(RevocationOrder, order);
    let tombstone = this.d.storage.getTombstone(order.policyId);
    if (!tombstone) {
      tombstone = { policyId: order.policyId, orderHash, ownerVerifyingKey: ownerKey, revokedAt: Date.now() };
      this.d.storage.revoke(tombstone);
      this.d.pool.forget();
      this.d.metrics.shares.set(this.d.storage.countShares());
      this.d.logger.info("policy revoked", { policyId: order.policyId });
    }
    const ack = this.d.operator.sign(RevocationAck, {
      policyId: order.policyId,
      node: this.d.staker,
      orderHash,
      revokedAt: BigInt(tombstone.revokedAt),
    });
    return encode(RevocationAck, ack);
  }

  accessLog(body: Uint8Array): Uint8Array {
    const request = decode(AccessLogRequest, body);
    this.checkAddressedToMe(request.node);
    const ownerKey = this.ownerKeyOf(request.policyId);
    verifyUmbral(AccessLogRequest, request, ownerKey);
    this.checkFresh(request.issuedAt);
    const nonceKey = this.nonceKey("access-log", ownerKey, request.nonce);
    if (!this.d.storage.recordNonce(nonceKey, this.nonceExpiry())) throw this.replayed();
    const entries = this.d.storage.readLog(request.policyId, request.fromSequence, MAX_ACCESS_LOG_PAGE + 1);
    const more = entries.length > MAX_ACCESS_LOG_PAGE;
    const page = this.d.operator.sign(AccessLog, {
      policyId: request.policyId,
      node: this.d.staker,
      entries: entries.slice(0, MAX_ACCESS_LOG_PAGE),
      more: more ? 1 : 0,
    });
    return encode(AccessLog, page);
  }

  private checkAddressedToMe(node: string): void {
    // the codec decodes addresses to their checksummed form, as this.d.staker is held
    if (node !== this.d.staker) {
      throw refuse.badRequest(
        "WRONG_NODE",
        `this message is addressed to ${node}, not to this node (${this.d.staker})`,
      );
    }
  }

  private checkFresh(issuedAt: bigint): void {
    const skew = Math.abs(Date.now() - Number(issuedAt));
    if (skew > this.d.config.limits.freshnessWindowMs) {
      throw refuse.unauthorized(
        "STALE_REQUEST",
        `request time is ${skew} ms away from the node's clock (window ${this.d.config.limits.freshnessWindowMs} ms)`,
      );
    }
  }

  private nonceKey(purpose: string, signer: Uint8Array, nonce: Uint8Array): Uint8Array {
    return keccak(Buffer.concat([Buffer.from(purpose), signer, nonce]));
  }

  /** A nonce is remembered for twice the freshness window: past it, the timestamp check refuses. */
  private nonceExpiry(): number {
    return Date.now() + 2 * this.d.config.limits.freshnessWindowMs;
  }

  private replayed(): NodeError {
    return refuse.conflict("REPLAYED", "this request was already served (nonce seen); sign a new one");
  }

  private revoked(): NodeError {
    return refuse.gone("POLICY_REVOKED", "this policy was revoked");
  }

  private shareKeysOf(stored: StoredShare): ShareKeys {
    let keys = this.shareKeys.get(stored);
    if (!keys) {
      keys = shareKeys(decode(PolicyShare, stored.share));
      this.shareKeys.set(stored, keys);
    }
    return keys;
  }

  private shareOf(policyId: Uint8Array): StoredShare {
    // a revocation deletes the share, so the tombstone is read only when there is none (and
    // commitServed checks it again in the transaction that records the answer)
    const stored = this.d.storage.getShare(policyId);
    if (stored) return stored;
    if (this.d.storage.getTombstone(policyId)) throw this.revoked();
    throw refuse.notFound("NO_SHARE", "this node holds no share of this policy");
  }

  /**
   * Re-encrypts the capsules in tasks of at most CAPSULES_PER_MESSAGE, at least one per worker
   * (taskSizes), which the crypto workers take as each becomes free (a worker that is preempted
   * or collecting garbage holds back one small task, not half the request). Their cfrags, leaves
   * and capsule hashes are merged in request order.
   */
  private async reencryptOnWorkers(keys: ShareKeys, capsules: Uint8Array[]) {
    const tasks = [];
    let start = 0;
    for (const size of taskSizes(capsules.length, this.d.pool.size)) {
      tasks.push(this.crypto({ kind: "reencrypt", ...keys, capsules: capsules.slice(start, start + size) }));
      start += size;
    }
    const result = {
      cfrags: [] as Uint8Array[],
      leaves: [] as Uint8Array[],
      capsuleHashes: [] as Uint8Array[],
    };
    for (const answer of await Promise.all(tasks)) {
      if (answer.kind !== "reencrypt") throw new Error("worker answered another task");
      result.cfrags.push(...answer.cfrags);
      result.leaves.push(...answer.leaves);
      result.capsuleHashes.push(...answer.capsuleHashes);
    }
    if (result.cfrags.length !== capsules.length) throw new Error("worker answered another task");
    return result;
  }

  private ownerKeyOf(policyId: Uint8Array): Uint8Array {
    // kept after the share expired or was revoked: the owner still reads the access log
    const key = this.d.storage.policyOwnerKey(policyId);
    if (!key) throw refuse.notFound("NO_SHARE", "this node never held a share of this policy");
    return key;
  }

  /**
   * For a policy metered per re-encryption: the request's voucher must be signed by the
   * policy's recipient, cover everything this node served plus this request, and stay within
   * the budget left on chain. Returns the voucher to keep for claiming, or undefined.
   */
  private checkVoucher(request: ReencryptionRequest, policy: PolicyInfo) {
    if (policy.price === 0n) return undefined;
    const needed = this.d.storage.servedCount(request.policyId) + BigInt(request.capsules.length);
    if (request.voucherSignature.length === 0 || request.voucherCount < needed) {
      throw refuse.unpaid(`this policy is metered: send a voucher for at least ${needed} re-encryptions`);
    }
    const signer = recoverVoucherSigner(
      this.d.chainId,
      this.d.policyManager,
      { policyId: request.policyId, node: this.d.staker, count: request.voucherCount },
      request.voucherSignature,
    );
    if (signer !== policy.recipient) {
      throw refuse.unauthorized("BAD_VOUCHER", "the voucher is not signed by the policy's recipient");
    }
    if ((request.voucherCount - policy.claimed) * policy.price > policy.budget) {
      throw refuse.unpaid("the policy's re-encryption budget does not cover this voucher");
    }
    return { count: request.voucherCount, signature: request.voucherSignature };
  }

  /** A read of the chain; when it fails, the request is answered 503 CHAIN_UNAVAILABLE. */
  private async chainRead<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      this.d.logger.warn("cannot read the chain", { error });
      throw refuse.unavailable("CHAIN_UNAVAILABLE", "the node cannot read the chain right now; retry later");
    }
  }

  /** The on-chain policy, refused unless it exists (hence was paid), is not revoked and not over. */
  private async activePolicy(policyId: Uint8Array, { fresh }: { fresh: boolean }): Promise<PolicyInfo> {
    const policy = await this.chainRead(() => this.d.policies.policy(policyId, fresh));
    if (!policy) throw refuse.unpaid("no paid policy with this id on chain (createPolicy pays its fees)");
    if (policy.revoked) throw this.revoked();
    const now = await this.chainRead(() => this.d.policies.now());
    if (now >= policy.endTime) throw refuse.gone("POLICY_EXPIRED", "the policy is over");
    if (now < policy.startTime)
      throw refuse.forbidden("POLICY_NOT_STARTED", "the policy has not started yet");
    return policy;
  }

  private async crypto(task: Parameters<CryptoPool["run"]>[0]) {
    try {
      return await this.d.pool.run(task);
    } catch (error) {
      if (error instanceof WorkerTaskError) throw refuse.badRequest(error.code, error.message);
      throw error;
    }
  }
}

/** What the crypto workers need of a policy share. */
function shareKeys(share: PolicyShare): ShareKeys {
  return {
    capsule: share.kfragCapsule,
    ciphertext: share.kfragCiphertext,
    ownerVerifyingKey: share.ownerVerifyingKey,
    delegatingKey: share.delegatingKey,
    recipientVerifyingKey: share.recipientVerifyingKey,
  };
}
