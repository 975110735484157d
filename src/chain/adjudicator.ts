/**
 * The node's binding signature for the Adjudicator contract, and the arguments of its
 * `evaluate` call.
 *
 * A node answers every re-encryption with an EIP-712 signature made by its operator key over
 * `Reencryption(bytes32 capsuleHash,bytes32 cfragHash,bytes32 keysHash)`. The contract recovers
 * the operator from that signature, so anyone holding a wrong cfrag and the signature can have
 * the node's staker slashed (see docs/evidence.md and docs/threat-model.md).
 */
import { Signature, TypedDataEncoder, concat, getBytes, hexlify, keccak256, recoverAddress } from "ethers";
import type { BytesLike, TypedDataDomain, TypedDataField } from "ethers";
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

/** The EIP-712 types of the node's statement "this cfrag re-encrypts this capsule under these keys". */
export const REENCRYPTION_TYPES: Record<string, TypedDataField[]> = {
  Reencryption: [
    { name: "capsuleHash", type: "bytes32" },
    { name: "cfragHash", type: "bytes32" },
    { name: "keysHash", type: "bytes32" },
  ],
};

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

/** The struct signed by the node: keccak-256 hashes of the statement's parts. */
export interface ReencryptionMessage {
  readonly capsuleHash: string;
  readonly cfragHash: string;
  readonly keysHash: string;
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

/** Hashes a statement into the signed struct; checks every part's length. */
export function reencryptionMessage(statement: ReencryptionStatement): ReencryptionMessage {
  const keys = concat([
    exactBytes("verifyingKey", statement.verifyingKey, PUBLIC_KEY_LENGTH),
    exactBytes("delegatingKey", statement.delegatingKey, PUBLIC_KEY_LENGTH),
    exactBytes("receivingKey", statement.receivingKey, PUBLIC_KEY_LENGTH),
  ]);
  return {
    capsuleHash: keccak256(exactBytes("capsule", statement.capsule, CAPSULE_SIMPLE_LENGTH)),
    cfragHash: keccak256(exactBytes("cfrag", statement.cfrag, CFRAG_SIMPLE_LENGTH)),
    keysHash: keccak256(keys),
  };
}

/** The full EIP-712 typed data (domain, types, message) a node signs for `statement`. */
export function reencryptionTypedData(
  chainId: bigint | number,
  adjudicator: string,
  statement: ReencryptionStatement,
): { domain: TypedDataDomain; types: Record<string, TypedDataField[]>; message: ReencryptionMessage } {
  return {
    domain: adjudicatorDomain(chainId, adjudicator),
    types: REENCRYPTION_TYPES,
    message: reencryptionMessage(statement),
  };
}

/** The EIP-712 digest the operator key signs (and the Adjudicator's key for "judged once"). */
export function reencryptionDigest(
  chainId: bigint | number,
  adjudicator: string,
  statement: ReencryptionStatement,
): string {
  const { domain, types, message } = reencryptionTypedData(chainId, adjudicator, statement);
  return TypedDataEncoder.hash(domain, types, message);
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
 * Signs `statement` with the node's operator key: the 65-byte signature (r ‖ s ‖ v) as hex.
 * The node attaches it to every cfrag it returns.
 */
export async function signReencryption(
  operator: TypedDataSigner,
  chainId: bigint | number,
  adjudicator: string,
  statement: ReencryptionStatement,
): Promise<string> {
  const { domain, types, message } = reencryptionTypedData(chainId, adjudicator, statement);
  return Signature.from(await operator.signTypedData(domain, types, { ...message })).serialized;
}

/** The operator address that made `signature` over `statement` (what the contract recovers). */
export function recoverReencryptionSigner(
  chainId: bigint | number,
  adjudicator: string,
  statement: ReencryptionStatement,
  signature: BytesLike,
): string {
  const digest = reencryptionDigest(chainId, adjudicator, statement);
  return recoverAddress(digest, hexlify(exactBytes("signature", signature, NODE_SIGNATURE_LENGTH)));
}

/**
 * The arguments of `Adjudicator.evaluate(bytes evidence, bytes nodeSignature)`: the evidence
 * bytes made by `buildEvidence` (src/pre/evidence.ts, layout in docs/evidence.md) and the
 * node's 65-byte signature.
 */
export function evaluateArguments(
  evidence: BytesLike | { readonly bytes: Uint8Array },
  nodeSignature: BytesLike,
): [string, string] {
  const evidenceBytes =
    typeof evidence === "object" && "bytes" in evidence ? evidence.bytes : getBytes(evidence);
  return [hexlify(evidenceBytes), hexlify(exactBytes("nodeSignature", nodeSignature, NODE_SIGNATURE_LENGTH))];
}
