/**
 * The contract functions and errors that code under src/ calls, as human-readable ABI
 * fragments, one list per contract, shared by the node (src/chain/contracts.ts) and the SDK and
 * CLI (src/client/contracts.ts).
 *
 * Why not the typechain factories: `typechain-types/` is generated outside `src/`, and the
 * build (tsconfig.build.json, rootDir src) cannot include it. test/chain/abi.test.ts checks every
 * fragment here against the compiled contracts' ABIs (selector, outputs, mutability), so a
 * change to a contract that these lists miss fails a test.
 */

/** NKMSToken */
export const TOKEN_ABI = [
  "function balanceOf(address) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 value) returns (bool)",
  "function transfer(address to, uint256 value) returns (bool)",
  "function decimals() view returns (uint8)",
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
] as const;

/** StakingEscrow */
export const STAKING_ESCROW_ABI = [
  "function currentPeriod() view returns (uint32)",
  "function periodLength() view returns (uint32)",
  "function stakerCount() view returns (uint256)",
  "function stakerFromOperator(address operator) view returns (address)",
  "function operatorOf(address staker) view returns (address)",
  "function stakeOf(address staker) view returns (uint256)",
  "function stakeInfo(address staker) view returns (tuple(uint96 locked, uint32 lockEnd, bool windDown, bool bonded, uint16 shares, uint32 index, uint32 sharesUntil, uint32 slashes))",
  "function bondInfo(address staker) view returns (tuple(address operator, uint32 since))",
  "function lockedStakeAt(address staker, uint256 period) view returns (uint256)",
  "function shareCapacity(address staker) view returns (uint256 capacity, uint256 held)",
  "function committed(address staker, uint256 period) view returns (bool)",
  "function pendingReward(address staker) view returns (uint256)",
  "function minStake() view returns (uint96)",
  "function minLockPeriods() view returns (uint32)",
  "function activeStakers(uint256 untilPeriod, uint256 offset, uint256 limit) view returns (address[] active, uint256[] stakes, uint256 total)",
  "function deposit(uint256 value, uint256 periods)",
  "function lock(uint256 value, uint256 periods)",
  "function prolong(uint256 periods)",
  "function setWindDown(bool windDown)",
  "function withdraw(uint256 value)",
  "function bondOperator(address operator)",
  "function commitToNextPeriod()",
  "function settle(address staker)",
  "error LockTooShort(uint256 periods, uint256 minPeriods)",
  "error StakeOutOfRange(uint256 locked, uint256 minStake, uint256 maxStake)",
  "error NoActiveLock(address staker)",
  "error InsufficientUnlocked(uint256 requested, uint256 unlocked)",
  "error OperatorInUse(address operator)",
  "error BondingTooRecent(uint256 sincePeriod, uint256 untilPeriod)",
  "error NotOperator(address account)",
  "error AlreadyCommitted(address staker, uint256 period)",
  "error NodeNotEligible(address staker)",
  "error ZeroValue()",
  "error EnforcedPause()",
] as const;

/** PolicyManager */
export const POLICY_MANAGER_ABI = [
  "function createPolicy(bytes16 policyId, address recipient, uint256 startPeriod, uint256 endPeriod, uint256 feeRate, address[] nodes)",
  "function revokePolicy(bytes16 policyId)",
  "function revokeNode(bytes16 policyId, uint256 position)",
  "function settle(bytes16[] policyIds)",
  "function withdraw()",
  "function setReencryptionPrice(bytes16 policyId, uint256 price)",
  "function fundReencryptions(bytes16 policyId, uint256 value)",
  "function claimReencryptions(bytes16 policyId, uint256 position, uint64 count, bytes signature)",
  "function policyInfo(bytes16 policyId) view returns (address owner, address recipient, uint256 startPeriod, uint256 endPeriod, uint256 revokedAt, uint256 feeRate, address[] nodes)",
  "function isPolicyActive(bytes16 policyId) view returns (bool)",
  "function policyNodes(bytes16 policyId) view returns (address[] nodes)",
  "function isNodeActive(bytes16 policyId, uint256 position) view returns (bool)",
  "function metering(bytes16 policyId) view returns (uint96 budget, uint96 price)",
  "function reencryptionsPaid(bytes16 policyId, address node) view returns (uint64)",
  "function balanceOf(address account) view returns (uint256)",
  "function minFeeRate() view returns (uint80)",
  "function maxFeeRate() view returns (uint80)",
  "error PolicyExists(bytes16 policyId)",
  "error PolicyNotFound(bytes16 policyId)",
  "error NotPolicyOwner(bytes16 policyId, address account)",
  "error PolicyInactive(bytes16 policyId)",
  "error InvalidPeriods(uint256 startPeriod, uint256 endPeriod, uint256 currentPeriod)",
  "error FeeRateOutOfRange(uint256 feeRate, uint256 minFeeRate, uint256 maxFeeRate)",
  "error InvalidNodes()",
  "error InvalidPosition(bytes16 policyId, uint256 position)",
  "error NodeAlreadyRevoked(bytes16 policyId, uint256 position)",
  "error NothingToWithdraw(address account)",
  "error PriceAlreadySet(bytes16 policyId)",
  "error PriceNotSet(bytes16 policyId)",
  "error InvalidVoucherSigner(address signer)",
  "error StaleVoucher(uint256 count, uint256 paid)",
  "error BudgetExceeded(uint256 value, uint256 budget)",
  "error NodeNotEligible(address staker)",
  "error EnforcedPause()",
  "function nodeState(bytes16 policyId, uint256 position) view returns (tuple(uint32 settledUntil, uint32 revokedAt))",
] as const;

/** Adjudicator */
export const ADJUDICATOR_ABI = [
  "function evaluateCFrag(bytes evidence, bytes32[] proof, bytes nodeSignature) returns (bool correct)",
  "function penaltyFor(address staker) view returns (uint256)",
  "error AdjudicatorAlreadyEvaluated(bytes32 evaluation)",
  "error AdjudicatorUnknownOperator(address operator)",
] as const;
