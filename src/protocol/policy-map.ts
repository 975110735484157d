/**
 * The policy map: what a data owner sends a recipient after a grant, so the recipient can ask
 * the policy's nodes for re-encryptions. Two messages, in the framing of codec.ts:
 *
 * | tag | message            | protection                                                   |
 * |-----|--------------------|--------------------------------------------------------------|
 * | 11  | PolicyMap          | signed by the owner's Umbral signer (64 B)                    |
 * | 12  | EncryptedPolicyMap | the encoded, signed PolicyMap encrypted to the recipient's key |
 *
 * Each node of the map is carried as its own encoded, operator-signed NodeMetadata, so the
 * recipient pins each node's TLS certificate from what the node itself signed.
 */
import { Capsule, decryptOriginal, encrypt, PreError, PublicKey, type SecretKey, type Signer } from "../pre";
import {
  address,
  decode,
  defineMessage,
  encode,
  fixedBytes,
  list,
  text,
  u64,
  u8,
  varBytes,
  type Field,
} from "./codec";
import { BadSignatureError, InvalidFieldError, ProtocolError } from "./errors";
import { NodeMetadata, POLICY_ID_BYTES, PUBLIC_KEY_BYTES, UMBRAL_SIGNATURE_BYTES } from "./messages";
import { recoverOperator, signUmbral, verifyUmbral } from "./signing";

/** Most nodes a policy may have (kfrag shares are at most 255). */
export const MAX_POLICY_NODES = 255;
const MAX_NODE_METADATA_BYTES = 4 + 8 + 20 + 20 + 33 + 33 + 32 + 2 + 2048 + 2 + 64 + 8 + 65;

/** An unsigned 256-bit integer as 32 big-endian bytes. */
function u256(): Field<bigint> {
  const raw = fixedBytes(32);
  return {
    write(w, value, where) {
      if (value < 0n || value >= 1n << 256n) {
        const dot = where.indexOf(".");
        throw new InvalidFieldError(where.slice(0, dot), where.slice(dot + 1), "out of u256 range");
      }
      raw.write(w, Uint8Array.from(Buffer.from(value.toString(16).padStart(64, "0"), "hex")), where);
    },
    read: (r, where) => BigInt("0x" + Buffer.from(raw.read(r, where)).toString("hex")),
  };
}

export interface PolicyMap {
  policyId: Uint8Array;
  chainId: bigint;
  /** the PolicyManager the policy was paid to */
  policyManager: string;
  /** the label whose key the policy delegates (UTF-8) */
  label: string;
  ownerVerifyingKey: Uint8Array;
  /** the label's public key: what writers encrypt to */
  delegatingKey: Uint8Array;
  /** the recipient's public key: the kfrags re-encrypt to it and it signs requests */
  recipientKey: Uint8Array;
  /** m: how many nodes' cfrags decrypt */
  threshold: number;
  /** each node's encoded, operator-signed NodeMetadata, in the policy's on-chain order */
  nodes: Uint8Array[];
  /** first and last-exclusive period of the policy (chain periods) */
  startPeriod: bigint;
  endPeriod: bigint;
  /** price per re-encryption in the token's smallest unit (0 = not metered) */
  reencryptionPrice: bigint;
  signature: Uint8Array;
}

export const PolicyMap = defineMessage<PolicyMap>({
  tag: 11,
  name: "PolicyMap",
  major: 1,
  minor: 0,
  fields: {
    policyId: fixedBytes(POLICY_ID_BYTES),
    chainId: u64(),
    policyManager: address(),
    label: text(256),
    ownerVerifyingKey: fixedBytes(PUBLIC_KEY_BYTES),
    delegatingKey: fixedBytes(PUBLIC_KEY_BYTES),
    recipientKey: fixedBytes(PUBLIC_KEY_BYTES),
    threshold: u8(),
    nodes: list(varBytes(MAX_NODE_METADATA_BYTES), MAX_POLICY_NODES),
    startPeriod: u64(),
    endPeriod: u64(),
    reencryptionPrice: u256(),
    signature: fixedBytes(UMBRAL_SIGNATURE_BYTES),
  },
  signature: "signature",
});

/** A PolicyMap encrypted to `recipientKey` with the PRE library's `encrypt`. */
export interface EncryptedPolicyMap {
  recipientKey: Uint8Array;
  /** Capsule.toBytes() */
  capsule: Uint8Array;
  ciphertext: Uint8Array;
}

