import { expect } from "chai";
import fc from "fast-check";
import {
  Capsule,
  CapsuleFrag,
  KeyFrag,
  PreError,
  PublicKey,
  SecretKey,
  Signature,
  Signer,
  decryptReencrypted,
  encrypt,
  generateKFrags,
  reencrypt,
  type BackendName,
} from "../../src/pre";
import { flipBit, forEachBackend } from "./helpers";

/** the pure-TypeScript backend is ~20× slower: fewer runs there keep the suite short */
const runs = (backend: BackendName, native: number) => ({
  numRuns: backend === "native" ? native : Math.ceil(native / 5),
});

function grantFixture(threshold: number, shares: number, message: Uint8Array) {
  const alice = SecretKey.random();
  const bob = SecretKey.random();
  const signer = new Signer(SecretKey.random());
  const [capsule, ciphertext] = encrypt(alice.publicKey(), message);
  const kfrags = generateKFrags(alice, bob.publicKey(), signer, threshold, shares, true, true);
  const cfrags = kfrags.map((k) => reencrypt(capsule, k));
  return { alice, bob, signer, capsule, ciphertext, kfrags, cfrags };
}

const shape = fc
  .integer({ min: 1, max: 5 })
  .chain((shares) =>
    fc.record({ shares: fc.constant(shares), threshold: fc.integer({ min: 1, max: shares }) }),
  );

function expectPreError(fn: () => unknown): void {
  expect(fn).to.throw(PreError);
}

describe("PRE properties (fast-check)", function () {
  forEachBackend((backend) => {
    it("every object survives toBytes → fromBytes byte for byte", function () {
      fc.assert(
        fc.property(shape, fc.uint8Array({ maxLength: 64 }), ({ threshold, shares }, message) => {
          const f = grantFixture(threshold, shares, message);
          const sk = SecretKey.fromBytes(f.alice.toBytes());
          expect(sk.toBytes()).to.deep.equal(f.alice.toBytes());
          expect(PublicKey.fromBytes(f.bob.publicKey().toBytes()).equals(f.bob.publicKey())).to.equal(true);
          const sig = f.signer.sign(message);
          expect(Signature.fromBytes(sig.toBytes()).equals(sig)).to.equal(true);
          expect(Signature.fromDerBytes(sig.toDerBytes()).equals(sig)).to.equal(true);
          expect(Capsule.fromBytes(f.capsule.toBytes()).toBytes()).to.deep.equal(f.capsule.toBytes());
          expect(Capsule.fromBytesSimple(f.capsule.toBytesSimple()).equals(f.capsule)).to.equal(true);
          for (const k of f.kfrags)
            expect(KeyFrag.fromBytes(k.toBytes()).toBytes()).to.deep.equal(k.toBytes());
          for (const c of f.cfrags) {
            expect(CapsuleFrag.fromBytes(c.toBytes()).toBytes()).to.deep.equal(c.toBytes());
            expect(CapsuleFrag.fromBytesSimple(c.toBytesSimple()).toBytesSimple()).to.deep.equal(
              c.toBytesSimple(),
            );
          }
        }),
        runs(backend, 15),
      );
    });

    it("any threshold-sized subset of cfrags decrypts; any smaller one never does", function () {
      fc.assert(
        fc.property(
          shape.filter((s) => s.threshold >= 2),
          fc.uint8Array({ maxLength: 64 }),
          fc.nat(),
          ({ threshold, shares }, message, seed) => {
            const f = grantFixture(threshold, shares, message);
            const order = [...f.cfrags.keys()].sort(
              (a, b) => ((a * 7919 + seed) % 101) - ((b * 7919 + seed) % 101),
            );
            const subset = order.slice(0, threshold).map((i) => f.cfrags[i]);
            expect(
              decryptReencrypted(f.bob, f.alice.publicKey(), f.capsule, subset, f.ciphertext),
            ).to.deep.equal(message);
            const more = order.map((i) => f.cfrags[i]);
            expect(
              decryptReencrypted(f.bob, f.alice.publicKey(), f.capsule, more, f.ciphertext),
            ).to.deep.equal(message);
            expect(() =>
              decryptReencrypted(f.bob, f.alice.publicKey(), f.capsule, subset.slice(1), f.ciphertext),
            )
              .to.throw(PreError)
              .with.property("code", "REENCRYPTED_VALIDATION_FAILED");
          },
        ),
        runs(backend, 15),
      );
    });

    it("wrong keys, capsules or signers never verify", function () {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 5 }), (which) => {
          const f = grantFixture(2, 3, new Uint8Array([1, 2, 3]));
          const other = SecretKey.random().publicKey();
          const [otherCapsule] = encrypt(f.alice.publicKey(), new Uint8Array(1));
          const keys = [f.signer.verifyingKey(), f.alice.publicKey(), f.bob.publicKey()];
          const cfrag = f.cfrags[0].unverify();
          const kfrag = f.kfrags[0].unverify();
          switch (which) {
            case 0:
              return expectPreError(() => kfrag.verify(other, keys[1], keys[2]));
            case 1:
              return expectPreError(() => kfrag.verify(keys[0], other, keys[2]));
            case 2:
              return expectPreError(() => cfrag.verify(f.capsule, other, keys[1], keys[2]));
            case 3:
              return expectPreError(() => cfrag.verify(f.capsule, keys[0], other, keys[2]));
            case 4:
              return expectPreError(() => cfrag.verify(f.capsule, keys[0], keys[1], other));
            default:
              return expectPreError(() => cfrag.verify(otherCapsule, keys[0], keys[1], keys[2]));
          }
        }),
        runs(backend, 12),
      );
    });

    it("a flipped bit anywhere in a capsule, kfrag or cfrag is rejected with a PreError", function () {
      const f = grantFixture(2, 3, new Uint8Array([9]));
      const keys = [f.signer.verifyingKey(), f.alice.publicKey(), f.bob.publicKey()] as const;
      const targets: [string, Uint8Array, (b: Uint8Array) => unknown][] = [
        ["capsule", f.capsule.toBytes(), (b) => Capsule.fromBytes(b)],
        ["capsule simple", f.capsule.toBytesSimple(), (b) => Capsule.fromBytesSimple(b)],
        ["kfrag", f.kfrags[0].toBytes(), (b) => KeyFrag.fromBytes(b).verify(...keys)],
        ["cfrag", f.cfrags[0].toBytes(), (b) => CapsuleFrag.fromBytes(b).verify(f.capsule, ...keys)],
        [
          "cfrag simple",
          f.cfrags[0].toBytesSimple(),
          (b) => CapsuleFrag.fromBytesSimple(b).verify(f.capsule, ...keys),
        ],
      ];
      fc.assert(
        fc.property(
          fc.constantFrom(...targets),
          fc.nat(),
          fc.integer({ min: 0, max: 7 }),
          ([, bytes, load], position, bit) => {
            expectPreError(() => load(flipBit(bytes, position % bytes.length, bit)));
          },
        ),
        runs(backend, 150),
      );
    });
  });
});
