/**
 * The recipient ("Bob"): opens policy maps, retrieves verified cfrags from the policy's nodes
 * (parallel and hedged), decrypts, turns wrong cfrags into Adjudicator evidence, and signs
 * per-re-encryption vouchers for metered policies.
 */
import { performance } from "node:perf_hooks";
import { getAddress, hexlify, Wallet, type Contract, type Provider } from "ethers";
import { recoverReencryptionSigner } from "../chain/adjudicator";
import {
  Capsule,
  CapsuleFrag,
  decryptReencrypted,
  PreError,
  PublicKey,
  SecretKey,
  Signer,
  StreamDecryptor,
  type VerifiedCapsuleFrag,
} from "../pre";
import { buildEvidence, type ReencryptionEvidence } from "../pre/evidence";
import { buildReencryptionRequest } from "../protocol/build";
import { encode } from "../protocol/codec";
import { ReencryptionRequest, ReencryptionResponse } from "../protocol/messages";
import { openPolicyMap, type PolicyMap } from "../protocol/policy-map";
import { keccak } from "../protocol/signing";
import { signVoucher } from "../protocol/vouchers";
import { deadline, gather } from "./async";
import { AbortedError, ClientError, NodesFailedError, type NodeFailure } from "./errors";
import { failureOf, NodeCallError, NodeConnector, nodeInfoFromMetadata, type NodeInfo } from "./nodes";
import { chainError } from "./owner";
import { decryptStream, type MessageKit } from "./writer";

/** A policy as the recipient holds it: the verified map and its nodes. */
export interface ReceivedPolicy {
  map: PolicyMap;
  nodes: NodeInfo[];
  ownerVerifyingKey: PublicKey;
  delegatingKey: PublicKey;
}

export interface RetrieveOptions {
  /** "hedged" (default): ask m nodes, one more after each `hedgeDelayMs`; "all": ask every node at once */
  mode?: "hedged" | "all";
  /**
   * Default: adaptive, twice the recent typical node answer time (at least 25 ms), so that under
   * load hedges stay rare instead of multiplying the load.
   */
  hedgeDelayMs?: number;
  /** per-node request timeout */
  nodeTimeoutMs?: number;
  /** deadline of the whole retrieval */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** submit evidence of wrong cfrags to the Adjudicator (default: true when an adjudicator is configured) */
  reportIncorrect?: boolean;
  /** audit: wait for every node's answer and verify all of them (still decrypts with m) */
  waitForAll?: boolean;
}

/** A wrong cfrag a node signed, with what became of its evidence. */
export interface IncorrectCFragReport {
  node: string;
  url: string;
  evidence: ReencryptionEvidence;
  nodeSignature: Uint8Array;
  /** the evaluateCFrag transaction, when submitted */
  submission?: { hash: string; gasUsed: bigint; correct: boolean; penalty: bigint } | { error: string };
}

export interface RetrieveResult {
  /** m verified cfrags per capsule, in the order of the capsules */
  cfrags: VerifiedCapsuleFrag[][];
  /** the stakers whose cfrags were used */
  servedBy: string[];
  /** for a metered policy: the cumulative voucher each node that answered holds (claimable on chain) */
  vouchers: { node: string; count: bigint; signature: Uint8Array }[];
  /** nodes that failed or were not needed before the threshold was reached */
  failures: NodeFailure[];
  incorrect: IncorrectCFragReport[];
}

export interface RecipientOptions {
  secretKey: SecretKey;
  connector?: NodeConnector;
  /**
   * The Adjudicator and an account that pays for evaluateCFrag; without it, wrong cfrags are
   * reported in the result but not submitted.
   */
  adjudicator?: Contract;
  /** for vouchers and evidence checks: the chain's id and the Adjudicator's address */
  chain?: { chainId: bigint; adjudicatorAddress: string };
  defaults?: Omit<RetrieveOptions, "signal">;
}

/** The recipient's handle: its key pair and its connections to nodes. */
export class Recipient {
  readonly signer: Signer;
  /** Bob's Ethereum identity: the policy's on-chain recipient, signs vouchers */
  readonly account: Wallet;
  private readonly connector: NodeConnector;
  private readonly ownConnector: boolean;
  /** moving average of node answer times (ms), for the adaptive hedge delay */
  private typicalAnswerMs = 50;
  /** cumulative re-encryptions per policy and node, for vouchers */
  private readonly served = new Map<string, bigint>();

  constructor(private readonly o: RecipientOptions) {
    this.signer = new Signer(o.secretKey);
    this.account = new Wallet(hexlify(o.secretKey.toBytes()));
    this.ownConnector = !o.connector;
    this.connector = o.connector ?? new NodeConnector();
  }

  get publicKey(): PublicKey {
    return this.o.secretKey.publicKey();
  }

