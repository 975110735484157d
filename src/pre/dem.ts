/**
 * The data encapsulation of Umbral: key = HKDF-SHA256(compressed shared point, no salt,
 * empty info); ciphertext = nonce(24) ‖ XChaCha20-Poly1305(key, nonce, plaintext, aad).
 *
 * XChaCha20-Poly1305 runs in pure TypeScript (@noble/ciphers) on the noble backend and
 * through Node's OpenSSL ChaCha20-Poly1305 (after an HChaCha20 subkey step) on the native
 * backend; both produce identical bytes.
 */
import { hchacha, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes } from "@noble/hashes/utils.js";
import { type CurvePoint, getBackend, secureRandomBytes } from "./curve";
import { PreError } from "./errors";
import { nodeCrypto as nodeCryptoModule } from "./node";

export const NONCE_SIZE = 24;
export const TAG_SIZE = 16;
export const KEY_SIZE = 32;

const nodeCrypto = nodeCryptoModule?.getCiphers().includes("chacha20-poly1305")
  ? nodeCryptoModule
  : undefined;

// "expand 32-byte k"
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

/** little-endian 32-bit words of a copy of `bytes` */
function words(bytes: Uint8Array): Uint32Array {
  const w = new Uint32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < w.length; i++) w[i] = view.getUint32(4 * i, true);
  return w;
}

/** XChaCha20 = ChaCha20 with key HChaCha20(key, nonce[0..16]) and nonce 0⁴ ‖ nonce[16..24] */
function xchachaSubkey(key: Uint8Array, nonce: Uint8Array): { subkey: Uint8Array; iv: Uint8Array } {
  const out = new Uint32Array(8);
  hchacha(SIGMA, words(key), words(nonce.subarray(0, 16)), out);
  const subkey = new Uint8Array(32);
  const view = new DataView(subkey.buffer);
  out.forEach((w, i) => view.setUint32(4 * i, w, true));
  const iv = new Uint8Array(12);
  iv.set(nonce.subarray(16, 24), 4);
  return { subkey, iv };
}

/** ciphertext ‖ tag */
export function aeadSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  if (nodeCrypto && getBackend() === "native") {
    const { subkey, iv } = xchachaSubkey(key, nonce);
    const cipher = nodeCrypto.createCipheriv("chacha20-poly1305", subkey, iv, { authTagLength: TAG_SIZE });
    cipher.setAAD(aad, { plaintextLength: plaintext.length });
    const head = cipher.update(plaintext);
    const tail = cipher.final();
    return concatBytes(head, tail, cipher.getAuthTag());
  }
  return xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
}

/** the plaintext, or undefined when authentication fails */
export function aeadOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  if (sealed.length < TAG_SIZE) return undefined;
  if (nodeCrypto && getBackend() === "native") {
    const { subkey, iv } = xchachaSubkey(key, nonce);
    const decipher = nodeCrypto.createDecipheriv("chacha20-poly1305", subkey, iv, {
      authTagLength: TAG_SIZE,
    });
    decipher.setAAD(aad, { plaintextLength: sealed.length - TAG_SIZE });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    const head = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
    try {
      return concatBytes(head, decipher.final());
    } catch {
      return undefined;
    }
  }
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(sealed);
  } catch {
    return undefined;
  }
}

export function demKey(sharedPoint: CurvePoint): Uint8Array {
  return hkdf(sha256, sharedPoint.toBytes(), undefined, undefined, KEY_SIZE);
}

export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const nonce = secureRandomBytes(NONCE_SIZE);
  return concatBytes(nonce, aeadSeal(key, nonce, plaintext, aad));
}

export function open(key: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array {
  if (!(ciphertext instanceof Uint8Array) || ciphertext.length < NONCE_SIZE) {
    throw new PreError("CIPHERTEXT_TOO_SHORT", "The ciphertext must include the nonce");
  }
  if (ciphertext.length < NONCE_SIZE + TAG_SIZE) {
    throw new PreError("CIPHERTEXT_TOO_SHORT", "The ciphertext must include the 16-byte authentication tag");
  }
  const plaintext = aeadOpen(key, ciphertext.subarray(0, NONCE_SIZE), ciphertext.subarray(NONCE_SIZE), aad);
  if (!plaintext) {
    throw new PreError(
      "DECRYPTION_FAILED",
      "Decryption failed: the ciphertext was tampered with or the key is not the right one",
    );
  }
  return plaintext;
}
