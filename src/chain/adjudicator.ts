/**
 * The node's binding signature for the Adjudicator contract, and the arguments of its
 * `evaluateCFrag` call.
 *
 * For each cfrag it returns, a node makes the statement `Reencryption(bytes32 capsuleHash,
 * bytes32 cfragHash,bytes32 keysHash)`; the statement's EIP-712 struct hash is its leaf. The node
 * signs once per run of 8 cfrags of an answer, with its operator key, the EIP-712 digest of
 * `ReencryptionBatch(bytes32 root)` over the Merkle root of the run's leaves in answer order
 * (`bindingRoots` in src/chain/merkle.ts). The
 * contract recomputes the leaf from the evidence, the root from the leaf's proof, and recovers the
 * operator from the signature, so anyone holding a wrong cfrag, its proof and the signature can
 * have the node's staker slashed (see docs/evidence.md and docs/threat-model.md).
 */
import { Signature, TypedDataEncoder, getAddress, getBytes, hexlify, toUtf8Bytes } from "ethers";
import type { BytesLike, TypedDataDomain, TypedDataField } from "ethers";
import { keccak, recoverDigestSigner } from "../protocol/signing";
import { bindingRoots } from "./merkle";
import { tokens } from "./params";

/** Byte sizes of the signed objects (Umbral simple forms, compressed secp256k1 keys). */
export const CAPSULE_SIMPLE_LENGTH = 98;
export const CFRAG_SIMPLE_LENGTH = 359;
export const PUBLIC_KEY_LENGTH = 33;
export const NODE_SIGNATURE_LENGTH = 65;

/**
 * The Adjudicator's penalty parameters (immutable once deployed): penalty = min(basePenalty +
 * penaltyHistoryCoefficient · previous penalties, stake / percentagePenaltyCoefficient); the
 * reporter receives penalty / rewardCoefficient and the escrow burns the rest.
 * A first offence costs 1 500 NKMS (10% of the 15 000 minimum stake), each later one 1 500 more,
 * never more than 10% of the stake at once; a quarter goes to the reporter, so a node that reports
 * itself (or a colluding reporter) still loses three quarters.
 */
export interface AdjudicatorParams {
  readonly basePenalty: bigint;
  readonly penaltyHistoryCoefficient: bigint;
  readonly percentagePenaltyCoefficient: bigint;
  readonly rewardCoefficient: bigint;
}

export const ADJUDICATOR_PARAMS: AdjudicatorParams = {
  basePenalty: tokens(1_500n),
  penaltyHistoryCoefficient: tokens(1_500n),
  percentagePenaltyCoefficient: 10n,
  rewardCoefficient: 4n,
};

/** The EIP-712 domain name and version the Adjudicator contract is deployed with. */
export const ADJUDICATOR_DOMAIN_NAME = "NKMS Adjudicator";
export const ADJUDICATOR_DOMAIN_VERSION = "1";

/** The EIP-712 type of the node's statement "this cfrag re-encrypts this capsule under these keys". */
export const REENCRYPTION_TYPES: Record<string, TypedDataField[]> = {
  Reencryption: [
    { name: "capsuleHash", type: "bytes32" },
    { name: "cfragHash", type: "bytes32" },
    { name: "keysHash", type: "bytes32" },
  ],
};

/** The EIP-712 type the node signs: the Merkle root of a run of statements (up to 8, one answer's). */
export const REENCRYPTION_BATCH_TYPES: Record<string, TypedDataField[]> = {
  ReencryptionBatch: [{ name: "root", type: "bytes32" }],
};

const REENCRYPTION_TYPEHASH = keccak(
  toUtf8Bytes("Reencryption(bytes32 capsuleHash,bytes32 cfragHash,bytes32 keysHash)"),
);
const REENCRYPTION_BATCH_TYPEHASH = keccak(toUtf8Bytes("ReencryptionBatch(bytes32 root)"));

/** What a node vouches for when it answers a re-encryption request. */
export interface ReencryptionStatement {
  /** the capsule in its 98-byte simple form (E ‖ V ‖ s) */
  readonly capsule: BytesLike;
  /** the cfrag in its 359-byte simple form */
  readonly cfrag: BytesLike;
  /** the policy owner's Umbral verifying key (signs the kfrags), 33 bytes compressed */
  readonly verifyingKey: BytesLike;
  /** the delegating (label) public key, 33 bytes compressed */
  readonly delegatingKey: BytesLike;
  /** the recipient's public key, 33 bytes compressed */
  readonly receivingKey: BytesLike;
}

