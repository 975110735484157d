// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStakingEscrow} from "../interfaces/IStakingEscrow.sol";

/// @title Test double of the StakingEscrow for the Adjudicator's unit tests
/// @notice Keeps stakes and paid rewards in plain mappings; `slash` follows the interface:
/// takes at most the stake, pays min(reward, taken) to the reporter, "burns" the rest.
contract EscrowForAdjudicatorTest is IStakingEscrow {
    mapping(address operator => address) public stakerFromOperator;
    mapping(address operator => address) public operatorStaker;
    mapping(address staker => address) public operatorOf;
    mapping(address staker => uint256) public stakeOf;
    mapping(address reporter => uint256) public rewardOf;
    mapping(address staker => uint256) public slashCount;
    mapping(address slasher => bool) public isSlasher;
    uint256 public burned;

    error EscrowForAdjudicatorTestNotSlasher(address caller);

    function setSlasher(address slasher, bool allowed) external {
        isSlasher[slasher] = allowed;
    }

    function setStake(address staker, address operator, uint256 stake) external {
        stakerFromOperator[operator] = staker;
        operatorStaker[operator] = staker;
        operatorOf[staker] = operator;
        stakeOf[staker] = stake;
    }

    /// @notice Unbonds the staker's operator; the operator stays attributed to the staker, as in the escrow.
    function unbond(address staker) external {
        delete stakerFromOperator[operatorOf[staker]];
        delete operatorOf[staker];
    }

    function slash(address staker, uint256 penalty, address reporter, uint256 reward) external returns (uint256 taken) {
        if (!isSlasher[msg.sender]) revert EscrowForAdjudicatorTestNotSlasher(msg.sender);
        taken = penalty < stakeOf[staker] ? penalty : stakeOf[staker];
        uint256 paid = reward < taken ? reward : taken;
        stakeOf[staker] -= taken;
        slashCount[staker] += 1;
        rewardOf[reporter] += paid;
        burned += taken - paid;
        emit Slashed(staker, taken, reporter, paid);
    }
}
