import { expect } from "chai";
import { getBytes, Wallet } from "ethers";
import { encrypt, SecretKey, Signer } from "../../src/pre";
import { decode, encode } from "../../src/protocol/codec";
import { ProtocolError } from "../../src/protocol/errors";
import { NodeMetadata } from "../../src/protocol/messages";
import { EncryptedPolicyMap, openPolicyMap, PolicyMap, sealPolicyMap } from "../../src/protocol/policy-map";
import { OperatorKey, signUmbral } from "../../src/protocol/signing";

const owner = SecretKey.random();
const ownerSigner = new Signer(owner);
const bob = SecretKey.random();
const label = SecretKey.random();

function nodeMetadata(chainId = 31337n): Uint8Array {
  const operator = new OperatorKey(getBytes(Wallet.createRandom().privateKey));
  return encode(
    NodeMetadata,
    operator.sign(NodeMetadata, {
      chainId,
      staker: Wallet.createRandom().address,
      operator: operator.address,
      verifyingKey: operator.publicKey,
      encryptingKey: SecretKey.random().publicKey().toCompressedBytes(),
      tlsFingerprint: new Uint8Array(32).fill(3),
      url: "https://127.0.0.1:9151",
      softwareVersion: "nkms-node/0.1.0",
      timestamp: 1_700_000_000_000n,
    }),
  );
}

function unsignedMap(overrides: Partial<PolicyMap> = {}): Omit<PolicyMap, "signature"> {
  return {
    policyId: new Uint8Array(16).fill(9),
    chainId: 31337n,
    policyManager: Wallet.createRandom().address,
    label: "medical-records/2026",
    ownerVerifyingKey: owner.publicKey().toCompressedBytes(),
    delegatingKey: label.publicKey().toCompressedBytes(),
    recipientKey: bob.publicKey().toCompressedBytes(),
    threshold: 3,
    nodes: [1, 2, 3, 4, 5].map(() => nodeMetadata()),
    startPeriod: 100n,
    endPeriod: 130n,
    reencryptionPrice: 10n ** 18n + 7n,
    ...overrides,
  };
}

