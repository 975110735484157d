import { expect } from "chai";
import fc from "fast-check";
import { getBytes, hexlify, keccak256, recoverAddress, toBeHex, Wallet } from "ethers";
import secp256k1 from "secp256k1";
import { SecretKey, Signer } from "../../src/pre";
import { decode, encode, signingPayload, typeOf } from "../../src/protocol/codec";
import { ProtocolError } from "../../src/protocol/errors";
import {
  AccessLog,
  AccessLogEntry,
  AccessLogRequest,
  NodeMetadata,
  PolicyShare,
  ReencryptionRequest,
  ReencryptionResponse,
  RevocationAck,
  RevocationOrder,
  ShareReceipt,
} from "../../src/protocol/messages";
import {
  keccak,
  keccakEngine,
  messageHash,
  OperatorKey,
  recoverDigestSigner,
  recoverOperator,
  signUmbral,
  verifyOperator,
  verifyUmbral,
} from "../../src/protocol/signing";

const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill);
const node = Wallet.createRandom().address;
const operator = new OperatorKey(getBytes(Wallet.createRandom().privateKey));
const owner = SecretKey.random();
const ownerSigner = new Signer(owner);
const ownerKey = owner.publicKey().toCompressedBytes();

function expectCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(ProtocolError);
    expect((error as ProtocolError).code).to.equal(code);
    return;
  }
  expect.fail(`expected a ProtocolError ${code}`);
}

/** One signed example of every message type. */
function examples() {
  const policyId = bytes(16, 1);
  return [
    {
      type: NodeMetadata,
      value: operator.sign(NodeMetadata, {
        chainId: 31337n,
        staker: node,
        operator: operator.address,
        verifyingKey: operator.publicKey,
        encryptingKey: ownerKey,
        tlsFingerprint: bytes(32),
        url: "https://node.example:9151",
        softwareVersion: "nkms-node/0.1.0",
        timestamp: 1_700_000_000_000n,
      }),
    },
    {
      type: PolicyShare,
      value: signUmbral(
        PolicyShare,
        {
          policyId,
          node,
          ownerVerifyingKey: ownerKey,
          delegatingKey: ownerKey,
          recipientVerifyingKey: ownerKey,
          ownerBinding: bytes(65, 3),
          kfragCapsule: bytes(105),
          kfragCiphertext: bytes(350),
        },
        ownerSigner,
      ),
    },
    {
      type: ShareReceipt,
      value: operator.sign(ShareReceipt, {
        policyId,
        node,
        shareHash: bytes(32, 2),
        kfragId: bytes(32, 3),
        commitmentHash: bytes(32, 4),
        custodySignature: bytes(65, 6),
        storedAt: 5n,
      }),
    },
    {
      type: ReencryptionRequest,
      value: signUmbral(
        ReencryptionRequest,
        {
          policyId,
          node,
          recipientVerifyingKey: ownerKey,
          nonce: bytes(16, 9),
          issuedAt: 1n,
          capsules: [bytes(105, 1), bytes(105, 2)],
          voucherCount: 0n,
          voucherSignature: new Uint8Array(),
        },
        ownerSigner,
      ),
    },
    {
      type: ReencryptionResponse,
      value: operator.sign(ReencryptionResponse, {
        policyId,
        node,
        requestHash: bytes(32),
        accessLogEntryHash: bytes(32, 1),
        cfrags: [bytes(381)],
        bindingSignatures: [bytes(65)],
      }),
    },
    {
      type: RevocationOrder,
      value: signUmbral(RevocationOrder, { policyId, node, issuedAt: 2n }, ownerSigner),
    },
    {
      type: RevocationAck,
      value: operator.sign(RevocationAck, { policyId, node, orderHash: bytes(32), revokedAt: 3n }),
    },
    {
      type: AccessLogEntry,
      value: operator.sign(AccessLogEntry, {
        policyId,
        node,
        sequence: 0n,
        previousHash: bytes(32, 0),
        requesterVerifyingKey: ownerKey,
        requestHash: bytes(32),
        capsuleHashes: [bytes(32, 5)],
        servedAt: 4n,
      }),
    },
    {
      type: AccessLogRequest,
      value: signUmbral(
        AccessLogRequest,
        { policyId, node, fromSequence: 0n, nonce: bytes(16), issuedAt: 6n },
        ownerSigner,
      ),
    },
    {
      type: AccessLog,
      value: operator.sign(AccessLog, { policyId, node, entries: [bytes(10)], more: 0 }),
    },
  ] as const;
}

