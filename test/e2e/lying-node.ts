/**
 * Misbehaving nodes, for the e2e tests and the demo. A node that lies: it answers re-encryption requests with a cfrag whose proof scalar z is
 * off by one bit, and signs that wrong cfrag (binding signature and response) with its real
 * operator key, exactly as a malicious operator could. Used by the e2e tests and the demo.
 */
import { getBytes } from "ethers";
import { reencryptionDigest } from "../../src/chain/adjudicator";
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

/** Makes `running` lie from now on; returns a function that makes it honest again. */
export async function makeLiar(
  running: RunningNode,
  dataDir: string,
  passphrase: string,
  chain: { chainId: bigint; adjudicator: string },
): Promise<() => void> {
  const operator = new OperatorKey(await readKeystore(nodeFiles(dataDir).operatorKeystore, passphrase));
  const service = running.service;
  const honest = service.reencrypt.bind(service);
  service.reencrypt = async (body: Uint8Array) => {
    const answer = decode(ReencryptionResponse, await honest(body));
    const request = decode(ReencryptionRequest, body);
    const stored = running.storage.getShare(request.policyId)!;
    const share = decode(PolicyShare, stored.share);
    const cfrags = answer.cfrags.map(corruptCFrag);
    const bindingSignatures = cfrags.map((cfrag, i) =>
      operator.signDigest(
        getBytes(
          reencryptionDigest(chain.chainId, chain.adjudicator, {
            capsule: Capsule.fromBytes(request.capsules[i]).toBytesSimple(),
            cfrag: CapsuleFrag.fromBytes(cfrag).toBytesSimple(),
            verifyingKey: share.ownerVerifyingKey,
            delegatingKey: share.delegatingKey,
            receivingKey: share.recipientVerifyingKey,
          }),
        ),
      ),
    );
    const { signature: _signature, ...unsigned } = answer;
    return encode(
      ReencryptionResponse,
      operator.sign(ReencryptionResponse, { ...unsigned, cfrags, bindingSignatures }),
    );
  };
  return () => {
    service.reencrypt = honest;
  };
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
