// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title NKMS token
/// @notice The staking and fee token of NKMS. The whole maximum supply is minted once, at
/// deployment, to `holder`; there is no mint function, so the supply can never exceed it.
/// The unissued reward reserve is moved to the StakingEscrow at deployment, which pays
/// availability rewards out of it. Burning (of slashed stake, for example) only lowers the supply.
contract NKMSToken is ERC20, ERC20Burnable, ERC20Permit {
    /// @notice The fixed maximum supply, in the smallest unit (18 decimals).
    uint256 public immutable maxSupply;

    /// @notice A zero maximum supply or holder was given at deployment.
    error NKMSTokenInvalidSetup();

    /// @param maxSupply_ the whole supply, all of it minted to `holder`
    /// @param holder the account that receives the supply (the deployer or a distribution contract)
    constructor(uint256 maxSupply_, address holder) ERC20("NKMS", "NKMS") ERC20Permit("NKMS") {
        if (maxSupply_ == 0 || holder == address(0)) revert NKMSTokenInvalidSetup();
        maxSupply = maxSupply_;
        _mint(holder, maxSupply_);
    }
}
