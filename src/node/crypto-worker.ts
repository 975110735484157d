/**
 * A crypto worker thread (see pool.ts): opens policy shares (decrypts the kfrag with the
 * node's encrypting key and verifies it) and re-encrypts capsules, returning with each cfrag its
 * statement's Merkle leaf; the service signs the roots of a request's leaves with the operator
 * key (the Adjudicator's EIP-712 binding signatures), which the workers never hold. Verified
 * kfrags are cached per policy so a request costs only the re-encryptions.
 */
import { hash } from "node:crypto";
import os from "node:os";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { leafOfHashes, statementKeysHash } from "../chain/adjudicator";
import {
  availableBackends,
  Capsule,
  decryptOriginal,
  KeyFrag,
  PublicKey,
  reencrypt,
  SecretKey,
  setBackend,
  type VerifiedKeyFrag,
} from "../pre";
import { keccak } from "../protocol/signing";
import type { TaskOutcome } from "./pool";

export interface CryptoWorkerData {
  encryptingSecret: Uint8Array;
  /** the worker threads' nice value (NodeConfig.workerNice) */
  nice: number;
}

/** What a task needs of a policy share: the encrypted kfrag and the keys it is verified against. */
export interface ShareKeys {
  capsule: Uint8Array;
  ciphertext: Uint8Array;
  ownerVerifyingKey: Uint8Array;
  delegatingKey: Uint8Array;
  recipientVerifyingKey: Uint8Array;
}

export type CryptoTask =
  | ({ kind: "openShare" } & ShareKeys)
  | ({ kind: "reencrypt"; capsules: Uint8Array[] } & ShareKeys)
  | { kind: "forget" };

export type CryptoTaskResult =
  | { kind: "openShare"; kfragId: Uint8Array; commitment: Uint8Array }
  | {
      kind: "reencrypt";
      cfrags: Uint8Array[];
      /** per cfrag, its statement's Merkle leaf (the EIP-712 struct hash of `Reencryption`) */
      leaves: Uint8Array[];
      capsuleHashes: Uint8Array[];
    };

class TaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function createCryptoHandler(data: CryptoWorkerData) {
  if (availableBackends().includes("native")) setBackend("native");
  const secret = SecretKey.fromBEBytes(data.encryptingSecret);
  const kfrags = new Map<string, VerifiedKeyFrag>();

  const open = (keys: ShareKeys): VerifiedKeyFrag => {
    // the kfrag is verified against the share's keys, so they are part of what the cache vouches
    // for: the same encrypted kfrag presented with other keys is verified again (and refused)
    // (one-shot crypto.hash: no Hash object, whose weak handle the young-generation GC pays for)
    const cacheKey = hash(
      "sha256",
      Buffer.concat([
        keys.capsule,
        keys.ciphertext,
        keys.ownerVerifyingKey,
        keys.delegatingKey,
        keys.recipientVerifyingKey,
      ]),
      "base64",
    );
    const cached = kfrags.get(cacheKey);
    if (cached) return cached;
    let kfragBytes: Uint8Array;
    try {
      kfragBytes = decryptOriginal(secret, Capsule.fromBytes(keys.capsule), keys.ciphertext);
    } catch (error) {
      throw new TaskError(
        "KFRAG_UNREADABLE",
        `the kfrag is not encrypted to this node: ${(error as Error).message}`,
      );
    }
    let verified: VerifiedKeyFrag;
    try {
      verified = KeyFrag.fromBytes(kfragBytes).verify(
        PublicKey.fromCompressedBytes(keys.ownerVerifyingKey),
        PublicKey.fromCompressedBytes(keys.delegatingKey),
        PublicKey.fromCompressedBytes(keys.recipientVerifyingKey),
      );
    } catch (error) {
      throw new TaskError(
        "KFRAG_INVALID",
        `the kfrag does not verify against the share's keys: ${(error as Error).message}`,
      );
    }
    if (kfrags.size > 10_000) kfrags.clear();
    kfrags.set(cacheKey, verified);
    return verified;
  };

  return (task: CryptoTask): CryptoTaskResult | undefined => {
    switch (task.kind) {
      case "forget":
        kfrags.clear();
        return undefined;
      case "openShare": {
        const kfrag = open(task);
        return { kind: "openShare", kfragId: kfrag.kfrag.id, commitment: kfrag.kfrag.commitment.toBytes() };
      }
      case "reencrypt": {
        const kfrag = open(task);
        const keysHash = statementKeysHash({
          verifyingKey: task.ownerVerifyingKey,
          delegatingKey: task.delegatingKey,
          receivingKey: task.recipientVerifyingKey,
        });
        const cfrags: Uint8Array[] = [];
        const leaves: Uint8Array[] = [];
        const capsuleHashes: Uint8Array[] = [];
        task.capsules.forEach((bytes, i) => {
          let capsule: Capsule;
          try {
            capsule = Capsule.fromBytes(bytes);
          } catch (error) {
            throw new TaskError("CAPSULE_INVALID", `capsule ${i}: ${(error as Error).message}`);
          }
          const cfrag = reencrypt(capsule, kfrag);
          const capsuleHash = keccak(capsule.toBytesSimple());
          cfrags.push(cfrag.toBytes());
          leaves.push(leafOfHashes(capsuleHash, keccak(cfrag.toBytesSimple()), keysHash));
          capsuleHashes.push(capsuleHash);
        });
        return { kind: "reencrypt", cfrags, leaves, capsuleHashes };
      }
    }
  };
}

if (!isMainThread && parentPort) {
  try {
    // this thread only (Linux): see NodeConfig.workerNice
    os.setPriority(0, (workerData as CryptoWorkerData).nice);
  } catch {
    // not permitted here: the worker runs at the process's priority
  }
  const port = parentPort;
  const handle = createCryptoHandler(workerData as CryptoWorkerData);
  // a batch of tasks (answered with one outcome per task, in order), or a bare "forget"
  port.on("message", (message: CryptoTask[] | CryptoTask) => {
    if (!Array.isArray(message)) {
      handle(message);
      return;
    }
    const outcomes: TaskOutcome[] = message.map((task) => {
      try {
        return { ok: true, result: handle(task)! };
      } catch (error) {
        const code =
          error instanceof TaskError ? error.code : ((error as { code?: string }).code ?? "CRYPTO_FAILED");
        return { ok: false, code, message: (error as Error).message };
      }
    });
    port.postMessage(outcomes);
  });
  port.postMessage({ ready: true });
}
