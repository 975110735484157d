/**
 * The challenger's side of KeyLeakChallenge: the commitment made before revealing a leaked
 * kfrag key, keccak256(abi.encode(challenger, policyId, position, key, salt)) as the contract
 * recomputes it in `reveal` (the challenger's address in it stops front-running).
 */
import { AbiCoder, keccak256, type BytesLike } from "ethers";

export function leakCommitment(
  challenger: string,
  policyId: BytesLike,
  position: number | bigint,
  key: bigint,
  salt: BytesLike,
): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["address", "bytes16", "uint256", "uint256", "bytes32"],
      [challenger, policyId, position, key, salt],
    ),
  );
}
