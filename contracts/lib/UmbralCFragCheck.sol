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
    uint256 internal constant EVIDENCE_LENGTH = 1197;

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
    // ---- precomputed: eight y coordinates (order of the *_REF constants), six products (x ‖ y), a byte
    uint256 internal constant PRECOMPUTED = 556;
    uint256 private constant PRODUCTS = 812; // z·E, h·e1, z·V, h·v1, z·U, h·u1
    uint256 private constant RECOVERY_ID = 1196;

    /// @dev A point reference: offset of the compressed point << 16 | offset of its y word.
    /// E and V have no y word: they are only ecrecover bases, for which x and the prefix suffice.
    uint256 private constant E1_REF = (E1 << 16) | 556;
    uint256 private constant V1_REF = (V1 << 16) | 588;
    uint256 private constant PRECURSOR_REF = (PRECURSOR << 16) | 620;
    uint256 private constant E2_REF = (E2 << 16) | 652;
    uint256 private constant V2_REF = (V2 << 16) | 684;
    uint256 private constant U1_REF = (U1 << 16) | 716;
    uint256 private constant U2_REF = (U2 << 16) | 748;
    uint256 private constant VERIFYING_KEY_REF = (VERIFYING_KEY << 16) | 780;
    /// @dev Stands for U where an equation otherwise takes its base from the capsule (E or V).
    uint256 private constant BASE_U = type(uint256).max;

    /// @dev Umbral's point U (hash_to_curve of "POINT_U"), an input of h; compressed prefix 03.
    uint256 private constant U_X = 0x079390d0fbe220fc34aab8ecbf49098098036820fadb98c03143e55db8ec73cd;
    uint256 private constant U_Y = 0x7ea50b219da86a70e8489413e4b9388afb63ac6f26e5ec2cfdd983b83f0e84e7;
    /// @dev uint32(18) ‖ "CFRAG_VERIFICATION", left-aligned: the 22-byte start of h's hash input.
    bytes32 private constant CHALLENGE_HEADER = hex"0000001243465241475f564552494649434154494f4e";

    /// @notice The evidence is not EVIDENCE_LENGTH bytes long.
    error UmbralCFragBadEvidenceLength(uint256 length);
    /// @notice A point of the capsule or the verifying key does not decode, or a capsule point has
    /// x ≥ n (probability 2^-128 for an honest capsule), at byte `offset`. These are not the
    /// node's to choose: such evidence cannot be judged.
    error UmbralCFragUndecodableInput(uint256 offset);
    /// @notice The y coordinate given for the point at `offset` is neither its y nor a proof
    /// that it does not decode.
    error UmbralCFragBadCoordinate(uint256 offset);
    /// @notice The product at `offset` is not on the curve or not the claimed multiple.
    error UmbralCFragBadProduct(uint256 offset);

    /// @notice Reverts unless `evidence` is EVIDENCE_LENGTH bytes long.
    function checkLength(bytes calldata evidence) internal pure {
        if (evidence.length != EVIDENCE_LENGTH) revert UmbralCFragBadEvidenceLength(evidence.length);
    }

    /// @notice Whether the cfrag in `evidence` is a correct re-encryption of its capsule under its
    /// keys. `evidence` must be EVIDENCE_LENGTH bytes long (see `checkLength`): every read below is
    /// at a constant offset inside it.
    function isCorrect(bytes calldata evidence) internal view returns (bool) {
        if (!_decodes(evidence, VERIFYING_KEY_REF)) revert UmbralCFragUndecodableInput(VERIFYING_KEY);
        if (
            !_decodes(evidence, E1_REF) ||
            !_decodes(evidence, V1_REF) ||
            !_decodes(evidence, PRECURSOR_REF) ||
            !_decodes(evidence, E2_REF) ||
            !_decodes(evidence, V2_REF) ||
            !_decodes(evidence, U1_REF) ||
            !_decodes(evidence, U2_REF)
        ) return false;
        uint256 z = _word(evidence, Z);
        if (z >= Secp256k1Check.N) return false;

        uint256 h = _challenge(evidence);
        return
            _equationHolds(evidence, PRODUCTS, E, E1_REF | (E2_REF << 32), z, h) &&
            _equationHolds(evidence, PRODUCTS + 128, V, V1_REF | (V2_REF << 32), z, h) &&
            _equationHolds(evidence, PRODUCTS + 256, BASE_U, U1_REF | (U2_REF << 32), z, h) &&
            _kfragSignatureVerifies(evidence);
    }

    /// @dev One equation of the proof: z·base = p2 + h·p1, with z·base and h·p1 read (and checked)
    /// at `products`. The base is the capsule point at `base` (E or V), or U when `base` is BASE_U;
    /// `refs` is p1's reference | p2's reference << 32.
    function _equationHolds(
        bytes calldata evidence,
        uint256 products,
        uint256 base,
        uint256 refs,
        uint256 z,
        uint256 h
    ) private view returns (bool) {
        (uint256 bx, uint256 by) = base == BASE_U ? (U_X, U_Y) : _capsulePoint(evidence, base);
        (uint256 zx, uint256 zy) = _product(evidence, products, bx, by, z);
        unchecked {
            return _isSumWithProduct(evidence, zx, zy, products + 64, refs, h); // constant offsets
        }
    }

    /// @dev (ax, ay) = p2 + h·p1, with h·p1 read (and checked) at `product`. (Split from
    /// _equationHolds to keep the stack shallow enough for the coverage instrumentation.)
    function _isSumWithProduct(
        bytes calldata evidence,
        uint256 ax,
        uint256 ay,
        uint256 product,
        uint256 refs,
        uint256 h
    ) private view returns (bool) {
        (uint256 px, uint256 py) = _point(evidence, refs & 0xffffffff);
        (uint256 hx, uint256 hy) = _product(evidence, product, px, py, h);
        (px, py) = _point(evidence, refs >> 32);
        return ax.isSum(ay, px, py, hx, hy);
    }

    /// @dev The product k·(px, py) written at `offset`, checked; (0, 0) when k = 0.
    function _product(
        bytes calldata evidence,
        uint256 offset,
        uint256 px,
        uint256 py,
        uint256 k
    ) private view returns (uint256 qx, uint256 qy) {
        qx = _word(evidence, offset);
        unchecked {
            qy = _word(evidence, offset + 32);
        }
        bool valid = k == 0 ? qx == 0 && qy == 0 : qx.isOnCurve(qy) && px.isProduct(py, k, qx, qy);
        if (!valid) revert UmbralCFragBadProduct(offset);
    }

    /// @dev h = hash-to-scalar of SHA-256(uint32(18) ‖ "CFRAG_VERIFICATION" ‖ E ‖ e1 ‖ e2 ‖ V ‖ v1 ‖
    /// v2 ‖ U ‖ u1 ‖ u2): the digest mod (n − 1), plus 1. The 319-byte input is assembled in
    /// free memory by one assembly block (part of a rewrite measured at 7 100 gas less, docs/gas.md).
    function _challenge(bytes calldata evidence) private view returns (uint256) {
        bytes32 digest;
        assembly ("memory-safe") {
            let m := mload(0x40)
            let base := evidence.offset
            mstore(m, CHALLENGE_HEADER)
            calldatacopy(add(m, 22), add(base, E), 33)
            calldatacopy(add(m, 55), add(base, E1), 33)
            calldatacopy(add(m, 88), add(base, E2), 33)
            calldatacopy(add(m, 121), add(base, V), 33)
            calldatacopy(add(m, 154), add(base, V1), 33)
            calldatacopy(add(m, 187), add(base, V2), 33)
            mstore8(add(m, 220), 3)
            mstore(add(m, 221), U_X)
            calldatacopy(add(m, 253), add(base, U1), 33)
            calldatacopy(add(m, 286), add(base, U2), 33)
            // A point in the compact form 05 ‖ x is hashed as the reference re-encodes it, 02 ‖ x.
            // Valid prefixes are 02, 03 and 05, so only 05 has bit 2 set: one test for all eight (U is 03).
            let prefixes := or(
                or(or(mload(add(m, 22)), mload(add(m, 55))), or(mload(add(m, 88)), mload(add(m, 121)))),
                or(or(mload(add(m, 154)), mload(add(m, 187))), or(mload(add(m, 253)), mload(add(m, 286))))
            )
            if and(shr(248, prefixes), 4) {
                for {
                    let q := add(m, 22)
                } lt(q, add(m, 319)) {
                    q := add(q, 33)
                } {
                    if eq(byte(0, mload(q)), 5) {
                        mstore8(q, 2)
                    }
                }
            }
            if iszero(staticcall(gas(), 0x02, m, 319, 0x00, 0x20)) {
                revert(0, 0)
            }
            digest := mload(0x00)
        }
        unchecked {
            return (uint256(digest) % (Secp256k1Check.N - 1)) + 1; // < n
        }
    }

    /// @dev ECDSA/SHA-256 over id ‖ u1 ‖ precursor ‖ 01 ‖ delegating key ‖ 01 ‖ receiving key
    /// (the kfrag's signature for the receiver), checked by ecrecover with the recovery id the
    /// evidence gives first, then the other one: the hint saves a call, it never decides.
    function _kfragSignatureVerifies(bytes calldata evidence) private view returns (bool) {
        uint256 r = _word(evidence, KFRAG_SIGNATURE);
        uint256 s = _word(evidence, KFRAG_SIGNATURE + 32);
        if (r == 0 || r >= Secp256k1Check.N || s == 0 || s >= Secp256k1Check.N) return false; // does not decode
        bytes32 digest;
        assembly ("memory-safe") {
            let m := mload(0x40)
            let base := evidence.offset
            calldatacopy(m, add(base, KFRAG_ID), 32)
            calldatacopy(add(m, 32), add(base, U1), 33)
            calldatacopy(add(m, 65), add(base, PRECURSOR), 33)
            mstore8(add(m, 98), 1)
            calldatacopy(add(m, 99), add(base, DELEGATING_KEY), 33)
            mstore8(add(m, 132), 1)
            calldatacopy(add(m, 133), add(base, RECEIVING_KEY), 33)
            // compact points (05 ‖ x) as the reference re-encodes them (02 ‖ x); see _challenge
            let prefixes := or(or(mload(add(m, 32)), mload(add(m, 65))), or(mload(add(m, 99)), mload(add(m, 133))))
            if and(shr(248, prefixes), 4) {
                normalize(add(m, 32))
                normalize(add(m, 65))
                normalize(add(m, 99))
                normalize(add(m, 133))
            }
            function normalize(q) {
                if eq(byte(0, mload(q)), 5) {
                    mstore8(q, 2)
                }
            }
            if iszero(staticcall(gas(), 0x02, m, 166, 0x00, 0x20)) {
                revert(0, 0)
            }
            digest := mload(0x00)
        }
        (uint256 kx, uint256 ky) = _point(evidence, VERIFYING_KEY_REF);
        address signer = kx.toAddress(ky);
        unchecked {
            uint256 v = 27 + (_byte(evidence, RECOVERY_ID) & 1); // 27 or 28
            return
                Secp256k1Check.recover(uint256(digest), v, r, s) == signer ||
                Secp256k1Check.recover(uint256(digest), 55 - v, r, s) == signer;
        }
    }

    /// @dev A capsule point as an ecrecover base: x and a y of the right parity (Secp256k1Check.
    /// isProduct reads only the parity of y when x < n). Whether x is on the curve is left to
    /// ecrecover, which recovers nothing otherwise, so the product check fails and reverts.
    function _capsulePoint(bytes calldata evidence, uint256 offset) private pure returns (uint256 x, uint256 parity) {
        uint256 prefix = _byte(evidence, offset);
        unchecked {
            x = _word(evidence, offset + 1);
        }
        if ((prefix != 2 && prefix != 3 && prefix != 5) || x >= Secp256k1Check.N) {
            revert UmbralCFragUndecodableInput(offset);
        }
        parity = prefix == 3 ? 1 : 0;
    }

    /// @dev Whether the compressed point `ref` decodes. Its y word is its y coordinate, or, when
    /// the prefix and x are well formed but no point has this x, a proof w² = −(x³ + 7) of that
    /// (w² = −(x³ + 7) has a root only if x³ + 7 has none, as p ≡ 3 mod 4); anything else reverts.
    /// As in the reference's decoding, x < p and the prefix is 02, 03, or 05: SEC1's "compact" tag,
    /// which the reference accepts as the even-y point (and re-encodes as 02 before hashing). One assembly block: this runs for ten points and a
    /// Solidity version measured about 160 gas more per point.
    function _decodes(bytes calldata evidence, uint256 ref) private pure returns (bool) {
        uint256 offset = ref >> 16;
        uint256 p = Secp256k1Check.P;
        uint256 status; // 0: does not decode (proved), 1: decodes, 2: the y word proves nothing
        assembly ("memory-safe") {
            let at := add(evidence.offset, offset)
            let prefix := shr(248, calldataload(at))
            let x := calldataload(add(at, 1))
            if and(or(or(eq(prefix, 2), eq(prefix, 3)), eq(prefix, 5)), lt(x, p)) {
                let y := calldataload(add(evidence.offset, and(ref, 0xffff)))
                let rhs := addmod(mulmod(mulmod(x, x, p), x, p), 7, p)
                let ySquared := mulmod(y, y, p)
                switch and(and(lt(y, p), eq(ySquared, rhs)), eq(and(y, 1), eq(prefix, 3)))
                case 1 {
                    status := 1
                }
                default {
                    status := shl(1, iszero(eq(ySquared, sub(p, rhs))))
                }
            }
        }
        if (status == 2) revert UmbralCFragBadCoordinate(offset);
        return status == 1;
    }

    /// @dev The point `ref`, known to decode: x from its compressed form, y from its y word.
    function _point(bytes calldata evidence, uint256 ref) private pure returns (uint256, uint256) {
        unchecked {
            return (_word(evidence, (ref >> 16) + 1), _word(evidence, ref & 0xffff));
        }
    }

    /// @dev The 32 bytes at `offset` (callers only pass constant offsets inside the evidence).
    function _word(bytes calldata evidence, uint256 offset) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(evidence.offset, offset))
        }
    }

    function _byte(bytes calldata evidence, uint256 offset) private pure returns (uint256) {
        return _word(evidence, offset) >> 248;
    }
}
