import { expect } from "chai";
import { decryptOriginal, SecretKey, StreamDecryptor } from "../../src/pre";
import { ClientError } from "../../src/client/errors";
import {
  decryptStream,
  encryptMessage,
  encryptStream,
  readStreamStart,
  STREAM_HEADER_SIZE,
  type StreamStart,
} from "../../src/client/writer";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";

const label = SecretKey.random();

/** the pieces as a stream, as a file read would give them */
const from = (...pieces: Uint8Array[]): AsyncIterable<Uint8Array> => Readable.from(pieces);

const openWith = (secret: SecretKey) => (start: StreamStart) =>
  StreamDecryptor.original(secret, start.header);

async function encryptToBytes(plain: Uint8Array, chunkSize: number, pieces = 1): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const step = Math.ceil(plain.length / pieces) || 1;
  for (let i = 0; i < plain.length; i += step) parts.push(plain.subarray(i, i + step));
  return buffer(encryptStream(label.publicKey(), from(...parts), { chunkSize }));
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).to.be.instanceOf(ClientError);
  expect((error as ClientError).code).to.equal(code);
}

describe("client: writer (encryption to a label key, no network)", () => {
  it("encryptMessage is decryptable by the label's owner", () => {
    const kit = encryptMessage(label.publicKey().toCompressedBytes(), Buffer.from("hello Bob"));
    expect(Buffer.from(decryptOriginal(label, kit.capsule, kit.ciphertext)).toString()).to.equal("hello Bob");
  });

  for (const [size, chunk, pieces] of [
    [0, 1024, 1],
    [1, 1024, 1],
    [1024, 1024, 1],
    [1025, 1024, 3],
    [100_003, 4096, 7],
    [300_000, 65_536, 1],
  ]) {
    it(`round-trips ${size} bytes in chunks of ${chunk} (fed in ${pieces} pieces, read back in 1000-byte slices)`, async () => {
      const plain = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
      const sealed = await encryptToBytes(plain, chunk, pieces);
      const slices: Uint8Array[] = [];
      for (let i = 0; i < sealed.length; i += 1000) slices.push(sealed.subarray(i, i + 1000));
      const opened = await buffer(decryptStream(from(...slices), openWith(label)));
      expect(opened.equals(Buffer.from(plain))).to.equal(true);
    });
  }

  it("reads the capsule from the header alone", async () => {
    const sealed = await encryptToBytes(new Uint8Array(5000), 1024);
    const start = await readStreamStart(from(sealed.subarray(0, STREAM_HEADER_SIZE)));
    expect(Buffer.from(start.header).equals(sealed.subarray(0, STREAM_HEADER_SIZE))).to.equal(true);
    expect(start.capsule.toBytesSimple()).to.have.length(98);
  });

  it("turns truncation and tampering into ClientErrors with codes", async () => {
    const sealed = await encryptToBytes(new Uint8Array(5000).fill(1), 1024);
    await expectCode(
      buffer(decryptStream(from(sealed.subarray(0, sealed.length - 30)), openWith(label))),
      "DECRYPTION_FAILED",
    );
    const flipped = Buffer.from(sealed);
    flipped[STREAM_HEADER_SIZE + 10] ^= 1;
    await expectCode(buffer(decryptStream(from(flipped), openWith(label))), "DECRYPTION_FAILED");
    await expectCode(buffer(decryptStream(from(sealed), openWith(SecretKey.random()))), "DECRYPTION_FAILED");
  });

  it("refuses garbage, a short stream and a bad chunk size", async () => {
    await expectCode(buffer(decryptStream(from(Buffer.from("hello")), openWith(label))), "INVALID_DATA");
    await expectCode(
      buffer(decryptStream(from(Buffer.alloc(STREAM_HEADER_SIZE + 40, 1)), openWith(label))),
      "INVALID_DATA",
    );
    await expectCode(buffer(encryptStream(label.publicKey(), from(), { chunkSize: 1 })), "INVALID_ARGUMENT");
  });
});
