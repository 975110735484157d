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
    function isOnCurve(uint256 x, uint256 y) internal pure returns (bool) {
        return x < P && y < P && mulmod(y, y, P) == _curveRhs(x);
    }

    /// @notice Whether `witness` proves that no point has the x coordinate `x` (x < p):
    /// witness² = −(x³ + 7). As p ≡ 3 (mod 4), −1 is not a square, so x³ + 7 (never 0 on this
    /// curve) is a square exactly when its negation is not.
    function provesNoPoint(uint256 x, uint256 witness) internal pure returns (bool) {
        return mulmod(witness, witness, P) == P - _curveRhs(x);
    }

    /// @notice Whether `product` = k·`point`, for on-curve `point` and `product` and 0 < k < n.
    /// Uses ecrecover(0, 27 + parity(R.y), R.x, k·R.x mod n) = address(k·R), with R = `point`, or
    /// R = `product` and k⁻¹ when point.x ≥ n (a point a dishonest node may choose on purpose).
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

    /// @notice The Ethereum address of the point (x, y): the last 20 bytes of keccak256(x ‖ y).
    function toAddress(uint256 x, uint256 y) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(x, y)))));
    }

    /// @dev Whether the slope dy/dx equals the tangent's slope 3x²/(2y) at (x, y).
    function _slopeIsTangent(uint256 dy, uint256 dx, uint256 x, uint256 y) private pure returns (bool) {
        return mulmod(dy, mulmod(2, y, P), P) == mulmod(mulmod(3, mulmod(x, x, P), P), dx, P);
    }

    function _curveRhs(uint256 x) private pure returns (uint256) {
        return addmod(mulmod(mulmod(x, x, P), x, P), 7, P);
    }

    /// @dev ecrecover with a zero message hash returns the address of (s / r.x)·r.
    function _recovers(uint256 rx, uint256 ry, uint256 s, uint256 qx, uint256 qy) private pure returns (bool) {
        return ecrecover(bytes32(0), uint8(27 + (ry & 1)), bytes32(rx), bytes32(s)) == toAddress(qx, qy);
    }

    /// @dev k^(n−2) mod n by the modexp precompile (k ≠ 0, n prime).
    function _inverseModN(uint256 k) private view returns (uint256) {
        (, bytes memory result) = address(0x05).staticcall(abi.encode(32, 32, 32, k, N - 2, N));
        return abi.decode(result, (uint256));
    }
}
