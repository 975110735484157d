/**
 * The NKMS wire messages. Each is a versioned, tagged binary message (see codec.ts) with one
 * signature over a domain-separated encoding of all its other fields:
 *
 * | tag | major | message              | signed by                                   |
 * |-----|-------|----------------------|---------------------------------------------|
 * | 1   | 1     | NodeMetadata         | the node's operator key (secp256k1, 65 B)    |
 * | 2   | 1     | PolicyShare          | the policy owner's Umbral signer (64 B)      |
 * | 3   | 1     | ShareReceipt         | operator                                     |
 * | 4   | 1     | ReencryptionRequest  | the policy recipient's Umbral signer         |
 * | 5   | 2     | ReencryptionResponse | operator (and one binding signature per 8    |
 * |     |       |                      | cfrags, EIP-712 for the Adjudicator)         |
 * | 6   | 1     | RevocationOrder      | owner (Umbral)                               |
 * | 7   | 1     | RevocationAck        | operator                                     |
 * | 8   | 1     | AccessLogEntry       | operator                                     |
 * | 9   | 1     | AccessLogRequest     | owner (Umbral)                               |
 * | 10  | 1     | AccessLog            | operator                                     |
 *
 * A decoder refuses any other major version of a message (see codec.ts).
 *
 * Nodes are named by their staker address (the on-chain identity); messages addressed to a
 * node carry it, so a message for one node is refused by every other.
 */
import { STATEMENTS_PER_ROOT } from "../chain/merkle";
import { address, defineMessage, fixedBytes, list, text, u64, u8, varBytes } from "./codec";

export const POLICY_ID_BYTES = 16;
export const PUBLIC_KEY_BYTES = 33;
export const UMBRAL_SIGNATURE_BYTES = 64;
export const OPERATOR_SIGNATURE_BYTES = 65;
export const NONCE_BYTES = 16;
/** Most capsules one re-encryption request may carry. */
export const MAX_CAPSULES_PER_REQUEST = 256;

const policyId = () => fixedBytes(POLICY_ID_BYTES);
const publicKey = () => fixedBytes(PUBLIC_KEY_BYTES);
const hash32 = () => fixedBytes(32);
const umbralSignature = () => fixedBytes(UMBRAL_SIGNATURE_BYTES);
const operatorSignature = () => fixedBytes(OPERATOR_SIGNATURE_BYTES);

/** What a node says about itself; clients pin its TLS certificate from `tlsFingerprint`. */
export interface NodeMetadata {
  chainId: bigint;
  staker: string;
  operator: string;
  /** the operator's compressed secp256k1 public key; its address is `operator` */
  verifyingKey: Uint8Array;
  /** the Umbral public key policy shares are encrypted to */
  encryptingKey: Uint8Array;
  /** SHA-256 of the TLS certificate (DER) */
  tlsFingerprint: Uint8Array;
  url: string;
  softwareVersion: string;
  /** milliseconds since the epoch */
  timestamp: bigint;
  signature: Uint8Array;
}

export const NodeMetadata = defineMessage<NodeMetadata>({
  tag: 1,
  name: "NodeMetadata",
  major: 1,
  minor: 0,
  fields: {
    chainId: u64(),
    staker: address(),
    operator: address(),
    verifyingKey: publicKey(),
    encryptingKey: publicKey(),
    tlsFingerprint: hash32(),
    url: text(2048),
    softwareVersion: text(64),
    timestamp: u64(),
    signature: operatorSignature(),
  },
  signature: "signature",
});

/**
 * One node's share of a policy: its kfrag, encrypted to the node's encrypting key with the PRE
 * library's `encrypt` (capsule + ciphertext), and the keys the kfrag verifies against.
 * `ownerBinding` ties the Umbral keys to the policy's on-chain owner (see ownerBindingMessage
 * in signing.ts): without it anyone could squat a policy's slot on a node with their own kfrag.
 */
export interface PolicyShare {
  policyId: Uint8Array;
  /** the staker address of the node this share is for */
  node: string;
  ownerVerifyingKey: Uint8Array;
  delegatingKey: Uint8Array;
  recipientVerifyingKey: Uint8Array;
  /** EIP-191 signature by the policy's on-chain owner address over ownerBindingMessage(...) */
  ownerBinding: Uint8Array;
  /** Capsule.toBytes() of the kfrag's encryption */
  kfragCapsule: Uint8Array;
  /** the encrypted KeyFrag.toBytes() */
  kfragCiphertext: Uint8Array;
  signature: Uint8Array;
}

