// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Checks of claimed secp256k1 facts, without doing the curve arithmetic on-chain
/// @notice Points are affine (x, y) pairs of field elements; the identity has no affine form and
/// is written (0, 0), which is never on the curve (7 is not a square modulo p).
/// Each function decides a claim exactly: it never answers "true" for a false claim nor "false"
/// for a true one. Where a claim cannot be checked with the precompiles it reverts instead.
library Secp256k1Check {
    /// @notice The field modulus p.
    uint256 internal constant P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    /// @notice The group order n.
    uint256 internal constant N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /// @notice Neither the point nor the claimed product has an x coordinate below n, so ecrecover
    /// cannot check k·point = product. Happens by chance with probability about 2^-256 per claim;
    /// forcing it means finding such a pair, about 2^128 work when either side is hash-derived.
    error Secp256k1UncheckableProduct(uint256 pointX, uint256 productX);

    /// @notice Whether (x, y) is a point of the curve y² = x³ + 7 (coordinates reduced).
    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool on) {
        assembly ("memory-safe") {
            let rhs := addmod(mulmod(mulmod(x, x, P), x, P), 7, P)
            on := and(and(lt(x, P), lt(y, P)), eq(mulmod(y, y, P), rhs))
        }
    }

    /// @notice Whether `product` = k·`point`, for on-curve `point` and `product` and 0 < k < n.
    /// Uses ecrecover(0, 27 + parity(R.y), R.x, k·R.x mod n) = address(k·R), with R = `point`, or
    /// R = `product` and k⁻¹ when point.x ≥ n (a point a dishonest node may choose on purpose).
    /// When point.x < n only the parity of `py` is read, so a caller may pass the parity alone.
    /// @dev Sound up to a collision of 160-bit addresses between k·point and `product`.
    function isProduct(uint256 px, uint256 py, uint256 k, uint256 qx, uint256 qy) internal view returns (bool) {
        if (px < N) return _recovers(px, py, mulmod(k, px, N), qx, qy);
        if (qx < N) return _recovers(qx, qy, mulmod(_inverseModN(k), qx, N), px, py);
        revert Secp256k1UncheckableProduct(px, qx);
    }

    /// @notice Whether A = P + Q, for on-curve P and Q and an on-curve or identity (0, 0) A.
    /// @dev No inversion: −A must be the third point where the line through P and Q (the tangent
    /// when P = Q) meets the curve. When −A coincides with P or Q, that happens only if the line
    /// is tangent there, which is checked too, so no case is left undecided.
    function isSum(uint256 ax, uint256 ay, uint256 px, uint256 py, uint256 qx, uint256 qy) internal pure returns (bool) {
        // coordinates are reduced (< P), so P − c never underflows
        unchecked {
            bool aIsIdentity = ax == 0;
            if (px == qx) {
                if (py != qy) return aIsIdentity; // Q = −P
                // Q = P: the sum is 2P, never the identity nor ±P (the group has prime order > 3)
                if (aIsIdentity || ax == px) return false;
                return _slopeIsTangent(addmod(P - ay, P - py, P), addmod(ax, P - px, P), px, py);
            }
            if (aIsIdentity) return false;
            uint256 dx = addmod(qx, P - px, P);
            uint256 dy = addmod(qy, P - py, P);
            // −A = (ax, p − ay) on the line through P and Q
            if (mulmod(dy, addmod(ax, P - px, P), P) != mulmod(addmod(P - ay, P - py, P), dx, P)) return false;
            if (ax != px && ax != qx) return true;
            // −A is P (or Q): P + Q = −P only if the line is tangent at P (Q = −2P), likewise for Q
            return ax == px ? _slopeIsTangent(dy, dx, px, py) : _slopeIsTangent(dy, dx, qx, qy);
        }
    }

    /// @notice The Ethereum address of the point (x, y): the last 20 bytes of keccak256(x ‖ y).
    function toAddress(uint256 x, uint256 y) internal pure returns (address a) {
        assembly ("memory-safe") {
            mstore(0x00, x)
            mstore(0x20, y)
            a := and(keccak256(0x00, 0x40), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    /// @notice ecrecover without memory allocation; address(0) when nothing is recovered. Reverts
    /// if the precompile call itself fails (out of gas), so a starved call cannot pass for an
    /// invalid signature.
    function recover(uint256 hash, uint256 v, uint256 r, uint256 s) internal view returns (address a) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, hash)
            mstore(add(m, 0x20), v)
            mstore(add(m, 0x40), r)
            mstore(add(m, 0x60), s)
            mstore(0x00, 0)
            // the precompile fails only when out of gas; never read that as "no signer"
            if iszero(staticcall(gas(), 0x01, m, 0x80, 0x00, 0x20)) {
                revert(0, 0)
            }
            a := mload(0x00)
        }
    }

    /// @dev Whether the slope dy/dx equals the tangent's slope 3x²/(2y) at (x, y).
    function _slopeIsTangent(uint256 dy, uint256 dx, uint256 x, uint256 y) private pure returns (bool) {
        return mulmod(dy, mulmod(2, y, P), P) == mulmod(mulmod(3, mulmod(x, x, P), P), dx, P);
    }

    /// @dev ecrecover with a zero message hash returns the address of (s / r.x)·r.
    function _recovers(uint256 rx, uint256 ry, uint256 s, uint256 qx, uint256 qy) private view returns (bool) {
        uint256 v;
        unchecked {
            v = 27 + (ry & 1);
        }
        return recover(0, v, rx, s) == toAddress(qx, qy);
    }

    /// @dev k^(n−2) mod n by the modexp precompile (k ≠ 0, n prime).
    function _inverseModN(uint256 k) private view returns (uint256) {
        (, bytes memory result) = address(0x05).staticcall(abi.encode(32, 32, 32, k, N - 2, N));
        return abi.decode(result, (uint256));
    }
}
