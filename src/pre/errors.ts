/**
 * Every failure of the PRE library is a `PreError` with a machine-readable `code`; nothing
 * else is thrown for bad input (malformed bytes, wrong keys, forged proofs, bad parameters).
 */
export type PreErrorCode =
  /** a byte string has the wrong length */
  | "INVALID_LENGTH"
  /** MessagePack or DER structure is not the expected one */
  | "INVALID_ENCODING"
  /** bytes remain after a complete object (always rejected) */
  | "TRAILING_BYTES"
  /** bytes are not a valid compressed secp256k1 point */
  | "INVALID_POINT"
  /** a scalar is ≥ the group order n (or zero where zero is not allowed) */
  | "INVALID_SCALAR"
  /** a KeyFrag carries other parameters (point U) than the standard ones */
  | "INVALID_PARAMETERS"
  /** an argument is out of range (threshold, shares, seed size, ...) */
  | "INVALID_ARGUMENT"
  | "CAPSULE_VERIFICATION_FAILED"
  | "KFRAG_COMMITMENT_INVALID"
  | "KFRAG_DELEGATING_KEY_NOT_PROVIDED"
  | "KFRAG_RECEIVING_KEY_NOT_PROVIDED"
  | "KFRAG_SIGNATURE_INVALID"
  | "CFRAG_SIGNATURE_INVALID"
  | "CFRAG_PROOF_INVALID"
  | "NO_CFRAGS"
  | "CFRAGS_MISMATCHED"
  | "CFRAGS_REPEATED"
  /** the cfrags do not reconstruct the capsule (too few, or not for this capsule/keys) */
  | "REENCRYPTED_VALIDATION_FAILED"
  | "CIPHERTEXT_TOO_SHORT"
  /** authentication failed: tampered ciphertext or wrong key */
  | "DECRYPTION_FAILED"
  /** a stream ended before its final chunk */
  | "STREAM_TRUNCATED"
  | "BACKEND_UNAVAILABLE";

export class PreError extends Error {
  override readonly name = "PreError";

  constructor(
    readonly code: PreErrorCode,
    message: string,
  ) {
    super(message);
  }
}
