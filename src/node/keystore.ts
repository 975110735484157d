/**
 * The node's secrets at rest: the operator key and the Umbral encrypting key, each in a
 * Web3 Secret Storage (keystore v3) file encrypted with scrypt and AES-128-CTR under the
 * operator's passphrase. Both are 32-byte secp256k1 scalars, so one format fits both.
 */
import {
  decryptKeystoreJson,
  encryptKeystoreJson,
  computeAddress,
  getBytes,
  hexlify,
  isKeystoreJson,
} from "ethers";
import { randomBytes } from "node:crypto";
import fs from "node:fs";

export class KeystoreError extends Error {
  constructor(
    readonly code: "KEYSTORE_MISSING" | "KEYSTORE_INVALID" | "WRONG_PASSPHRASE" | "KEYSTORE_EXISTS",
    message: string,
  ) {
    super(message);
    this.name = "KeystoreError";
  }
}

/** scrypt work factor; ethers' default (2^17) unless lowered for tests. */
export interface KeystoreOptions {
  scryptN?: number;
}

export async function writeKeystore(
  file: string,
  secret: Uint8Array,
  passphrase: string,
  options: KeystoreOptions = {},
): Promise<void> {
  if (fs.existsSync(file))
    throw new KeystoreError("KEYSTORE_EXISTS", `${file} already exists; refusing to overwrite`);
  const privateKey = hexlify(secret);
  const json = await encryptKeystoreJson({ address: computeAddress(privateKey), privateKey }, passphrase, {
    scrypt: { N: options.scryptN ?? 1 << 17, r: 8, p: 1 },
  });
  fs.writeFileSync(file, json, { mode: 0o600, flag: "wx" });
}

export async function readKeystore(file: string, passphrase: string): Promise<Uint8Array> {
  let json: string;
  try {
    json = fs.readFileSync(file, "utf8");
  } catch {
    throw new KeystoreError("KEYSTORE_MISSING", `cannot read keystore ${file}`);
  }
  if (!isKeystoreJson(json)) throw new KeystoreError("KEYSTORE_INVALID", `${file} is not a keystore v3 file`);
  try {
    const account = await decryptKeystoreJson(json, passphrase);
    return getBytes(account.privateKey);
  } catch {
    throw new KeystoreError("WRONG_PASSPHRASE", `cannot decrypt ${file}: wrong passphrase or damaged file`);
  }
}

/** A fresh secp256k1 secret (rejection-sampled below the group order). */
export function randomSecret(): Uint8Array {
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  for (;;) {
    const candidate = randomBytes(32);
    const value = BigInt("0x" + candidate.toString("hex"));
    if (value > 0n && value < n) return new Uint8Array(candidate);
  }
}
