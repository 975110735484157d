/**
 * The writer's side ("Enrico"): encryption to a label's public key, with no network.
 *
 * Small data: `encryptMessage` (one capsule, one AEAD ciphertext). Data of any size:
 * `encryptStream`, the PRE library's streaming format (src/pre/stream.ts: a header holding
 * the capsule, then authenticated chunks) over async iterables, so files of any size are
 * encrypted and decrypted in constant memory.
 */
import {
  Capsule,
  encrypt,
  parseStreamHeader,
  PreError,
  PublicKey,
  STREAM_HEADER_SIZE,
  StreamEncryptor,
  type StreamDecryptor,
} from "../pre";
import { ClientError } from "./errors";

export { DEFAULT_CHUNK_SIZE, STREAM_HEADER_SIZE } from "../pre";

export type PublicKeyLike = PublicKey | Uint8Array;

const toPublicKey = (key: PublicKeyLike): PublicKey =>
  key instanceof PublicKey ? key : PublicKey.fromCompressedBytes(key);

/** One encrypted message: its capsule and its AEAD ciphertext. */
export interface MessageKit {
  capsule: Capsule;
  ciphertext: Uint8Array;
}

/** Encrypts `plaintext` to a label's public key. */
export function encryptMessage(labelKey: PublicKeyLike, plaintext: Uint8Array): MessageKit {
  const [capsule, ciphertext] = encrypt(toPublicKey(labelKey), plaintext);
  return { capsule, ciphertext };
}

/** A PreError of the stream format as a ClientError. */
function asClientError(error: unknown): unknown {
  if (!(error instanceof PreError)) return error;
  const code =
    error.code === "DECRYPTION_FAILED" || error.code === "STREAM_TRUNCATED"
      ? "DECRYPTION_FAILED"
      : error.code === "INVALID_ARGUMENT"
        ? "INVALID_ARGUMENT"
        : "INVALID_DATA";
  return new ClientError(code, error.message, { cause: error });
}

/** Encrypts a byte stream of any size to a label's public key; yields the header, then the chunks. */
export async function* encryptStream(
  labelKey: PublicKeyLike,
  source: AsyncIterable<Uint8Array>,
  options: { chunkSize?: number } = {},
): AsyncGenerator<Uint8Array> {
  let encryptor: StreamEncryptor;
  try {
    encryptor = new StreamEncryptor(toPublicKey(labelKey), options.chunkSize);
  } catch (error) {
    throw asClientError(error);
  }
  yield encryptor.header;
  for await (const piece of source) {
    const sealed = encryptor.push(piece);
    if (sealed.length > 0) yield sealed;
  }
  yield encryptor.finish();
}

/** The stream's header and its capsule (what a recipient asks the nodes to re-encrypt). */
export interface StreamStart {
  header: Uint8Array;
  capsule: Capsule;
}

/** Reads exactly `length` bytes off the front of a byte stream; returns them and the rest. */
async function splitAt(
  source: AsyncIterable<Uint8Array>,
  length: number,
): Promise<{ head: Uint8Array; rest: AsyncIterator<Uint8Array>; leftover: Uint8Array }> {
  const iterator = source[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size < length) {
    const next = await iterator.next();
    if (next.done) throw new ClientError("INVALID_DATA", "not an NKMS encrypted stream: too short");
    parts.push(next.value);
    size += next.value.length;
  }
  const all = Buffer.concat(parts);
  return { head: all.subarray(0, length), rest: iterator, leftover: all.subarray(length) };
}

/**
 * Decrypts a stream made by `encryptStream`. `open` makes the decryptor from the header (the
 * owner with the label's secret, a recipient with the nodes' cfrags); it is called once,
 * before any chunk. Yields authenticated plaintext only; throws a ClientError (INVALID_DATA,
 * DECRYPTION_FAILED) on tampering or truncation.
 */
export async function* decryptStream(
  source: AsyncIterable<Uint8Array>,
  open: (start: StreamStart) => Promise<StreamDecryptor> | StreamDecryptor,
): AsyncGenerator<Uint8Array> {
  const { head, rest, leftover } = await splitAt(source, STREAM_HEADER_SIZE);
  try {
    const decryptor = await open({ header: head, capsule: parseStreamHeader(head).capsule });
    let out = decryptor.push(leftover);
    if (out.length > 0) yield out;
    for (let next = await rest.next(); !next.done; next = await rest.next()) {
      out = decryptor.push(next.value);
      if (out.length > 0) yield out;
    }
    yield decryptor.finish();
  } catch (error) {
    throw asClientError(error);
  }
}

/** Reads only a stream's header (for a recipient to learn which capsule to retrieve). */
export async function readStreamStart(source: AsyncIterable<Uint8Array>): Promise<StreamStart> {
  const { head } = await splitAt(source, STREAM_HEADER_SIZE);
  try {
    return { header: head, capsule: parseStreamHeader(head).capsule };
  } catch (error) {
    throw asClientError(error);
  }
}
