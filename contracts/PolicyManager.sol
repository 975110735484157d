// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {StakingEscrow} from "./StakingEscrow.sol";

/// @title NKMS policy manager
/// @notice Data owners pay for policies here: a fee per node per period for the policy's
/// length, paid up front in NKMS. A node earns a period's fee only if it committed to that
/// period; the fees of missed periods go back to the owner. Revoking a policy, or one of its
/// nodes, refunds the periods not yet served. A policy may also carry a budget that pays nodes
/// per re-encryption, claimed with cumulative vouchers signed by the policy's recipient.
/// @dev Settlement is lazy: `settle` moves fees of finished periods into `balanceOf`, counting
/// committed periods from the escrow's commitment bitmap; nothing is written per node when a
/// policy is created (the nodes are stored as packed 32-bit staker indexes).
contract PolicyManager is Ownable2Step, EIP712 {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    struct Policy {
        address owner;
        uint32 startPeriod;
        uint32 endPeriod; // exclusive
        uint32 revokedAt; // 0, or the first period not served after a revocation
        address recipient; // signs re-encryption vouchers
        uint80 feeRate; // per node per period
        uint16 nodeCount; // at most MAX_NODES
    }

    struct NodeState {
        uint32 settledUntil; // fees of periods before this one are settled
        uint32 revokedAt; // 0, or the first period not served after this node's revocation
    }

    struct Metering {
        uint96 budget;
        uint96 price; // per re-encryption, fixed once set
    }

    /// @notice The most nodes a policy may have (Umbral makes at most 255 kfrags).
    uint256 public constant MAX_NODES = 255;
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("ReencryptionVoucher(bytes16 policyId,address node,uint64 count)");

    StakingEscrow public immutable escrow;
    IERC20 public immutable token;
    /// @notice The escrow's period length, in seconds.
    uint256 public immutable periodLength;
    /// @notice Periods after a policy's end (or revocation) during which only nodes may draw
    /// on its re-encryption budget; afterwards the owner may take the rest back.
    uint32 public immutable claimWindowPeriods;

    /// @notice Governed: the allowed fee rate range, per node per period.
    uint80 public minFeeRate;
    uint80 public maxFeeRate;
    /// @notice Governed: the emergency pause (in the fee range's slot, which every new policy reads).
    bool public paused;
    /// @notice The contract allowed to revoke a node convicted of leaking its key fragment.
    address public keyLeakChallenge;

    mapping(bytes16 policyId => Policy) private _policies;
    mapping(bytes16 policyId => mapping(uint256 word => uint256 indexes)) private _nodes;
    mapping(bytes16 policyId => mapping(uint256 position => NodeState)) private _nodeStates;
    /// @notice The re-encryption budget and price of each policy.
    mapping(bytes16 policyId => Metering) public metering;
    /// @notice The highest voucher count already paid, per policy and node.
    mapping(bytes16 policyId => mapping(address node => uint64 count)) public reencryptionsPaid;
    /// @notice Settled fees (nodes), refunds (owners) and re-encryption payments, ready to withdraw.
    mapping(address account => uint256) public balanceOf;

    /// @notice A policy was created; its terms and nodes are in `policyInfo`.
    event PolicyCreated(bytes16 indexed policyId, address indexed owner, address indexed recipient);
    event PolicyRevoked(bytes16 indexed policyId, uint256 revokedAt, uint256 refund);
    event NodeRevoked(bytes16 indexed policyId, address indexed node, uint256 revokedAt, uint256 refund);
    event FeesSettled(bytes16 indexed policyId, uint256 toNodes, uint256 toOwner);
    event Withdrawn(address indexed account, uint256 value);
    event Deposited(address indexed account, uint256 value);
    event ReencryptionPriceSet(bytes16 indexed policyId, uint256 price);
    event ReencryptionsFunded(bytes16 indexed policyId, address indexed from, uint256 value);
    event ReencryptionsPaid(bytes16 indexed policyId, address indexed node, uint256 count, uint256 value);
    event BudgetReclaimed(bytes16 indexed policyId, uint256 value);
    event FeeRateRangeSet(uint256 minFeeRate, uint256 maxFeeRate);
    event KeyLeakChallengeSet(address indexed challenge);
    event Paused(address account);
    event Unpaused(address account);

    error InvalidParams();
    error EnforcedPause();
    error PolicyExists(bytes16 policyId);
    error PolicyNotFound(bytes16 policyId);
    error NotPolicyOwner(bytes16 policyId, address account);
    error PolicyInactive(bytes16 policyId);
    error InvalidPeriods(uint256 startPeriod, uint256 endPeriod, uint256 currentPeriod);
    error FeeRateOutOfRange(uint256 feeRate, uint256 minFeeRate, uint256 maxFeeRate);
    error InvalidNodes();
    error InvalidPosition(bytes16 policyId, uint256 position);
    error NodeAlreadyRevoked(bytes16 policyId, uint256 position);
    error NothingToWithdraw(address account);
    error InsufficientBalance(uint256 fee, uint256 balance);
    error PriceAlreadySet(bytes16 policyId);
    error PriceNotSet(bytes16 policyId);
    error InvalidVoucherSigner(address signer);
    error StaleVoucher(uint256 count, uint256 paid);
    error BudgetExceeded(uint256 value, uint256 budget);
    error ClaimWindowOpen(uint256 untilPeriod);
    error NotKeyLeakChallenge(address account);

    /// @param escrow_ the StakingEscrow (its token is the fee token)
    /// @param minFeeRate_ the initial smallest fee rate per node per period
    /// @param maxFeeRate_ the initial largest fee rate per node per period
    /// @param claimWindowPeriods_ periods after a policy ends during which its re-encryption
    /// budget is reserved for the nodes' claims
    /// @param governance the owner: sets the fee range and the key-leak contract, pauses
    constructor(
        StakingEscrow escrow_,
        uint256 minFeeRate_,
        uint256 maxFeeRate_,
        uint32 claimWindowPeriods_,
        address governance
    ) Ownable(governance) EIP712("NKMS PolicyManager", "1") {
        if (address(escrow_) == address(0)) revert InvalidParams();
        escrow = escrow_;
        token = escrow_.token();
        periodLength = escrow_.periodLength();
        claimWindowPeriods = claimWindowPeriods_;
        _setFeeRateRange(minFeeRate_, maxFeeRate_);
    }

    // ---------------------------------------------------------------- governance

    /// @notice Sets the allowed fee rate range. Owner only.
    function setFeeRateRange(uint256 min, uint256 max) external onlyOwner {
        _setFeeRateRange(min, max);
    }

    /// @notice Sets, once, the contract allowed to revoke nodes convicted of a key leak. Owner only.
    function setKeyLeakChallenge(address challenge) external onlyOwner {
        if (keyLeakChallenge != address(0) || challenge == address(0)) revert InvalidParams();
        keyLeakChallenge = challenge;
        emit KeyLeakChallengeSet(challenge);
    }

    /// @notice Stops new policies and budget deposits. Revocations, settlement, claims and
    /// withdrawals stay open. Owner only.
    function pause() external onlyOwner {
        paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Lifts the pause. Owner only.
    function unpause() external onlyOwner {
        paused = false;
        emit Unpaused(msg.sender);
    }

    // ---------------------------------------------------------------- owners

    /// @notice Creates policy `policyId` owned by the caller, for periods [startPeriod, endPeriod)
    /// served by `nodes` (staker addresses in strictly increasing order), paying
    /// feeRate · nodes · periods up front (approved to this contract first).
    /// Every node must have bonded an operator, be locked through the last period and have a
    /// spare policy share; `recipient` is the address that signs re-encryption vouchers.
    function createPolicy(
        bytes16 policyId,
        address recipient,
        uint256 startPeriod,
        uint256 endPeriod,
        uint256 feeRate,
        address[] calldata nodes
    ) external {
        uint256 fee = _createPolicy(policyId, recipient, startPeriod, endPeriod, feeRate, nodes);
        token.safeTransferFrom(msg.sender, address(this), fee);
    }

    /// @notice `createPolicy` paying from the caller's balance here (deposits, refunds), which
    /// saves the token transfer.
    function createPolicyFromBalance(
        bytes16 policyId,
        address recipient,
        uint256 startPeriod,
        uint256 endPeriod,
        uint256 feeRate,
        address[] calldata nodes
    ) external {
        uint256 fee = _createPolicy(policyId, recipient, startPeriod, endPeriod, feeRate, nodes);
        uint256 balance = balanceOf[msg.sender];
        if (fee > balance) revert InsufficientBalance(fee, balance);
        balanceOf[msg.sender] = balance - fee;
    }

    /// @notice Adds `value` NKMS (approved first) to the caller's balance here, to pay future
    /// policies with `createPolicyFromBalance`; `withdraw` takes it back.
    function deposit(uint256 value) external {
        if (paused) revert EnforcedPause();
        if (value == 0) revert InvalidParams();
        balanceOf[msg.sender] += value;
        emit Deposited(msg.sender, value);
        token.safeTransferFrom(msg.sender, address(this), value);
    }

    /// @notice `createPolicy` paying with an EIP-2612 permit for the fee instead of an approval.
    /// A permit already used (for example by a front-runner) is ignored: the allowance decides.
    function createPolicyWithPermit(
        bytes16 policyId,
        address recipient,
        uint256 startPeriod,
        uint256 endPeriod,
        uint256 feeRate,
        address[] calldata nodes,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        uint256 fee = _createPolicy(policyId, recipient, startPeriod, endPeriod, feeRate, nodes);
        try IERC20Permit(address(token)).permit(msg.sender, address(this), fee, deadline, v, r, s) {} catch {}
        token.safeTransferFrom(msg.sender, address(this), fee);
    }

    /// @notice Revokes the whole policy: periods from the next one on are refunded to the owner
    /// (the current period is the nodes'). Owner only, while the policy is active.
    function revokePolicy(bytes16 policyId) external {
        Policy storage policy = _activePolicyOf(policyId, msg.sender);
        uint32 revokedAt = _revocationPeriod(policy);
        policy.revokedAt = revokedAt;
        uint256 count = policy.nodeCount;
        uint32[] memory released = new uint32[](count);
        uint256 live = 0;
        for (uint256 i = 0; i < count; ++i) {
            if (_nodeStates[policyId][i].revokedAt == 0) released[live++] = _nodeIndex(policyId, i);
        }
        assembly ("memory-safe") {
            mstore(released, live)
        }
        uint256 refund = uint256(policy.feeRate) * live * (policy.endPeriod - revokedAt);
        emit PolicyRevoked(policyId, revokedAt, refund);
        escrow.releaseShares(released);
        if (refund != 0) token.safeTransfer(msg.sender, refund);
    }

    /// @notice Revokes the node at `position` of the policy's node list: its periods from the
    /// next one on are refunded to the owner. Owner only, while the policy is active.
    function revokeNode(bytes16 policyId, uint256 position) external {
        Policy storage policy = _activePolicyOf(policyId, msg.sender);
        _revokeNode(policyId, policy, position);
    }

    /// @notice Settles the fees of the finished periods of each policy: to each node for the
    /// periods it committed to, to the owner for the others. Anyone may call. A node's share
    /// is released when its last period is settled.
    function settle(bytes16[] calldata policyIds) external {
        for (uint256 k = 0; k < policyIds.length; ++k) {
            _settle(policyIds[k]);
        }
    }

    /// @notice Withdraws the caller's settled fees, refunds and re-encryption payments. Works
    /// while paused.
    function withdraw() external {
        uint256 value = balanceOf[msg.sender];
        if (value == 0) revert NothingToWithdraw(msg.sender);
        balanceOf[msg.sender] = 0;
        emit Withdrawn(msg.sender, value);
        token.safeTransfer(msg.sender, value);
    }

    // ---------------------------------------------------------------- pay per re-encryption

    /// @notice Fixes the price per re-encryption of a policy, once. Policy owner only.
    function setReencryptionPrice(bytes16 policyId, uint256 price) external {
        Policy storage policy = _policies[policyId];
        if (policy.owner != msg.sender) revert NotPolicyOwner(policyId, msg.sender);
        if (metering[policyId].price != 0) revert PriceAlreadySet(policyId);
        if (price == 0) revert InvalidParams();
        metering[policyId].price = price.toUint96();
        emit ReencryptionPriceSet(policyId, price);
    }

    /// @notice Adds `value` NKMS (approved first) to a policy's re-encryption budget. Anyone,
    /// while the policy is active and priced.
    function fundReencryptions(bytes16 policyId, uint256 value) external {
        if (paused) revert EnforcedPause();
        Policy storage policy = _policies[policyId];
        if (!_isActive(policy)) revert PolicyInactive(policyId);
        Metering storage m = metering[policyId];
        if (m.price == 0) revert PriceNotSet(policyId);
        if (value == 0) revert InvalidParams();
        m.budget += value.toUint96();
        emit ReencryptionsFunded(policyId, msg.sender, value);
        token.safeTransferFrom(msg.sender, address(this), value);
    }

    /// @notice Pays the node at `position` for re-encryptions up to `count`, the cumulative
    /// total in a voucher that the policy's recipient signed (EIP-712 ReencryptionVoucher).
    /// Anyone may submit it; the payment goes to the node's balance. Only a higher count than
    /// already paid, within the budget, is accepted.
    function claimReencryptions(bytes16 policyId, uint256 position, uint64 count, bytes calldata signature) external {
        Policy storage policy = _policies[policyId];
        if (position >= policy.nodeCount) revert InvalidPosition(policyId, position);
        address node = escrow.stakers(_nodeIndex(policyId, position) - 1);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, policyId, node, count)));
        address signer = ECDSA.recover(digest, signature);
        if (signer != policy.recipient) revert InvalidVoucherSigner(signer);
        uint64 paid = reencryptionsPaid[policyId][node];
        if (count <= paid) revert StaleVoucher(count, paid);
        Metering storage m = metering[policyId];
        uint256 value = uint256(count - paid) * m.price;
        if (value > m.budget) revert BudgetExceeded(value, m.budget);
        m.budget -= uint96(value);
        reencryptionsPaid[policyId][node] = count;
        balanceOf[node] += value;
        emit ReencryptionsPaid(policyId, node, count, value);
    }

    /// @notice Returns the rest of a policy's re-encryption budget to its owner, once the claim
    /// window after the policy's end or revocation has passed. Policy owner only.
    function reclaimBudget(bytes16 policyId) external {
        Policy storage policy = _policies[policyId];
        if (policy.owner != msg.sender) revert NotPolicyOwner(policyId, msg.sender);
        uint256 until = (policy.revokedAt != 0 ? policy.revokedAt : policy.endPeriod) + uint256(claimWindowPeriods);
        if (_currentPeriod() < until) revert ClaimWindowOpen(until);
        uint256 value = metering[policyId].budget;
        if (value == 0) revert NothingToWithdraw(msg.sender);
        metering[policyId].budget = 0;
        emit BudgetReclaimed(policyId, value);
        token.safeTransfer(msg.sender, value);
    }

    // ---------------------------------------------------------------- key-leak challenge

    /// @notice Revokes the node at `position` after a proven key leak, refunding the owner the
    /// periods not served. KeyLeakChallenge only, while the policy is active.
    /// @return node the staker of the revoked node
    /// @return fee the node's fee for the whole policy (f = rate · T)
    /// @return servedFee the fee of the periods served until the revocation (f · t / T)
    function revokeLeakedNode(
        bytes16 policyId,
        uint256 position
    ) external returns (address node, uint256 fee, uint256 servedFee) {
        if (msg.sender != keyLeakChallenge) revert NotKeyLeakChallenge(msg.sender);
        Policy storage policy = _policies[policyId];
        if (!_isActive(policy)) revert PolicyInactive(policyId);
        uint32 revokedAt;
        (node, revokedAt) = _revokeNode(policyId, policy, position);
        fee = uint256(policy.feeRate) * (policy.endPeriod - policy.startPeriod);
        servedFee = uint256(policy.feeRate) * (revokedAt - policy.startPeriod);
    }

    // ---------------------------------------------------------------- views

    /// @notice Everything a node checks on a request: owner, recipient, periods, revocation
    /// (0 = not revoked), fee rate and the nodes (staker addresses) in order.
    function policyInfo(
        bytes16 policyId
    )
        external
        view
        returns (
            address owner,
            address recipient,
            uint256 startPeriod,
            uint256 endPeriod,
            uint256 revokedAt,
            uint256 feeRate,
            address[] memory nodes
        )
    {
        Policy storage policy = _policies[policyId];
        if (policy.owner == address(0)) revert PolicyNotFound(policyId);
        nodes = policyNodes(policyId);
        return (
            policy.owner,
            policy.recipient,
            policy.startPeriod,
            policy.endPeriod,
            policy.revokedAt,
            policy.feeRate,
            nodes
        );
    }

    /// @notice The policy's nodes (staker addresses) in order.
    function policyNodes(bytes16 policyId) public view returns (address[] memory nodes) {
        uint256 count = _policies[policyId].nodeCount;
        nodes = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            nodes[i] = escrow.stakers(_nodeIndex(policyId, i) - 1);
        }
    }

    /// @notice The node (staker address) at `position` of the policy's node list.
    function nodeAt(bytes16 policyId, uint256 position) external view returns (address) {
        if (position >= _policies[policyId].nodeCount) revert InvalidPosition(policyId, position);
        return escrow.stakers(_nodeIndex(policyId, position) - 1);
    }

    /// @notice Whether the policy exists, is not revoked and has not ended (it may not have
    /// started yet).
    function isPolicyActive(bytes16 policyId) external view returns (bool) {
        return _isActive(_policies[policyId]);
    }

    /// @notice Whether the node at `position` still serves the policy (active, not revoked).
    function isNodeActive(bytes16 policyId, uint256 position) external view returns (bool) {
        Policy storage policy = _policies[policyId];
        return position < policy.nodeCount && _isActive(policy) && _nodeStates[policyId][position].revokedAt == 0;
    }

    /// @notice The settlement state of the node at `position`.
    function nodeState(bytes16 policyId, uint256 position) external view returns (NodeState memory) {
        return _nodeStates[policyId][position];
    }

    /// @notice The EIP-712 domain separator of re-encryption vouchers.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internals

    function _setFeeRateRange(uint256 min, uint256 max) private {
        if (min == 0 || max < min) revert InvalidParams();
        minFeeRate = min.toUint80();
        maxFeeRate = max.toUint80();
        emit FeeRateRangeSet(min, max);
    }

    function _createPolicy(
        bytes16 policyId,
        address recipient,
        uint256 startPeriod,
        uint256 endPeriod,
        uint256 feeRate,
        address[] calldata nodes
    ) private returns (uint256 fee) {
        Policy storage policy = _policies[policyId];
        if (policy.owner != address(0)) revert PolicyExists(policyId);
        _checkTerms(recipient, startPeriod, endPeriod, feeRate, nodes);
        uint256 count = nodes.length;
        policy.owner = msg.sender;
        policy.startPeriod = uint32(startPeriod);
        policy.endPeriod = uint32(endPeriod);
        policy.recipient = recipient;
        policy.feeRate = uint80(feeRate);
        policy.nodeCount = uint16(count);
        uint256[] memory packed = escrow.takeShares(nodes, endPeriod);
        mapping(uint256 => uint256) storage words = _nodes[policyId];
        for (uint256 w = 0; w < packed.length; ) {
            words[w] = packed[w];
            unchecked {
                ++w;
            }
        }
        emit PolicyCreated(policyId, msg.sender, recipient);
        // cannot overflow: feeRate < 2^80 (the governed maximum is a uint80), count ≤ 255,
        // endPeriod - startPeriod < 2^32 (both checked above)
        unchecked {
            return feeRate * count * (endPeriod - startPeriod);
        }
    }

    function _checkTerms(
        address recipient,
        uint256 startPeriod,
        uint256 endPeriod,
        uint256 feeRate,
        address[] calldata nodes
    ) private view {
        uint256 current = _currentPeriod();
        if (startPeriod < current || endPeriod <= startPeriod || endPeriod > type(uint32).max) {
            revert InvalidPeriods(startPeriod, endPeriod, current);
        }
        (uint80 minRate, uint80 maxRate, bool isPaused) = (minFeeRate, maxFeeRate, paused);
        if (isPaused) revert EnforcedPause();
        if (feeRate < minRate || feeRate > maxRate) revert FeeRateOutOfRange(feeRate, minRate, maxRate);
        uint256 count = nodes.length;
        if (count == 0 || count > MAX_NODES || recipient == address(0)) revert InvalidNodes();
        // the order of the nodes (strictly increasing, so each node once) is checked by the
        // escrow's `takeShares`, which reads every node anyway (its InvalidNodes is this one)
    }

    function _activePolicyOf(bytes16 policyId, address account) private view returns (Policy storage policy) {
        policy = _policies[policyId];
        if (policy.owner != account) revert NotPolicyOwner(policyId, account);
        if (!_isActive(policy)) revert PolicyInactive(policyId);
    }

    function _isActive(Policy storage policy) private view returns (bool) {
        return policy.owner != address(0) && policy.revokedAt == 0 && _currentPeriod() < policy.endPeriod;
    }

    /// @dev Revocation takes effect at the next period (or at the start, if not started).
    function _revocationPeriod(Policy storage policy) private view returns (uint32) {
        return uint32(Math.max(_currentPeriod() + 1, policy.startPeriod));
    }

    function _revokeNode(
        bytes16 policyId,
        Policy storage policy,
        uint256 position
    ) private returns (address node, uint32 revokedAt) {
        if (position >= policy.nodeCount) revert InvalidPosition(policyId, position);
        NodeState storage ns = _nodeStates[policyId][position];
        if (ns.revokedAt != 0) revert NodeAlreadyRevoked(policyId, position);
        revokedAt = _revocationPeriod(policy);
        ns.revokedAt = revokedAt;
        uint32[] memory released = new uint32[](1);
        released[0] = _nodeIndex(policyId, position);
        node = escrow.stakers(released[0] - 1);
        uint256 refund = uint256(policy.feeRate) * (policy.endPeriod - revokedAt);
        emit NodeRevoked(policyId, node, revokedAt, refund);
        escrow.releaseShares(released);
        if (refund != 0) token.safeTransfer(policy.owner, refund);
    }

    function _settle(bytes16 policyId) private {
        Policy storage policy = _policies[policyId];
        if (policy.owner == address(0)) revert PolicyNotFound(policyId);
        uint256 current = _currentPeriod();
        uint256 count = policy.nodeCount;
        uint32[] memory released = new uint32[](count);
        uint256 ended = 0;
        uint256 served = 0;
        uint256 missed = 0;
        for (uint256 i = 0; i < count; ++i) {
            (uint256 s, uint256 m, uint32 endedIndex) = _settleNode(policyId, policy, i, current);
            served += s;
            missed += m;
            if (endedIndex != 0) released[ended++] = endedIndex;
        }
        if (served == 0 && missed == 0) return;
        assembly ("memory-safe") {
            mstore(released, ended)
        }
        uint256 toOwner = missed * policy.feeRate;
        balanceOf[policy.owner] += toOwner;
        emit FeesSettled(policyId, served * policy.feeRate, toOwner);
        if (ended != 0) escrow.releaseShares(released);
    }

    /// @dev Settles one node up to the current period: pays it the periods it committed to.
    /// @return served the periods paid to the node
    /// @return missed the periods to refund to the owner
    /// @return endedIndex the node's staker index if its last period was just settled (its share
    /// is to be released; a revoked node's share was released at revocation), otherwise 0
    function _settleNode(
        bytes16 policyId,
        Policy storage policy,
        uint256 position,
        uint256 current
    ) private returns (uint256 served, uint256 missed, uint32 endedIndex) {
        NodeState storage ns = _nodeStates[policyId][position];
        uint256 nodeEnd = ns.revokedAt != 0 ? ns.revokedAt : (policy.revokedAt != 0 ? policy.revokedAt : policy.endPeriod);
        uint256 from = Math.max(ns.settledUntil, policy.startPeriod);
        uint256 upTo = Math.min(current, nodeEnd);
        if (upTo <= from) return (0, 0, 0);
        uint32 index = _nodeIndex(policyId, position);
        address node = escrow.stakers(index - 1);
        served = escrow.committedPeriods(node, from, upTo);
        missed = upTo - from - served;
        balanceOf[node] += served * policy.feeRate;
        ns.settledUntil = uint32(upTo);
        if (upTo == policy.endPeriod && ns.revokedAt == 0 && policy.revokedAt == 0) endedIndex = index;
    }

    /// @dev The escrow's current period, computed here to save a call.
    function _currentPeriod() private view returns (uint256) {
        return block.timestamp / periodLength;
    }

    function _nodeIndex(bytes16 policyId, uint256 position) private view returns (uint32) {
        return uint32(_nodes[policyId][position >> 3] >> ((position & 7) * 32));
    }
}
