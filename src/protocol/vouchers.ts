/**
 * Per-re-encryption vouchers: the policy's recipient signs, with its Ethereum account,
 * "node N may claim `count` re-encryptions of policy P" (EIP-712, PolicyManager's domain).
 * Counts are cumulative per (policy, node); the node claims the latest one on chain with
 * `PolicyManager.claimReencryptions`.
 */
import { getAddress, getBytes, hexlify, verifyTypedData, type TypedDataDomain } from "ethers";
import { BadSignatureError } from "./errors";

export const VOUCHER_TYPES = {
  ReencryptionVoucher: [
    { name: "policyId", type: "bytes16" },
    { name: "node", type: "address" },
    { name: "count", type: "uint64" },
  ],
};

export function voucherDomain(chainId: bigint, policyManager: string): TypedDataDomain {
  return { name: "NKMS PolicyManager", version: "1", chainId, verifyingContract: getAddress(policyManager) };
}

export interface Voucher {
  policyId: Uint8Array;
  node: string;
  count: bigint;
}

/** Anything that signs EIP-712 data like an ethers v6 Wallet or Signer. */
export interface VoucherSigner {
  signTypedData(
    domain: TypedDataDomain,
    types: typeof VOUCHER_TYPES,
    value: Record<string, unknown>,
  ): Promise<string>;
}

/** The recipient's 65-byte voucher signature. */
export async function signVoucher(
  signer: VoucherSigner,
  chainId: bigint,
  policyManager: string,
  voucher: Voucher,
): Promise<Uint8Array> {
  return getBytes(
    await signer.signTypedData(voucherDomain(chainId, policyManager), VOUCHER_TYPES, voucherValue(voucher)),
  );
}

/** The address that signed `signature` over `voucher`. */
export function recoverVoucherSigner(
  chainId: bigint,
  policyManager: string,
  voucher: Voucher,
  signature: Uint8Array,
): string {
  try {
    return verifyTypedData(
      voucherDomain(chainId, policyManager),
      VOUCHER_TYPES,
      voucherValue(voucher),
      hexlify(signature),
    );
  } catch {
    throw new BadSignatureError("ReencryptionVoucher", "malformed voucher signature");
  }
}

function voucherValue(voucher: Voucher) {
  return { policyId: hexlify(voucher.policyId), node: getAddress(voucher.node), count: voucher.count };
}