export const EncryptedPolicyMap = defineMessage<EncryptedPolicyMap>({
  tag: 12,
  name: "EncryptedPolicyMap",
  major: 1,
  minor: 0,
  fields: {
    recipientKey: fixedBytes(PUBLIC_KEY_BYTES),
    capsule: varBytes(256),
    ciphertext: varBytes(MAX_POLICY_NODES * MAX_NODE_METADATA_BYTES + 4096),
  },
});

/** The PolicyMap could not be opened by this recipient (wrong key, tampered ciphertext). */
export class PolicyMapUnreadableError extends ProtocolError {
  constructor(reason: string) {
    super("FIELD_INVALID", `EncryptedPolicyMap: ${reason}`);
  }
}

/**
 * Checks what a signature alone does not: a threshold within the node count, distinct nodes
 * whose metadata each verify under their own operator and are for the map's chain.
 * Returns the decoded node metadata in map order.
 */
export function checkPolicyMap(map: PolicyMap): NodeMetadata[] {
  if (map.threshold < 1 || map.threshold > map.nodes.length) {
    throw new InvalidFieldError(
      "PolicyMap",
      "threshold",
      `need 1 ≤ threshold ≤ ${map.nodes.length} nodes, got ${map.threshold}`,
    );
  }
  if (map.endPeriod <= map.startPeriod) {
    throw new InvalidFieldError("PolicyMap", "endPeriod", "the policy ends before it starts");
  }
  const seen = new Set<string>();
  return map.nodes.map((bytes, i) => {
    const metadata = decode(NodeMetadata, bytes);
    if (recoverOperator(NodeMetadata, metadata) !== metadata.operator) {
      throw new BadSignatureError(
        "NodeMetadata",
        `node ${i} (${metadata.staker}) is not signed by its operator`,
      );
    }
    if (metadata.chainId !== map.chainId) {
      throw new InvalidFieldError("PolicyMap", `nodes[${i}]`, `metadata for chain ${metadata.chainId}`);
    }
    if (seen.has(metadata.staker)) {
      throw new InvalidFieldError("PolicyMap", `nodes[${i}]`, `node ${metadata.staker} listed twice`);
    }
    seen.add(metadata.staker);
    return metadata;
  });
}

/** Signs `map` with the owner's signer and encrypts it to `map.recipientKey`. */
export function sealPolicyMap(map: Omit<PolicyMap, "signature">, ownerSigner: Signer): Uint8Array {
  const signed = signUmbral(PolicyMap, map, ownerSigner);
  checkPolicyMap(signed);
  const [capsule, ciphertext] = encrypt(
    PublicKey.fromCompressedBytes(map.recipientKey),
    encode(PolicyMap, signed),
  );
  return encode(EncryptedPolicyMap, {
    recipientKey: map.recipientKey,
    capsule: capsule.toBytes(),
    ciphertext,
  });
}

/**
 * Decrypts an EncryptedPolicyMap with the recipient's secret key and checks it: addressed to
 * this key, signed by the owner key it names (and by `expectedOwner` when given), nodes signed
 * by their operators. Throws a ProtocolError otherwise.
 */
export function openPolicyMap(
  bytes: Uint8Array,
  recipientSecret: SecretKey,
  expectedOwner?: Uint8Array,
): { map: PolicyMap; nodes: NodeMetadata[] } {
  const sealed = decode(EncryptedPolicyMap, bytes);
  const myKey = recipientSecret.publicKey().toCompressedBytes();
  if (!Buffer.from(sealed.recipientKey).equals(Buffer.from(myKey))) {
    throw new PolicyMapUnreadableError("it is addressed to another recipient key");
  }
  let plain: Uint8Array;
  try {
    plain = decryptOriginal(recipientSecret, Capsule.fromBytes(sealed.capsule), sealed.ciphertext);
  } catch (error) {
    if (error instanceof PreError) throw new PolicyMapUnreadableError(error.message);
    throw error;
  }
  const map = decode(PolicyMap, plain);
  if (!Buffer.from(map.recipientKey).equals(Buffer.from(myKey))) {
    throw new PolicyMapUnreadableError("the signed map names another recipient");
  }
  verifyUmbral(PolicyMap, map, map.ownerVerifyingKey);
  if (expectedOwner && !Buffer.from(map.ownerVerifyingKey).equals(Buffer.from(expectedOwner))) {
    throw new BadSignatureError("PolicyMap", "signed by another owner than expected");
  }
  return { map, nodes: checkPolicyMap(map) };
}