describe("protocol messages", () => {
  for (const { type, value } of examples()) {
    describe(type.name, () => {
      const wire = encode(type as never, value as never);

      it("round-trips through encode and decode", () => {
        expect(decode(type as never, wire)).to.deep.equal(value);
        expect(typeOf(wire).name).to.equal(type.name);
      });

      it("refuses every truncation with TRUNCATED", () => {
        for (let cut = 0; cut < wire.length; cut++)
          expectCode(() => decode(type as never, wire.subarray(0, cut)), "TRUNCATED");
      });

      it("refuses trailing bytes", () => {
        expectCode(() => decode(type as never, Buffer.concat([wire, Buffer.from([0])])), "TRAILING_BYTES");
      });

      it("refuses a newer major version and accepts a newer minor one", () => {
        const major = Uint8Array.from(wire);
        major[2] += 1;
        expectCode(() => decode(type as never, major), "UNSUPPORTED_VERSION");
        const minor = Uint8Array.from(wire);
        minor[3] += 1;
        expect(decode(type as never, minor)).to.deep.equal(value);
      });

      it("refuses unknown and other message types", () => {
        const unknown = Uint8Array.from(wire);
        unknown[0] = 0xff;
        expectCode(() => decode(type as never, unknown), "UNKNOWN_TYPE");
        const other = Uint8Array.from(wire);
        other[1] = type.tag === 1 ? 2 : 1;
        expectCode(() => decode(type as never, other), "UNEXPECTED_TYPE");
      });

      it("has a signature that breaks when any signed byte changes", () => {
        const signed = value as { signature: Uint8Array };
        const check = (candidate: typeof signed) =>
          signed.signature.length === 65
            ? verifyOperator(type as never, candidate as never, operator.address)
            : verifyUmbral(type as never, candidate as never, ownerKey);
        check(signed);
        // flip every byte (header excluded: it changes the type or version)
        const sigStart = wire.length - signed.signature.length;
        for (let i = 4; i < sigStart; i++) {
          const tampered = Uint8Array.from(wire);
          tampered[i] ^= 0x01;
          let decoded: typeof signed;
          try {
            decoded = decode(type as never, tampered) as typeof signed;
          } catch (error) {
            expect(error).to.be.instanceOf(ProtocolError);
            continue;
          }
          expectCode(() => check(decoded), "BAD_SIGNATURE");
        }
      });
    });
  }

  it("carries one binding signature per 8 cfrags of a ReencryptionResponse, as major version 2; refuses version 1", () => {
    const response = operator.sign(ReencryptionResponse, {
      policyId: bytes(16),
      node,
      requestHash: bytes(32),
      accessLogEntryHash: bytes(32, 1),
      cfrags: [bytes(381, 2), bytes(381, 3), bytes(381, 4)],
      bindingSignatures: [bytes(65, 5)],
    });
    const wire = encode(ReencryptionResponse, response);
    expect(wire[2]).to.equal(2);
    expect(decode(ReencryptionResponse, wire).bindingSignatures).to.deep.equal([bytes(65, 5)]);
    // a version-1 answer (one signature per cfrag) is not read as this layout
    const v1 = Uint8Array.from(wire);
    v1[2] = 1;
    expectCode(() => decode(ReencryptionResponse, v1), "UNSUPPORTED_VERSION");
    expect(Buffer.from(signingPayload(ReencryptionResponse, response)).toString()).to.contain(
      "NKMS/ReencryptionResponse/v2",
    );
  });

  it("checks the signatures and hashes of a newer minor version as its sender made them", () => {
    const newer = { ...RevocationOrder, minor: RevocationOrder.minor + 1 };
    const sent = signUmbral(newer, { policyId: bytes(16), node, issuedAt: 3n }, ownerSigner);
    const wire = encode(newer, sent);
    const received = decode(RevocationOrder, wire);
    verifyUmbral(RevocationOrder, received, ownerKey);
    expect(hexlify(messageHash(RevocationOrder, received))).to.equal(keccak256(wire));
    expect(hexlify(encode(RevocationOrder, received))).to.equal(hexlify(wire));
    // the signature binds the version: the same fields under this build's minor do not verify
    expectCode(() => verifyUmbral(RevocationOrder, { ...received }, ownerKey), "BAD_SIGNATURE");
  });

  it("domain-separates signatures: a signature over the bare encoding does not verify", () => {
    const order = { policyId: bytes(16), node, issuedAt: 1n, signature: new Uint8Array(64) };
    const bare = encode(RevocationOrder, order).subarray(0, -64);
    const forged = { ...order, signature: ownerSigner.sign(bare).toBEBytes() };
    expectCode(() => verifyUmbral(RevocationOrder, forged, ownerKey), "BAD_SIGNATURE");
    expect(Buffer.from(signingPayload(RevocationOrder, order)).toString()).to.contain(
      "NKMS/RevocationOrder/v1",
    );
  });

  it("binds operator signatures to the signer's address", () => {
    const ack = operator.sign(RevocationAck, {
      policyId: bytes(16),
      node,
      orderHash: bytes(32),
      revokedAt: 1n,
    });
    expect(recoverOperator(RevocationAck, ack)).to.equal(operator.address);
    expectCode(() => verifyOperator(RevocationAck, ack, node), "BAD_SIGNATURE");
    const garbage = { ...ack, signature: bytes(65, 0xff) };
    expectCode(() => verifyOperator(RevocationAck, garbage, operator.address), "BAD_SIGNATURE");
  });

  it("recovers operator signatures natively, exactly as ethers does, and refuses malleated ones", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (digest) => {
        const key = new OperatorKey(getBytes(Wallet.createRandom().privateKey));
        const signature = key.signDigest(digest);
        expect(recoverDigestSigner(digest, signature)).to.equal(key.address);
        expect(recoverDigestSigner(digest, signature)).to.equal(recoverAddress(digest, hexlify(signature)));
        // the same signature with high s (n − s, other parity) is the same key's signature too,
        // but it is refused, as OpenZeppelin's ECDSA refuses it on chain
        const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
        const high = Uint8Array.from(signature);
        high.set(getBytes(toBeHex(n - BigInt(hexlify(signature.subarray(32, 64))), 32)), 32);
        high[64] = signature[64] === 27 ? 28 : 27;
        expect(recoverDigestSigner(digest, high)).to.equal(undefined);
      }),
      { numRuns: 50 },
    );
    const digest = bytes(32, 9);
    const signature = operator.signDigest(digest);
    for (const v of [0, 1, 26, 29]) {
      const bad = Uint8Array.from(signature);
      bad[64] = v;
      expect(recoverDigestSigner(digest, bad), `v = ${v}`).to.equal(undefined);
    }
    const zeroR = Uint8Array.from(signature);
    zeroR.fill(0, 0, 32);
    expect(recoverDigestSigner(digest, zeroR)).to.equal(undefined);
    expect(recoverDigestSigner(digest, signature.subarray(0, 64))).to.equal(undefined);
  });

  it("signs digests byte-identically to libsecp256k1's ecdsaSign (RFC 6979, low s, v = 27 + recid)", () => {
    // signDigest runs in nkms/pre's addon when it is loaded: the same signatures, bit for bit
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const check = (secret: Uint8Array, digest: Uint8Array) => {
      const key = new OperatorKey(secret);
      const signature = key.signDigest(digest);
      const reference = secp256k1.ecdsaSign(digest, secret);
      expect(hexlify(signature)).to.equal(
        hexlify(Uint8Array.from([...reference.signature, 27 + reference.recid])),
      );
      expect(BigInt(hexlify(signature.subarray(32, 64))) <= n >> 1n).to.equal(true);
      const recovered = secp256k1.ecdsaRecover(signature.subarray(0, 64), signature[64] - 27, digest, true);
      expect(hexlify(recovered)).to.equal(hexlify(key.publicKey));
      expect(recoverDigestSigner(digest, signature)).to.equal(key.address);
    };
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => secp256k1.privateKeyVerify(k)),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        check,
      ),
      { numRuns: 300 },
    );
    // extreme keys and digests (a digest ≥ n is reduced mod n)
    for (const k of [1n, 2n, n - 1n, n >> 1n]) {
      for (const d of [bytes(32, 0), bytes(32, 0xff), getBytes(toBeHex(n, 32))])
        check(getBytes(toBeHex(k, 32)), d);
    }
    // the same key and digest always give the same signature (deterministic nonce)
    expect(hexlify(operator.signDigest(bytes(32, 3)))).to.equal(hexlify(operator.signDigest(bytes(32, 3))));
  });

  it("refuses an operator key outside [1, n)", () => {
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    for (const bad of [bytes(32, 0), getBytes(toBeHex(n, 32)), bytes(32, 0xff), bytes(31, 1), bytes(33, 1)]) {
      expect(() => new OperatorKey(bad)).to.throw(TypeError);
    }
  });

  it("refuses an Umbral signature by another key", () => {
    const other = SecretKey.random().publicKey().toCompressedBytes();
    const order = signUmbral(RevocationOrder, { policyId: bytes(16), node, issuedAt: 1n }, ownerSigner);
    expectCode(() => verifyUmbral(RevocationOrder, order, other), "BAD_SIGNATURE");
    expectCode(() => verifyUmbral(RevocationOrder, order, bytes(33, 9)), "BAD_SIGNATURE");
  });

  it("refuses declared lengths beyond the limits without reading them", () => {
    const request = examples()[3].value;
    const wire = encode(ReencryptionRequest, request);
    // capsule count sits after policyId(16) node(20) key(33) nonce(16) issuedAt(8) and the header
    const countAt = 4 + 16 + 20 + 33 + 16 + 8;
    const huge = Uint8Array.from(wire);
    huge[countAt] = 0xff;
    expectCode(() => decode(ReencryptionRequest, huge), "TOO_LARGE");
    const longCapsule = Uint8Array.from(wire);
    longCapsule.set([0x7f, 0xff, 0xff, 0xff], countAt + 2);
    expectCode(() => decode(ReencryptionRequest, longCapsule), "TOO_LARGE");
  });

  it("refuses text that is not UTF-8", () => {
    const meta = examples()[0].value;
    const wire = encode(NodeMetadata, meta);
    const urlAt = 4 + 8 + 20 + 20 + 33 + 33 + 32 + 2;
    const bad = Uint8Array.from(wire);
    bad[urlAt] = 0xff;
    expectCode(() => decode(NodeMetadata, bad), "FIELD_INVALID");
  });

  it("refuses fields of the wrong size when encoding", () => {
    const order = { policyId: bytes(15), node, issuedAt: 1n, signature: bytes(64) };
    expectCode(() => encode(RevocationOrder, order), "FIELD_INVALID");
    expectCode(
      () => encode(RevocationOrder, { ...order, policyId: bytes(16), node: "0x12" }),
      "FIELD_INVALID",
    );
  });

  it("decodes random and mutated bytes only into ProtocolErrors or valid messages", () => {
    const wires = examples().map(({ type, value }) => encode(type as never, value as never));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          fc
            .tuple(fc.constantFrom(...wires), fc.nat(), fc.integer({ min: 0, max: 255 }))
            .map(([w, at, byte]) => {
              const out = Uint8Array.from(w);
              out[at % out.length] = byte;
              return out;
            }),
        ),
        (input) => {
          for (const { type } of examples()) {
            try {
              decode(type as never, input);
            } catch (error) {
              if (!(error instanceof ProtocolError)) throw error;
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("hashes messages by their full encoding, signature included", () => {
    for (const { type, value } of examples()) {
      const hash = hexlify(messageHash(type as never, value as never));
      expect(hash).to.equal(keccak256(encode(type as never, value as never)));
      if (type.signature) expect(hash).to.not.equal(keccak256(signingPayload(type as never, value as never)));
    }
  });

  it("hashes with the native keccak-256, equal to ethers' on any input and any view", () => {
    expect(keccakEngine).to.equal("native");
    expect(Buffer.from(keccak(new Uint8Array())).toString("hex")).to.equal(
      "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat(20), (data, cut) => {
        const view = data.subarray(Math.min(cut, data.length));
        expect(keccak(view)).to.deep.equal(getBytes(keccak256(view)));
      }),
      { numRuns: 300 },
    );
  });
});
