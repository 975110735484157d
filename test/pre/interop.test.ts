import { expect } from "chai";
import fc from "fast-check";
import * as umbral from "@nucypher/umbral-pre";
import * as pre from "../../src/pre";
import { forEachBackend } from "./helpers";

/** random grant shapes and messages; kept small so the suite stays fast */
const grant = fc
  .record({
    shares: fc.integer({ min: 1, max: 6 }),
    message: fc.uint8Array({ maxLength: 300 }),
    signDelegating: fc.boolean(),
    signReceiving: fc.boolean(),
    seed: fc.nat(),
  })
  .chain((g) => fc.record({ threshold: fc.integer({ min: 1, max: g.shares }), g: fc.constant(g) }));

/** `count` distinct positions out of `n`, starting at a seed-dependent offset */
function pick(n: number, count: number, seed: number): number[] {
  return Array.from({ length: count }, (_, i) => (seed + i) % n);
}

describe("interoperability with @nucypher/umbral-pre 0.10 (WASM)", function () {
  forEachBackend(() => {
    it("keys and signatures cross over in both directions", function () {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200 }), (message) => {
          const theirSk = umbral.SecretKey.random();
          const ourSk = pre.SecretKey.fromBytes(theirSk.toBEBytes());
          expect(ourSk.publicKey().toBytes()).to.deep.equal(theirSk.publicKey().toCompressedBytes());

          const theirSig = new umbral.Signer(theirSk).sign(message);
          const ourView = pre.Signature.fromBytes(theirSig.toBEBytes());
          expect(ourView.verify(ourSk.publicKey(), message)).to.equal(true);
          expect(ourView.toDerBytes()).to.deep.equal(theirSig.toDerBytes());

          const ourSig = new pre.Signer(ourSk).sign(message);
          const theirPk = umbral.PublicKey.fromCompressedBytes(ourSk.publicKey().toBytes());
          expect(umbral.Signature.fromBEBytes(ourSig.toBytes()).verify(theirPk, message)).to.equal(true);
          expect(umbral.Signature.fromDerBytes(ourSig.toDerBytes()).verify(theirPk, message)).to.equal(true);
        }),
        { numRuns: 10 },
      );
    });

    it("label-derived keys match for random seeds and labels", function () {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ maxLength: 40 }),
          (seed, label) => {
            const theirs = umbral.SecretKeyFactory.fromSecureRandomness(seed);
            const ours = pre.SecretKeyFactory.fromSecureRandomness(seed);
            expect(ours.makeKey(label).toBytes()).to.deep.equal(theirs.makeKey(label).toBEBytes());
            expect(ours.makeSecret(label)).to.deep.equal(theirs.makeSecret(label));
            expect(ours.makeFactory(label).makeKey(label).toBytes()).to.deep.equal(
              theirs.makeFactory(label).makeKey(label).toBEBytes(),
            );
          },
        ),
        { numRuns: 10 },
      );
    });

    it("the reference's capsules, kfrags and cfrags decode, verify and decrypt here", function () {
      fc.assert(
        fc.property(grant, ({ threshold, g }) => {
          const alice = umbral.SecretKey.random();
          const bob = umbral.SecretKey.random();
          const signer = new umbral.Signer(umbral.SecretKey.random());
          const [capsule, ciphertext] = umbral.encrypt(alice.publicKey(), g.message);
          const kfrags = umbral.generateKFrags(
            alice,
            bob.publicKey(),
            signer,
            threshold,
            g.shares,
            g.signDelegating,
            g.signReceiving,
          );

          const ours = {
            alice: pre.SecretKey.fromBytes(alice.toBEBytes()),
            bob: pre.SecretKey.fromBytes(bob.toBEBytes()),
            verifying: pre.PublicKey.fromBytes(signer.verifyingKey().toCompressedBytes()),
            capsule: pre.Capsule.fromBytes(capsule.toBytes()),
          };
          expect(ours.capsule.toBytes()).to.deep.equal(capsule.toBytes());
          expect(ours.capsule.toBytesSimple()).to.deep.equal(capsule.toBytesSimple());
          expect(pre.decryptOriginal(ours.alice, ours.capsule, ciphertext)).to.deep.equal(g.message);

          const chosen = pick(g.shares, threshold, g.seed);
          const cfrags = chosen.map((i) => {
            const kfrag = pre.KeyFrag.fromBytes(kfrags[i].toBytes());
            expect(kfrag.toBytes()).to.deep.equal(kfrags[i].toBytes());
            const verifiedKFrag = kfrag.verify(
              ours.verifying,
              g.signDelegating ? ours.alice.publicKey() : null,
              g.signReceiving ? ours.bob.publicKey() : null,
            );
            // our re-encryption of their kfrag verifies in the reference
            umbral.CapsuleFrag.fromBytes(pre.reencrypt(ours.capsule, verifiedKFrag).toBytes()).verify(
              capsule,
              signer.verifyingKey(),
              alice.publicKey(),
              bob.publicKey(),
            );
            const theirCfrag = umbral.reencrypt(capsule, kfrags[i]);
            const cfrag = pre.CapsuleFrag.fromBytes(theirCfrag.toBytes());
            expect(cfrag.toBytesSimple()).to.deep.equal(theirCfrag.toBytesSimple());
            return cfrag.verify(ours.capsule, ours.verifying, ours.alice.publicKey(), ours.bob.publicKey());
          });
          const plaintext = pre.decryptReencrypted(
            ours.bob,
            ours.alice.publicKey(),
            ours.capsule,
            cfrags,
            ciphertext,
          );
          expect(plaintext).to.deep.equal(g.message);
        }),
        { numRuns: 8 },
      );
    });

    it("our capsules, kfrags and cfrags decode, verify and decrypt in the reference", function () {
      fc.assert(
        fc.property(grant, ({ threshold, g }) => {
          const alice = pre.SecretKey.random();
          const bob = pre.SecretKey.random();
          const signer = new pre.Signer(pre.SecretKey.random());
          const [capsule, ciphertext] = pre.encrypt(alice.publicKey(), g.message);
          const kfrags = pre.generateKFrags(
            alice,
            bob.publicKey(),
            signer,
            threshold,
            g.shares,
            g.signDelegating,
            g.signReceiving,
          );

          const theirs = {
            alice: umbral.SecretKey.fromBEBytes(alice.toBytes()),
            bob: umbral.SecretKey.fromBEBytes(bob.toBytes()),
            verifying: umbral.PublicKey.fromCompressedBytes(signer.verifyingKey().toBytes()),
            capsule: umbral.Capsule.fromBytes(capsule.toBytes()),
          };
          expect(umbral.decryptOriginal(theirs.alice, theirs.capsule, ciphertext)).to.deep.equal(g.message);

          const chosen = pick(g.shares, threshold, g.seed);
          const cfrags = chosen.map((i) => {
            const kfrag = umbral.KeyFrag.fromBytes(kfrags[i].toBytes()).verify(
              theirs.verifying,
              g.signDelegating ? theirs.alice.publicKey() : null,
              g.signReceiving ? theirs.bob.publicKey() : null,
            );
            // half the cfrags come from the reference re-encrypting our kfrag, half from us
            const bytes =
              i % 2 === 0
                ? pre.reencrypt(capsule, kfrags[i]).toBytes()
                : umbral.reencrypt(theirs.capsule, kfrag).toBytes();
            return umbral.CapsuleFrag.fromBytes(bytes).verify(
              theirs.capsule,
              theirs.verifying,
              theirs.alice.publicKey(),
              theirs.bob.publicKey(),
            );
          });
          const plaintext = umbral.decryptReencrypted(
            theirs.bob,
            theirs.alice.publicKey(),
            theirs.capsule,
            cfrags,
            ciphertext,
          );
          expect(plaintext).to.deep.equal(g.message);
        }),
        { numRuns: 8 },
      );
    });
  });
});
