// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IStakingEscrow} from "./interfaces/IStakingEscrow.sol";
import {UmbralCFragCheck} from "./lib/UmbralCFragCheck.sol";

/// @title Adjudicator: slashes the stakers of nodes that return incorrect re-encryptions
/// @notice A node answers a re-encryption request with one EIP-712 signature per run of 8 cfrags,
/// made with its operator key, over `ReencryptionBatch(root)`: the Merkle root of the run's
/// statements `Reencryption(capsuleHash, cfragHash, keysHash)`, one per cfrag (docs/evidence.md).
/// Anyone may submit a cfrag with the evidence to check it, the Merkle proof of its statement
/// and the node's signature. The contract judges the cfrag on-chain. If it is incorrect, the
/// staker that bonded the operator loses min(basePenalty + penaltyHistoryCoefficient · its
/// previous penalties, stake / percentagePenaltyCoefficient) and the submitter receives penalty /
/// rewardCoefficient of it; the escrow burns the rest. Each statement is judged once, whichever
/// batch it was signed in.
/// @dev Must hold the escrow's slasher role. Parameters are fixed at deployment.
contract Adjudicator is EIP712 {
    /// @notice The EIP-712 type of the node's statement about one cfrag; its struct hash is the
    /// statement's Merkle leaf.
    bytes32 public constant REENCRYPTION_TYPEHASH =
        keccak256("Reencryption(bytes32 capsuleHash,bytes32 cfragHash,bytes32 keysHash)");
    /// @notice The EIP-712 type the node signs: the Merkle root of the statements of a run of cfrags.
    bytes32 public constant REENCRYPTION_BATCH_TYPEHASH = keccak256("ReencryptionBatch(bytes32 root)");

    /// @notice The escrow holding the stakes; maps operators to stakers and slashes.
    IStakingEscrow public immutable escrow;
    /// @notice Penalty of a first offence, in NKMS units.
    uint256 public immutable basePenalty;
    /// @notice Added to the penalty for each earlier penalty of the same staker.
    uint256 public immutable penaltyHistoryCoefficient;
    /// @notice The penalty is at most stake / percentagePenaltyCoefficient.
    uint256 public immutable percentagePenaltyCoefficient;
    /// @notice The submitter of evidence against an incorrect cfrag receives penalty / rewardCoefficient.
    uint256 public immutable rewardCoefficient;

    /// @notice Whether the statement with this leaf (its EIP-712 struct hash) has been judged.
    /// Keyed by the leaf, not by the root: a statement signed in several batches is judged once.
    mapping(bytes32 evaluation => bool) public evaluated;

    /// @notice A signed cfrag was judged. When it was incorrect, the escrow's `Slashed` event
    /// follows with the staker, the stake taken and the reporter's reward.
    /// @param evaluation the statement's leaf (its EIP-712 struct hash), the key of `evaluated`
    /// @param operator the node's operator address, recovered from its signature
    /// @param reporter who submitted the evidence
    /// @param correct whether the cfrag was correct
    /// @param penalty the penalty asked of the escrow (0 when correct)
    event CFragEvaluated(
        bytes32 indexed evaluation,
        address indexed operator,
        address indexed reporter,
        bool correct,
        uint256 penalty
    );

    /// @notice A zero escrow or a zero divisor was given at deployment.
    error AdjudicatorInvalidSetup();
    /// @notice This statement (leaf) has been judged before.
    error AdjudicatorAlreadyEvaluated(bytes32 evaluation);
    /// @notice The signature recovers to an address that no staker has ever bonded as its operator.
    error AdjudicatorUnknownOperator(address operator);

    /// @param escrow_ the StakingEscrow (this contract must be granted its slasher role)
    /// @param basePenalty_ penalty of a first offence
    /// @param penaltyHistoryCoefficient_ penalty increase per earlier offence
    /// @param percentagePenaltyCoefficient_ divisor of the stake giving the penalty cap (> 0)
    /// @param rewardCoefficient_ divisor of the penalty giving the reporter's reward (> 0)
    constructor(
        IStakingEscrow escrow_,
        uint256 basePenalty_,
        uint256 penaltyHistoryCoefficient_,
        uint256 percentagePenaltyCoefficient_,
        uint256 rewardCoefficient_
    ) EIP712("NKMS Adjudicator", "1") {
        if (address(escrow_) == address(0) || percentagePenaltyCoefficient_ == 0 || rewardCoefficient_ == 0) {
            revert AdjudicatorInvalidSetup();
        }
        escrow = escrow_;
        basePenalty = basePenalty_;
        penaltyHistoryCoefficient = penaltyHistoryCoefficient_;
        percentagePenaltyCoefficient = percentagePenaltyCoefficient_;
        rewardCoefficient = rewardCoefficient_;
    }

    /// @notice Judges a cfrag its node signed; slashes the node's staker if it is incorrect.
    /// Anyone may call. Reverts, without judging, if the evidence is malformed or any
    /// precomputed value in it is wrong (UmbralCFragCheck errors), if the signature is invalid
    /// (ECDSA errors), if the statement was judged before, or if the cfrag is incorrect and its
    /// signer was never bonded as an operator (a correct cfrag needs no staker: nothing happens).
    /// A proof that is not the statement's path to the signed root leads to another root, so
    /// the signature recovers another address: an unknown operator for an incorrect cfrag.
    /// @param evidence capsule ‖ cfrag ‖ keys ‖ precomputed values (docs/evidence.md)
    /// @param proof the sibling hashes from the statement's leaf up to the signed root (sorted-pair
    /// keccak256, OpenZeppelin's MerkleProof); empty when the run held one cfrag
    /// @param nodeSignature the operator's 65-byte signature over `batchDigest(root)`
    /// @return correct whether the cfrag was correct
    function evaluateCFrag(
        bytes calldata evidence,
        bytes32[] calldata proof,
        bytes calldata nodeSignature
    ) external returns (bool correct) {
        bytes32 leaf = statementLeaf(evidence);
        if (evaluated[leaf]) revert AdjudicatorAlreadyEvaluated(leaf);
        bytes32 digest = batchDigest(MerkleProof.processProofCalldata(proof, leaf));
        address operator = ECDSA.recoverCalldata(digest, nodeSignature);
        evaluated[leaf] = true;
        correct = UmbralCFragCheck.isCorrect(evidence);
        uint256 penalty = correct ? 0 : _slash(operator);
        emit CFragEvaluated(leaf, operator, msg.sender, correct, penalty);
    }

    /// @notice The Merkle leaf of the node's statement about the capsule, cfrag and keys in
    /// `evidence`: the EIP-712 struct hash of `Reencryption(capsuleHash, cfragHash, keysHash)`.
    /// It is computed here from the evidence, never taken from the caller, so an inner node of a
    /// tree (keccak256 of 64 bytes) cannot pass for a leaf (keccak256 of 128 bytes).
    /// Reverts (UmbralCFragBadEvidenceLength) unless `evidence` has the layout's length.
    function statementLeaf(bytes calldata evidence) public pure returns (bytes32 leaf) {
        UmbralCFragCheck.checkLength(evidence);
        (uint256 cfrag, uint256 keys, uint256 end) = (UmbralCFragCheck.CFRAG, UmbralCFragCheck.KEYS, UmbralCFragCheck.PRECOMPUTED);
        bytes32 typeHash = REENCRYPTION_TYPEHASH;
        assembly ("memory-safe") {
            // keccak256(abi.encode(TYPEHASH, keccak(capsule), keccak(cfrag), keccak(keys))), the
            // parts hashed from one copy instead of three slices and abi.encode (measured: 650 gas less)
            let m := mload(0x40)
            calldatacopy(m, evidence.offset, end)
            let capsuleHash := keccak256(m, cfrag)
            let cfragHash := keccak256(add(m, cfrag), sub(keys, cfrag))
            let keysHash := keccak256(add(m, keys), sub(end, keys))
            mstore(m, typeHash)
            mstore(add(m, 0x20), capsuleHash)
            mstore(add(m, 0x40), cfragHash)
            mstore(add(m, 0x60), keysHash)
            leaf := keccak256(m, 0x80)
        }
    }

    /// @notice The EIP-712 digest the node signs for a run of statements with this Merkle root.
    function batchDigest(bytes32 root) public view returns (bytes32) {
        bytes32 typeHash = REENCRYPTION_BATCH_TYPEHASH;
        bytes32 structHash;
        assembly ("memory-safe") {
            // keccak256(abi.encode(TYPEHASH, root)) in the scratch space
            mstore(0x00, typeHash)
            mstore(0x20, root)
            structHash := keccak256(0x00, 0x40)
        }
        return _hashTypedDataV4(structHash);
    }

    /// @notice How many times `staker` has been penalized: the escrow's slash count, kept in the
    /// staker's stake slot that a slash writes anyway (a counter here cost a fresh slot, 22k gas,
    /// on a first offence). It counts every slasher's penalties, key leaks included.
    function penaltyHistory(address staker) public view returns (uint256) {
        return escrow.slashCount(staker);
    }

    /// @notice The penalty the next offence of `staker` would cost, at its current stake.
    function penaltyFor(address staker) public view returns (uint256) {
        uint256 penalty = basePenalty + penaltyHistoryCoefficient * penaltyHistory(staker);
        uint256 cap = escrow.stakeOf(staker) / percentagePenaltyCoefficient;
        return penalty < cap ? penalty : cap;
    }

    /// @dev Asks the escrow to slash the staker of `operator`; returns the penalty asked.
    function _slash(address operator) private returns (uint256 penalty) {
        // the staker the operator was ever bonded to: unbonding does not escape earlier statements
        address staker = escrow.operatorStaker(operator);
        if (staker == address(0)) revert AdjudicatorUnknownOperator(operator);
        penalty = penaltyFor(staker);
        escrow.slash(staker, penalty, msg.sender, penalty / rewardCoefficient);
    }
}
