// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Secp256k1Check} from "./Secp256k1Check.sol";

/// @title Judges an Umbral cfrag from evidence (byte layout: docs/evidence.md)
/// @notice The evidence is the capsule and cfrag in their simple forms, the three public keys the
/// node vouched for, and values precomputed off-chain (y coordinates, scalar products, a recovery
/// id) that let the contract check the cfrag with ecrecover and field arithmetic only.
/// A cfrag is correct when, as in the reference implementation's CapsuleFrag.verify:
/// every field decodes; with h = the CFRAG_VERIFICATION hash, z·E = e2 + h·e1, z·V = v2 + h·v1
/// and z·U = u2 + h·u1; and the kfrag signature in the proof verifies under the verifying key for
/// the kfrag id, commitment u1, precursor, delegating key and receiving key.
/// Every precomputed value is checked; a wrong one makes `isCorrect` revert, never decide.
library UmbralCFragCheck {
    using Secp256k1Check for uint256;

    /// @notice Length of the evidence.
    uint256 internal constant EVIDENCE_LENGTH = 1261;

    // ---- capsule, simple form (98 bytes): E ‖ V ‖ s
    uint256 internal constant CAPSULE = 0;
    uint256 private constant E = 0;
    uint256 private constant V = 33;
    // ---- cfrag, simple form (359 bytes)
    uint256 internal constant CFRAG = 98;
    uint256 private constant E1 = 98;
    uint256 private constant V1 = 131;
    uint256 private constant KFRAG_ID = 164;
    uint256 private constant PRECURSOR = 196;
    uint256 private constant E2 = 229;
    uint256 private constant V2 = 262;
    uint256 private constant U1 = 295; // kfrag commitment
    uint256 private constant U2 = 328; // kfrag proof of knowledge
    uint256 private constant Z = 361;
    uint256 private constant KFRAG_SIGNATURE = 393; // r ‖ s, ECDSA over SHA-256
    // ---- keys the node vouched for: verifying ‖ delegating ‖ receiving (33 bytes each)
    uint256 internal constant KEYS = 457;
    uint256 private constant VERIFYING_KEY = 457;
    uint256 private constant DELEGATING_KEY = 490;
    uint256 private constant RECEIVING_KEY = 523;
    // ---- precomputed: y coordinates in the order below, then six products (x ‖ y), then a byte
    uint256 internal constant PRECOMPUTED = 556;
    uint256 private constant Y = 556;
    uint256 private constant PRODUCTS = 876; // z·E, h·e1, z·V, h·v1, z·U, h·u1
    uint256 private constant RECOVERY_ID = 1260;

    /// @dev Umbral's point U (hash_to_curve of "POINT_U"), an input of h.
    uint256 private constant U_X = 0x079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd;
    uint256 private constant U_Y = 0x7ea50b219da86a70e8489413e4b9388afb63ac6f26e5ec2cfdd983b83f0e84e7;
    bytes private constant U_COMPRESSED = hex"03079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd";

    /// @notice The evidence is not EVIDENCE_LENGTH bytes long.
    error UmbralCFragBadEvidenceLength(uint256 length);
    /// @notice A point of the capsule or the verifying key does not decode (at byte `offset`).
    /// These are not the node's to choose: such evidence cannot be judged.
    error UmbralCFragUndecodableInput(uint256 offset);
    /// @notice The y coordinate given for the point at `offset` is neither its y nor a proof
    /// that it does not decode.
    error UmbralCFragBadCoordinate(uint256 offset);
    /// @notice The product at `offset` is not on the curve or not the claimed multiple.
    error UmbralCFragBadProduct(uint256 offset);

    /// @dev Decoded points, in the order of their y coordinates in the evidence.
    struct Points {
        uint256[2] e;
        uint256[2] v;
        uint256[2] e1;
        uint256[2] v1;
        uint256[2] e2;
        uint256[2] v2;
        uint256[2] u1;
        uint256[2] u2;
        uint256[2] verifyingKey;
    }

    /// @notice Reverts unless `evidence` is EVIDENCE_LENGTH bytes long.
    function checkLength(bytes calldata evidence) internal pure {
        if (evidence.length != EVIDENCE_LENGTH) revert UmbralCFragBadEvidenceLength(evidence.length);
    }

    /// @notice Whether the cfrag in `evidence` is a correct re-encryption of its capsule under its
    /// keys. `evidence` must be EVIDENCE_LENGTH bytes long (see `checkLength`).
    function isCorrect(bytes calldata evidence) internal view returns (bool) {
        Points memory pts;
        pts.e = _inputPoint(evidence, E, 0);
        pts.v = _inputPoint(evidence, V, 1);
        pts.verifyingKey = _inputPoint(evidence, VERIFYING_KEY, 9);
        bool decodes;
        (decodes, pts.e1) = _cfragPoint(evidence, E1, 2);
        if (!decodes) return false;
        (decodes, pts.v1) = _cfragPoint(evidence, V1, 3);
        if (!decodes) return false;
        (decodes, ) = _cfragPoint(evidence, PRECURSOR, 4);
        if (!decodes) return false;
        (decodes, pts.e2) = _cfragPoint(evidence, E2, 5);
        if (!decodes) return false;
        (decodes, pts.v2) = _cfragPoint(evidence, V2, 6);
        if (!decodes) return false;
        (decodes, pts.u1) = _cfragPoint(evidence, U1, 7);
        if (!decodes) return false;
        (decodes, pts.u2) = _cfragPoint(evidence, U2, 8);
        if (!decodes) return false;
        uint256 z = _word(evidence, Z);
        if (z >= Secp256k1Check.N) return false;

        uint256 h = _challenge(evidence);
        return
            _equationHolds(evidence, PRODUCTS, pts.e, z, pts.e1, h, pts.e2) &&
            _equationHolds(evidence, PRODUCTS + 128, pts.v, z, pts.v1, h, pts.v2) &&
            _equationHolds(evidence, PRODUCTS + 256, [U_X, U_Y], z, pts.u1, h, pts.u2) &&
            _kfragSignatureVerifies(evidence, pts.verifyingKey);
    }

    /// @dev z·base = p2 + h·p1, with z·base and h·p1 read (and checked) at `products`.
    function _equationHolds(
        bytes calldata evidence,
        uint256 products,
        uint256[2] memory base,
        uint256 z,
        uint256[2] memory p1,
        uint256 h,
        uint256[2] memory p2
    ) private view returns (bool) {
        uint256 zx = _word(evidence, products);
        uint256 zy = _word(evidence, products + 32);
        if (z == 0) {
            if (zx != 0 || zy != 0) revert UmbralCFragBadProduct(products); // 0·base is the identity
        } else if (!zx.isOnCurve(zy) || !base[0].isProduct(base[1], z, zx, zy)) {
            revert UmbralCFragBadProduct(products);
        }
        uint256 hx = _word(evidence, products + 64);
        uint256 hy = _word(evidence, products + 96);
        if (!hx.isOnCurve(hy) || !p1[0].isProduct(p1[1], h, hx, hy)) revert UmbralCFragBadProduct(products + 64);
        return zx.isSum(zy, p2[0], p2[1], hx, hy);
    }

    /// @dev h = hash-to-scalar of SHA-256(len(tag) ‖ tag ‖ E ‖ e1 ‖ e2 ‖ V ‖ v1 ‖ v2 ‖ U ‖ u1 ‖ u2).
    function _challenge(bytes calldata evidence) private pure returns (uint256) {
        bytes memory firstHalf = abi.encodePacked(
            uint32(18),
            "CFRAG_VERIFICATION",
            evidence[E:E + 33],
            evidence[E1:E1 + 33],
            evidence[E2:E2 + 33],
            evidence[V:V + 33]
        );
        bytes32 digest = sha256(
            abi.encodePacked(
                firstHalf,
                evidence[V1:V1 + 33],
                evidence[V2:V2 + 33],
                U_COMPRESSED,
                evidence[U1:U1 + 33],
                evidence[U2:U2 + 33]
            )
        );
        return (uint256(digest) % (Secp256k1Check.N - 1)) + 1;
    }

    /// @dev ECDSA/SHA-256 over id ‖ u1 ‖ precursor ‖ 01 ‖ delegating key ‖ 01 ‖ receiving key,
    /// checked by ecrecover with the given recovery id first, then the other one.
    function _kfragSignatureVerifies(bytes calldata evidence, uint256[2] memory key) private pure returns (bool) {
        uint256 r = _word(evidence, KFRAG_SIGNATURE);
        uint256 s = _word(evidence, KFRAG_SIGNATURE + 32);
        if (r == 0 || r >= Secp256k1Check.N || s == 0 || s >= Secp256k1Check.N) return false; // does not decode
        bytes32 digest = sha256(
            abi.encodePacked(
                evidence[KFRAG_ID:KFRAG_ID + 32],
                evidence[U1:U1 + 33],
                evidence[PRECURSOR:PRECURSOR + 33],
                hex"01",
                evidence[DELEGATING_KEY:DELEGATING_KEY + 33],
                hex"01",
                evidence[RECEIVING_KEY:RECEIVING_KEY + 33]
            )
        );
        address signer = key[0].toAddress(key[1]);
        uint8 v = 27 + (uint8(evidence[RECOVERY_ID]) & 1);
        return
            ecrecover(digest, v, bytes32(r), bytes32(s)) == signer ||
            ecrecover(digest, 55 - v, bytes32(r), bytes32(s)) == signer;
    }

    /// @dev A compressed point that must decode, with its y coordinate at Y + 32·`index`.
    function _inputPoint(bytes calldata evidence, uint256 offset, uint256 index) private pure returns (uint256[2] memory) {
        (bool decodes, uint256[2] memory point) = _cfragPoint(evidence, offset, index);
        if (!decodes) revert UmbralCFragUndecodableInput(offset);
        return point;
    }

    /// @dev A compressed point and whether it decodes; the word at Y + 32·`index` is its y
    /// coordinate, or, when the prefix and x are well formed but x is no point's, a proof of that.
    function _cfragPoint(
        bytes calldata evidence,
        uint256 offset,
        uint256 index
    ) private pure returns (bool decodes, uint256[2] memory point) {
        uint256 prefix = uint8(evidence[offset]);
        uint256 x = _word(evidence, offset + 1);
        if ((prefix != 2 && prefix != 3) || x >= Secp256k1Check.P) return (false, point);
        uint256 y = _word(evidence, Y + 32 * index);
        if (x.isOnCurve(y) && (y & 1) == prefix - 2) return (true, [x, y]);
        if (x.provesNoPoint(y)) return (false, point);
        revert UmbralCFragBadCoordinate(offset);
    }

    function _word(bytes calldata evidence, uint256 offset) private pure returns (uint256) {
        return uint256(bytes32(evidence[offset:offset + 32]));
    }
}
