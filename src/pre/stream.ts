/**
 * Streaming encryption of large payloads under one capsule: the capsule's shared point gives
 * a stream key (HKDF-SHA256, info "NKMS/PRE/stream/v1", separate from the single-shot DEM
 * key), and the payload is cut into chunks sealed with XChaCha20-Poly1305.
 *
 * Layout: header ‖ chunk₀ ‖ chunk₁ ‖ … ‖ chunkₖ (final)
 * - header (121 bytes) = "NKS1" ‖ capsule (98-byte simple form) ‖ chunk size (u32 BE) ‖ nonce prefix (15 random bytes)
 * - chunkᵢ = XChaCha20-Poly1305(key, prefix ‖ u64be(i) ‖ finalFlag, plaintextᵢ, aad = header)
 * Every chunk but the last holds exactly `chunkSize` plaintext bytes; the last holds
 * 0…chunkSize bytes and has finalFlag = 1. The index and the flag are in the nonce and the
 * header is the associated data, so reordered, swapped, dropped, truncated or extended
 * streams and edited headers all fail authentication.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes } from "@noble/hashes/utils.js";
import { Capsule } from "./capsule";
import { openReencrypted, type VerifiedCapsuleFrag } from "./cfrag";
import { type CurvePoint, secureRandomBytes } from "./curve";
import { KEY_SIZE, NONCE_SIZE, TAG_SIZE, aeadOpen, aeadSeal } from "./dem";
import { PreError } from "./errors";
import type { PublicKey, SecretKey } from "./keys";

const MAGIC = new TextEncoder().encode("NKS1");
const PREFIX_SIZE = 15;
export const STREAM_HEADER_SIZE = MAGIC.length + Capsule.SIMPLE_SIZE + 4 + PREFIX_SIZE;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
const MIN_CHUNK_SIZE = 1024;
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

function streamKey(sharedPoint: CurvePoint): Uint8Array {
  return hkdf(
    sha256,
    sharedPoint.toBytes(),
    undefined,
    new TextEncoder().encode("NKMS/PRE/stream/v1"),
    KEY_SIZE,
  );
}

function chunkNonce(prefix: Uint8Array, index: number, final: boolean): Uint8Array {
  const nonce = new Uint8Array(NONCE_SIZE);
  nonce.set(prefix);
  new DataView(nonce.buffer).setBigUint64(PREFIX_SIZE, BigInt(index));
  nonce[NONCE_SIZE - 1] = final ? 1 : 0;
  return nonce;
}

export interface StreamHeader {
  capsule: Capsule;
  chunkSize: number;
  noncePrefix: Uint8Array;
}

/** reads the first STREAM_HEADER_SIZE bytes of a stream (e.g. to get the capsule re-encrypted) */
export function parseStreamHeader(header: Uint8Array): StreamHeader {
  if (!(header instanceof Uint8Array) || header.length !== STREAM_HEADER_SIZE) {
    throw new PreError(
      "INVALID_LENGTH",
      `stream header: expected ${STREAM_HEADER_SIZE} bytes, got ${header?.length}`,
    );
  }
  if (!MAGIC.every((b, i) => header[i] === b))
    throw new PreError("INVALID_ENCODING", "stream header: bad magic");
  let pos = MAGIC.length;
  const capsule = Capsule.fromBytesSimple(header.slice(pos, pos + Capsule.SIMPLE_SIZE));
  pos += Capsule.SIMPLE_SIZE;
  const chunkSize = new DataView(header.buffer, header.byteOffset + pos, 4).getUint32(0);
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new PreError("INVALID_ENCODING", `stream header: chunk size ${chunkSize} out of range`);
  }
  return { capsule, chunkSize, noncePrefix: header.slice(pos + 4) };
}

/** a growing byte queue */
class ByteQueue {
  private parts: Uint8Array[] = [];
  length = 0;

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.parts.push(data);
    this.length += data.length;
  }

  take(n: number): Uint8Array {
    const all = this.parts.length === 1 ? this.parts[0] : concatBytes(...this.parts);
    this.parts = all.length > n ? [all.subarray(n)] : [];
    this.length = all.length - n;
    return all.subarray(0, n);
  }
}

/**
 * Encrypts a payload of any length piece by piece: write `header` first, then everything
 * `push` and `finish` return, in order.
 */
export class StreamEncryptor {
  readonly capsule: Capsule;
  readonly header: Uint8Array;
  private readonly key: Uint8Array;
  private readonly prefix: Uint8Array;
  private readonly pending = new ByteQueue();
  private index = 0;
  private finished = false;

