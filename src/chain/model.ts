/**
 * A plain TypeScript model of the NKMS economy contracts (StakingEscrow and PolicyManager):
 * stakes and locks, lazily settled issuance rewards, slashing, policy fees paid per committed
 * period, refunds and revocation. It is written from the specification in docs/contracts.md,
 * not from the Solidity, so that property tests can run random operation sequences against
 * both and compare every balance.
 *
 * Amounts are bigints in the token's smallest unit; periods are bigints. An operation that the
 * contracts would refuse throws a `ModelError` whose `code` is the contract's custom error name
 * and leaves the model unchanged.
 */

export interface ModelParams {
  /** s0: the issuance of one period while the reserve is full */
  readonly issuancePerPeriod: bigint;
  readonly k1: bigint;
  readonly k2: bigint;
  readonly kmax: bigint;
  readonly minLockPeriods: bigint;
  readonly minStake: bigint;
  readonly maxStake: bigint;
  readonly stakePerShare: bigint;
  /** the reward reserve when funded (Smax − S0) */
  readonly initialReserve: bigint;
  readonly minFeeRate: bigint;
  readonly maxFeeRate: bigint;
}

export class ModelError extends Error {
  override readonly name = "ModelError";
  constructor(
    /** the contract's custom error name */
    readonly code: string,
  ) {
    super(`the contracts refuse this operation: ${code}`);
  }
}

export interface StakeState {
  /** all tokens of the staker held by the escrow (stake and settled rewards) */
  value: bigint;
  locked: bigint;
  /** wind-down: the first unlocked period; otherwise the remaining lock in periods */
  lockEnd: bigint;
  windDown: boolean;
  bonded: boolean;
  shares: bigint;
  /** the latest end period of the policies it took shares of */
  sharesUntil: bigint;
  /** the (at most two) committed periods not yet rewarded, and the stake counted in each */
  pending: { period: bigint; amount: bigint }[];
  committed: Set<bigint>;
}

interface NodeSlot {
  readonly node: string;
  settledUntil: bigint;
  /** 0n, or the first period not served after this node's revocation */
  revokedAt: bigint;
}

interface PolicyState {
  readonly owner: string;
  readonly start: bigint;
  readonly end: bigint;
  readonly rate: bigint;
  revokedAt: bigint;
  readonly nodes: NodeSlot[];
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

export class EconomyModel {
  period: bigint;
  reserve: bigint;
  burned = 0n;
  readonly stakes = new Map<string, StakeState>();
  readonly committedStake = new Map<bigint, bigint>();
  readonly policies = new Map<string, PolicyState>();
  /** PolicyManager balances: settled fees, refunds, deposits */
  readonly feeBalances = new Map<string, bigint>();
  /** token balances of accounts outside the contracts */
  readonly wallets = new Map<string, bigint>();

  constructor(
    readonly params: ModelParams,
    startPeriod: bigint,
    wallets: Record<string, bigint>,
  ) {
    this.period = startPeriod;
    this.reserve = params.initialReserve;
    for (const [account, balance] of Object.entries(wallets)) this.wallets.set(account, balance);
  }

  // ------------------------------------------------------------ time

  advance(periods: bigint): void {
    this.period += periods;
  }

  // ------------------------------------------------------------ escrow

  stake(staker: string): StakeState {
    let st = this.stakes.get(staker);
    if (!st) {
      st = {
        value: 0n,
        locked: 0n,
        lockEnd: 0n,
        windDown: false,
        bonded: false,
        shares: 0n,
        sharesUntil: 0n,
        pending: [],
        committed: new Set(),
      };
      this.stakes.set(staker, st);
    }
    return st;
  }

  /** The stake locked in `period`, assuming no change until then. */
  lockedAt(staker: string, period: bigint): bigint {
    const st = this.stake(staker);
    if (st.windDown ? period >= st.lockEnd : st.lockEnd === 0n) return 0n;
    return st.locked;
  }

  deposit(staker: string, value: bigint, periods: bigint): void {
    this.transaction(() => {
      this.stake(staker).value += value;
      this.lockValue(staker, value, periods);
      this.debitWallet(staker, value);
    });
  }

  lock(staker: string, value: bigint, periods: bigint): void {
    this.transaction(() => {
      const st = this.stake(staker);
      const unlocked = st.value - this.lockedAt(staker, this.period);
      if (value > unlocked) throw new ModelError("InsufficientUnlocked");
      this.lockValue(staker, value, periods);
    });
  }

  prolong(staker: string, periods: bigint): void {
    this.transaction(() => {
      if (periods === 0n) throw new ModelError("ZeroValue");
      if (this.lockedAt(staker, this.period) === 0n) throw new ModelError("NoActiveLock");
      this.stake(staker).lockEnd += periods;
    });
  }

  setWindDown(staker: string, windDown: boolean): void {
    const st = this.stake(staker);
    if (st.windDown === windDown) return;
    // winding down never ends the lock before the last policy the staker serves
    st.lockEnd = windDown ? max(st.lockEnd + this.period, st.sharesUntil) : max(st.lockEnd - this.period, 0n);
    st.windDown = windDown;
  }

