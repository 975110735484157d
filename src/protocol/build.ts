/**
 * Building the messages a client sends to a node, and checking the node's answers. The
 * client SDK and the node tests use these so every party encodes the same way.
 */
import { getAddress, getBytes } from "ethers";
import { randomBytes } from "node:crypto";
import { encrypt, PublicKey, type Signer, type VerifiedKeyFrag } from "../pre";
import { answerLeaves, bindingFault } from "../chain/adjudicator";
import { STATEMENTS_PER_ROOT } from "../chain/merkle";
import { decode } from "./codec";
import { BadSignatureError, InvalidFieldError } from "./errors";
import {
  AccessLog,
  AccessLogEntry,
  AccessLogRequest,
  NONCE_BYTES,
  PolicyShare,
  ReencryptionRequest,
  ReencryptionResponse,
  RevocationOrder,
} from "./messages";
import { messageHash, ownerBindingMessage, signUmbral, verifyOperator } from "./signing";

/** Anything that signs an EIP-191 message like an ethers Wallet or Signer. */
export interface MessageSigner {
  signMessage(message: string): Promise<string>;
}

export interface ShareInput {
  policyId: Uint8Array;
  /** the node's staker address */
  node: string;
  /** the node's Umbral encrypting key, from its verified metadata */
  nodeEncryptingKey: Uint8Array;
  kfrag: VerifiedKeyFrag;
  ownerSigner: Signer;
  delegatingKey: Uint8Array;
  recipientVerifyingKey: Uint8Array;
  /** the Ethereum account that created the policy on chain */
  ownerAccount: MessageSigner;
}

export async function buildPolicyShare(input: ShareInput): Promise<PolicyShare> {
  const keys = {
    policyId: input.policyId,
    node: getAddress(input.node),
    ownerVerifyingKey: input.ownerSigner.verifyingKey().toCompressedBytes(),
    delegatingKey: input.delegatingKey,
    recipientVerifyingKey: input.recipientVerifyingKey,
  };
  const [capsule, ciphertext] = encrypt(
    PublicKey.fromCompressedBytes(input.nodeEncryptingKey),
    input.kfrag.toBytes(),
  );
  const ownerBinding = getBytes(await input.ownerAccount.signMessage(ownerBindingMessage(keys)));
  return signUmbral(
    PolicyShare,
    { ...keys, ownerBinding, kfragCapsule: capsule.toBytes(), kfragCiphertext: ciphertext },
    input.ownerSigner,
  );
}

export function buildReencryptionRequest(input: {
  policyId: Uint8Array;
  node: string;
  capsules: Uint8Array[];
  recipientSigner: Signer;
  voucher?: { count: bigint; signature: Uint8Array };
  now?: number;
}): ReencryptionRequest {
  return signUmbral(
    ReencryptionRequest,
    {
      policyId: input.policyId,
      node: getAddress(input.node),
      recipientVerifyingKey: input.recipientSigner.verifyingKey().toCompressedBytes(),
      nonce: new Uint8Array(randomBytes(NONCE_BYTES)),
      issuedAt: BigInt(input.now ?? Date.now()),
      capsules: input.capsules,
      voucherCount: input.voucher?.count ?? 0n,
      voucherSignature: input.voucher?.signature ?? new Uint8Array(),
    },
    input.recipientSigner,
  );
}

export function buildRevocationOrder(input: {
  policyId: Uint8Array;
  node: string;
  ownerSigner: Signer;
  now?: number;
}) {
  return signUmbral(
    RevocationOrder,
    { policyId: input.policyId, node: getAddress(input.node), issuedAt: BigInt(input.now ?? Date.now()) },
    input.ownerSigner,
  );
}

export function buildAccessLogRequest(input: {
  policyId: Uint8Array;
  node: string;
  ownerSigner: Signer;
  fromSequence?: bigint;
  now?: number;
}) {
  return signUmbral(
    AccessLogRequest,
    {
      policyId: input.policyId,
      node: getAddress(input.node),
      fromSequence: input.fromSequence ?? 0n,
      nonce: new Uint8Array(randomBytes(NONCE_BYTES)),
      issuedAt: BigInt(input.now ?? Date.now()),
    },
    input.ownerSigner,
  );
}

