import { expect } from "chai";
import { ethers } from "hardhat";
import { concat, getBytes, hexlify, keccak256, randomBytes } from "ethers";
import {
  bindingProof,
  bindingRoots,
  merkleProof,
  merkleRoot,
  STATEMENTS_PER_ROOT,
} from "../../src/chain/merkle";
import { MerkleProofHarness__factory } from "../../typechain-types";

/**
 * A naive reference, written independently of src/chain/merkle.ts: the tree defined top-down,
 * as RFC 6962 splits it (the left subtree holds the largest power of two of leaves below n),
 * hashed with sorted pairs. Bottom-up pairing with an odd last node promoted is the same tree.
 */
const pair = (a: string, b: string) => keccak256(a < b ? concat([a, b]) : concat([b, a]));
const split = (n: number) => 2 ** Math.ceil(Math.log2(n) - 1);
function referenceRoot(leaves: string[]): string {
  if (leaves.length === 1) return leaves[0];
  const k = split(leaves.length);
  return pair(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}
function referenceProof(leaves: string[], index: number): string[] {
  if (leaves.length === 1) return [];
  const k = split(leaves.length);
  return index < k
    ? [...referenceProof(leaves.slice(0, k), index), referenceRoot(leaves.slice(k))]
    : [...referenceProof(leaves.slice(k), index - k), referenceRoot(leaves.slice(0, k))];
}

const randomLeaves = (n: number) => Array.from({ length: n }, () => randomBytes(32));

describe("Merkle tree of an answer's statements (src/chain/merkle.ts)", () => {
  it("matches the naive reference for every size 1..70 and every index", () => {
    for (let n = 1; n <= 70; n++) {
      const leaves = randomLeaves(n);
      const hex = leaves.map((leaf) => hexlify(leaf));
      expect(hexlify(merkleRoot(leaves)), `root of ${n}`).to.equal(referenceRoot(hex));
      for (let i = 0; i < n; i++) {
        expect(
          merkleProof(leaves, i).map((sibling) => hexlify(sibling)),
          `proof ${i} of ${n}`,
        ).to.deep.equal(referenceProof(hex, i));
      }
    }
  });

  it("gives proofs that OpenZeppelin's MerkleProof (the Adjudicator's) folds to the root, for sizes 1..70", async () => {
    const [deployer] = await ethers.getSigners();
    const harness = await new MerkleProofHarness__factory(deployer).deploy();
    for (let n = 1; n <= 70; n++) {
      const leaves = randomLeaves(n);
      const root = hexlify(merkleRoot(leaves));
      const roots = await Promise.all(
        leaves.map((leaf, i) => harness.processProof(merkleProof(leaves, i), leaf)),
      );
      expect(roots, `size ${n}`).to.deep.equal(Array(n).fill(root));
    }
  });

  it("has the root of one leaf be the leaf, with an empty proof; the depth of 64 leaves is 6", () => {
    const [leaf] = randomLeaves(1);
    expect(merkleRoot([leaf])).to.deep.equal(leaf);
    expect(merkleProof([leaf], 0)).to.deep.equal([]);
    const leaves = randomLeaves(64);
    for (let i = 0; i < 64; i++) expect(merkleProof(leaves, i)).to.have.length(6);
  });

  it("never duplicates an unpaired node: [a, b, c] and [a, b, c, c] have different roots", () => {
    const [a, b, c] = randomLeaves(3);
    expect(hexlify(merkleRoot([a, b, c]))).to.not.equal(hexlify(merkleRoot([a, b, c, c])));
    expect(merkleProof([a, b, c], 2).map((s) => hexlify(s))).to.deep.equal([hexlify(merkleRoot([a, b]))]);
  });

  it("binds an answer with one root per run of 8 leaves, proofs of at most 3 hashes that OpenZeppelin folds to their root", async () => {
    expect(STATEMENTS_PER_ROOT).to.equal(8);
    const [deployer] = await ethers.getSigners();
    const harness = await new MerkleProofHarness__factory(deployer).deploy();
    for (const n of [1, 7, 8, 9, 16, 17, 64]) {
      const leaves = randomLeaves(n);
      const roots = bindingRoots(leaves);
      expect(roots, `roots of ${n}`).to.have.length(Math.ceil(n / 8));
      expect(roots.map((r) => hexlify(r))).to.deep.equal(
        roots.map((_, j) => referenceRoot(leaves.slice(8 * j, 8 * j + 8).map((leaf) => hexlify(leaf)))),
      );
      for (let i = 0; i < n; i++) {
        const { root, proof } = bindingProof(leaves, i);
        expect(root, `root of leaf ${i} of ${n}`).to.equal(Math.floor(i / 8));
        expect(proof.length).to.be.at.most(3);
        expect(await harness.processProof(proof, leaves[i])).to.equal(hexlify(roots[root]));
      }
    }
    expect(() => bindingProof(randomLeaves(9), 9)).to.throw(RangeError);
  });

  it("refuses no leaves, leaves that are not 32 bytes and indices out of range", () => {
    const leaves = randomLeaves(3);
    expect(() => merkleRoot([])).to.throw(RangeError);
    expect(() => merkleRoot([getBytes("0x01")])).to.throw(RangeError);
    for (const index of [-1, 3, 1.5]) expect(() => merkleProof(leaves, index)).to.throw(RangeError);
  });
});
