import { expect } from "chai";
import { concatBytes } from "@noble/hashes/utils.js";
import {
  PreError,
  STREAM_HEADER_SIZE,
  SecretKey,
  Signer,
  StreamDecryptor,
  StreamEncryptor,
  generateKFrags,
  parseStreamHeader,
  reencrypt,
} from "../../src/pre";
import { flipBit, forEachBackend } from "./helpers";

const CHUNK = 1024;

function encryptAll(pk: ReturnType<SecretKey["publicKey"]>, payload: Uint8Array, pieces: number[]) {
  const enc = new StreamEncryptor(pk, CHUNK);
  const out: Uint8Array[] = [enc.header];
  let pos = 0;
  for (const size of pieces) {
    out.push(enc.push(payload.subarray(pos, pos + size)));
    pos += size;
  }
  out.push(enc.push(payload.subarray(pos)), enc.finish());
  return { header: enc.header, body: concatBytes(...out.slice(1)) };
}

function decryptAll(dec: StreamDecryptor, body: Uint8Array, piece = 700): Uint8Array {
  const out: Uint8Array[] = [];
  for (let pos = 0; pos < body.length; pos += piece) out.push(dec.push(body.subarray(pos, pos + piece)));
  out.push(dec.finish());
  return concatBytes(...out);
}

function expectCode(fn: () => unknown, code: string): void {
  expect(fn).to.throw(PreError).with.property("code", code);
}

describe("streaming encryption", function () {
  forEachBackend(() => {
    const alice = SecretKey.random();
    const payload = new Uint8Array(5 * CHUNK + 123).map((_, i) => (i * 31) & 0xff);

    for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 123]) {
      it(`round-trips ${size} bytes pushed in uneven pieces`, function () {
        const data = payload.subarray(0, size);
        const { header, body } = encryptAll(alice.publicKey(), data, [7, 1500, 3]);
        expect(header.length).to.equal(STREAM_HEADER_SIZE);
        expect(body.length).to.equal(
          size + 16 * (Math.floor(size / CHUNK) + (size % CHUNK === 0 && size > 0 ? 0 : 1)),
        );
        expect(decryptAll(StreamDecryptor.original(alice, header), body)).to.deep.equal(data);
      });
    }

    it("a receiver decrypts a stream through re-encryption of the header's capsule", function () {
      const bob = SecretKey.random();
      const signer = new Signer(SecretKey.random());
      const { header, body } = encryptAll(alice.publicKey(), payload, [CHUNK]);
      const { capsule } = parseStreamHeader(header);
      const cfrags = generateKFrags(alice, bob.publicKey(), signer, 2, 3, false, false)
        .slice(1)
        .map((k) => reencrypt(capsule, k));
      const dec = StreamDecryptor.reencrypted(bob, alice.publicKey(), header, cfrags);
      expect(decryptAll(dec, body)).to.deep.equal(payload);
    });

    describe("tampering", function () {
      const sealed = CHUNK + 16;
      let header: Uint8Array;
      let body: Uint8Array;
      let chunks: Uint8Array[];
      before(function () {
        ({ header, body } = encryptAll(alice.publicKey(), payload, []));
        chunks = Array.from({ length: Math.ceil(body.length / sealed) }, (_, i) =>
          body.subarray(i * sealed, (i + 1) * sealed),
        );
      });
      const open = (b: Uint8Array, h?: Uint8Array) =>
        decryptAll(StreamDecryptor.original(alice, h ?? header), b);

      it("detects a flipped bit in any chunk", function () {
        for (const index of [0, sealed + 5, body.length - 1])
          expectCode(() => open(flipBit(body, index)), "DECRYPTION_FAILED");
      });

      it("detects reordered chunks", function () {
        expectCode(() => open(concatBytes(chunks[1], chunks[0], ...chunks.slice(2))), "DECRYPTION_FAILED");
      });

      it("detects a dropped final chunk as truncation", function () {
        expectCode(() => open(concatBytes(...chunks.slice(0, -1))), "STREAM_TRUNCATED");
      });

      it("detects truncation inside a chunk and an empty body", function () {
        expectCode(() => open(body.subarray(0, body.length - 5)), "DECRYPTION_FAILED");
        expectCode(() => open(new Uint8Array(0)), "STREAM_TRUNCATED");
      });

      it("detects a dropped middle chunk and bytes appended after the final chunk", function () {
        expectCode(() => open(concatBytes(chunks[0], ...chunks.slice(2))), "DECRYPTION_FAILED");
        expectCode(() => open(concatBytes(body, new Uint8Array([0]))), "DECRYPTION_FAILED");
      });

      it("detects chunks swapped in from another stream under the same key holder", function () {
        const other = encryptAll(alice.publicKey(), payload, []);
        const mixed = concatBytes(chunks[0], other.body.subarray(sealed));
        expectCode(() => open(mixed), "DECRYPTION_FAILED");
      });

      it("rejects an edited header (chunk size or nonce prefix)", function () {
        expectCode(() => open(body, flipBit(header, header.length - 1)), "DECRYPTION_FAILED");
        expectCode(() => open(body, flipBit(header, 4 + 98 + 2)), "DECRYPTION_FAILED");
        expectCode(() => parseStreamHeader(flipBit(header, 0)), "INVALID_ENCODING");
        expectCode(() => parseStreamHeader(header.subarray(1)), "INVALID_LENGTH");
      });

      it("refuses a wrong key", function () {
        expectCode(
          () => decryptAll(StreamDecryptor.original(SecretKey.random(), header), body),
          "DECRYPTION_FAILED",
        );
      });
    });

    it("rejects out-of-range chunk sizes and use after finish", function () {
      expectCode(() => new StreamEncryptor(alice.publicKey(), 10), "INVALID_ARGUMENT");
      const enc = new StreamEncryptor(alice.publicKey(), CHUNK);
      enc.finish();
      expectCode(() => enc.push(new Uint8Array(1)), "INVALID_ARGUMENT");
      expectCode(() => enc.finish(), "INVALID_ARGUMENT");
    });
  });
});
