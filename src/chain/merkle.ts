/**
 * The Merkle tree of a re-encryption answer's statements, as the Adjudicator verifies it
 * (OpenZeppelin's `MerkleProof.processProofCalldata`): a parent is keccak256 of its two
 * children in ascending byte order, so a proof is only the list of siblings, without sides.
 *
 * Shape: the leaves in answer order are level 0; each level pairs nodes (0, 1), (2, 3), …; an
 * odd last node has no sibling and is promoted unchanged to the next level (never paired with
 * itself, so no two different leaf lists share a root by duplication). This is RFC 6962's tree
 * (the left subtree holds the largest power of two of leaves below n) without its leaf and node
 * prefixes: the contract tells leaves from inner nodes by computing the leaf from the evidence.
 * The root of one leaf is the leaf, with an empty proof; 256 leaves need proofs of 8 hashes.
 *
 * A node signs one root per run of STATEMENTS_PER_ROOT consecutive statements of its answer
 * (`bindingRoots`), not one root for the whole answer: evidence then carries at most three proof
 * hashes, which keeps `evaluateCFrag` within its gas targets (each hash costs ~750 gas, docs/gas.md),
 * while 64 cfrags still cost 8 signatures instead of 64.
 */
import { keccak } from "../protocol/signing";

/** Which of two 32-byte hashes sorts first (big-endian, as the contract compares bytes32). */
function precedes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) < 0;
}

/** keccak256 of the two hashes in ascending order (OpenZeppelin's Hashes.commutativeKeccak256). */
function hashPair(a: Uint8Array, b: Uint8Array): Uint8Array {
  return keccak(precedes(a, b) ? Buffer.concat([a, b]) : Buffer.concat([b, a]));
}

/** The level above `level`: pairs hashed, an odd last node promoted. */
function parentLevel(level: readonly Uint8Array[]): Uint8Array[] {
  const parents: Uint8Array[] = [];
  for (let i = 0; i < level.length; i += 2) {
    parents.push(i + 1 < level.length ? hashPair(level[i], level[i + 1]) : level[i]);
  }
  return parents;
}

function checkLeaves(leaves: readonly Uint8Array[]): void {
  if (leaves.length === 0) throw new RangeError("a Merkle tree needs at least one leaf");
  if (leaves.some((leaf) => leaf.length !== 32)) throw new RangeError("Merkle leaves are 32-byte hashes");
}

function checkIndex(leaves: readonly Uint8Array[], index: number): void {
  checkLeaves(leaves);
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`leaf index ${index} out of 0..${leaves.length - 1}`);
  }
}

/** The root over `leaves` (32-byte hashes, in order). */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  checkLeaves(leaves);
  let level = leaves;
  while (level.length > 1) level = parentLevel(level);
  return level[0];
}

/** The siblings from `leaves[index]` up to the root: what the contract folds with the leaf. */
export function merkleProof(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  checkIndex(leaves, index);
  const proof: Uint8Array[] = [];
  let level = leaves;
  for (let i = index; level.length > 1; i >>= 1) {
    const sibling = i ^ 1;
    if (sibling < level.length) proof.push(level[sibling]);
    level = parentLevel(level);
  }
  return proof;
}

/** Statements under one signed root (a power of two: proofs of log2 of it hashes). */
export const STATEMENTS_PER_ROOT = 8;

/** The roots a node signs for its answer's leaves: one per run of STATEMENTS_PER_ROOT, in order. */
export function bindingRoots(leaves: readonly Uint8Array[]): Uint8Array[] {
  checkLeaves(leaves);
  const roots: Uint8Array[] = [];
  for (let start = 0; start < leaves.length; start += STATEMENTS_PER_ROOT) {
    roots.push(merkleRoot(leaves.slice(start, start + STATEMENTS_PER_ROOT)));
  }
  return roots;
}

/** Where `leaves[index]` is bound: which root (and binding signature) covers it, and its proof to that root. */
export function bindingProof(
  leaves: readonly Uint8Array[],
  index: number,
): { root: number; proof: Uint8Array[] } {
  checkIndex(leaves, index);
  const root = Math.floor(index / STATEMENTS_PER_ROOT);
  const start = root * STATEMENTS_PER_ROOT;
  return { root, proof: merkleProof(leaves.slice(start, start + STATEMENTS_PER_ROOT), index - start) };
}
