/**
 * What a client does against a node in the tests: policies on chain, shares, requests, all
 * over real HTTPS pinned to the node's certificate fingerprint.
 */
import { expect } from "chai";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import hre from "hardhat";
import { getBytes, hexlify, randomBytes } from "ethers";
import { generateKFrags, SecretKey, Signer, type VerifiedKeyFrag } from "../../src/pre";
import { decode, encode } from "../../src/protocol/codec";
import { NodeMetadata, PolicyShare } from "../../src/protocol/messages";
import { buildPolicyShare } from "../../src/protocol/build";
import { NodeRequestError, requestNode } from "../../src/protocol/https";
import { PolicyManager__factory } from "../../typechain-types";
import type { TestNet } from "./harness";

export interface NodeHandle {
  url: string;
  fingerprint: Uint8Array;
  metadata: NodeMetadata;
}

export async function connect(url: string, fingerprint: string): Promise<NodeHandle> {
  const response = await requestNode({
    url,
    tlsFingerprint: getBytes(fingerprint),
    method: "GET",
    path: "/v1/metadata",
  });
  return { url, fingerprint: getBytes(fingerprint), metadata: decode(NodeMetadata, response.body) };
}

export async function post(node: NodeHandle, path: string, body: Uint8Array): Promise<Uint8Array> {
  const response = await requestNode({
    url: node.url,
    tlsFingerprint: node.fingerprint,
    method: "POST",
    path,
    body,
  });
  return response.body;
}

/** Expects the node to refuse with this status and code. */
/** The node's Prometheus metrics, as text. */
export async function metricsOf(node: { url: string; fingerprint: Uint8Array }): Promise<string> {
  const { body } = await requestNode({
    url: node.url,
    tlsFingerprint: node.fingerprint,
    method: "GET",
    path: "/metrics",
  });
  return Buffer.from(body).toString();
}

export async function expectRefusal(promise: Promise<unknown>, status: number, code: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(NodeRequestError);
    const e = error as NodeRequestError;
    expect({ status: e.status, code: e.nodeCode }, e.message).to.deep.equal({ status, code });
    return;
  }
  expect.fail(`expected a ${status} ${code} refusal`);
}

export interface Grant {
  policyId: Uint8Array;
  owner: HardhatEthersSigner;
  ownerSk: SecretKey;
  ownerSigner: Signer;
  delegatingSk: SecretKey;
  recipientSk: SecretKey;
  recipientSigner: Signer;
  recipientAccount: HardhatEthersSigner;
  kfrags: VerifiedKeyFrag[];
}

/** Creates (and pays) a policy on chain for `nodes` from the current period for `periods`. */
export async function createPolicy(
  net: TestNet,
  owner: HardhatEthersSigner,
  nodes: string[],
  options: { periods?: number; threshold?: number; recipient?: HardhatEthersSigner; onChain?: boolean } = {},
): Promise<Grant> {
  const policyId = randomBytes(16);
  const recipientAccount = options.recipient ?? owner;
  const ownerSk = SecretKey.random();
  const delegatingSk = SecretKey.random();
  const recipientSk = SecretKey.random();
  const ownerSigner = new Signer(ownerSk);
  const kfrags = generateKFrags(
    delegatingSk,
    recipientSk.publicKey(),
    ownerSigner,
    options.threshold ?? 1,
    nodes.length,
    true,
    true,
  );
  if (options.onChain ?? true) {
    const pm = await policyManager(net, owner);
    const rate = await pm.minFeeRate();
    const current = await net.escrow.currentPeriod();
    const periods = BigInt(options.periods ?? 5);
    await net.token.connect(net.governance).transfer(owner.address, rate * periods * BigInt(nodes.length));
    await net.token.connect(owner).approve(pm, rate * periods * BigInt(nodes.length));
    const sorted = [...nodes].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    await pm.createPolicy(policyId, recipientAccount.address, current, current + periods, rate, sorted);
  }
  return {
    policyId,
    owner,
    ownerSk,
    ownerSigner,
    delegatingSk,
    recipientSk,
    recipientSigner: new Signer(recipientSk),
    recipientAccount,
    kfrags,
  };
}

export async function policyManager(net: TestNet, runner: HardhatEthersSigner = net.governance) {
  return PolicyManager__factory.connect((await hre.deployments.get("PolicyManager")).address, runner);
}

/** The share of `grant` for `node` (kfrag `index`), bound by the owner's account. */
export async function shareFor(grant: Grant, node: NodeHandle, index = 0): Promise<Uint8Array> {
  const share = await buildPolicyShare({
    policyId: grant.policyId,
    node: node.metadata.staker,
    nodeEncryptingKey: node.metadata.encryptingKey,
    kfrag: grant.kfrags[index],
    ownerSigner: grant.ownerSigner,
    delegatingKey: grant.delegatingSk.publicKey().toCompressedBytes(),
    recipientVerifyingKey: grant.recipientSk.publicKey().toCompressedBytes(),
    ownerAccount: grant.owner,
  });
  return encode(PolicyShare, share);
}

export const hex = hexlify;