  /** Decrypts and verifies a sealed policy map (from `Owner.grant`). */
  openPolicy(sealedMap: Uint8Array, expectedOwner?: PublicKey): ReceivedPolicy {
    const { map } = openPolicyMap(sealedMap, this.o.secretKey, expectedOwner?.toCompressedBytes());
    return {
      map,
      nodes: map.nodes.map(nodeInfoFromMetadata),
      ownerVerifyingKey: PublicKey.fromCompressedBytes(map.ownerVerifyingKey),
      delegatingKey: PublicKey.fromCompressedBytes(map.delegatingKey),
    };
  }

  /**
   * Asks the policy's nodes to re-encrypt `capsules`, verifies every cfrag and stops at m
   * valid answers. Throws NodesFailedError (RETRIEVAL_FAILED) naming each node and why when
   * fewer than m nodes gave valid cfrags.
   */
  async retrieve(
    policy: ReceivedPolicy,
    capsules: Capsule[],
    options: RetrieveOptions = {},
  ): Promise<RetrieveResult> {
    const o = { ...this.o.defaults, ...options };
    if (capsules.length === 0) throw new ClientError("INVALID_ARGUMENT", "no capsule to retrieve");
    const m = policy.map.threshold;
    const capsuleBytes = capsules.map((c) => c.toBytes());
    const incorrect: IncorrectCFragReport[] = [];
    const d = deadline("retrieval", o.timeoutMs, o.signal);
    try {
      const result = await gather(
        policy.nodes,
        (node, signal) =>
          this.askNode(policy, node, capsules, capsuleBytes, incorrect, signal, o.nodeTimeoutMs),
        {
          needed: o.waitForAll ? policy.nodes.length : m,
          mode: o.waitForAll ? "all" : (o.mode ?? "hedged"),
          hedgeDelayMs: o.hedgeDelayMs ?? Math.max(25, 2 * this.typicalAnswerMs),
          signal: d.signal,
        },
      );
      const failures = result.failures.map(({ candidate, error }) => failureOf(candidate, error));
      if (o.reportIncorrect ?? Boolean(this.o.adjudicator)) await this.submitEvidence(incorrect);
      if (result.successes.length < m) {
        if (result.aborted instanceof AbortedError) throw result.aborted;
        throw new NodesFailedError("RETRIEVAL_FAILED", "retrieval", m, result.successes.length, failures);
      }
      const used = result.successes.slice(0, m);
      return {
        cfrags: capsules.map((_, i) => used.map((s) => s.value.cfrags[i])),
        servedBy: used.map((s) => s.candidate.staker),
        vouchers: result.successes.flatMap((s) =>
          s.value.voucher ? [{ node: s.candidate.staker, ...s.value.voucher }] : [],
        ),
        failures,
        incorrect,
      };
    } finally {
      d.dispose();
    }
  }

  private async askNode(
    policy: ReceivedPolicy,
    node: NodeInfo,
    capsules: Capsule[],
    capsuleBytes: Uint8Array[],
    incorrect: IncorrectCFragReport[],
    signal: AbortSignal,
    timeoutMs?: number,
  ): Promise<{ cfrags: VerifiedCapsuleFrag[]; voucher?: { count: bigint; signature: Uint8Array } }> {
    const { map } = policy;
    const voucher = map.reencryptionPrice > 0n ? await this.voucher(map, node, capsules.length) : undefined;
    const request = buildReencryptionRequest({
      policyId: map.policyId,
      node: node.staker,
      capsules: capsuleBytes,
      recipientSigner: this.signer,
      voucher,
    });
    const body = encode(ReencryptionRequest, request);
    const started = performance.now();
    const response = await this.connector.send(node, "/v1/reencrypt", body, ReencryptionResponse, {
      signal,
      timeoutMs,
    });
    this.typicalAnswerMs = 0.8 * this.typicalAnswerMs + 0.2 * (performance.now() - started);
    if (
      !Buffer.from(response.requestHash).equals(Buffer.from(keccak(body))) ||
      response.cfrags.length !== capsules.length ||
      response.bindingSignatures.length !== capsules.length
    ) {
      throw new NodeCallError(node, "BAD_RESPONSE", "the answer is not for this request");
    }
    const receiving = this.publicKey;
    const verified: VerifiedCapsuleFrag[] = [];
    for (const [i, bytes] of response.cfrags.entries()) {
      try {
        verified.push(
          CapsuleFrag.fromBytes(bytes).verify(
            capsules[i],
            policy.ownerVerifyingKey,
            policy.delegatingKey,
            receiving,
          ),
        );
        continue;
      } catch (error) {
        if (!(error instanceof PreError)) throw error;
        this.recordIncorrect(
          policy,
          node,
          capsules[i],
          bytes,
          response.bindingSignatures[i],
          incorrect,
          error,
        );
      }
    }
    return { cfrags: verified, voucher };
  }

