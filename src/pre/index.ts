/**
 * nkms/pre: Umbral threshold proxy re-encryption on secp256k1, byte-compatible with the
 * reference implementation (umbral-pre 0.10/0.11). See docs/pre.md.
 */
export { PreError, type PreErrorCode } from "./errors";
export {
  setBackend,
  getBackend,
  availableBackends,
  getNativeEngine,
  availableNativeEngines,
  setNativeEngine,
  type BackendName,
  type NativeEngine,
} from "./curve";
export { SecretKey, PublicKey, Signature, Signer, SecretKeyFactory } from "./keys";
export { Capsule, encrypt, decryptOriginal } from "./capsule";
export { KeyFrag, VerifiedKeyFrag, generateKFrags } from "./kfrag";
export { CapsuleFrag, VerifiedCapsuleFrag, reencrypt, decryptReencrypted } from "./cfrag";
export { BatchVerificationError, verifyCapsuleFrags } from "./batch";
export {
  StreamEncryptor,
  StreamDecryptor,
  parseStreamHeader,
  STREAM_HEADER_SIZE,
  DEFAULT_CHUNK_SIZE,
  type StreamHeader,
} from "./stream";
export {
  buildEvidence,
  EVIDENCE_LAYOUT,
  type CFragDefect,
  type EvidenceInput,
  type ReencryptionEvidence,
} from "./evidence";
