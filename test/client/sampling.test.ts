import { expect } from "chai";
import fc from "fast-check";
import { randomBelow, stakeWeightedOrder } from "../../src/client/sampling";

describe("client: stake-weighted node sampling", () => {
  it("returns every staked candidate exactly once and leaves out zero stakes", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 10n ** 24n }), { maxLength: 20 }), (stakes) => {
        const candidates = stakes.map((stake, i) => ({ staker: `n${i}`, stake }));
        const order = stakeWeightedOrder(candidates);
        const expected = candidates
          .filter((c) => c.stake > 0n)
          .map((c) => c.staker)
          .sort();
        expect(order.map((c) => c.staker).sort()).to.deep.equal(expected);
      }),
      { numRuns: 200 },
    );
  });

  it("draws the first node with probability proportional to stake", () => {
    const candidates = [
      { staker: "small", stake: 1n },
      { staker: "medium", stake: 3n },
      { staker: "large", stake: 6n },
    ];
    const firsts = new Map<string, number>();
    const runs = 20_000;
    for (let i = 0; i < runs; i++) {
      const first = stakeWeightedOrder(candidates)[0].staker;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    // expected 10 %, 30 %, 60 %; five standard deviations of slack (σ ≤ 0.35 %)
    expect(firsts.get("small")! / runs).to.be.closeTo(0.1, 0.018);
    expect(firsts.get("medium")! / runs).to.be.closeTo(0.3, 0.018);
    expect(firsts.get("large")! / runs).to.be.closeTo(0.6, 0.018);
  });

  it("samples without replacement: the second draw is proportional among the rest", () => {
    const candidates = [
      { staker: "a", stake: 1n },
      { staker: "b", stake: 1n },
      { staker: "whale", stake: 98n },
    ];
    let whaleFirst = 0;
    let aSecondAfterWhale = 0;
    for (let i = 0; i < 5000; i++) {
      const order = stakeWeightedOrder(candidates).map((c) => c.staker);
      if (order[0] === "whale") {
        whaleFirst++;
        if (order[1] === "a") aSecondAfterWhale++;
      }
    }
    expect(aSecondAfterWhale / whaleFirst).to.be.closeTo(0.5, 0.05);
  });

  it("randomBelow has no modulo bias on a bound just above a power of two", () => {
    // bound 5: 3 random bits, values 5..7 must be rejected, not folded
    const bytes = [7, 6, 5, 4].map((v) => Uint8Array.of(v));
    let i = 0;
    expect(randomBelow(5n, () => bytes[i++])).to.equal(4n);
    expect(i).to.equal(4);
  });
});
