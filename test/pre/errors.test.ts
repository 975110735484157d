import { expect } from "chai";
import fc from "fast-check";
import { concatBytes, hexToBytes } from "@noble/hashes/utils.js";
import {
  BatchVerificationError,
  Capsule,
  CapsuleFrag,
  KeyFrag,
  PreError,
  PublicKey,
  SecretKey,
  SecretKeyFactory,
  Signature,
  Signer,
  decryptOriginal,
  decryptReencrypted,
  encrypt,
  generateKFrags,
  reencrypt,
  verifyCapsuleFrags,
  type VerifiedKeyFrag,
} from "../../src/pre";
import {
  CurvePoint,
  ORDER,
  POINT_U,
  currentBackend,
  modN,
  randomNonZeroScalar,
  scalarToBytes,
} from "../../src/pre/curve";
import { hashToCFragVerification } from "../../src/pre/hash";
import { encode } from "../../src/pre/msgpack";
import { forEachBackend } from "./helpers";

const P = 2n ** 256n - 2n ** 32n - 977n;

function expectCode(fn: () => unknown, code: string): void {
  expect(fn).to.throw(PreError).with.property("code", code);
}

function fixture() {
  const alice = SecretKey.random();
  const bob = SecretKey.random();
  const signer = new Signer(SecretKey.random());
  const message = new TextEncoder().encode("attack at dawn");
  const [capsule, ciphertext] = encrypt(alice.publicKey(), message);
  const kfrags = generateKFrags(alice, bob.publicKey(), signer, 2, 4, true, true);
  const cfrags = kfrags.map((k) => reencrypt(capsule, k).unverify());
  const keys = [signer.verifyingKey(), alice.publicKey(), bob.publicKey()] as const;
  return { alice, bob, signer, message, capsule, ciphertext, kfrags, cfrags, keys };
}

/** the msgpack fields of a cfrag, to rebuild it with one field replaced */
function cfragFields(c: CapsuleFrag): Uint8Array[] {
  const s = c.toBytesSimple();
  const sizes = [33, 33, 32, 33, 33, 33, 33, 33, 32, 64];
  let pos = 0;
  return sizes.map((n) => s.slice(pos, (pos += n)));
}
function cfragFrom(fields: Uint8Array[]): CapsuleFrag {
  return CapsuleFrag.fromBytes(encode([...fields.slice(0, 4), fields.slice(4)]));
}

