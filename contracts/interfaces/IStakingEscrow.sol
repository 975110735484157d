// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title What the slashing contracts (Adjudicator, KeyLeakChallenge) need from the StakingEscrow.
/// @notice The escrow implements this; a slasher is a contract holding the escrow's slasher role.
interface IStakingEscrow {
    /// @notice Emitted when a slasher takes stake from a staker.
    /// @param staker whose stake was reduced
    /// @param penalty how much stake was actually taken (capped at the stake)
    /// @param reporter who received `reward`
    /// @param reward the part of the penalty paid to `reporter`; the rest is burned
    event Slashed(address indexed staker, uint256 penalty, address indexed reporter, uint256 reward);

    /// @notice The staker that bonded `operator`, or address(0) if none is bonded to it.
    function stakerFromOperator(address operator) external view returns (address);

    /// @notice The staker `operator` was ever bonded to (kept after unbonding, so statements an
    /// operator signed stay attributable), or address(0).
    function operatorStaker(address operator) external view returns (address);

    /// @notice How many times `staker` has been slashed, by any slasher (penalty history).
    function slashCount(address staker) external view returns (uint256);

    /// @notice The operator bonded by `staker`, or address(0).
    function operatorOf(address staker) external view returns (address);

    /// @notice All NKMS of `staker` held by the escrow that a slash can reach (locked or not,
    /// including settled but unwithdrawn rewards).
    function stakeOf(address staker) external view returns (uint256);

    /// @notice Takes up to `penalty` from `staker` (never more than `stakeOf(staker)`), pays
    /// min(`reward`, taken) to `reporter` and burns the rest. Only callable by slashers.
    /// @return taken the stake actually taken
    function slash(address staker, uint256 penalty, address reporter, uint256 reward) external returns (uint256 taken);
}
