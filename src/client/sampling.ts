/**
 * Node sampling: a random order of the candidates in which each next node is drawn with
 * probability proportional to its stake among those not drawn yet (sampling without
 * replacement). A grant takes the first n nodes of the order that answer; the rest of the
 * order are the replacements, so a failed node is replaced by another stake-weighted draw.
 */
import { randomBytes } from "node:crypto";
import { ClientError } from "./errors";

export interface StakedCandidate {
  staker: string;
  /** stake locked through the policy's last period, in the token's smallest unit */
  stake: bigint;
}

/** A uniform integer in [0, bound), by rejection sampling (no modulo bias). */
export function randomBelow(bound: bigint, random: (n: number) => Uint8Array = randomBytes): bigint {
  if (bound <= 0n) throw new ClientError("INVALID_ARGUMENT", "the bound must be positive");
  const bits = bound.toString(2).length;
  const bytes = Math.ceil(bits / 8);
  const mask = (1n << BigInt(bits)) - 1n;
  for (;;) {
    const value = BigInt("0x" + Buffer.from(random(bytes)).toString("hex")) & mask;
    if (value < bound) return value;
  }
}

/** The candidates with a positive stake in a stake-weighted random order (see the file comment). */
export function stakeWeightedOrder<T extends StakedCandidate>(
  candidates: readonly T[],
  random?: (n: number) => Uint8Array,
): T[] {
  const pool = candidates.filter((c) => c.stake > 0n);
  let total = pool.reduce((sum, c) => sum + c.stake, 0n);
  const order: T[] = [];
  while (pool.length > 0) {
    let point = randomBelow(total, random);
    let index = 0;
    while (point >= pool[index].stake) {
      point -= pool[index].stake;
      index++;
    }
    const [chosen] = pool.splice(index, 1);
    total -= chosen.stake;
    order.push(chosen);
  }
  return order;
}
