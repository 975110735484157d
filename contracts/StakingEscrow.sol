// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IStakingEscrow} from "./interfaces/IStakingEscrow.sol";

/// @title NKMS staking escrow
/// @notice Holds stakes and the unissued reward reserve. A staker locks NKMS for a number of
/// periods, bonds an operator (its node's hot key), and the operator commits to each next
/// period; every committed period earns a share of that period's issuance in proportion to the
/// locked stake, weighted by the remaining lock. Rewards are settled lazily, when the staker
/// next commits or withdraws: a staker has at most two committed periods not yet paid.
/// @dev One stake per staker (no sub-stakes). With wind-down on, the lock ends at a fixed period;
/// with it off, the remaining lock stays constant and the end slides forward. Commitments are
/// also recorded in a bitmap (one bit per period) that the PolicyManager reads to pay fees only
/// for committed periods.
// solhint-disable-next-line max-states-count
contract StakingEscrow is IStakingEscrow, Ownable2Step, Pausable {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice Parameters fixed at deployment (the reward schedule is a promise to stakers).
    struct Params {
        uint32 periodLength; // seconds
        uint32 minLockPeriods; // a lock (new or added to) lasts at least this many periods
        uint32 minBondingPeriods; // an operator stays bonded at least this many periods
        uint96 issuancePerPeriod; // s0: issuance of a period while the reserve is full
        uint32 k1; // lock coefficient (k1 + min(D, kmax)) / k2
        uint32 k2;
        uint32 kmax;
        uint96 minStake; // initial governed values
        uint96 maxStake;
        uint96 stakePerShare;
    }

    /// @dev One slot: everything a commitment or a new policy share checks.
    struct Stake {
        uint96 locked; // the locked part of the staker's NKMS while the lock lasts
        uint32 lockEnd; // wind-down: first unlocked period; otherwise: the remaining lock in periods
        bool windDown;
        bool bonded; // an operator is bonded
        uint16 shares; // policy shares held (PolicyManager)
        uint32 index; // 1-based position in `stakers`, 0 = never deposited
        uint32 sharesUntil; // the latest end period of the policies it took shares of
        uint32 slashes; // times slashed: the Adjudicator's penalty history, kept in this warm slot
    }

    /// @dev The (at most two) committed periods not yet rewarded, and the stake counted in each.
    struct Pending {
        uint32 period1;
        uint96 amount1;
        uint32 period2;
        uint96 amount2;
    }

    /// @dev Cold state: changes only when the operator is bonded.
    struct Bond {
        address operator;
        uint32 since; // period of the last bonding change
    }

    IERC20 public immutable token;
    uint32 public immutable periodLength;
    uint32 public immutable minLockPeriods;
    uint32 public immutable minBondingPeriods;
    uint96 public immutable issuancePerPeriod;
    uint32 public immutable k1;
    uint32 public immutable k2;
    uint32 public immutable kmax;

    /// @notice Governed: the smallest and largest locked stake.
    uint96 public minStake;
    uint96 public maxStake;
    /// @notice The contract allowed to take and release policy shares.
    address public policyManager;
    /// @notice Governed: locked stake per policy share a staker may hold (read with
    /// `policyManager`, in the same slot).
    uint96 public stakePerShare;
    /// @notice Unissued rewards held here, and what they were when funded (Smax − S0).
    uint96 public rewardReserve;
    uint96 public initialReserve;

    mapping(address staker => Stake) private _stakes;
    /// @dev All NKMS of the staker held here: the stake and settled, unwithdrawn rewards.
    mapping(address staker => uint256) private _values;
    mapping(address staker => Pending) private _pending;
    mapping(address staker => Bond) private _bonds;
    mapping(address operator => address staker) public stakerFromOperator;
    /// @notice The staker an operator was ever bonded to (kept after unbonding): receipts and
    /// statements the operator signed bind this staker.
    mapping(address operator => address staker) public operatorStaker;
    mapping(address staker => mapping(uint256 word => uint256 bits)) private _commitBits;
    /// @notice Stake counted by all commitments to a period.
    mapping(uint256 period => uint256 stake) public committedStake;
    /// @notice Whether an account may slash (the Adjudicator, the KeyLeakChallenge).
    mapping(address account => bool) public isSlasher;
    /// @notice Every account that ever deposited, in order (index + 1 = `indexOf`).
    address[] public stakers;

    event Deposited(address indexed staker, uint256 value, uint256 periods);
    event Locked(address indexed staker, uint256 value, uint256 periods);
    event Prolonged(address indexed staker, uint256 periods);
    event WindDownSet(address indexed staker, bool windDown);
    event Withdrawn(address indexed staker, uint256 value);
    event OperatorBonded(address indexed staker, address indexed operator, uint256 period);
    event Committed(address indexed staker, uint256 period, uint256 stake);
    event Rewarded(address indexed staker, uint256 period, uint256 reward);
    event SlasherSet(address indexed account, bool allowed);
    event PolicyManagerSet(address indexed policyManager);
    event StakeLimitsSet(uint256 minStake, uint256 maxStake, uint256 stakePerShare);
    event ReserveFunded(uint256 value);

    error InvalidParams();
    error ReserveAlreadyFunded();
    error PolicyManagerAlreadySet();
    error NotSlasher(address account);
    error NotPolicyManager(address account);
    error ZeroValue();
    error LockTooShort(uint256 periods, uint256 minPeriods);
    error StakeOutOfRange(uint256 locked, uint256 minStake, uint256 maxStake);
    error NoActiveLock(address staker);
    error InsufficientUnlocked(uint256 requested, uint256 unlocked);
    error OperatorInUse(address operator);
    error BondingTooRecent(uint256 sincePeriod, uint256 untilPeriod);
    error NotOperator(address account);
    error AlreadyCommitted(address staker, uint256 period);
    error NodeNotEligible(address staker);
    /// @notice A node list not in strictly increasing order (the PolicyManager's error too).
    error InvalidNodes();

    modifier onlyPolicyManager() {
        if (msg.sender != policyManager) revert NotPolicyManager(msg.sender);
        _;
    }

    /// @param token_ the NKMS token
    /// @param p the deployment parameters (see `Params`)
    /// @param governance the owner: sets slashers, limits, the policy manager, and pauses
    constructor(IERC20 token_, Params memory p, address governance) Ownable(governance) {
        if (
            address(token_) == address(0) ||
            p.periodLength == 0 ||
            p.minLockPeriods == 0 ||
            p.k2 == 0 ||
            uint256(p.k1) + p.kmax > p.k2 ||
            p.issuancePerPeriod == 0
        ) revert InvalidParams();
        token = token_;
        periodLength = p.periodLength;
        minLockPeriods = p.minLockPeriods;
        minBondingPeriods = p.minBondingPeriods;
        issuancePerPeriod = p.issuancePerPeriod;
        k1 = p.k1;
        k2 = p.k2;
        kmax = p.kmax;
        _setStakeLimits(p.minStake, p.maxStake, p.stakePerShare);
    }

    // ---------------------------------------------------------------- governance

    /// @notice Moves the reward reserve in (once; the caller must have approved it). Owner only.
    /// The initial issuance per period must be below the reserve, so issuance never exhausts it.
    function fundReserve(uint256 value) external onlyOwner {
        if (initialReserve != 0) revert ReserveAlreadyFunded();
        if (value <= issuancePerPeriod) revert InvalidParams();
        uint96 v = value.toUint96();
        rewardReserve = v;
        initialReserve = v;
        emit ReserveFunded(value);
        token.safeTransferFrom(msg.sender, address(this), value);
    }

    /// @notice Grants or revokes the slasher role. Owner only.
    function setSlasher(address account, bool allowed) external onlyOwner {
        isSlasher[account] = allowed;
        emit SlasherSet(account, allowed);
    }

    /// @notice Sets, once, the PolicyManager that takes and releases policy shares. Owner only.
    function setPolicyManager(address manager) external onlyOwner {
        if (policyManager != address(0)) revert PolicyManagerAlreadySet();
        if (manager == address(0)) revert InvalidParams();
        policyManager = manager;
        emit PolicyManagerSet(manager);
    }

    /// @notice Sets the stake limits and the stake per policy share. Owner only.
    function setStakeLimits(uint256 min, uint256 max, uint256 perShare) external onlyOwner {
        _setStakeLimits(min.toUint96(), max.toUint96(), perShare.toUint96());
    }

    /// @notice Stops deposits, locks, bonding and commitments. Withdrawals stay open. Owner only.
    function pause() external onlyOwner {
        _pause();
    }

    /// @notice Lifts the pause. Owner only.
    function unpause() external onlyOwner {
        _unpause();
    }

    // ---------------------------------------------------------------- stakers

    /// @notice Deposits `value` NKMS (approved first) and locks it for at least `periods` periods.
    /// Added to an active lock, the lock becomes the longer of the two.
    function deposit(uint256 value, uint256 periods) external whenNotPaused {
        Stake storage st = _stakes[msg.sender];
        if (st.index == 0) {
            stakers.push(msg.sender);
            st.index = stakers.length.toUint32();
        }
        _values[msg.sender] += value;
        _lock(st, value, periods);
        emit Deposited(msg.sender, value, periods);
        token.safeTransferFrom(msg.sender, address(this), value);
    }

    /// @notice Locks `value` of the caller's unlocked NKMS (rewards, an expired stake) for at
    /// least `periods` periods.
    function lock(uint256 value, uint256 periods) external whenNotPaused {
        Stake storage st = _stakes[msg.sender];
        uint256 unlocked = _values[msg.sender] - _lockedAt(st, currentPeriod());
        if (value > unlocked) revert InsufficientUnlocked(value, unlocked);
        _lock(st, value, periods);
        emit Locked(msg.sender, value, periods);
    }

    /// @notice Lengthens the caller's active lock by `periods`.
    function prolong(uint256 periods) external whenNotPaused {
        Stake storage st = _stakes[msg.sender];
        if (periods == 0) revert ZeroValue();
        if (_lockedAt(st, currentPeriod()) == 0) revert NoActiveLock(msg.sender);
        st.lockEnd += periods.toUint32();
        emit Prolonged(msg.sender, periods);
    }

    /// @notice Turns wind-down on (the lock end is fixed and approaches) or off (the remaining
    /// lock is kept and the end slides forward). Winding down never ends the lock before the
    /// last policy the staker holds a share of, so its collateral stays within slashing reach.
    function setWindDown(bool windDown) external {
        Stake storage st = _stakes[msg.sender];
        if (st.windDown == windDown) return;
        uint32 period = currentPeriod();
        if (windDown) {
            st.lockEnd = uint32(Math.max(st.lockEnd + period, st.sharesUntil));
        } else {
            st.lockEnd = st.lockEnd > period ? st.lockEnd - period : 0;
        }
        st.windDown = windDown;
        emit WindDownSet(msg.sender, windDown);
    }

    /// @notice Settles pending rewards and withdraws `value` of the caller's unlocked NKMS.
    /// Works while paused.
    function withdraw(uint256 value) external {
        Stake storage st = _stakes[msg.sender];
        _settle(msg.sender, st, currentPeriod());
        uint96 locked = _lockedAt(st, currentPeriod());
        if (locked == 0) st.locked = 0;
        uint256 unlocked = _values[msg.sender] - locked;
        if (value == 0) revert ZeroValue();
        if (value > unlocked) revert InsufficientUnlocked(value, unlocked);
        _values[msg.sender] -= value;
        emit Withdrawn(msg.sender, value);
        token.safeTransfer(msg.sender, value);
    }

    /// @notice Bonds `operator` (address(0) unbonds). Not before `minBondingPeriods` periods
    /// after the previous change. An operator serves one staker for ever: once bonded, it can
    /// never be bonded to another staker, so whatever it signed stays attributable.
    function bondOperator(address operator) external whenNotPaused {
        Bond storage bond = _bonds[msg.sender];
        uint32 period = currentPeriod();
        if (bond.since != 0 && period < bond.since + minBondingPeriods) {
            revert BondingTooRecent(bond.since, bond.since + minBondingPeriods);
        }
        if (operator != address(0)) {
            address owner = operatorStaker[operator];
            if (owner != address(0) && owner != msg.sender) revert OperatorInUse(operator);
            if (owner == address(0)) operatorStaker[operator] = msg.sender;
        }
        if (bond.operator != address(0)) delete stakerFromOperator[bond.operator];
        if (operator != address(0)) stakerFromOperator[operator] = msg.sender;
        bond.operator = operator;
        bond.since = period;
        _stakes[msg.sender].bonded = operator != address(0);
        emit OperatorBonded(msg.sender, operator, period);
    }

    /// @notice The availability signal: called by a bonded operator, commits its staker to the
    /// next period and settles the rewards of finished committed periods.
    function commitToNextPeriod() external whenNotPaused {
        address staker = stakerFromOperator[msg.sender];
        if (staker == address(0)) revert NotOperator(msg.sender);
        Stake storage st = _stakes[staker];
        uint32 current = currentPeriod();
        uint32 next = current + 1;
        uint96 amount = _lockedAt(st, next);
        if (amount == 0) revert NoActiveLock(staker);

        _settle(staker, st, current);
        // what is left pending is at most the running current period
        Pending memory pd = _pending[staker];
        if (pd.period2 == next) revert AlreadyCommitted(staker, next);
        _pending[staker] = Pending(pd.period2, pd.amount2, next, amount);
        committedStake[next] += amount;
        _commitBits[staker][next >> 8] |= 1 << (next & 0xff);
        emit Committed(staker, next, amount);
    }

    /// @notice Settles the rewards of the staker's finished committed periods (anyone may call).
    function settle(address staker) external {
        _settle(staker, _stakes[staker], currentPeriod());
    }

    // ---------------------------------------------------------------- slashers

    /// @inheritdoc IStakingEscrow
    function slash(address staker, uint256 penalty, address reporter, uint256 reward) external returns (uint256 taken) {
        if (!isSlasher[msg.sender]) revert NotSlasher(msg.sender);
        Stake storage st = _stakes[staker];
        uint256 value = _values[staker];
        taken = Math.min(penalty, value);
        value -= taken;
        _values[staker] = value;
        if (st.locked > value) st.locked = uint96(value);
        st.slashes += 1;
        uint256 paid = reporter == address(0) ? 0 : Math.min(reward, taken);
        emit Slashed(staker, taken, reporter, paid);
        if (paid != 0) token.safeTransfer(reporter, paid);
        if (taken > paid) ERC20Burnable(address(token)).burn(taken - paid);
    }

    // ---------------------------------------------------------------- policy manager

    /// @notice Takes one policy share of each node for a policy ending at `endPeriod`
    /// (exclusive). The nodes must be in strictly increasing order (so none is listed twice),
    /// and every node must have bonded an operator, hold a lock through the last policy
    /// period, and have spare share capacity. PolicyManager only.
    /// @return packed the nodes' 1-based staker indexes (see `stakers`), 32 bits each, eight
    /// to a word, the first node in the lowest bits
    function takeShares(
        address[] calldata nodes,
        uint256 endPeriod
    ) external returns (uint256[] memory packed) {
        uint256 perShare;
        {
            address manager;
            (manager, perShare) = (policyManager, stakePerShare); // one slot, read once
            if (msg.sender != manager) revert NotPolicyManager(msg.sender);
        }
        packed = new uint256[]((nodes.length + 7) >> 3);
        uint256 word = 0;
        address previous = address(0);
        for (uint256 i = 0; i < nodes.length; ) {
            address node = nodes[i];
            if (node <= previous) revert InvalidNodes();
            previous = node;
            Stake storage st = _stakes[node];
            // one read of the stake slot: the fields are read together, before any branch
            (uint256 locked, uint256 lockEnd, bool windDown, bool bonded, uint256 shares, uint256 index) = (
                st.locked,
                st.lockEnd,
                st.windDown,
                st.bonded,
                st.shares,
                st.index
            );
            if (
                !bonded ||
                (windDown ? endPeriod > lockEnd : lockEnd == 0) || // the lock does not cover the policy
                shares >= locked / perShare || // no spare capacity
                shares == type(uint16).max // the counter is full
            ) revert NodeNotEligible(node);
            // unchecked: shares < 2^16 - 1; i < nodes.length; index < 2^32 shifted by at most 224
            unchecked {
                st.shares = uint16(shares + 1);
                if (endPeriod > st.sharesUntil) st.sharesUntil = uint32(endPeriod);
                word |= index << ((i & 7) * 32);
                ++i;
                if (i & 7 == 0 || i == nodes.length) {
                    packed[(i - 1) >> 3] = word; // a word is full, or this was the last node
                    word = 0;
                }
            }
        }
    }

    /// @notice Releases one policy share of each node, given by its 1-based staker index.
    /// PolicyManager only.
    function releaseShares(uint32[] calldata indexes) external onlyPolicyManager {
        for (uint256 i = 0; i < indexes.length; ++i) {
            Stake storage st = _stakes[stakers[indexes[i] - 1]];
            if (st.shares != 0) st.shares -= 1;
        }
    }

    // ---------------------------------------------------------------- views

    /// @notice The current period number (timestamp / period length).
    function currentPeriod() public view returns (uint32) {
        return uint32(block.timestamp / periodLength);
    }

    /// @inheritdoc IStakingEscrow
    function operatorOf(address staker) external view returns (address) {
        return _bonds[staker].operator;
    }

    /// @inheritdoc IStakingEscrow
    function stakeOf(address staker) external view returns (uint256) {
        return _values[staker];
    }

    /// @notice How many times `staker` has been slashed, by any slasher.
    function slashCount(address staker) external view returns (uint256) {
        return _stakes[staker].slashes;
    }

    /// @notice The staker's lock: the locked amount, the lock end (wind-down) or remaining lock
    /// (otherwise), wind-down, whether an operator is bonded, policy shares held, staker index.
    function stakeInfo(address staker) external view returns (Stake memory) {
        return _stakes[staker];
    }

    /// @notice The staker's committed periods not yet rewarded and the stake counted in each.
    function pendingCommitments(address staker) external view returns (Pending memory) {
        return _pending[staker];
    }

    /// @notice The staker's operator and the period of its last bonding change.
    function bondInfo(address staker) external view returns (Bond memory) {
        return _bonds[staker];
    }

    /// @notice The stake locked by `staker` in `period` (0 if the lock ended by then).
    function lockedStakeAt(address staker, uint256 period) external view returns (uint256) {
        return _lockedAt(_stakes[staker], period);
    }

    /// @notice How many policy shares `staker` may hold (locked stake / stake per share) and holds.
    function shareCapacity(address staker) external view returns (uint256 capacity, uint256 held) {
        Stake storage st = _stakes[staker];
        return (_lockedAt(st, currentPeriod()) / stakePerShare, st.shares);
    }

    /// @notice The number of stakers that ever deposited.
    function stakerCount() external view returns (uint256) {
        return stakers.length;
    }

    /// @notice Whether `staker` committed to `period`.
    function committed(address staker, uint256 period) external view returns (bool) {
        return (_commitBits[staker][period >> 8] >> (period & 0xff)) & 1 == 1;
    }

    /// @notice How many of the periods in [from, to) `staker` committed to.
    function committedPeriods(address staker, uint256 from, uint256 to) external view returns (uint256 count) {
        if (to <= from) return 0;
        mapping(uint256 => uint256) storage bits = _commitBits[staker];
        uint256 last = to - 1;
        for (uint256 word = from >> 8; word <= last >> 8; ++word) {
            uint256 w = bits[word];
            if (word == from >> 8) w &= type(uint256).max << (from & 0xff);
            if (word == last >> 8) w &= type(uint256).max >> (255 - (last & 0xff));
            count += _popcount(w);
        }
    }

    /// @notice Stakers in the index range [offset, offset + limit) that have a bonded operator,
    /// committed to the current or next period, and hold a lock through `untilPeriod`, with
    /// their stake locked then: sample nodes with probability proportional to `stakes`.
    /// @return active the stakers found
    /// @return stakes their stake locked at `untilPeriod`
    /// @return total the sum of `stakes`
    function activeStakers(
        uint256 untilPeriod,
        uint256 offset,
        uint256 limit
    ) external view returns (address[] memory active, uint256[] memory stakes, uint256 total) {
        uint256 end = Math.min(stakers.length, offset + limit);
        uint256 n = end > offset ? end - offset : 0;
        active = new address[](n);
        stakes = new uint256[](n);
        uint256 found = 0;
        uint32 current = currentPeriod();
        for (uint256 i = offset; i < end; ++i) {
            address staker = stakers[i];
            Pending memory pd = _pending[staker];
            uint256 locked = _lockedAt(_stakes[staker], untilPeriod);
            if (locked == 0 || _bonds[staker].operator == address(0) || pd.period2 < current) continue;
            active[found] = staker;
            stakes[found] = locked;
            total += locked;
            ++found;
        }
        assembly ("memory-safe") {
            mstore(active, found)
            mstore(stakes, found)
        }
    }

    /// @notice The reward `staker` would receive now for its finished committed periods.
    function pendingReward(address staker) external view returns (uint256) {
        Stake storage st = _stakes[staker];
        Pending memory pd = _pending[staker];
        uint32 current = currentPeriod();
        return _reward(st, pd.period1, pd.amount1, current) + _reward(st, pd.period2, pd.amount2, current);
    }

    // ---------------------------------------------------------------- internals

    function _setStakeLimits(uint96 min, uint96 max, uint96 perShare) private {
        if (min == 0 || max < min || perShare == 0) revert InvalidParams();
        minStake = min;
        maxStake = max;
        stakePerShare = perShare;
        emit StakeLimitsSet(min, max, perShare);
    }

    function _lock(Stake storage st, uint256 value, uint256 periods) private {
        if (value == 0) revert ZeroValue();
        if (periods < minLockPeriods) revert LockTooShort(periods, minLockPeriods);
        uint32 current = currentPeriod();
        uint256 locked = _lockedAt(st, current);
        uint256 remaining = locked == 0 ? 0 : (st.windDown ? st.lockEnd - current : st.lockEnd);
        uint256 newLocked = locked + value;
        if (newLocked < minStake || newLocked > maxStake) revert StakeOutOfRange(newLocked, minStake, maxStake);
        st.locked = uint96(newLocked);
        uint256 newRemaining = Math.max(remaining, periods);
        st.lockEnd = (st.windDown ? current + newRemaining : newRemaining).toUint32();
    }

    /// @dev The locked stake of `st` in `period`, assuming no change until then.
    function _lockedAt(Stake storage st, uint256 period) private view returns (uint96) {
        if (st.windDown && period >= st.lockEnd) return 0;
        if (!st.windDown && st.lockEnd == 0) return 0;
        return st.locked;
    }

    /// @dev Pays the staker's finished committed periods (both rewards are computed from the
    /// reserve before either is paid) and drops them from `_pending`.
    function _settle(address staker, Stake storage st, uint32 current) private {
        Pending memory pd = _pending[staker];
        uint256 reward1 = _reward(st, pd.period1, pd.amount1, current);
        uint256 reward2 = _reward(st, pd.period2, pd.amount2, current);
        if (pd.period2 != 0 && pd.period2 < current) {
            delete _pending[staker];
            if (pd.period1 != 0) emit Rewarded(staker, pd.period1, reward1);
            emit Rewarded(staker, pd.period2, reward2);
        } else if (pd.period1 != 0 && pd.period1 < current) {
            _pending[staker] = Pending(0, 0, pd.period2, pd.amount2);
            emit Rewarded(staker, pd.period1, reward1);
        } else {
            return;
        }
        _values[staker] += reward1 + reward2;
        rewardReserve -= uint96(reward1 + reward2);
    }

    /// @dev The issuance reward of a finished committed period: s · amount / committedStake ·
    /// (k1 + min(D, kmax)) / k2, with s = s0 · reserve / initialReserve and D the lock remaining
    /// at `period`; 0 for an empty slot or a period not finished.
    function _reward(Stake storage st, uint32 period, uint96 amount, uint32 current) private view returns (uint256) {
        if (period == 0 || period >= current) return 0;
        uint256 remaining = st.windDown ? (st.lockEnd > period ? st.lockEnd - period : 0) : st.lockEnd;
        return
            Math.mulDiv(
                uint256(issuancePerPeriod) * rewardReserve,
                uint256(amount) * (k1 + Math.min(remaining, kmax)),
                uint256(initialReserve) * committedStake[period] * k2
            );
    }

    function _popcount(uint256 x) private pure returns (uint256 c) {
        while (x != 0) {
            x &= x - 1;
            ++c;
        }
    }
}