  bond(staker: string, bonded: boolean): void {
    this.stake(staker).bonded = bonded;
  }

  withdraw(staker: string, value: bigint): void {
    this.transaction(() => {
      this.settle(staker);
      const st = this.stake(staker);
      const locked = this.lockedAt(staker, this.period);
      if (locked === 0n) st.locked = 0n;
      if (value === 0n) throw new ModelError("ZeroValue");
      if (value > st.value - locked) throw new ModelError("InsufficientUnlocked");
      st.value -= value;
      this.creditWallet(staker, value);
    });
  }

  commit(staker: string): void {
    this.transaction(() => {
      const st = this.stake(staker);
      if (!st.bonded) throw new ModelError("NotOperator");
      const next = this.period + 1n;
      const amount = this.lockedAt(staker, next);
      if (amount === 0n) throw new ModelError("NoActiveLock");
      this.settle(staker);
      if (st.pending.some((p) => p.period === next)) throw new ModelError("AlreadyCommitted");
      st.pending.push({ period: next, amount });
      this.committedStake.set(next, (this.committedStake.get(next) ?? 0n) + amount);
      st.committed.add(next);
    });
  }

  /** The reward of one finished committed period (0 while it runs). */
  rewardOf(staker: string, period: bigint, amount: bigint): bigint {
    if (period >= this.period) return 0n;
    const p = this.params;
    const st = this.stake(staker);
    const remaining = st.windDown ? max(st.lockEnd - period, 0n) : st.lockEnd;
    const coefficient = p.k1 + min(remaining, p.kmax);
    const total = this.committedStake.get(period) ?? 0n;
    return (p.issuancePerPeriod * this.reserve * amount * coefficient) / (p.initialReserve * total * p.k2);
  }

  /** The reward the staker would get by settling now. */
  pendingReward(staker: string): bigint {
    return this.stake(staker).pending.reduce((sum, p) => sum + this.rewardOf(staker, p.period, p.amount), 0n);
  }

  /** Pays the finished committed periods; all from the reserve as it was before. */
  settle(staker: string): void {
    const st = this.stake(staker);
    const reward = this.pendingReward(staker);
    st.pending = st.pending.filter((p) => p.period >= this.period);
    st.value += reward;
    this.reserve -= reward;
  }

  slash(staker: string, penalty: bigint, reporter: string | undefined, reward: bigint): bigint {
    const st = this.stake(staker);
    const taken = min(penalty, st.value);
    st.value -= taken;
    if (st.locked > st.value) st.locked = st.value;
    const paid = reporter === undefined ? 0n : min(reward, taken);
    if (reporter !== undefined) this.creditWallet(reporter, paid);
    this.burned += taken - paid;
    return taken;
  }

  // ------------------------------------------------------------ policy manager

  createPolicy(id: string, owner: string, start: bigint, end: bigint, rate: bigint, nodes: string[]): void {
    this.transaction(() => {
      if (this.policies.has(id)) throw new ModelError("PolicyExists");
      if (start < this.period || end <= start || end >= 2n ** 32n) throw new ModelError("InvalidPeriods");
      if (rate < this.params.minFeeRate || rate > this.params.maxFeeRate)
        throw new ModelError("FeeRateOutOfRange");
      if (nodes.length === 0 || nodes.some((n, i) => i > 0 && BigInt(n) <= BigInt(nodes[i - 1]))) {
        throw new ModelError("InvalidNodes");
      }
      for (const node of nodes) {
        const st = this.stake(node);
        const covered = st.windDown ? end <= st.lockEnd : st.lockEnd !== 0n;
        const capacity = min(st.locked / this.params.stakePerShare, 65_535n);
        if (!st.bonded || !covered || st.shares >= capacity) {
          throw new ModelError("NodeNotEligible");
        }
        st.shares += 1n;
        st.sharesUntil = max(st.sharesUntil, end);
      }
      this.debitWallet(owner, rate * BigInt(nodes.length) * (end - start));
      this.policies.set(id, {
        owner,
        start,
        end,
        rate,
        revokedAt: 0n,
        nodes: nodes.map((node) => ({ node, settledUntil: 0n, revokedAt: 0n })),
      });
    });
  }

  isPolicyActive(id: string): boolean {
    const policy = this.policies.get(id);
    return policy !== undefined && policy.revokedAt === 0n && this.period < policy.end;
  }

  revokePolicy(id: string, caller: string): bigint {
    return this.transaction(() => {
      const policy = this.activePolicyOf(id, caller);
      policy.revokedAt = max(this.period + 1n, policy.start);
      const live = policy.nodes.filter((n) => n.revokedAt === 0n);
      for (const n of live) this.releaseShare(n.node);
      const refund = policy.rate * BigInt(live.length) * (policy.end - policy.revokedAt);
      this.creditWallet(policy.owner, refund);
      return refund;
    });
  }