describe("PRE input validation and adversarial cases", function () {
  forEachBackend(() => {
    describe("malformed points and scalars", function () {
      const notOnCurve = (() => {
        // the smallest x with no point on the curve
        for (let x = 1n; ; x++) {
          const bytes = concatBytes(new Uint8Array([2]), scalarToBytes(x));
          try {
            PublicKey.fromBytes(bytes);
          } catch {
            return bytes;
          }
        }
      })();

      it("rejects the identity encoding, x ≥ p, points off the curve and other prefixes", function () {
        expectCode(() => PublicKey.fromBytes(new Uint8Array([0])), "INVALID_LENGTH");
        expectCode(() => PublicKey.fromBytes(new Uint8Array(33)), "INVALID_POINT");
        expectCode(
          () => PublicKey.fromBytes(concatBytes(new Uint8Array([2]), scalarToBytes(P))),
          "INVALID_POINT",
        );
        expectCode(
          () => PublicKey.fromBytes(concatBytes(new Uint8Array([3]), new Uint8Array(32).fill(0xff))),
          "INVALID_POINT",
        );
        expectCode(() => PublicKey.fromBytes(notOnCurve), "INVALID_POINT");
        const valid = SecretKey.random().publicKey().toBytes();
        for (const prefix of [0, 1, 4, 6, 7, 0xff]) {
          const bytes = valid.slice();
          bytes[0] = prefix;
          expectCode(() => PublicKey.fromBytes(bytes), "INVALID_POINT");
        }
        expectCode(
          () => PublicKey.fromBytes(SecretKey.random().publicKey().toBytes().subarray(1)),
          "INVALID_LENGTH",
        );
      });

      it("rejects secret keys of 0 and ≥ n, and wrong lengths", function () {
        expectCode(() => SecretKey.fromBytes(new Uint8Array(32)), "INVALID_SCALAR");
        expectCode(() => SecretKey.fromBytes(scalarToBytes(ORDER)), "INVALID_SCALAR");
        expectCode(() => SecretKey.fromBytes(new Uint8Array(32).fill(0xff)), "INVALID_SCALAR");
        expectCode(() => SecretKey.fromBytes(new Uint8Array(31)), "INVALID_LENGTH");
        expect(
          SecretKey.fromBytes(scalarToBytes(ORDER - 1n))
            .publicKey()
            .toBytes(),
        ).to.have.length(33);
        expectCode(() => SecretKeyFactory.fromSecureRandomness(new Uint8Array(31)), "INVALID_LENGTH");
      });

      it("rejects a capsule whose s is ≥ n or whose points are off the curve", function () {
        const { capsule } = fixture();
        const simple = capsule.toBytesSimple();
        expectCode(
          () => Capsule.fromBytesSimple(concatBytes(simple.subarray(0, 66), scalarToBytes(ORDER))),
          "INVALID_SCALAR",
        );
        expectCode(
          () => Capsule.fromBytesSimple(concatBytes(notOnCurve, simple.subarray(33))),
          "INVALID_POINT",
        );
        expectCode(
          () =>
            Capsule.fromBytesSimple(
              concatBytes(simple.subarray(0, 33), new Uint8Array(33), simple.subarray(66)),
            ),
          "INVALID_POINT",
        );
      });

      it("rejects signatures with r or s of 0 or ≥ n, and never accepts a high-s twin", function () {
        const { signer } = fixture();
        const msg = new Uint8Array([1, 2, 3]);
        const sig = signer.sign(msg).toBytes();
        const r = sig.subarray(0, 32);
        expectCode(
          () => Signature.fromBytes(concatBytes(new Uint8Array(32), sig.subarray(32))),
          "INVALID_SCALAR",
        );
        expectCode(() => Signature.fromBytes(concatBytes(r, scalarToBytes(ORDER))), "INVALID_SCALAR");
        expectCode(() => Signature.fromBytes(sig.subarray(1)), "INVALID_LENGTH");
        const s = BigInt("0x" + Buffer.from(sig.subarray(32)).toString("hex"));
        const highS = Signature.fromBytes(concatBytes(r, scalarToBytes(ORDER - s)));
        expect(highS.verify(signer.verifyingKey(), msg)).to.equal(false);
        expect(Signature.fromBytes(sig).verify(signer.verifyingKey(), msg)).to.equal(true);
      });

      it("accepts only strict DER", function () {
        const der = fixture().signer.sign(new Uint8Array(1)).toDerBytes();
        expectCode(() => Signature.fromDerBytes(concatBytes(der, new Uint8Array([0]))), "INVALID_ENCODING");
        expectCode(() => Signature.fromDerBytes(der.subarray(0, der.length - 1)), "INVALID_ENCODING");
        const padded = hexToBytes("3026022100" + "01".repeat(32) + "020101");
        expectCode(() => Signature.fromDerBytes(padded), "INVALID_ENCODING");
        const negative = hexToBytes("3025022081" + "01".repeat(31) + "020101");
        expectCode(() => Signature.fromDerBytes(negative), "INVALID_ENCODING");
      });
    });

    describe("framing: lengths, MessagePack form and trailing bytes", function () {
      it("rejects trailing bytes after every object", function () {
        const f = fixture();
        expectCode(
          () => Capsule.fromBytes(concatBytes(f.capsule.toBytes(), new Uint8Array([0]))),
          "TRAILING_BYTES",
        );
        expectCode(
          () => KeyFrag.fromBytes(concatBytes(f.kfrags[0].toBytes(), new Uint8Array([0xc0]))),
          "TRAILING_BYTES",
        );
        expectCode(
          () => CapsuleFrag.fromBytes(concatBytes(f.cfrags[0].toBytes(), new Uint8Array([1]))),
          "TRAILING_BYTES",
        );
        expectCode(
          () => Capsule.fromBytesSimple(concatBytes(f.capsule.toBytesSimple(), new Uint8Array([0]))),
          "INVALID_LENGTH",
        );
        expectCode(
          () => CapsuleFrag.fromBytesSimple(f.cfrags[0].toBytesSimple().subarray(1)),
          "INVALID_LENGTH",
        );
      });

      it("rejects non-canonical MessagePack (bin16, array16, str, wrong arity)", function () {
        const c = fixture().capsule.toBytes();
        // bin16 for the first point
        const bin16 = concatBytes(new Uint8Array([0x93, 0xc5, 0, 33]), c.subarray(3));
        expectCode(() => Capsule.fromBytes(bin16), "INVALID_ENCODING");
        const array16 = concatBytes(new Uint8Array([0xdc, 0, 3]), c.subarray(1));
        expectCode(() => Capsule.fromBytes(array16), "INVALID_ENCODING");
        const str8 = c.slice();
        str8[1] = 0xd9;
        expectCode(() => Capsule.fromBytes(str8), "INVALID_ENCODING");
        const four = c.slice();
        four[0] = 0x94;
        expectCode(() => Capsule.fromBytes(four), "INVALID_ENCODING");
        expectCode(() => Capsule.fromBytes(c.subarray(0, 50)), "INVALID_LENGTH");
        expectCode(() => Capsule.fromBytes(new Uint8Array(0)), "INVALID_LENGTH");
      });

      it("turns arbitrary bytes into PreErrors only, for every decoder", function () {
        const decoders = [
          Capsule.fromBytes,
          Capsule.fromBytesSimple,
          KeyFrag.fromBytes,
          CapsuleFrag.fromBytes,
          CapsuleFrag.fromBytesSimple,
          PublicKey.fromBytes,
          SecretKey.fromBytes,
          Signature.fromBytes,
          Signature.fromDerBytes,
        ];
        const sizes = [0, 1, 32, 33, 64, 70, 98, 105, 310, 359, 381];
        fc.assert(
          fc.property(
            fc.constantFrom(...decoders),
            fc.oneof(
              fc.uint8Array({ maxLength: 400 }),
              fc.constantFrom(...sizes).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
            ),
            (decode, bytes) => {
              try {
                decode(bytes);
              } catch (e) {
                expect(e).to.be.instanceOf(PreError);
              }
            },
          ),
          { numRuns: 300 },
        );
      });
    });

    describe("adversaries", function () {
      it("a proxy that re-encrypts with a different key or swaps points is caught", function () {
        const f = fixture();
        const good = cfragFields(f.cfrags[0]);
        const other = cfragFields(f.cfrags[1]);
        // e1 from another proxy's share, everything else original
        expectCode(
          () => cfragFrom([other[0], ...good.slice(1)]).verify(f.capsule, ...f.keys),
          "CFRAG_PROOF_INVALID",
        );
        // e1 and v1 swapped
        expectCode(
          () => cfragFrom([good[1], good[0], ...good.slice(2)]).verify(f.capsule, ...f.keys),
          "CFRAG_PROOF_INVALID",
        );
        // a whole proof from another cfrag
        expectCode(
          () => cfragFrom([...good.slice(0, 4), ...other.slice(4, 9), good[9]]).verify(f.capsule, ...f.keys),
          "CFRAG_SIGNATURE_INVALID",
        );
        // z = 0
        expectCode(
          () => cfragFrom([...good.slice(0, 8), new Uint8Array(32), good[9]]).verify(f.capsule, ...f.keys),
          "CFRAG_PROOF_INVALID",
        );
        // a correct proof for a different capsule
        const [otherCapsule] = encrypt(f.alice.publicKey(), new Uint8Array(3));
        const foreign = reencrypt(otherCapsule, f.kfrags[0]).unverify();
        expectCode(() => foreign.verify(f.capsule, ...f.keys), "CFRAG_PROOF_INVALID");
      });

      it("a kfrag for another receiver, or with another commitment, never verifies", function () {
        const f = fixture();
        const carol = SecretKey.random().publicKey();
        const forCarol = generateKFrags(f.alice, carol, f.signer, 2, 3, true, true)[0].unverify();
        expectCode(() => forCarol.verify(...f.keys), "KFRAG_SIGNATURE_INVALID");
        const bytes = f.kfrags[0].toBytes();
        const withOtherKey = concatBytes(bytes.subarray(0, 73), scalarToBytes(1n), bytes.subarray(105));
        expectCode(() => KeyFrag.fromBytes(withOtherKey).verify(...f.keys), "KFRAG_COMMITMENT_INVALID");
      });

      it("a node refuses a kfrag whose receiver signature is bad, so it cannot be blamed for its cfrags", function () {
        const f = fixture();
        const unsigned = generateKFrags(
          f.alice,
          f.bob.publicKey(),
          f.signer,
          2,
          3,
          false,
          false,
        )[0].toBytes();
        const forged = unsigned.slice();
        forged[244 + 10] ^= 1; // inside the signature for the receiver
        // the reference's check (signature for the proxy only) passes without the keys…
        const kfrag = KeyFrag.fromBytes(forged).verify(f.keys[0], null, null);
        const cfrag = reencrypt(f.capsule, kfrag).unverify();
        expectCode(() => cfrag.verify(f.capsule, ...f.keys), "CFRAG_SIGNATURE_INVALID");
        // …but a node that passes both keys learns before it answers
        expectCode(() => KeyFrag.fromBytes(forged).verify(...f.keys), "KFRAG_SIGNATURE_INVALID");
        expect(() => KeyFrag.fromBytes(unsigned).verify(...f.keys)).to.not.throw();
      });

      it("a kfrag with other parameters than the standard U is refused", function () {
        const bytes = fixture().kfrags[0].toBytes();
        const fakeU = SecretKey.random().publicKey().toBytes();
        expectCode(
          () => KeyFrag.fromBytes(concatBytes(bytes.subarray(0, 4), fakeU, bytes.subarray(37))),
          "INVALID_PARAMETERS",
        );
      });

      it("decryption refuses empty, foreign, mismatched and insufficient cfrag sets", function () {
        const f = fixture();
        const verified = f.cfrags.map((c) => c.verify(f.capsule, ...f.keys));
        expectCode(
          () => decryptReencrypted(f.bob, f.alice.publicKey(), f.capsule, [], f.ciphertext),
          "NO_CFRAGS",
        );
        const other = fixture();
        const mixed = [verified[0], other.cfrags[0].skipVerification()];
        expectCode(
          () => decryptReencrypted(f.bob, f.alice.publicKey(), f.capsule, mixed, f.ciphertext),
          "CFRAGS_MISMATCHED",
        );
        expectCode(
          () =>
            decryptReencrypted(SecretKey.random(), f.alice.publicKey(), f.capsule, verified, f.ciphertext),
          "REENCRYPTED_VALIDATION_FAILED",
        );
        expectCode(
          () => decryptReencrypted(f.bob, f.alice.publicKey(), other.capsule, verified, f.ciphertext),
          "REENCRYPTED_VALIDATION_FAILED",
        );
        expect(
          decryptReencrypted(f.bob, f.alice.publicKey(), f.capsule, verified, f.ciphertext),
        ).to.deep.equal(f.message);
      });

      it("ciphertexts: wrong key, cut tags and short inputs give typed errors", function () {
        const f = fixture();
        expectCode(() => decryptOriginal(f.bob, f.capsule, f.ciphertext), "DECRYPTION_FAILED");
        expectCode(
          () => decryptOriginal(f.alice, f.capsule, f.ciphertext.subarray(0, 39)),
          "CIPHERTEXT_TOO_SHORT",
        );
        expectCode(
          () => decryptOriginal(f.alice, f.capsule, f.ciphertext.subarray(0, 10)),
          "CIPHERTEXT_TOO_SHORT",
        );
        const [otherCapsule] = encrypt(f.alice.publicKey(), new Uint8Array(0));
        expectCode(() => decryptOriginal(f.alice, otherCapsule, f.ciphertext), "DECRYPTION_FAILED");
      });
    });

    describe("batch verification", function () {
      it("accepts a batch of good cfrags and returns them verified, in order", function () {
        const f = fixture();
        const verified = verifyCapsuleFrags(f.capsule, f.cfrags, ...f.keys);
        expect(verified.map((v) => v.unverify())).to.deep.equal(f.cfrags);
        expect(
          decryptReencrypted(f.bob, f.alice.publicKey(), f.capsule, verified, f.ciphertext),
        ).to.deep.equal(f.message);
      });

      it("rejects any batch holding a bad cfrag and names it", function () {
        fc.assert(
          fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 4, max: 8 }), (bad, field) => {
            const f = fixture();
            const fields = cfragFields(f.cfrags[bad]);
            fields[field] = cfragFields(f.cfrags[(bad + 1) % 4])[field];
            const cfrags = f.cfrags.slice();
            cfrags[bad] = cfragFrom(fields);
            try {
              verifyCapsuleFrags(f.capsule, cfrags, ...f.keys);
              expect.fail("a bad batch was accepted");
            } catch (e) {
              expect(e).to.be.instanceOf(BatchVerificationError);
              expect((e as BatchVerificationError).index).to.equal(bad);
              expect((e as BatchVerificationError).code).to.be.oneOf([
                "CFRAG_PROOF_INVALID",
                "CFRAG_SIGNATURE_INVALID",
              ]);
            }
          }),
          { numRuns: 6 },
        );
      });

      it("catches errors that cancel out between two colluding proxies", function () {
        // Two proxies who know their kfrag keys shift e2 by +D and −D and still answer the
        // Fiat–Shamir challenge: each proof is wrong, but an unweighted sum would balance.
        const f = fixture();
        const be = currentBackend();
        const D = be.mulBase(randomNonZeroScalar());
        const forged = (vkfrag: VerifiedKeyFrag, shift: CurvePoint): CapsuleFrag => {
          const k = vkfrag.kfrag;
          const t = randomNonZeroScalar();
          const [e, v] = [f.capsule.e, f.capsule.v];
          const e1 = be.mul(e, k.key);
          const v1 = be.mul(v, k.key);
          const e2 = be.add(be.mul(e, t), shift);
          const v2 = be.mul(v, t);
          const u2 = be.mul(POINT_U, t);
          const h = hashToCFragVerification([e, e1, e2, v, v1, v2, POINT_U, k.commitment, u2]);
          const z = modN(t + h * k.key);
          return new CapsuleFrag(
            e1,
            v1,
            k.id,
            k.precursor,
            e2,
            v2,
            k.commitment,
            u2,
            z,
            k.signatureForReceiver,
          );
        };
        const pair = [forged(f.kfrags[0], D), forged(f.kfrags[1], be.mul(D, ORDER - 1n))];
        const unweighted = pair
          .map((c) =>
            be.msmPublic([f.capsule.e, c.e1, c.e2], [c.z, modN(-c.challenge(f.capsule)), ORDER - 1n]),
          )
          .reduce((a, b) => be.add(a, b));
        expect(unweighted.isIdentity, "the forged pair balances without weights").to.equal(true);
        for (const c of pair) expectCode(() => c.verify(f.capsule, ...f.keys), "CFRAG_PROOF_INVALID");
        try {
          verifyCapsuleFrags(f.capsule, [...pair, ...f.cfrags.slice(2)], ...f.keys);
          expect.fail("the forged pair was accepted");
        } catch (e) {
          expect(e).to.be.instanceOf(BatchVerificationError);
          expect((e as BatchVerificationError).index).to.equal(0);
        }
      });
    });
  });
});
