import { expect } from "chai";
import {
  Capsule,
  CapsuleFrag,
  KeyFrag,
  PreError,
  SecretKey,
  Signer,
  decryptOriginal,
  decryptReencrypted,
  encrypt,
  generateKFrags,
  reencrypt,
} from "../../src/pre";
import { forEachBackend } from "./helpers";

describe("PRE round trip: encrypt → grant → re-encrypt → verify → decrypt", function () {
  forEachBackend(() => {
    it("a 2-of-3 grant decrypts with any two cfrags after serialization of every object", function () {
      const alice = SecretKey.random();
      const bob = SecretKey.random();
      const signer = new Signer(SecretKey.random());
      const message = new TextEncoder().encode("the quick brown fox");
      const [capsule, ciphertext] = encrypt(alice.publicKey(), message);
      expect(decryptOriginal(alice, capsule, ciphertext)).to.deep.equal(message);

      const kfrags = generateKFrags(alice, bob.publicKey(), signer, 2, 3, true, true);
      const received = Capsule.fromBytes(capsule.toBytes());
      const cfrags = kfrags.map((k) => {
        const kfrag = KeyFrag.fromBytes(k.toBytes()).verify(
          signer.verifyingKey(),
          alice.publicKey(),
          bob.publicKey(),
        );
        return CapsuleFrag.fromBytes(reencrypt(received, kfrag).toBytes()).verify(
          capsule,
          signer.verifyingKey(),
          alice.publicKey(),
          bob.publicKey(),
        );
      });
      for (const pair of [
        [0, 1],
        [1, 2],
        [2, 0],
      ]) {
        const chosen = pair.map((i) => cfrags[i]);
        expect(decryptReencrypted(bob, alice.publicKey(), capsule, chosen, ciphertext)).to.deep.equal(
          message,
        );
      }
      expect(() => decryptReencrypted(bob, alice.publicKey(), capsule, [cfrags[0]], ciphertext)).to.throw(
        PreError,
      );
    });

    it("rejects thresholds and share counts outside 1 ≤ threshold ≤ shares ≤ 255", function () {
      const alice = SecretKey.random();
      const signer = new Signer(alice);
      const bob = SecretKey.random().publicKey();
      for (const [threshold, shares] of [
        [0, 3],
        [4, 3],
        [1, 256],
        [1.5, 3],
        [-1, 3],
      ]) {
        expect(() => generateKFrags(alice, bob, signer, threshold, shares, false, false))
          .to.throw(PreError)
          .with.property("code", "INVALID_ARGUMENT");
      }
    });
  });
});
