// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Exposes the Merkle proof verification the Adjudicator uses, for the tests of the
/// client's tree helpers (src/chain/merkle.ts)
contract MerkleProofHarness {
    /// @notice The root `proof` leads to from `leaf` (sorted-pair keccak256), as `Adjudicator.evaluateCFrag` computes it.
    function processProof(bytes32[] calldata proof, bytes32 leaf) external pure returns (bytes32) {
        return MerkleProof.processProofCalldata(proof, leaf);
    }
}
