/**
 * The node's on-chain duties: refuse to start unbonded, commit to every next period (with
 * retries and an alarm in logs and metrics when a commitment fails), settle rewards and fees
 * on a schedule, and garbage-collect expired shares and stale nonces.
 */
import { getAddress, ZeroAddress } from "ethers";
import type { NodeChain } from "./chain";
import type { NodeConfig } from "./config";
import { NotBondedError } from "./errors";
import type { Logger } from "./log";
import type { NodeMetrics } from "./metrics";
import type { NodeStorage } from "./storage";

export interface DutyState {
  lastCommittedPeriod?: number;
  lastCommitError?: string;
  consecutiveCommitFailures: number;
  lastSettledAt?: number;
}

/** Throws NotBondedError unless `operator` is bonded to `staker`. */
export async function checkBonding(chain: NodeChain, operator: string, staker: string): Promise<void> {
  const bondedTo = await chain.stakerOfOperator(operator);
  if (bondedTo === ZeroAddress) {
    throw new NotBondedError(
      `operator ${operator} is not bonded to any staker; run bondOperator(${operator}) from ` +
        (staker === ZeroAddress ? "the staker's account" : staker),
    );
  }
  if (getAddress(bondedTo) !== getAddress(staker)) {
    throw new NotBondedError(
      `operator ${operator} is bonded to ${bondedTo}, not to the configured staker ${staker}`,
    );
  }
}

export class Duties {
  readonly state: DutyState = { consecutiveCommitFailures: 0 };
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private committing = false;
  private settling = false;
  /** the scheduled duties running now (stop waits for them) */
  private readonly underWay = new Set<Promise<void>>();

  constructor(
    private readonly chain: NodeChain,
    private readonly config: NodeConfig,
    private readonly staker: string,
    private readonly operator: string,
    private readonly storage: NodeStorage,
    private readonly logger: Logger,
    private readonly metrics: NodeMetrics,
  ) {}

  async start(): Promise<void> {
    await checkBonding(this.chain, this.operator, this.staker);
    this.every(this.config.duties.commitCheckIntervalMs, () => this.commitIfDue());
    if (this.config.duties.settleIntervalMs > 0)
      this.every(this.config.duties.settleIntervalMs, () => this.settle());
    this.every(this.config.duties.gcIntervalMs, () => this.collectGarbage());
    this.track(this.commitIfDue());
  }

  /** Stops the schedule; resolves once the duties under way (a transaction sent, say) are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.allSettled([...this.underWay]);
  }

  /** Commits to the next period unless already committed; on failure, alarms and retries. */
  async commitIfDue(): Promise<void> {
    if (this.committing || this.stopped) return;
    this.committing = true;
    try {
      const next = (await this.chain.currentPeriod()) + 1;
      if (await this.chain.isCommitted(this.staker, next)) {
        this.recordCommitted(next);
        return;
      }
      await this.chain.commitToNextPeriod();
      this.recordCommitted(next);
      this.metrics.commitments.inc({ result: "success" });
      this.logger.info("committed to the next period", { period: next });
    } catch (error) {
      this.state.consecutiveCommitFailures++;
      this.state.lastCommitError = (error as Error).message;
      this.metrics.commitments.inc({ result: "failure" });
      this.metrics.commitmentAlarm.set(1);
      this.logger.error(
        "ALARM: commitment to the next period failed; the node earns nothing for it if this persists",
        {
          attempt: this.state.consecutiveCommitFailures,
          retryInMs: this.config.duties.commitRetryDelayMs,
          error,
        },
      );
      if (!this.stopped) {
        const retry = setTimeout(() => this.track(this.commitIfDue()), this.config.duties.commitRetryDelayMs);
        retry.unref();
      }
    } finally {
      this.committing = false;
    }
  }

  /**
   * Settles rewards and the fees of every policy not yet settled to its end (held, or whose share
   * expired or was revoked since), then claims unclaimed vouchers. A policy over by chain time
   * before this settlement is settled to its end by it (and its share released on chain).
   */
  async settle(): Promise<void> {
    // one settlement at a time: a slow one is not overlapped by the next tick
    if (this.settling || this.stopped) return;
    this.settling = true;
    try {
      const now = await this.chain.now();
      const policies = this.storage.unsettledPolicies();
      await this.chain.settle(
        this.staker,
        policies.map((p) => p.policyId),
      );
      this.storage.markSettled(policies.filter((p) => p.endsAt <= now).map((p) => p.policyId));
      for (const voucher of this.storage.unclaimedVouchers()) {
        const policy = await this.chain.policy(voucher.policyId, this.staker);
        const position = policy ? policy.nodes.indexOf(this.staker) : -1;
        if (!policy || position < 0 || voucher.count <= policy.claimed) {
          this.storage.markClaimed(voucher.policyId, voucher.count);
          continue;
        }
        await this.chain.claimReencryptions(voucher.policyId, position, voucher.count, voucher.signature);
        this.storage.markClaimed(voucher.policyId, voucher.count);
      }
      this.state.lastSettledAt = Date.now();
      this.metrics.settlements.inc({ result: "success" });
      this.logger.info("settled rewards and fees");
    } catch (error) {
      this.metrics.settlements.inc({ result: "failure" });
      this.logger.warn("settlement failed; will retry at the next interval", { error });
    } finally {
      this.settling = false;
    }
  }

  /** Deletes shares of policies that ended (by chain time) and nonces past their window. */
  async collectGarbage(): Promise<void> {
    try {
      const shares = this.storage.collectExpired(await this.chain.now());
      const nonces = this.storage.collectNonces(Date.now());
      this.metrics.shares.set(this.storage.countShares());
      if (shares > 0) this.logger.info("deleted expired shares", { shares, nonces });
    } catch (error) {
      this.logger.warn("garbage collection failed", { error });
    }
  }

  private recordCommitted(period: number): void {
    this.state.lastCommittedPeriod = period;
    this.state.consecutiveCommitFailures = 0;
    this.state.lastCommitError = undefined;
    this.metrics.commitmentAlarm.set(0);
    this.metrics.lastCommittedPeriod.set(period);
  }

  private track(duty: Promise<void>): void {
    this.underWay.add(duty);
    // (each duty logs and counts its own failures)
    duty.catch(() => undefined).finally(() => this.underWay.delete(duty));
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const timer = setInterval(() => this.track(fn()), ms);
    timer.unref();
    this.timers.push(timer);
  }
}
