/**
 * The recipient ("Bob"): opens policy maps, retrieves verified cfrags from the policy's nodes
 * (parallel and hedged), decrypts, turns wrong cfrags into Adjudicator evidence, and signs
 * per-re-encryption vouchers for metered policies.
 */
import { performance } from "node:perf_hooks";
import { hexlify, Wallet, type Contract, type Provider } from "ethers";
import { answerLeaves, bindingFault, evaluateArguments } from "../chain/adjudicator";
import { bindingProof } from "../chain/merkle";
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

/** A cfrag of an answer with its simple form: decoded, or the evidence of why it does not decode. */
type DecodedCFrag =
  | { cfrag: CapsuleFrag; simple: Uint8Array }
  | { cause: PreError; evidence: ReencryptionEvidence; simple: Uint8Array };

/** A wrong cfrag a node signed, with what became of its evidence. */
export interface IncorrectCFragReport {
  node: string;
  url: string;
  evidence: ReencryptionEvidence;
  /** the Merkle proof of the cfrag's statement in the node's answer (src/chain/merkle.ts) */
  proof: Uint8Array[];
  /** the node's binding signature of the Merkle root the proof leads to */
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
  /**
   * The chain's id and the Adjudicator's address: the EIP-712 domain of the nodes' binding
   * signatures. With it, every answer's binding signature is checked (an answer whose signature
   * does not cover its cfrags is refused) and wrong cfrags are kept as evidence; without it,
   * neither.
   */
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
      response.cfrags.length !== capsules.length
    ) {
      throw new NodeCallError(node, "BAD_RESPONSE", "the answer is not for this request");
    }
    const receiving = this.publicKey;
    // each cfrag in its simple form, as the node's statement hashes it; a cfrag that does not
    // decode is read from its evidence, which takes the simple form from the bytes as they are
    const cfrags = response.cfrags.map((bytes, i): DecodedCFrag => {
      try {
        const cfrag = CapsuleFrag.fromBytes(bytes);
        return { cfrag, simple: cfrag.toBytesSimple() };
      } catch (error) {
        if (!(error instanceof PreError)) throw error;
        const evidence = this.evidence(policy, node, capsules[i], bytes, error);
        return { cause: error, evidence, simple: evidence.cfrag };
      }
    });
    const leaves = this.checkBinding(policy, node, capsules, cfrags, response.bindingSignatures);
    const verified: VerifiedCapsuleFrag[] = [];
    for (const [i, entry] of cfrags.entries()) {
      let failure: PreError;
      if ("cause" in entry) failure = entry.cause;
      else {
        try {
          verified.push(
            entry.cfrag.verify(capsules[i], policy.ownerVerifyingKey, policy.delegatingKey, receiving),
          );
          continue;
        } catch (error) {
          if (!(error instanceof PreError)) throw error;
          failure = error;
        }
      }
      this.recordIncorrect(
        node,
        "evidence" in entry
          ? entry.evidence
          : this.evidence(policy, node, capsules[i], entry.simple, failure),
        leaves && this.bindingOf(leaves, i, response.bindingSignatures),
        incorrect,
        failure,
      );
    }
    return { cfrags: verified, voucher };
  }

  /**
   * When the chain is configured: the leaves of the answer's statements, after checking that the
   * node's operator signed each of their roots (else the answer is refused: its cfrags bind no one).
   */
  private checkBinding(
    policy: ReceivedPolicy,
    node: NodeInfo,
    capsules: Capsule[],
    cfrags: { simple: Uint8Array }[],
    bindingSignatures: Uint8Array[],
  ): Uint8Array[] | undefined {
    const chain = this.o.chain;
    if (!chain) return undefined;
    const leaves = answerLeaves(
      {
        verifyingKey: policy.map.ownerVerifyingKey,
        delegatingKey: policy.map.delegatingKey,
        receivingKey: this.publicKey.toCompressedBytes(),
      },
      capsules.map((capsule) => capsule.toBytesSimple()),
      cfrags.map(({ simple }) => simple),
    );
    if (
      bindingFault(chain.chainId, chain.adjudicatorAddress, node.operator, leaves, bindingSignatures) !==
      undefined
    ) {
      throw new NodeCallError(node, "BAD_BINDING", "the binding signatures do not cover these cfrags");
    }
    return leaves;
  }

  /** The proof of cfrag `index` and the binding signature of the root it leads to. */
  private bindingOf(
    leaves: Uint8Array[],
    index: number,
    bindingSignatures: Uint8Array[],
  ): { proof: Uint8Array[]; nodeSignature: Uint8Array } {
    const { root, proof } = bindingProof(leaves, index);
    return { proof, nodeSignature: bindingSignatures[root] };
  }

  /** The evidence of a cfrag that failed verification; the node's failure if it cannot be built. */
  private evidence(
    policy: ReceivedPolicy,
    node: NodeInfo,
    capsule: Capsule,
    cfrag: Uint8Array,
    cause: PreError,
  ): ReencryptionEvidence {
    try {
      return buildEvidence({
        capsule,
        cfrag,
        verifyingKey: policy.ownerVerifyingKey,
        delegatingKey: policy.delegatingKey,
        receivingKey: this.publicKey,
      });
    } catch {
      throw new NodeCallError(node, "MALFORMED_CFRAG", `a cfrag does not even decode: ${cause.message}`);
    }
  }

  /**
   * Keeps the evidence of a wrong cfrag when the node's binding signature covers it (`binding`,
   * absent without a chain); always throws the node's failure.
   */
  private recordIncorrect(
    node: NodeInfo,
    evidence: ReencryptionEvidence,
    binding: { proof: Uint8Array[]; nodeSignature: Uint8Array } | undefined,
    incorrect: IncorrectCFragReport[],
    cause: PreError,
  ): never {
    const kept = !evidence.correct && binding !== undefined;
    if (kept) incorrect.push({ node: node.staker, url: node.url, evidence, ...binding });
    throw new NodeCallError(
      node,
      "INVALID_CFRAG",
      `${cause.message}${evidence.defect ? ` (${evidence.defect})` : ""}${kept ? "; evidence kept" : ""}`,
    );
  }

  private async submitEvidence(reports: IncorrectCFragReport[]): Promise<void> {
    const adjudicator = this.o.adjudicator;
    if (!adjudicator) return;
    for (const report of reports) {
      try {
        const args = evaluateArguments(report.evidence, report.proof, report.nodeSignature);
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
