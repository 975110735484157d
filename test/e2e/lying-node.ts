/**
 * Misbehaving nodes, for the e2e tests and the demo. A node that lies: it answers re-encryption requests with cfrags whose proof scalar z is
 * off by one bit, and signs those wrong cfrags (the binding signature of their Merkle root, and
 * the response) with its real operator key, exactly as a malicious operator could. Used by the
 * e2e tests and the demo.
 */
import { answerLeaves, bindingDigests } from "../../src/chain/adjudicator";
import { Capsule, CapsuleFrag, decryptOriginal, KeyFrag, SecretKey } from "../../src/pre";
import { decode, encode } from "../../src/protocol/codec";
import { PolicyShare, ReencryptionRequest, ReencryptionResponse } from "../../src/protocol/messages";
import { OperatorKey } from "../../src/protocol/signing";
import { nodeFiles } from "../../src/node/files";
import { readKeystore } from "../../src/node/keystore";
import type { RunningNode } from "../../src/node/run";

/** Offset of the last byte of z in a cfrag's MessagePack form (see CapsuleFrag.toBytes). */
const Z_LAST_BYTE = 1 + 35 + 35 + 34 + 35 + 1 + 35 * 4 + 2 + 31;

export function corruptCFrag(cfrag: Uint8Array): Uint8Array {
  const out = Uint8Array.from(cfrag);
  out[Z_LAST_BYTE] ^= 1;
  return out;
}

/**
 * Makes `running` answer with `edit` applied to its honest answers, signed again (the response
 * signature) with its real operator key; returns a function that makes it honest again.
 */
async function tamper(
  running: RunningNode,
  dataDir: string,
  passphrase: string,
  edit: (
    answer: ReencryptionResponse,
    request: ReencryptionRequest,
    operator: OperatorKey,
  ) => Pick<ReencryptionResponse, "cfrags" | "bindingSignatures">,
): Promise<() => void> {
  const operator = new OperatorKey(await readKeystore(nodeFiles(dataDir).operatorKeystore, passphrase));
  const service = running.service;
  const honest = service.reencrypt.bind(service);
  service.reencrypt = async (body: Uint8Array) => {
    const answer = decode(ReencryptionResponse, await honest(body));
    const { signature: _signature, ...unsigned } = answer;
    const edited = edit(answer, decode(ReencryptionRequest, body), operator);
    return encode(ReencryptionResponse, operator.sign(ReencryptionResponse, { ...unsigned, ...edited }));
  };
  return () => {
    service.reencrypt = honest;
  };
}

/** Makes `running` lie from now on; returns a function that makes it honest again. */
export async function makeLiar(
  running: RunningNode,
  dataDir: string,
  passphrase: string,
  chain: { chainId: bigint; adjudicator: string },
): Promise<() => void> {
  return tamper(running, dataDir, passphrase, (answer, request, operator) => {
    const share = decode(PolicyShare, running.storage.getShare(request.policyId)!.share);
    const cfrags = answer.cfrags.map(corruptCFrag);
    const leaves = answerLeaves(
      {
        verifyingKey: share.ownerVerifyingKey,
        delegatingKey: share.delegatingKey,
        receivingKey: share.recipientVerifyingKey,
      },
      request.capsules.map((capsule) => Capsule.fromBytes(capsule).toBytesSimple()),
      cfrags.map((cfrag) => CapsuleFrag.fromBytes(cfrag).toBytesSimple()),
    );
    return {
      cfrags,
      bindingSignatures: bindingDigests(chain.chainId, chain.adjudicator, leaves).map((digest) =>
        operator.signDigest(digest),
      ),
    };
  });
}

/**
 * Makes `running` answer with its first two cfrags swapped under its honest binding signature
 * (which covers the cfrags in their true order); returns a function that makes it honest again.
 */
export async function makeSwapper(
  running: RunningNode,
  dataDir: string,
  passphrase: string,
): Promise<() => void> {
  return tamper(running, dataDir, passphrase, (answer) => {
    const cfrags = [...answer.cfrags];
    [cfrags[0], cfrags[1]] = [cfrags[1], cfrags[0]];
    return { cfrags, bindingSignatures: answer.bindingSignatures };
  });
}

/**
 * What a careless node leaks: the key scalar rk of its kfrag of `policyId`, decrypted from its
 * stored share with its encrypting key (which only the node holds).
 */
export async function leakKfragKey(
  running: RunningNode,
  dataDir: string,
  passphrase: string,
  policyId: Uint8Array,
): Promise<bigint> {
  const secret = SecretKey.fromBEBytes(await readKeystore(nodeFiles(dataDir).encryptingKeystore, passphrase));
  const share = decode(PolicyShare, running.storage.getShare(policyId)!.share);
  const kfrag = decryptOriginal(secret, Capsule.fromBytes(share.kfragCapsule), share.kfragCiphertext);
  return KeyFrag.fromBytes(kfrag).key;
}
