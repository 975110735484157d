import { expect } from "chai";
import { bytesToHex } from "@noble/hashes/utils.js";
import {
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
  reencrypt,
} from "../../src/pre";
import { POINT_U } from "../../src/pre/curve";
import { forEachBackend, hex, loadVectors } from "./helpers";

const parameters = loadVectors("parameters");
const factory = loadVectors("secret_key_factory");
const signatures = loadVectors("signatures");
const encryption = loadVectors("encrypt");
const frags = loadVectors("kfrags_cfrags");
const negative = loadVectors("negative");

function expectPreError(fn: () => unknown, code?: string): PreError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(PreError);
    if (code) expect((e as PreError).code).to.equal(code);
    return e as PreError;
  }
  expect.fail("expected a PreError");
}

describe("Umbral known-answer vectors", function () {
  forEachBackend(() => {
    it("derives the parameter point U by hash-to-curve", function () {
      expect(bytesToHex(POINT_U.toBytes())).to.equal(parameters.u_compressed);
    });

    it("derives label keys, secrets and sub-factories like the reference", function () {
      const f = SecretKeyFactory.fromSecureRandomness(hex(factory.seed));
      for (const v of factory.vectors) {
        const sk = f.makeKey(hex(v.label));
        expect(bytesToHex(sk.toBytes())).to.equal(v.make_key_sk);
        expect(bytesToHex(sk.publicKey().toBytes())).to.equal(v.make_key_pk);
        expect(bytesToHex(f.makeSecret(hex(v.label)))).to.equal(v.make_secret);
      }
      const sub = f.makeFactory(hex(factory.sub_factory.label));
      for (const v of factory.sub_factory.vectors) {
        expect(bytesToHex(sub.makeKey(hex(v.label)).toBytes())).to.equal(v.make_key_sk);
        expect(bytesToHex(sub.makeSecret(hex(v.label)))).to.equal(v.make_secret);
      }
    });

    it("verifies the reference's signatures in both encodings and re-encodes them exactly", function () {
      const pk = PublicKey.fromBytes(hex(signatures.verifying_pk));
      expect(bytesToHex(SecretKey.fromBytes(hex(signatures.signing_sk)).publicKey().toBytes())).to.equal(
        signatures.verifying_pk,
      );
      for (const v of signatures.vectors) {
        const sig = Signature.fromBytes(hex(v.signature_be));
        expect(sig.verify(pk, hex(v.message))).to.equal(v.valid);
        expect(bytesToHex(sig.toDerBytes())).to.equal(v.signature_der);
        expect(Signature.fromDerBytes(hex(v.signature_der)).equals(sig)).to.equal(true);
        expect(sig.verify(pk, new Uint8Array([...hex(v.message), 0]))).to.equal(false);
      }
    });

    it("signs messages that verify (and are low-s)", function () {
      const signer = new Signer(SecretKey.fromBytes(hex(signatures.signing_sk)));
      for (const v of signatures.vectors) {
        const sig = signer.sign(hex(v.message));
        expect(sig.verify(signer.verifyingKey(), hex(v.message))).to.equal(true);
        expect(sig.toBytes()[32] < 0x80).to.equal(true);
      }
    });

    it("decodes capsules byte for byte and decrypts the reference's ciphertexts", function () {
      const sk = SecretKey.fromBytes(hex(encryption.delegating_sk));
      expect(bytesToHex(sk.publicKey().toBytes())).to.equal(encryption.delegating_pk);
      for (const v of encryption.vectors) {
        const capsule = Capsule.fromBytes(hex(v.capsule));
        expect(bytesToHex(capsule.toBytes())).to.equal(v.capsule);
        expect(bytesToHex(capsule.toBytesSimple())).to.equal(v.capsule_simple);
        expect(Capsule.fromBytesSimple(hex(v.capsule_simple)).equals(capsule)).to.equal(true);
        expect(bytesToHex(decryptOriginal(sk, capsule, hex(v.ciphertext)))).to.equal(v.plaintext);
      }
    });

    for (const [index, c] of (frags.cases as { threshold: number; shares: number }[]).entries()) {
      it(`case ${index} (${c.threshold} of ${c.shares}): kfrags and cfrags decode, verify, re-encrypt and decrypt`, function () {
        const v = frags.cases[index];
        const delegatingPk = PublicKey.fromBytes(hex(frags.delegating_pk));
        const receivingPk = PublicKey.fromBytes(hex(frags.receiving_pk));
        const verifyingPk = PublicKey.fromBytes(hex(frags.verifying_pk));
        const receivingSk = SecretKey.fromBytes(hex(frags.receiving_sk));
        const capsule = Capsule.fromBytes(hex(frags.capsule));
        const verified = [];
        for (const f of v.frags) {
          const kfrag = KeyFrag.fromBytes(hex(f.kfrag));
          expect(bytesToHex(kfrag.toBytes())).to.equal(f.kfrag);
          const vkfrag = kfrag.verify(
            verifyingPk,
            v.sign_delegating_key ? delegatingPk : null,
            v.sign_receiving_key ? receivingPk : null,
          );
          const cfrag = CapsuleFrag.fromBytes(hex(f.cfrag));
          expect(bytesToHex(cfrag.toBytes())).to.equal(f.cfrag);
          expect(bytesToHex(cfrag.toBytesSimple())).to.equal(f.cfrag_simple);
          expect(CapsuleFrag.fromBytesSimple(hex(f.cfrag_simple)).equals(cfrag)).to.equal(true);
          verified.push(cfrag.verify(capsule, verifyingPk, delegatingPk, receivingPk));

          // our re-encryption of the same kfrag: deterministic fields byte for byte
          const ours = reencrypt(capsule, vkfrag).toBytesSimple();
          const theirs = hex(f.cfrag_simple);
          const deterministic = [
            [0, 131], // e1, v1, kfrag id, precursor
            [197, 230], // u1 (commitment)
            [295, 359], // kfrag signature
          ];
          for (const [from, to] of deterministic) {
            expect(bytesToHex(ours.slice(from, to))).to.equal(bytesToHex(theirs.slice(from, to)));
          }
          CapsuleFrag.fromBytes(reencrypt(capsule, vkfrag).toBytes()).verify(
            capsule,
            verifyingPk,
            delegatingPk,
            receivingPk,
          );
        }
        const plaintext = decryptReencrypted(
          receivingSk,
          delegatingPk,
          capsule,
          verified.slice(0, v.decrypt_with_first_n),
          hex(frags.ciphertext),
        );
        expect(bytesToHex(plaintext)).to.equal(v.expected_plaintext);
      });
    }

    describe("negative vectors", function () {
      const pk = (name: string) => PublicKey.fromBytes(hex(negative[name]));
      const capsule = () => Capsule.fromBytes(hex(negative.capsule));
      const expectedCode: Record<string, string> = {
        "Capsule self-verification failed": "CAPSULE_VERIFICATION_FAILED",
        "A signature of a delegating key was included in this kfrag but the key is not provided":
          "KFRAG_DELEGATING_KEY_NOT_PROVIDED",
        "A signature of a receiving key was included in this kfrag, but the key is not provided":
          "KFRAG_RECEIVING_KEY_NOT_PROVIDED",
        "Invalid kfrag commitment": "KFRAG_COMMITMENT_INVALID",
        "Failed to verify the kfrag signature": "KFRAG_SIGNATURE_INVALID",
        "Failed to verify reencryption proof": "CFRAG_PROOF_INVALID",
        "Invalid CapsuleFrag signature": "CFRAG_SIGNATURE_INVALID",
        "Re-encryption error on open: Internal validation failed": "REENCRYPTED_VALIDATION_FAILED",
        "Re-encryption error on open: Some of the CapsuleFrags are repeated": "CFRAGS_REPEATED",
        "Re-encryption error on open: CapsuleFrags are not pairwise consistent": "CFRAGS_MISMATCHED",
        "Decryption of ciphertext failed: either someone tampered with the ciphertext or you are using an incorrect decryption key.":
          "DECRYPTION_FAILED",
        "The ciphertext must include the nonce": "CIPHERTEXT_TOO_SHORT",
      };

      for (const v of negative.vectors) {
        it(`rejects: ${v.what}`, function () {
          const code = expectedCode[v.expected_error];
          expect(code, v.expected_error).to.be.a("string");
          switch (v.object) {
            case "capsule":
              expectPreError(() => Capsule.fromBytes(hex(v.bytes)), code);
              break;
            case "kfrag":
              expectPreError(
                () =>
                  KeyFrag.fromBytes(hex(v.bytes)).verify(
                    pk("verifying_pk"),
                    v.provide_delegating_pk ? pk("delegating_pk") : null,
                    v.provide_receiving_pk ? pk("receiving_pk") : null,
                  ),
                code,
              );
              break;
            case "cfrag":
              expectPreError(
                () =>
                  CapsuleFrag.fromBytes(hex(v.bytes)).verify(
                    capsule(),
                    pk("verifying_pk"),
                    pk("delegating_pk"),
                    v.wrong_receiving_pk
                      ? PublicKey.fromBytes(hex(v.wrong_receiving_pk))
                      : pk("receiving_pk"),
                  ),
                code,
              );
              break;
            case "decrypt_reencrypted":
              expectPreError(
                () =>
                  decryptReencrypted(
                    SecretKey.fromBytes(hex(negative.receiving_sk)),
                    pk("delegating_pk"),
                    capsule(),
                    (v.cfrags as string[]).map((c) => CapsuleFrag.fromBytes(hex(c)).skipVerification()),
                    hex(negative.ciphertext),
                  ),
                code,
              );
              break;
            case "decrypt_original":
              expectPreError(
                () =>
                  decryptOriginal(
                    SecretKey.fromBytes(hex(negative.delegating_sk)),
                    capsule(),
                    hex(v.ciphertext),
                  ),
                code,
              );
              break;
            default:
              expect.fail(`unknown vector object ${v.object}`);
          }
        });
      }
    });
  });
});
