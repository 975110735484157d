// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Secp256k1Check} from "../lib/Secp256k1Check.sol";

/// @title Exposes Secp256k1Check to its tests
contract Secp256k1CheckHarness {
    function isOnCurve(uint256 x, uint256 y) external pure returns (bool) {
        return Secp256k1Check.isOnCurve(x, y);
    }

    function isProduct(uint256 px, uint256 py, uint256 k, uint256 qx, uint256 qy) external view returns (bool) {
        return Secp256k1Check.isProduct(px, py, k, qx, qy);
    }

    function isSum(uint256 ax, uint256 ay, uint256 px, uint256 py, uint256 qx, uint256 qy) external pure returns (bool) {
        return Secp256k1Check.isSum(ax, ay, px, py, qx, qy);
    }

    function toAddress(uint256 x, uint256 y) external pure returns (address) {
        return Secp256k1Check.toAddress(x, y);
    }

    function recover(uint256 hash, uint256 v, uint256 r, uint256 s) external view returns (address) {
        return Secp256k1Check.recover(hash, v, r, s);
    }
}
