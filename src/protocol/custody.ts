/**
 * Kfrag custody receipts for the KeyLeakChallenge contract: when a node accepts a share, its
 * operator signs the EIP-712 struct `KfragReceipt(bytes16 policyId, bytes32 commitmentHash)`
 * (domain "NKMS KeyLeakChallenge" v1), where commitmentHash = keccak256(x ‖ y) of the kfrag's
 * commitment point u1 = rk·U. Whoever later reveals an rk with rk·U = u1 proves the node let
 * its kfrag leak.
 */
import { getAddress, getBytes, hexlify, keccak256, TypedDataEncoder, type TypedDataDomain } from "ethers";
import secp256k1 from "secp256k1";

export const KFRAG_RECEIPT_TYPES = {
  KfragReceipt: [
    { name: "policyId", type: "bytes16" },
    { name: "commitmentHash", type: "bytes32" },
  ],
};

export function custodyDomain(chainId: bigint, keyLeakChallenge: string): TypedDataDomain {
  return {
    name: "NKMS KeyLeakChallenge",
    version: "1",
    chainId,
    verifyingContract: getAddress(keyLeakChallenge),
  };
}

/** keccak256(x ‖ y) of a compressed commitment point. */
export function commitmentHash(compressedCommitment: Uint8Array): Uint8Array {
  return getBytes(keccak256(secp256k1.publicKeyConvert(compressedCommitment, false).subarray(1)));
}

/** The digest the operator signs (equal to KeyLeakChallenge.receiptDigest). */
export function custodyDigest(
  chainId: bigint,
  keyLeakChallenge: string,
  policyId: Uint8Array,
  commitment: Uint8Array,
): Uint8Array {
  return getBytes(
    TypedDataEncoder.hash(custodyDomain(chainId, keyLeakChallenge), KFRAG_RECEIPT_TYPES, {
      policyId: hexlify(policyId),
      commitmentHash: hexlify(commitment),
    }),
  );
}