  constructor(
    delegatingPk: PublicKey,
    readonly chunkSize: number = DEFAULT_CHUNK_SIZE,
  ) {
    if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw new PreError("INVALID_ARGUMENT", `chunk size must be ${MIN_CHUNK_SIZE}…${MAX_CHUNK_SIZE} bytes`);
    }
    const { capsule, sharedPoint } = Capsule.fromPublicKey(delegatingPk);
    this.capsule = capsule;
    this.key = streamKey(sharedPoint);
    this.prefix = secureRandomBytes(PREFIX_SIZE);
    const size = new Uint8Array(4);
    new DataView(size.buffer).setUint32(0, chunkSize);
    this.header = concatBytes(MAGIC, capsule.toBytesSimple(), size, this.prefix);
  }

  private seal(plaintext: Uint8Array, final: boolean): Uint8Array {
    return aeadSeal(this.key, chunkNonce(this.prefix, this.index++, final), plaintext, this.header);
  }

  /** adds plaintext; returns the chunks completed by it (possibly none) */
  push(data: Uint8Array): Uint8Array {
    if (this.finished) throw new PreError("INVALID_ARGUMENT", "the stream is already finished");
    this.pending.push(data);
    const sealed: Uint8Array[] = [];
    // keep up to one full chunk back: it may turn out to be the final one
    while (this.pending.length > this.chunkSize)
      sealed.push(this.seal(this.pending.take(this.chunkSize), false));
    return concatBytes(...sealed);
  }

  /** seals what is left as the final chunk */
  finish(): Uint8Array {
    if (this.finished) throw new PreError("INVALID_ARGUMENT", "the stream is already finished");
    this.finished = true;
    return this.seal(this.pending.take(this.pending.length), true);
  }
}

/** Decrypts a stream made by StreamEncryptor; plaintext is only released once authenticated. */
export class StreamDecryptor {
  private readonly pending = new ByteQueue();
  private index = 0;
  private finished = false;

  private constructor(
    private readonly header: Uint8Array,
    private readonly parsed: StreamHeader,
    private readonly key: Uint8Array,
  ) {}

  /** for the owner of the delegating key */
  static original(delegatingSk: SecretKey, header: Uint8Array): StreamDecryptor {
    const parsed = parseStreamHeader(header);
    return new StreamDecryptor(header.slice(), parsed, streamKey(parsed.capsule.openOriginal(delegatingSk)));
  }

  /** for a receiver holding `threshold` verified cfrags of the header's capsule */
  static reencrypted(
    receivingSk: SecretKey,
    delegatingPk: PublicKey,
    header: Uint8Array,
    verifiedCFrags: readonly VerifiedCapsuleFrag[],
  ): StreamDecryptor {
    const parsed = parseStreamHeader(header);
    const shared = openReencrypted(
      receivingSk,
      delegatingPk,
      parsed.capsule,
      verifiedCFrags.map((v) => v.cfrag),
    );
    return new StreamDecryptor(header.slice(), parsed, streamKey(shared));
  }

  get capsule(): Capsule {
    return this.parsed.capsule;
  }

  private open(sealed: Uint8Array, final: boolean): Uint8Array | undefined {
    return aeadOpen(this.key, chunkNonce(this.parsed.noncePrefix, this.index, final), sealed, this.header);
  }

  private fail(code: "DECRYPTION_FAILED" | "STREAM_TRUNCATED", message: string): never {
    this.finished = true;
    throw new PreError(code, message);
  }

  /** adds ciphertext (the bytes after the header); returns the plaintext authenticated so far */
  push(data: Uint8Array): Uint8Array {
    if (this.finished) throw new PreError("INVALID_ARGUMENT", "the stream is already finished");
    this.pending.push(data);
    const sealedSize = this.parsed.chunkSize + TAG_SIZE;
    const out: Uint8Array[] = [];
    while (this.pending.length > sealedSize) {
      const plaintext = this.open(this.pending.take(sealedSize), false);
      if (!plaintext) this.fail("DECRYPTION_FAILED", `stream chunk ${this.index} failed authentication`);
      this.index++;
      out.push(plaintext);
    }
    return concatBytes(...out);
  }

  /** authenticates the final chunk; throws STREAM_TRUNCATED when the stream stops early */
  finish(): Uint8Array {
    if (this.finished) throw new PreError("INVALID_ARGUMENT", "the stream is already finished");
    this.finished = true;
    const rest = this.pending.take(this.pending.length);
    if (rest.length < TAG_SIZE) this.fail("STREAM_TRUNCATED", "the stream ends inside a chunk");
    const plaintext = this.open(rest, true);
    if (plaintext) return plaintext;
    if (this.open(rest, false)) this.fail("STREAM_TRUNCATED", "the stream ends before its final chunk");
    return this.fail("DECRYPTION_FAILED", `stream chunk ${this.index} failed authentication`);
  }
}
