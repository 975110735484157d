/**
 * The data encapsulation of Umbral: key = HKDF-SHA256(compressed shared point, no salt,
 * empty info); ciphertext = nonce(24) ‖ XChaCha20-Poly1305(key, nonce, plaintext, aad).
 */
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, randomBytes } from "@noble/hashes/utils.js";
import type { CurvePoint } from "./curve";
import { PreError } from "./errors";

export const NONCE_SIZE = 24;
export const TAG_SIZE = 16;

export function demKey(sharedPoint: CurvePoint): Uint8Array {
  return hkdf(sha256, sharedPoint.toBytes(), undefined, undefined, 32);
}

export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const nonce = randomBytes(NONCE_SIZE);
  return concatBytes(nonce, xchacha20poly1305(key, nonce, aad).encrypt(plaintext));
}

export function open(key: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array {
  if (!(ciphertext instanceof Uint8Array) || ciphertext.length < NONCE_SIZE) {
    throw new PreError("CIPHERTEXT_TOO_SHORT", "the ciphertext must include the 24-byte nonce");
  }
  if (ciphertext.length < NONCE_SIZE + TAG_SIZE) {
    throw new PreError("CIPHERTEXT_TOO_SHORT", "the ciphertext must include the 16-byte authentication tag");
  }
  const nonce = ciphertext.subarray(0, NONCE_SIZE);
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(ciphertext.subarray(NONCE_SIZE));
  } catch {
    throw new PreError(
      "DECRYPTION_FAILED",
      "decryption failed: the ciphertext was tampered with or the key is not the right one",
    );
  }
}