/**
 * Checks a node's answer to `request`: signed by the node's operator, for this request, one
 * cfrag per capsule, and one binding signature by the operator per run of 8 cfrags, over the
 * Merkle root of their statements, that the Adjudicator accepts (leaves, roots and signers
 * recomputed here exactly as the contract computes them).
 */
export function checkReencryptionResponse(
  response: ReencryptionResponse,
  request: ReencryptionRequest,
  node: { operator: string; chainId: bigint; adjudicator: string },
  keys: {
    ownerVerifyingKey: Uint8Array;
    delegatingKey: Uint8Array;
    capsulesSimple: Uint8Array[];
    cfragsSimple: Uint8Array[];
  },
): void {
  verifyOperator(ReencryptionResponse, response, node.operator);
  if (!sameBytes(messageHash(ReencryptionRequest, request), response.requestHash)) {
    throw new InvalidFieldError("ReencryptionResponse", "requestHash", "does not match the request sent");
  }
  if (response.cfrags.length !== request.capsules.length) {
    throw new InvalidFieldError("ReencryptionResponse", "cfrags", "one cfrag per capsule expected");
  }
  const leaves = answerLeaves(
    {
      verifyingKey: keys.ownerVerifyingKey,
      delegatingKey: keys.delegatingKey,
      receivingKey: request.recipientVerifyingKey,
    },
    keys.capsulesSimple,
    keys.cfragsSimple,
  );
  const fault = bindingFault(
    node.chainId,
    node.adjudicator,
    node.operator,
    leaves,
    response.bindingSignatures,
  );
  if (fault === "count") {
    throw new InvalidFieldError(
      "ReencryptionResponse",
      "bindingSignatures",
      `one binding signature per ${STATEMENTS_PER_ROOT} cfrags expected`,
    );
  }
  if (fault !== undefined) {
    throw new BadSignatureError(
      "ReencryptionResponse",
      `binding signature ${fault} is not by the node's operator`,
    );
  }
}

/**
 * Verifies an access-log page: every entry signed by the node's operator, for this policy and
 * node, numbered from `fromSequence` without gaps, each linking to the previous entry's hash
 * (`previous` is the hash of the entry before `fromSequence`, zero for the start). A log the
 * node rewrote fails here, or fails against any hash a client kept from earlier (a
 * ReencryptionResponse's accessLogEntryHash).
 */
export function verifyAccessLog(
  page: AccessLog,
  node: { staker: string; operator: string },
  policyId: Uint8Array,
  fromSequence = 0n,
  previous: Uint8Array = new Uint8Array(32),
): { entries: AccessLogEntry[]; hashes: Uint8Array[] } {
  verifyOperator(AccessLog, page, node.operator);
  const entries: AccessLogEntry[] = [];
  const hashes: Uint8Array[] = [];
  let expectedPrevious = previous;
  page.entries.forEach((bytes, i) => {
    const entry = decode(AccessLogEntry, bytes);
    verifyOperator(AccessLogEntry, entry, node.operator);
    const where = `entries[${i}]`;
    if (!sameBytes(entry.policyId, policyId) || getAddress(entry.node) !== getAddress(node.staker)) {
      throw new InvalidFieldError("AccessLog", where, "belongs to another policy or node");
    }
    if (entry.sequence !== fromSequence + BigInt(i)) {
      throw new InvalidFieldError(
        "AccessLog",
        where,
        `sequence ${entry.sequence}, expected ${fromSequence + BigInt(i)}`,
      );
    }
    if (!sameBytes(entry.previousHash, expectedPrevious)) {
      throw new InvalidFieldError("AccessLog", where, "does not link to the previous entry (log rewritten?)");
    }
    expectedPrevious = messageHash(AccessLogEntry, entry);
    entries.push(entry);
    hashes.push(expectedPrevious);
  });
  return { entries, hashes };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}
