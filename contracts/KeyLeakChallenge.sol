// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {StakingEscrow} from "./StakingEscrow.sol";
import {PolicyManager} from "./PolicyManager.sol";
import {Secp256k1Check} from "./lib/Secp256k1Check.sol";

/// @title Key-leak challenge
/// @notice Anyone holding the key scalar `rk` of a node's kfrag proves the leak here and the
/// node is punished. Custody: when a node accepts a share it signs, with its operator key, an
/// EIP-712 receipt `KfragReceipt(policyId, commitmentHash)` where commitmentHash =
/// keccak256(x ‖ y) of the kfrag's commitment point u1 = rk·U. A leak is proven by revealing an
/// `rk` with rk·U = u1 (checked with one ecrecover) together with that receipt. The reveal is
/// bound to its sender by a commitment made at least one block earlier, so it cannot be
/// front-run.
/// @dev Payouts for a policy of length T periods and fee f per node, challenged after t served
/// periods: the owner gets (1 − t/T)·f back (the node's revocation refund), the challenger
/// α·f·t/T, and c + (1 − α)·f·t/T of the node's stake is burned, with the collateral
/// c = min(stakePerShare, (1 − α)·f·t/T) so that framing a node never costs its owner less
/// than it destroys (docs/key-leak.md).
contract KeyLeakChallenge is EIP712 {
    bytes32 public constant RECEIPT_TYPEHASH = keccak256("KfragReceipt(bytes16 policyId,bytes32 commitmentHash)");
    uint256 public constant BPS = 10_000;
    /// @notice Umbral's point U (test/vectors/umbral/vectors_parameters.json): x, and y's parity.
    uint256 internal constant U_X = 0x079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd;
    uint256 internal constant U_Y_PARITY = 1;

    StakingEscrow public immutable escrow;
    PolicyManager public immutable policyManager;
    /// @notice α, the challenger's share of the served fee, in basis points (below 10 000).
    uint256 public immutable alphaBps;

    /// @notice The block of each pending challenge commitment.
    mapping(bytes32 commitment => uint256 blockNumber) public commitments;

    event ChallengeCommitted(bytes32 indexed commitment, address indexed challenger);
    /// @param fee the node's fee for the whole policy (f)
    /// @param servedFee the fee of the periods served before the revocation (f·t/T)
    /// @param challengerReward α·f·t/T, paid from the node's stake
    /// @param collateral c, burned with (1 − α)·f·t/T
    /// @param taken the stake actually taken (capped at the node's stake)
    event LeakProven(
        bytes16 indexed policyId,
        address indexed node,
        address indexed challenger,
        uint256 fee,
        uint256 servedFee,
        uint256 challengerReward,
        uint256 collateral,
        uint256 taken
    );

    error InvalidParams();
    error UnknownCommitment(bytes32 commitment);
    error RevealTooEarly(uint256 committedAt);
    error ReceiptNotByNode(address signer, address node);
    error KeyMismatch(bytes32 commitmentHash);
    error InvalidKey();

    /// @param escrow_ the StakingEscrow, where this contract must hold the slasher role
    /// @param policyManager_ the PolicyManager, where this contract must be the key-leak contract
    /// @param alphaBps_ α in basis points, below 10 000
    constructor(
        StakingEscrow escrow_,
        PolicyManager policyManager_,
        uint256 alphaBps_
    ) EIP712("NKMS KeyLeakChallenge", "1") {
        if (address(escrow_) == address(0) || address(policyManager_) == address(0) || alphaBps_ >= BPS) {
            revert InvalidParams();
        }
        escrow = escrow_;
        policyManager = policyManager_;
        alphaBps = alphaBps_;
    }

    /// @notice Step 1: commit to a challenge with
    /// keccak256(abi.encode(challenger, policyId, position, key, salt)). Anyone.
    function commit(bytes32 commitment) external {
        if (commitments[commitment] != 0) revert InvalidParams();
        commitments[commitment] = block.number;
        emit ChallengeCommitted(commitment, msg.sender);
    }

    /// @notice Step 2, at least one block later: reveal the leaked key scalar of the node at
    /// `position` of policy `policyId`, with the node's receipt for the kfrag's commitment.
    /// The node is revoked from the policy (the owner is refunded), its stake slashed and the
    /// caller rewarded. Only the committer can reveal; each commitment works once.
    /// @param key the kfrag's key scalar rk (0 < rk < n)
    /// @param salt the salt of the commitment
    /// @param commitmentHash keccak256(x ‖ y) of the kfrag's commitment point u1, as in the receipt
    /// @param receipt the node operator's EIP-712 signature of KfragReceipt(policyId, commitmentHash)
    function reveal(
        bytes16 policyId,
        uint256 position,
        uint256 key,
        bytes32 salt,
        bytes32 commitmentHash,
        bytes calldata receipt
    ) external {
        _consumeCommitment(keccak256(abi.encode(msg.sender, policyId, position, key, salt)));
        address node = policyManager.nodeAt(policyId, position);
        address signer = ECDSA.recover(receiptDigest(policyId, commitmentHash), receipt);
        if (escrow.operatorStaker(signer) != node) revert ReceiptNotByNode(signer, node);
        if (keyCommitmentAddress(key) != address(uint160(uint256(commitmentHash)))) revert KeyMismatch(commitmentHash);
        _punish(policyId, position, node);
    }

    /// @notice The Ethereum address of key·U (the last 20 bytes of keccak256(x ‖ y)), by one
    /// ecrecover: ecrecover(0, 27 + parity(U.y), U.x, key·U.x mod n) recovers (key·U.x / U.x)·U.
    function keyCommitmentAddress(uint256 key) public view returns (address) {
        if (key == 0 || key >= Secp256k1Check.N) revert InvalidKey();
        return Secp256k1Check.recover(0, 27 + U_Y_PARITY, U_X, mulmod(key, U_X, Secp256k1Check.N));
    }

    /// @notice The EIP-712 digest a node's operator signs when it accepts a kfrag.
    function receiptDigest(bytes16 policyId, bytes32 commitmentHash) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(RECEIPT_TYPEHASH, policyId, commitmentHash)));
    }

    function _consumeCommitment(bytes32 commitment) private {
        uint256 committedAt = commitments[commitment];
        if (committedAt == 0) revert UnknownCommitment(commitment);
        if (block.number <= committedAt) revert RevealTooEarly(committedAt);
        delete commitments[commitment];
    }

    /// @dev Revokes the node (the owner gets (1 − t/T)·f), slashes c + f·t/T of its stake, of
    /// which α·f·t/T goes to the challenger and the rest is burned.
    function _punish(bytes16 policyId, uint256 position, address node) private {
        (, uint256 fee, uint256 servedFee) = policyManager.revokeLeakedNode(policyId, position);
        (uint256 reward, uint256 collateral) = payouts(servedFee, escrow.stakePerShare());
        uint256 taken = escrow.slash(node, collateral + servedFee, msg.sender, reward);
        emit LeakProven(policyId, node, msg.sender, fee, servedFee, reward, collateral, taken);
    }

    /// @notice The challenger's reward α·f·t/T and the collateral c = min(cap, (1 − α)·f·t/T)
    /// for a served fee f·t/T.
    function payouts(uint256 servedFee, uint256 collateralCap) public view returns (uint256 reward, uint256 collateral) {
        reward = (servedFee * alphaBps) / BPS;
        collateral = Math.min(collateralCap, servedFee - reward);
    }
}