  revokeNode(id: string, caller: string, position: number): bigint {
    return this.transaction(() => {
      const policy = this.activePolicyOf(id, caller);
      const slot = policy.nodes[position];
      if (slot === undefined) throw new ModelError("InvalidPosition");
      if (slot.revokedAt !== 0n) throw new ModelError("NodeAlreadyRevoked");
      slot.revokedAt = max(this.period + 1n, policy.start);
      this.releaseShare(slot.node);
      const refund = policy.rate * (policy.end - slot.revokedAt);
      this.creditWallet(policy.owner, refund);
      return refund;
    });
  }

  /** Settles the finished periods of a policy: committed ones to the node, the rest to the owner. */
  settlePolicy(id: string): void {
    const policy = this.policies.get(id);
    if (!policy) throw new ModelError("PolicyNotFound");
    let missed = 0n;
    for (const slot of policy.nodes) {
      const nodeEnd = slot.revokedAt || policy.revokedAt || policy.end;
      const from = max(slot.settledUntil, policy.start);
      const upTo = min(this.period, nodeEnd);
      if (upTo <= from) continue;
      const committed = this.stake(slot.node).committed;
      let served = 0n;
      for (let p = from; p < upTo; p++) if (committed.has(p)) served++;
      this.creditFees(slot.node, served * policy.rate);
      missed += upTo - from - served;
      slot.settledUntil = upTo;
      if (upTo === policy.end && slot.revokedAt === 0n && policy.revokedAt === 0n)
        this.releaseShare(slot.node);
    }
    if (missed > 0n) this.creditFees(policy.owner, missed * policy.rate);
  }

  withdrawFees(account: string): bigint {
    const value = this.feeBalances.get(account) ?? 0n;
    if (value === 0n) throw new ModelError("NothingToWithdraw");
    this.feeBalances.set(account, 0n);
    this.creditWallet(account, value);
    return value;
  }

  /** Fees paid in and not yet settled, refunded or withdrawn: what the manager must still hold for policies. */
  unsettledFees(): bigint {
    let total = 0n;
    for (const policy of this.policies.values()) {
      for (const slot of policy.nodes) {
        const nodeEnd = slot.revokedAt || policy.revokedAt || policy.end;
        total += policy.rate * max(nodeEnd - max(slot.settledUntil, policy.start), 0n);
      }
    }
    return total;
  }

  // ------------------------------------------------------------ internals

  private activePolicyOf(id: string, caller: string): PolicyState {
    const policy = this.policies.get(id);
    if (!policy || policy.owner !== caller) throw new ModelError("NotPolicyOwner");
    if (!this.isPolicyActive(id)) throw new ModelError("PolicyInactive");
    return policy;
  }

  private lockValue(staker: string, value: bigint, periods: bigint): void {
    if (value === 0n) throw new ModelError("ZeroValue");
    if (periods < this.params.minLockPeriods) throw new ModelError("LockTooShort");
    const st = this.stake(staker);
    const locked = this.lockedAt(staker, this.period);
    const remaining = locked === 0n ? 0n : st.windDown ? st.lockEnd - this.period : st.lockEnd;
    const newLocked = locked + value;
    if (newLocked < this.params.minStake || newLocked > this.params.maxStake)
      throw new ModelError("StakeOutOfRange");
    st.locked = newLocked;
    const newRemaining = max(remaining, periods);
    st.lockEnd = st.windDown ? this.period + newRemaining : newRemaining;
  }

  private releaseShare(node: string): void {
    const st = this.stake(node);
    if (st.shares > 0n) st.shares -= 1n;
  }

  private debitWallet(account: string, value: bigint): void {
    const balance = this.wallets.get(account) ?? 0n;
    if (value > balance) throw new ModelError("ERC20InsufficientBalance");
    this.wallets.set(account, balance - value);
  }

  private creditWallet(account: string, value: bigint): void {
    this.wallets.set(account, (this.wallets.get(account) ?? 0n) + value);
  }

  private creditFees(account: string, value: bigint): void {
    this.feeBalances.set(account, (this.feeBalances.get(account) ?? 0n) + value);
  }

  /** Runs `body`; if it throws, restores the state as it was before. */
  private transaction<T>(body: () => T): T {
    const saved = this.snapshot();
    try {
      return body();
    } catch (error) {
      this.restore(saved);
      throw error;
    }
  }

  private snapshot() {
    return structuredClone({
      reserve: this.reserve,
      burned: this.burned,
      stakes: this.stakes,
      committedStake: this.committedStake,
      policies: this.policies,
      feeBalances: this.feeBalances,
      wallets: this.wallets,
    });
  }

  private restore(s: ReturnType<EconomyModel["snapshot"]>): void {
    this.reserve = s.reserve;
    this.burned = s.burned;
    for (const [target, source] of [
      [this.stakes, s.stakes],
      [this.committedStake, s.committedStake],
      [this.policies, s.policies],
      [this.feeBalances, s.feeBalances],
      [this.wallets, s.wallets],
    ] as [Map<unknown, unknown>, Map<unknown, unknown>][]) {
      target.clear();
      for (const [k, v] of source) target.set(k, v);
    }
  }
}