export type AdjudicatorInputErrorCode = "BAD_LENGTH" | "BAD_CHAIN_ID";

/** An argument of the Adjudicator helpers has the wrong shape. */
export class AdjudicatorInputError extends Error {
  override readonly name = "AdjudicatorInputError";
  constructor(
    readonly code: AdjudicatorInputErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function exactBytes(what: string, value: BytesLike, length: number): Uint8Array {
  const bytes = getBytes(value);
  if (bytes.length !== length) {
    throw new AdjudicatorInputError("BAD_LENGTH", `${what}: expected ${length} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** The EIP-712 domain of the Adjudicator at `adjudicator` on chain `chainId`. */
export function adjudicatorDomain(chainId: bigint | number, adjudicator: string): TypedDataDomain {
  if (BigInt(chainId) <= 0n)
    throw new AdjudicatorInputError("BAD_CHAIN_ID", `chain id must be positive, got ${chainId}`);
  return {
    name: ADJUDICATOR_DOMAIN_NAME,
    version: ADJUDICATOR_DOMAIN_VERSION,
    chainId: BigInt(chainId),
    verifyingContract: adjudicator,
  };
}

const domainSeparators = new Map<string, Uint8Array>();

/** The EIP-712 domain separator of the Adjudicator at `adjudicator` on chain `chainId`. */
export function adjudicatorDomainSeparator(chainId: bigint | number, adjudicator: string): Uint8Array {
  // remembered: a client checks one signature per 8 cfrags of every answer against the same domain
  const key = `${chainId}:${adjudicator}`;
  let separator = domainSeparators.get(key);
  if (!separator) {
    separator = getBytes(TypedDataEncoder.hashDomain(adjudicatorDomain(chainId, adjudicator)));
    if (domainSeparators.size > 64) domainSeparators.clear();
    domainSeparators.set(key, separator);
  }
  return separator;
}

/**
 * A statement's leaf from the keccak-256 hashes of its parts: keccak256(REENCRYPTION_TYPEHASH ‖
 * capsuleHash ‖ cfragHash ‖ keysHash), the EIP-712 struct hash. For callers that hash the parts
 * themselves (the node hashes the keys once per request).
 */
export function leafOfHashes(
  capsuleHash: Uint8Array,
  cfragHash: Uint8Array,
  keysHash: Uint8Array,
): Uint8Array {
  return keccak(Buffer.concat([REENCRYPTION_TYPEHASH, capsuleHash, cfragHash, keysHash]));
}

/** keccak-256 of the three keys of a statement, in the contract's order; checks their lengths. */
export function statementKeysHash(statement: Omit<ReencryptionStatement, "capsule" | "cfrag">): Uint8Array {
  return keccak(
    Buffer.concat([
      exactBytes("verifyingKey", statement.verifyingKey, PUBLIC_KEY_LENGTH),
      exactBytes("delegatingKey", statement.delegatingKey, PUBLIC_KEY_LENGTH),
      exactBytes("receivingKey", statement.receivingKey, PUBLIC_KEY_LENGTH),
    ]),
  );
}

/** The statement's Merkle leaf (what `Adjudicator.statementLeaf` computes); checks every part's length. */
export function reencryptionLeaf(statement: ReencryptionStatement): Uint8Array {
  return answerLeaves(statement, [statement.capsule], [statement.cfrag])[0];
}

/**
 * The leaves of an answer's statements, one per (capsule, cfrag) pair in order, all under the
 * same keys (hashed once); checks every part's length.
 */
export function answerLeaves(
  keys: Omit<ReencryptionStatement, "capsule" | "cfrag">,
  capsules: readonly BytesLike[],
  cfrags: readonly BytesLike[],
): Uint8Array[] {
  const keysHash = statementKeysHash(keys);
  return cfrags.map((cfrag, i) =>
    leafOfHashes(
      keccak(exactBytes("capsule", capsules[i], CAPSULE_SIMPLE_LENGTH)),
      keccak(exactBytes("cfrag", cfrag, CFRAG_SIMPLE_LENGTH)),
      keysHash,
    ),
  );
}

/**
 * Why an answer's binding signatures do not bind its statements to `operator`: "count" when
 * there is not one per run of STATEMENTS_PER_ROOT leaves, else the index of the first one that
 * does not recover to `operator`; undefined when they all bind.
 */
export function bindingFault(
  chainId: bigint | number,
  adjudicator: string,
  operator: string,
  leaves: readonly Uint8Array[],
  signatures: readonly Uint8Array[],
): "count" | number | undefined {
  const roots = bindingRoots(leaves);
  if (signatures.length !== roots.length) return "count";
  const expected = getAddress(operator);
  const bad = roots.findIndex(
    (root, i) => recoverBatchSigner(chainId, adjudicator, root, signatures[i]) !== expected,
  );
  return bad < 0 ? undefined : bad;
}

/** The EIP-712 digest of `ReencryptionBatch(root)` under a domain separator (see adjudicatorDomainSeparator). */
function batchDigestUnder(domainSeparator: Uint8Array, root: Uint8Array): Uint8Array {
  const structHash = keccak(Buffer.concat([REENCRYPTION_BATCH_TYPEHASH, exactBytes("root", root, 32)]));
  return keccak(Buffer.concat([Uint8Array.of(0x19, 0x01), domainSeparator, structHash]));
}

/** The EIP-712 digest the operator key signs for a run of leaves with this root (`Adjudicator.batchDigest`). */
export function batchDigest(chainId: bigint | number, adjudicator: string, root: BytesLike): Uint8Array {
  return batchDigestUnder(adjudicatorDomainSeparator(chainId, adjudicator), getBytes(root));
}

/** What the operator key signs for an answer with these leaves: one `batchDigest` per root of `bindingRoots`. */
export function bindingDigests(
  chainId: bigint | number,
  adjudicator: string,
  leaves: readonly Uint8Array[],
): Uint8Array[] {
  const separator = adjudicatorDomainSeparator(chainId, adjudicator);
  return bindingRoots(leaves).map((root) => batchDigestUnder(separator, root));
}

/** Anything that signs EIP-712 data the way an ethers v6 `Wallet` or `Signer` does. */
export interface TypedDataSigner {
  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string>;
}

/**
 * Signs the root of a run of statements with the node's operator key, as EIP-712 typed data:
 * the 65-byte signature (r ‖ s ‖ v) as hex. (The node itself signs `batchDigest` with its
 * OperatorKey.signDigest; both make the same signature.)
 */
export async function signReencryptionBatch(
  operator: TypedDataSigner,
  chainId: bigint | number,
  adjudicator: string,
  root: BytesLike,
): Promise<string> {
  const signature = await operator.signTypedData(
    adjudicatorDomain(chainId, adjudicator),
    REENCRYPTION_BATCH_TYPES,
    { root: hexlify(exactBytes("root", root, 32)) },
  );
  return Signature.from(signature).serialized;
}

/**
 * The operator address that made `signature` over the batch with this root (what the contract
 * recovers), or undefined if the signature is malformed (high s, bad v, no point).
 */
export function recoverBatchSigner(
  chainId: bigint | number,
  adjudicator: string,
  root: BytesLike,
  signature: BytesLike,
): string | undefined {
  return recoverDigestSigner(
    batchDigest(chainId, adjudicator, root),
    exactBytes("signature", signature, NODE_SIGNATURE_LENGTH),
  );
}

/**
 * The arguments of `Adjudicator.evaluateCFrag(bytes evidence, bytes32[] proof, bytes
 * nodeSignature)`: the evidence bytes made by `buildEvidence` (src/pre/evidence.ts, layout in
 * docs/evidence.md), the Merkle proof of the cfrag's leaf to its run's root (`bindingProof`,
 * src/chain/merkle.ts) and the node's 65-byte binding signature of that root.
 */
export function evaluateArguments(
  evidence: BytesLike | { readonly bytes: Uint8Array },
  proof: readonly BytesLike[],
  nodeSignature: BytesLike,
): [string, string[], string] {
  const evidenceBytes =
    typeof evidence === "object" && "bytes" in evidence ? evidence.bytes : getBytes(evidence);
  return [
    hexlify(evidenceBytes),
    proof.map((sibling) => hexlify(exactBytes("proof element", sibling, 32))),
    hexlify(exactBytes("nodeSignature", nodeSignature, NODE_SIGNATURE_LENGTH)),
  ];
}