export const PolicyShare = defineMessage<PolicyShare>({
  tag: 2,
  name: "PolicyShare",
  major: 1,
  minor: 0,
  fields: {
    policyId: policyId(),
    node: address(),
    ownerVerifyingKey: publicKey(),
    delegatingKey: publicKey(),
    recipientVerifyingKey: publicKey(),
    ownerBinding: operatorSignature(),
    kfragCapsule: varBytes(256),
    kfragCiphertext: varBytes(1024),
    signature: umbralSignature(),
  },
  signature: "signature",
});

/**
 * The node's promise that it stored a share durably. `kfragId` and `commitmentHash`
 * (keccak256(x ‖ y) of the kfrag's commitment point u1) identify the kfrag without revealing
 * it; `custodySignature` is the operator's EIP-712 `KfragReceipt(policyId, commitmentHash)`
 * that the KeyLeakChallenge contract accepts as proof the node took custody (custody.ts).
 */
export interface ShareReceipt {
  policyId: Uint8Array;
  node: string;
  shareHash: Uint8Array;
  kfragId: Uint8Array;
  commitmentHash: Uint8Array;
  custodySignature: Uint8Array;
  storedAt: bigint;
  signature: Uint8Array;
}

export const ShareReceipt = defineMessage<ShareReceipt>({
  tag: 3,
  name: "ShareReceipt",
  major: 1,
  minor: 0,
  fields: {
    policyId: policyId(),
    node: address(),
    shareHash: hash32(),
    kfragId: hash32(),
    commitmentHash: hash32(),
    custodySignature: operatorSignature(),
    storedAt: u64(),
    signature: operatorSignature(),
  },
  signature: "signature",
});

/**
 * A recipient's signed, fresh request to re-encrypt capsules (Capsule.toBytes() each). For a
 * policy metered per re-encryption, it carries the recipient's PolicyManager voucher
 * `ReencryptionVoucher(policyId, node, voucherCount)` (EIP-712, by the policy's on-chain
 * recipient address) covering every re-encryption this node served so far plus these;
 * otherwise voucherCount is 0 and voucherSignature empty.
 */
export interface ReencryptionRequest {
  policyId: Uint8Array;
  node: string;
  recipientVerifyingKey: Uint8Array;
  nonce: Uint8Array;
  /** milliseconds since the epoch */
  issuedAt: bigint;
  capsules: Uint8Array[];
  voucherCount: bigint;
  voucherSignature: Uint8Array;
  signature: Uint8Array;
}

export const ReencryptionRequest = defineMessage<ReencryptionRequest>({
  tag: 4,
  name: "ReencryptionRequest",
  major: 1,
  minor: 0,
  fields: {
    policyId: policyId(),
    node: address(),
    recipientVerifyingKey: publicKey(),
    nonce: fixedBytes(NONCE_BYTES),
    issuedAt: u64(),
    capsules: list(varBytes(256), MAX_CAPSULES_PER_REQUEST),
    voucherCount: u64(),
    voucherSignature: varBytes(OPERATOR_SIGNATURE_BYTES),
    signature: umbralSignature(),
  },
  signature: "signature",
});

/**
 * The cfrags (CapsuleFrag.toBytes(), in request order), the operator's EIP-712 signatures the
 * Adjudicator accepts as binding for them (`ReencryptionBatch(root)`, one per run of 8 cfrags,
 * root: the Merkle root of those cfrags' `Reencryption` statements in order; see
 * src/chain/adjudicator.ts and src/chain/merkle.ts `bindingRoots`), the hash of the request they
 * answer and of the access-log entry that records them. Major version 2: version 1 carried one
 * binding signature per cfrag.
 */
export interface ReencryptionResponse {
  policyId: Uint8Array;
  node: string;
  requestHash: Uint8Array;
  accessLogEntryHash: Uint8Array;
  cfrags: Uint8Array[];
  bindingSignatures: Uint8Array[];
  signature: Uint8Array;
}

