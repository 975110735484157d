/**
 * Deployment parameters of each network, in one place. Deploy scripts, the demo and the
 * tests read them from here; a network without an entry uses `default`.
 * Token amounts are in whole tokens (18 decimals are added by `tokens()`).
 */
export interface EscrowParams {
  /** period length in seconds */
  readonly periodLength: number;
  /** a new or increased lock lasts at least this many periods */
  readonly minLockPeriods: number;
  /** an operator stays bonded at least this many periods before it can change */
  readonly minBondingPeriods: number;
  /** s0: the issuance of one period while the reserve is full, in whole tokens */
  readonly issuancePerPeriodTokens: bigint;
  /** lock coefficient (k1 + min(D, kmax)) / k2, D = remaining lock in periods */
  readonly k1: number;
  readonly k2: number;
  readonly kmax: number;
  /** smallest and largest locked stake, in whole tokens (governed; these are the initial values) */
  readonly minStakeTokens: bigint;
  readonly maxStakeTokens: bigint;
  /** locked stake per policy share a node may hold, in whole tokens (governed) */
  readonly stakePerShareTokens: bigint;
}

export interface PolicyParams {
  /** allowed fee rate per node per period, in the smallest unit (governed; initial values) */
  readonly minFeeRate: bigint;
  readonly maxFeeRate: bigint;
  /** periods after a policy's end during which its re-encryption budget is kept for the nodes' claims */
  readonly claimWindowPeriods: number;
}

export interface KeyLeakParams {
  /** α, the challenger's share of the served fee of a leaked share, in basis points (< 10 000) */
  readonly alphaBps: number;
}

export interface DeployParams {
  /** whole token supply, in whole tokens (18 decimals are added) */
  readonly maxSupplyTokens: bigint;
  /** the part of the supply moved into the StakingEscrow as the reward reserve (Smax − S0) */
  readonly rewardReserveTokens: bigint;
  readonly escrow: EscrowParams;
  readonly policy: PolicyParams;
  readonly keyLeak: KeyLeakParams;
}

const DAY = 86_400;

/**
 * NuCypher's figures (3.885e9 maximum supply, 1e9 initial supply, k1 = 365, k2 = 730,
 * kmax = 365 with daily periods, 15 000 minimum stake, 30-day minimum lock, 7-day minimum
 * bonding). s0 = 2.74e6 tokens a day gives an issuance that halves about every two years
 * (ln 2 · reserve / s0 ≈ 730 periods), as NuCypher's did.
 */
const nucypherLike: DeployParams = {
  maxSupplyTokens: 3_885_390_081n,
  rewardReserveTokens: 2_885_390_081n,
  escrow: {
    periodLength: DAY,
    minLockPeriods: 30,
    minBondingPeriods: 7,
    issuancePerPeriodTokens: 2_740_000n,
    k1: 365,
    k2: 730,
    kmax: 365,
    minStakeTokens: 15_000n,
    maxStakeTokens: 4_000_000n,
    stakePerShareTokens: 100n,
  },
  policy: {
    minFeeRate: 10n ** 15n, // 0.001 NKMS per node per period
    maxFeeRate: 10n ** 21n, // 1 000 NKMS per node per period
    claimWindowPeriods: 7,
  },
  keyLeak: { alphaBps: 5_000 },
};

const HOUR = 3_600;

const params: Record<string, DeployParams> = {
  default: nucypherLike,
  /**
   * A public testnet: hourly periods so that locks, rewards and policy fees can be watched in a
   * day; the same schedule per unit of time (s0 and the k's scaled from days to hours).
   */
  testnet: {
    ...nucypherLike,
    escrow: {
      ...nucypherLike.escrow,
      periodLength: HOUR,
      minLockPeriods: 24,
      minBondingPeriods: 2,
      issuancePerPeriodTokens: 114_166n,
      k1: 365 * 24,
      k2: 730 * 24,
      kmax: 365 * 24,
    },
    policy: { ...nucypherLike.policy, claimWindowPeriods: 24 },
  },
};

export function deployParams(network: string): DeployParams {
  return params[network] ?? params.default;
}

/** Whole tokens to the smallest unit (18 decimals). */
/** the StakingEscrow constructor's `Params` struct for these parameters (token units) */
export function escrowConstructorParams(e: EscrowParams) {
  return {
    periodLength: e.periodLength,
    minLockPeriods: e.minLockPeriods,
    minBondingPeriods: e.minBondingPeriods,
    issuancePerPeriod: tokens(e.issuancePerPeriodTokens),
    k1: e.k1,
    k2: e.k2,
    kmax: e.kmax,
    minStake: tokens(e.minStakeTokens),
    maxStake: tokens(e.maxStakeTokens),
    stakePerShare: tokens(e.stakePerShareTokens),
  };
}

export function tokens(whole: bigint): bigint {
  return whole * 10n ** 18n;
}