function expectProtocolError(fn: () => unknown, code: string, message?: RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(ProtocolError);
    expect((error as ProtocolError).code).to.equal(code);
    if (message) expect((error as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected a ProtocolError ${code}`);
}

/** Encrypts an arbitrary signed map to Bob without sealPolicyMap's checks (what an attacker can do). */
function forge(map: PolicyMap): Uint8Array {
  return sealRaw(encode(PolicyMap, map));
}

function sealRaw(plain: Uint8Array): Uint8Array {
  const [capsule, ciphertext] = encrypt(bob.publicKey(), plain);
  return encode(EncryptedPolicyMap, {
    recipientKey: bob.publicKey().toCompressedBytes(),
    capsule: capsule.toBytes(),
    ciphertext,
  });
}

describe("protocol: policy map", () => {
  it("round-trips: the recipient opens exactly what the owner sealed", () => {
    const map = unsignedMap();
    const { map: opened, nodes } = openPolicyMap(sealPolicyMap(map, ownerSigner), bob);
    expect(opened.label).to.equal(map.label);
    expect(opened.threshold).to.equal(3);
    expect(opened.reencryptionPrice).to.equal(map.reencryptionPrice);
    expect(opened.endPeriod).to.equal(130n);
    expect(Buffer.from(opened.policyId).equals(Buffer.from(map.policyId))).to.equal(true);
    expect(nodes.map((n) => n.url)).to.deep.equal(Array(5).fill("https://127.0.0.1:9151"));
    expect(nodes.map((n) => n.staker)).to.deep.equal(map.nodes.map((b) => decode(NodeMetadata, b).staker));
  });

  it("accepts the expected owner and refuses another", () => {
    const sealed = sealPolicyMap(unsignedMap(), ownerSigner);
    expect(() => openPolicyMap(sealed, bob, owner.publicKey().toCompressedBytes())).not.to.throw();
    expectProtocolError(
      () => openPolicyMap(sealed, bob, SecretKey.random().publicKey().toCompressedBytes()),
      "BAD_SIGNATURE",
    );
  });

  it("cannot be opened by anyone but the recipient", () => {
    const sealed = sealPolicyMap(unsignedMap(), ownerSigner);
    expectProtocolError(
      () => openPolicyMap(sealed, SecretKey.random()),
      "FIELD_INVALID",
      /another recipient/,
    );
    // an eavesdropper that rewrites the recipient field still cannot decrypt
    const eve = SecretKey.random();
    const outer = decode(EncryptedPolicyMap, sealed);
    const relabelled = encode(EncryptedPolicyMap, {
      ...outer,
      recipientKey: eve.publicKey().toCompressedBytes(),
    });
    expectProtocolError(() => openPolicyMap(relabelled, eve), "FIELD_INVALID", /decryption failed/i);
  });

  it("refuses a tampered ciphertext", () => {
    const sealed = sealPolicyMap(unsignedMap(), ownerSigner);
    const outer = decode(EncryptedPolicyMap, sealed);
    outer.ciphertext[outer.ciphertext.length - 5] ^= 1;
    expectProtocolError(() => openPolicyMap(encode(EncryptedPolicyMap, outer), bob), "FIELD_INVALID");
  });

  it("refuses a map whose signature does not match its owner key (a changed threshold)", () => {
    const signed = signUmbral(PolicyMap, unsignedMap(), ownerSigner);
    expectProtocolError(() => openPolicyMap(forge({ ...signed, threshold: 1 }), bob), "BAD_SIGNATURE");
  });

  it("refuses a map naming another recipient inside", () => {
    const signed = signUmbral(
      PolicyMap,
      unsignedMap({ recipientKey: SecretKey.random().publicKey().toCompressedBytes() }),
      ownerSigner,
    );
    expectProtocolError(() => openPolicyMap(forge(signed), bob), "FIELD_INVALID", /another recipient/);
  });

  it("refuses an impossible threshold, duplicate nodes, foreign-chain or forged node metadata", () => {
    const cases: [Partial<PolicyMap>, RegExp][] = [
      [{ threshold: 6 }, /threshold/],
      [{ threshold: 0 }, /threshold/],
      [{ nodes: [nodeMetadata(), nodeMetadata()].flatMap((n) => [n, n]) }, /twice/],
      [{ nodes: [nodeMetadata(5n), nodeMetadata(), nodeMetadata()] }, /chain 5/],
      [{ endPeriod: 100n }, /ends before/],
    ];
    for (const [overrides, message] of cases) {
      const signed = signUmbral(PolicyMap, unsignedMap(overrides), ownerSigner);
      expect(() => sealPolicyMap(unsignedMap(overrides), ownerSigner)).to.throw(ProtocolError);
      expectProtocolError(() => openPolicyMap(forge(signed), bob), "FIELD_INVALID", message);
    }
    const metadata = decode(NodeMetadata, nodeMetadata());
    const forged = encode(NodeMetadata, { ...metadata, url: "https://evil.example:1" });
    const signed = signUmbral(
      PolicyMap,
      unsignedMap({ nodes: [forged, nodeMetadata(), nodeMetadata()] }),
      ownerSigner,
    );
    expectProtocolError(() => openPolicyMap(forge(signed), bob), "BAD_SIGNATURE", /node 0/);
  });

  it("refuses truncated and oversized input without throwing anything but protocol errors", () => {
    const sealed = sealPolicyMap(unsignedMap(), ownerSigner);
    for (const cut of [0, 3, 10, sealed.length - 1]) {
      expect(() => openPolicyMap(sealed.subarray(0, cut), bob)).to.throw(ProtocolError);
    }
    const withTrailing = new Uint8Array([...sealed, 0]);
    expectProtocolError(() => openPolicyMap(withTrailing, bob), "TRAILING_BYTES");
  });
});
