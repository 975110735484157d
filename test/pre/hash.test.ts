import { expect } from "chai";
import fc from "fast-check";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToNumberBE } from "@noble/curves/utils.js";
import { ORDER } from "../../src/pre/curve";
import { hashToScalar, sha256 } from "../../src/pre/hash";
import { forEachBackend } from "./helpers";

const joined = (parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
const u32be = (n: number): Uint8Array => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);

describe("pre hashing (sha256, hashToScalar)", function () {
  forEachBackend(() => {
    // sizes around the native path's reused 1 KiB buffer, larger ones after smaller and back, so a
    // grown or partly stale buffer would show
    const parts = fc.array(fc.uint8Array({ maxLength: 1500 }), { maxLength: 4 });

    it("sha256 of the parts is SHA-256 of their concatenation", function () {
      fc.assert(
        fc.property(parts, (ps) => {
          expect(Buffer.from(sha256(...ps)).equals(Buffer.from(nobleSha256(joined(ps))))).to.equal(true);
        }),
        { numRuns: 200 },
      );
      expect(Buffer.from(sha256()).equals(Buffer.from(nobleSha256(new Uint8Array(0))))).to.equal(true);
    });

    it("hashToScalar is (SHA-256(u32be(len tag) ‖ tag ‖ parts) mod (n−1)) + 1", function () {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 40 }), parts, (tag, ps) => {
          const digest = nobleSha256(joined([u32be(tag.length), tag, ...ps]));
          expect(hashToScalar(tag, ps)).to.equal((bytesToNumberBE(digest) % (ORDER - 1n)) + 1n);
        }),
        { numRuns: 200 },
      );
    });
  });
});