  /** Builds the evidence of a cfrag that failed verification; always throws the node's failure. */
  private recordIncorrect(
    policy: ReceivedPolicy,
    node: NodeInfo,
    capsule: Capsule,
    cfrag: Uint8Array,
    nodeSignature: Uint8Array,
    incorrect: IncorrectCFragReport[],
    cause: PreError,
  ): never {
    let evidence: ReencryptionEvidence;
    try {
      evidence = buildEvidence({
        capsule,
        cfrag,
        verifyingKey: policy.ownerVerifyingKey,
        delegatingKey: policy.delegatingKey,
        receivingKey: this.publicKey,
      });
    } catch {
      throw new NodeCallError(node, "MALFORMED_CFRAG", `a cfrag does not even decode: ${cause.message}`);
    }
    const chain = this.o.chain;
    const bound =
      chain !== undefined &&
      recoverReencryptionSigner(
        chain.chainId,
        chain.adjudicatorAddress,
        {
          capsule: evidence.capsule,
          cfrag: evidence.cfrag,
          verifyingKey: policy.map.ownerVerifyingKey,
          delegatingKey: policy.map.delegatingKey,
          receivingKey: this.publicKey.toCompressedBytes(),
        },
        nodeSignature,
      ) === getAddress(node.operator);
    if (!evidence.correct && bound)
      incorrect.push({ node: node.staker, url: node.url, evidence, nodeSignature });
    throw new NodeCallError(
      node,
      "INVALID_CFRAG",
      `${cause.message}${evidence.defect ? ` (${evidence.defect})` : ""}${bound ? "; evidence kept" : ""}`,
    );
  }

  private async submitEvidence(reports: IncorrectCFragReport[]): Promise<void> {
    const adjudicator = this.o.adjudicator;
    if (!adjudicator) return;
    for (const report of reports) {
      try {
        const args = [hexlify(report.evidence.bytes), hexlify(report.nodeSignature)];
        // the verdict and the penalty at stake, read before the slash changes them
        const correct = (await adjudicator.evaluateCFrag.staticCall(...args)) as boolean;
        const penalty = correct ? 0n : ((await adjudicator.penaltyFor(report.node)) as bigint);
        const tx = await adjudicator.evaluateCFrag(...args);
        const receipt = await tx.wait();
        report.submission = { hash: tx.hash, gasUsed: receipt.gasUsed, correct, penalty };
      } catch (error) {
        report.submission = { error: chainError("evaluateCFrag", error).message };
      }
    }
  }

  /**
   * The cumulative voucher for `capsules` more re-encryptions by `node`. It counts as given once
   * signed (the node can claim it even if the answer never arrives), so the count is taken
   * before any await; concurrent requests to one node must reach it in order.
   */
  private async voucher(map: PolicyMap, node: NodeInfo, capsules: number) {
    const key = `${hexlify(map.policyId)}/${node.staker}`;
    const count = (this.served.get(key) ?? 0n) + BigInt(capsules);
    this.served.set(key, count);
    const signature = await signVoucher(this.account, map.chainId, map.policyManager, {
      policyId: map.policyId,
      node: node.staker,
      count,
    });
    return { count, signature };
  }

  /** Retrieves and decrypts one message. */
  async decryptMessage(
    policy: ReceivedPolicy,
    kit: MessageKit,
    options?: RetrieveOptions,
  ): Promise<Uint8Array> {
    const { cfrags } = await this.retrieve(policy, [kit.capsule], options);
    return this.open(policy, kit.capsule, cfrags[0], kit.ciphertext);
  }

  /** Decrypts a container (writer.encryptStream) with the policy's nodes' help. */
  decryptStream(
    policy: ReceivedPolicy,
    source: AsyncIterable<Uint8Array>,
    options?: RetrieveOptions,
  ): AsyncGenerator<Uint8Array> {
    return decryptStream(source, async ({ header, capsule }) => {
      const { cfrags } = await this.retrieve(policy, [capsule], options);
      return StreamDecryptor.reencrypted(this.o.secretKey, policy.delegatingKey, header, cfrags[0]);
    });
  }

  private open(
    policy: ReceivedPolicy,
    capsule: Capsule,
    cfrags: VerifiedCapsuleFrag[],
    ciphertext: Uint8Array,
  ) {
    try {
      return decryptReencrypted(this.o.secretKey, policy.delegatingKey, capsule, cfrags, ciphertext);
    } catch (error) {
      if (error instanceof PreError)
        throw new ClientError("DECRYPTION_FAILED", error.message, { cause: error });
      throw error;
    }
  }

  /** A provider-connected copy of the recipient's account (to pay gas for its own transactions). */
  connectAccount(provider: Provider): Wallet {
    return this.account.connect(provider);
  }

  close(): void {
    if (this.ownConnector) this.connector.close();
  }
}
