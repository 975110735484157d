/**
 * What the node reads from and sends to the chain, behind one interface so the service logic
 * does not depend on contract plumbing. `ContractNodeChain` (src/chain/contracts.ts) is the
 * implementation over the deployed contracts. `PolicyCache` keeps policy state and chain time
 * for a short, configurable lifetime.
 */
/**
 * A policy as PolicyManager holds it. A policy exists on chain only once its fee was paid
 * (createPolicy transfers it), so "unknown" and "unpaid" are the same answer.
 */
export interface PolicyInfo {
  owner: string;
  /** the recipient's Ethereum address (signs vouchers) */
  recipient: string;
  /** staker addresses of the policy's nodes, in position order */
  nodes: string[];
  /** seconds since the epoch (chain time): start of startPeriod, start of endPeriod */
  startTime: number;
  endTime: number;
  /** the owner revoked the policy, or revoked the asking node's part of it */
  revoked: boolean;
  /** per-re-encryption price (0: not metered), the budget left, and how many re-encryptions
   * the asking node already claimed */
  price: bigint;
  budget: bigint;
  claimed: bigint;
}

export interface NodeChain {
  readonly chainId: bigint;
  /** the Adjudicator's address (the EIP-712 domain of binding signatures) */
  readonly adjudicator: string;
  /** the PolicyManager's address (the EIP-712 domain of vouchers) */
  readonly policyManager: string;
  /** the KeyLeakChallenge's address (the EIP-712 domain of custody receipts) */
  readonly keyLeakChallenge: string;
  /** latest block timestamp, seconds */
  now(): Promise<number>;
  /** the staker that bonded `operator`, or the zero address */
  stakerOfOperator(operator: string): Promise<string>;
  /** the policy as seen by `node` (a staker address), undefined if it does not exist */
  policy(policyId: Uint8Array, node: string): Promise<PolicyInfo | undefined>;
  shareCapacity(staker: string): Promise<{ capacity: bigint; held: bigint }>;
  currentPeriod(): Promise<number>;
  isCommitted(staker: string, period: number): Promise<boolean>;
  /** sends commitToNextPeriod() from the operator and waits for it to be mined */
  commitToNextPeriod(): Promise<void>;
  /** settles the staker's rewards and the fees of these policies, and withdraws what is due */
  settle(staker: string, policyIds: Uint8Array[]): Promise<void>;
  /** claims the re-encryptions of a voucher (cumulative count) for the node at `position` */
  claimReencryptions(
    policyId: Uint8Array,
    position: number,
    count: bigint,
    signature: Uint8Array,
  ): Promise<void>;
}

/** A value read from the chain: the last answer kept, and the read on its way (if any). */
interface Cached<T> {
  kept?: Read<T>;
  reading?: Promise<Read<T>>;
}

/** One answer of the chain and when it was asked for. */
interface Read<T> {
  at: number;
  value: T;
}

export class PolicyCache {
  private policies = new Map<string, Cached<PolicyInfo | undefined>>();
  private time: Cached<number> = {};

  constructor(
    private readonly chain: NodeChain,
    private readonly node: string,
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The policy's state, from the cache unless older than the lifetime or `fresh` is asked. An
   * entry past half its lifetime is read again in the background, so requests do not wait for
   * the chain when it expires (and never get an answer older than the lifetime).
   */
  async policy(policyId: Uint8Array, fresh = false): Promise<PolicyInfo | undefined> {
    const key = Buffer.from(policyId).toString("hex");
    let entry = this.policies.get(key);
    if (!entry) {
      if (this.policies.size > 100_000) this.policies.clear();
      entry = {};
      this.policies.set(key, entry);
    }
    return (await this.get(entry, () => this.chain.policy(policyId, this.node), fresh)).value;
  }

  /** Chain time: the last block timestamp read, advanced by the local clock since (read early like policies). */
  async now(): Promise<number> {
    const time = await this.get(this.time, () => this.chain.now(), false);
    return time.value + Math.floor((this.clock() - time.at) / 1000);
  }

  /**
   * The kept value unless older than the lifetime or `fresh` is asked; past half the lifetime
   * it is read again in the background. Concurrent reads share one, except fresh ones.
   */
  private get<T>(entry: Cached<T>, read: () => Promise<T>, fresh: boolean): Promise<Read<T>> {
    const age = entry.kept ? this.clock() - entry.kept.at : Infinity;
    if (!fresh && age < this.ttlMs) {
      if (age >= this.ttlMs / 2 && !entry.reading) {
        this.read(entry, read).catch(() => {}); // a failed early read leaves the entry to expire
      }
      return Promise.resolve(entry.kept!);
    }
    // a fresh read must start now: it does not join one already on its way
    return (!fresh && entry.reading) || this.read(entry, read);
  }

  private read<T>(entry: Cached<T>, read: () => Promise<T>): Promise<Read<T>> {
    const at = this.clock();
    const reading = read().then((value) => {
      // reads may finish out of order: an older read never replaces a newer one
      if (!entry.kept || entry.kept.at <= at) entry.kept = { at, value };
      return { at, value };
    });
    entry.reading = reading;
    const done = () => {
      if (entry.reading === reading) entry.reading = undefined;
    };
    void reading.then(done, done);
    return reading;
  }
}