export const ReencryptionResponse = defineMessage<ReencryptionResponse>({
  tag: 5,
  name: "ReencryptionResponse",
  major: 2,
  minor: 0,
  fields: {
    policyId: policyId(),
    node: address(),
    requestHash: hash32(),
    accessLogEntryHash: hash32(),
    cfrags: list(varBytes(512), MAX_CAPSULES_PER_REQUEST),
    bindingSignatures: list(operatorSignature(), Math.ceil(MAX_CAPSULES_PER_REQUEST / STATEMENTS_PER_ROOT)),
    signature: operatorSignature(),
  },
  signature: "signature",
});

export interface RevocationOrder {
  policyId: Uint8Array;
  node: string;
  issuedAt: bigint;
  signature: Uint8Array;
}

export const RevocationOrder = defineMessage<RevocationOrder>({
  tag: 6,
  name: "RevocationOrder",
  major: 1,
  minor: 0,
  fields: { policyId: policyId(), node: address(), issuedAt: u64(), signature: umbralSignature() },
  signature: "signature",
});

export interface RevocationAck {
  policyId: Uint8Array;
  node: string;
  orderHash: Uint8Array;
  revokedAt: bigint;
  signature: Uint8Array;
}

export const RevocationAck = defineMessage<RevocationAck>({
  tag: 7,
  name: "RevocationAck",
  major: 1,
  minor: 0,
  fields: {
    policyId: policyId(),
    node: address(),
    orderHash: hash32(),
    revokedAt: u64(),
    signature: operatorSignature(),
  },
  signature: "signature",
});

/**
 * One re-encryption, as the node recorded it. Entries of a policy form a chain:
 * `previousHash` is keccak256 of the previous entry's encoding (zero for sequence 0).
 */
export interface AccessLogEntry {
  policyId: Uint8Array;
  node: string;
  sequence: bigint;
  previousHash: Uint8Array;
  requesterVerifyingKey: Uint8Array;
  requestHash: Uint8Array;
  /** keccak256 of each capsule's 98-byte simple form */
  capsuleHashes: Uint8Array[];
  servedAt: bigint;
  signature: Uint8Array;
}

export const AccessLogEntry = defineMessage<AccessLogEntry>({
  tag: 8,
  name: "AccessLogEntry",
  major: 1,
  minor: 0,
  fields: {
    policyId: policyId(),
    node: address(),
    sequence: u64(),
    previousHash: hash32(),
    requesterVerifyingKey: publicKey(),
    requestHash: hash32(),
    capsuleHashes: list(hash32(), MAX_CAPSULES_PER_REQUEST),
    servedAt: u64(),
    signature: operatorSignature(),
  },
  signature: "signature",
});

/** The owner's signed request for a policy's access log from `fromSequence` on. */
export interface AccessLogRequest {
  policyId: Uint8Array;
  node: string;
  fromSequence: bigint;
  nonce: Uint8Array;
  issuedAt: bigint;
  signature: Uint8Array;
}

export const AccessLogRequest = defineMessage<AccessLogRequest>({
  tag: 9,
  name: "AccessLogRequest",
  major: 1,
  minor: 0,
  fields: {
    policyId: policyId(),
    node: address(),
    fromSequence: u64(),
    nonce: fixedBytes(NONCE_BYTES),
    issuedAt: u64(),
    signature: umbralSignature(),
  },
  signature: "signature",
});

/** A page of access-log entries (each an encoded AccessLogEntry); `more` is 1 if truncated. */
export interface AccessLog {
  policyId: Uint8Array;
  node: string;
  entries: Uint8Array[];
  more: number;
  signature: Uint8Array;
}

export const MAX_ACCESS_LOG_PAGE = 1000;

export const AccessLog = defineMessage<AccessLog>({
  tag: 10,
  name: "AccessLog",
  major: 1,
  minor: 0,
  fields: {
    policyId: policyId(),
    node: address(),
    entries: list(
      varBytes(16 + 20 + 8 + 32 + 33 + 32 + 2 + 32 * MAX_CAPSULES_PER_REQUEST + 8 + 65 + 4),
      MAX_ACCESS_LOG_PAGE,
    ),
    more: u8(),
    signature: operatorSignature(),
  },
  signature: "signature",
});
