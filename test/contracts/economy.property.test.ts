import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import type { ContractTransactionResponse } from "ethers";
import { EconomyModel, ModelError } from "../../src/chain/model";
import {
  currentPeriod,
  deployEscrowFixture,
  deployPolicyManager,
  maxFeeRate,
  minFeeRate,
  nextPeriod,
  testParams,
  testReserve,
  testSupply,
  unit,
} from "./fixtures";

/** Escrow and manager, the governance a slasher, four stakers with operators bonded and stakes of
 * 500, 1 000, 1 500 and 2 000 NKMS locked for 8, 12, 16 and 20 periods, the last one winding down. */
async function deployPropertyFixture() {
  const e = await deployEscrowFixture();
  const policyManager = await deployPolicyManager(e);
  await e.escrow.setSlasher(e.governance.address, true);
  for (const [i, s] of e.stakers.entries()) {
    await e.escrow.connect(s).bondOperator(e.operators[i].address);
    await e.escrow.connect(s).deposit(initialStake(i), initialLock(i));
  }
  await e.escrow.connect(e.stakers[3]).setWindDown(true);
  const [owner, reporter] = e.others;
  await e.token.connect(owner).approve(policyManager, ethers.MaxUint256);
  return { ...e, policyManager, owner, reporter };
}

const initialStake = (i: number) => BigInt(500 * (i + 1)) * unit;
const initialLock = (i: number) => BigInt(8 + 4 * i);

type Op =
  | { kind: "deposit"; s: number; tokens: bigint; periods: bigint }
  | { kind: "lock"; s: number; tokens: bigint; periods: bigint }
  | { kind: "prolong"; s: number; periods: bigint }
  | { kind: "windDown"; s: number; on: boolean }
  | { kind: "withdraw"; s: number; tokens: bigint }
  | { kind: "commit"; s: number }
  | { kind: "settleStake"; s: number }
  | { kind: "advance"; periods: number }
  | { kind: "createPolicy"; nodes: boolean[]; startIn: bigint; length: bigint; highRate: boolean }
  | { kind: "revokePolicy"; k: number }
  | { kind: "revokeNode"; k: number; position: number }
  | { kind: "settlePolicy"; k: number }
  | { kind: "withdrawFees"; account: number }
  | { kind: "slash"; s: number; tokens: bigint; rewardTokens: bigint; reporter: boolean };

const staker = fc.integer({ min: 0, max: 3 });
const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  weighted(
    2,
    fc.record({
      kind: fc.constant("deposit" as const),
      s: staker,
      tokens: fc.oneof(
        weighted(9, fc.bigInt({ min: 100n, max: 3_000n })),
        weighted(1, fc.constantFrom(0n, 99n, 100_000n)),
      ),
      periods: fc.oneof(weighted(9, fc.bigInt({ min: 5n, max: 12n })), weighted(1, fc.constant(4n))),
    }),
  ),
  weighted(
    1,
    fc.record({
      kind: fc.constant("lock" as const),
      s: staker,
      tokens: fc.bigInt({ min: 0n, max: 300n }),
      periods: fc.bigInt({ min: 4n, max: 8n }),
    }),
  ),
  weighted(
    1,
    fc.record({ kind: fc.constant("prolong" as const), s: staker, periods: fc.bigInt({ min: 0n, max: 3n }) }),
  ),
  weighted(1, fc.record({ kind: fc.constant("windDown" as const), s: staker, on: fc.boolean() })),
  weighted(
    2,
    fc.record({
      kind: fc.constant("withdraw" as const),
      s: staker,
      tokens: fc.bigInt({ min: 0n, max: 2_000n }),
    }),
  ),
  weighted(10, fc.record({ kind: fc.constant("commit" as const), s: staker })),
  weighted(1, fc.record({ kind: fc.constant("settleStake" as const), s: staker })),
  weighted(5, fc.record({ kind: fc.constant("advance" as const), periods: fc.integer({ min: 1, max: 3 }) })),
  weighted(
    4,
    fc.record({
      kind: fc.constant("createPolicy" as const),
      nodes: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      startIn: fc.oneof(weighted(9, fc.bigInt({ min: 0n, max: 2n })), weighted(1, fc.constant(-1n))),
      length: fc.oneof(weighted(9, fc.bigInt({ min: 1n, max: 8n })), weighted(1, fc.constant(0n))),
      highRate: fc.boolean(),
    }),
  ),
  weighted(1, fc.record({ kind: fc.constant("revokePolicy" as const), k: fc.nat() })),
  weighted(
    1,
    fc.record({
      kind: fc.constant("revokeNode" as const),
      k: fc.nat(),
      position: fc.integer({ min: 0, max: 3 }),
    }),
  ),
  weighted(3, fc.record({ kind: fc.constant("settlePolicy" as const), k: fc.nat() })),
  weighted(
    2,
    fc.record({ kind: fc.constant("withdrawFees" as const), account: fc.integer({ min: 0, max: 4 }) }),
  ),
  weighted(
    1,
    fc.record({
      kind: fc.constant("slash" as const),
      s: staker,
      tokens: fc.bigInt({ min: 0n, max: 600n }),
      rewardTokens: fc.bigInt({ min: 0n, max: 500n }),
      reporter: fc.boolean(),
    }),
  ),
);

describe("economy model (fast-check): random operation sequences match the TypeScript model", () => {
  it("keeps every balance equal to the model's and creates or loses no token outside issuance", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { minLength: 20, maxLength: 40 }), async (ops) => {
        const e = await loadFixture(deployPropertyFixture);
        const pm = e.policyManager;
        const stakers = e.stakers.map((s) => s.address);
        const accounts = [...stakers, e.owner.address, e.reporter.address];
        const wallets: Record<string, bigint> = {};
        for (const a of accounts) wallets[a] = await e.token.balanceOf(a);
        for (const [i, s] of stakers.entries()) wallets[s] += initialStake(i);
        const model = new EconomyModel(
          {
            ...testParams,
            k1: BigInt(testParams.k1),
            k2: BigInt(testParams.k2),
            kmax: BigInt(testParams.kmax),
            minLockPeriods: BigInt(testParams.minLockPeriods),
            initialReserve: testReserve,
            minFeeRate,
            maxFeeRate,
          },
          await currentPeriod(),
          wallets,
        );
        // replay the fixture's stakes in the model
        for (const [i, s] of stakers.entries()) {
          model.bond(s, true);
          model.deposit(s, initialStake(i), initialLock(i));
        }
        model.setWindDown(stakers[3], true);
        const policyIds: string[] = [];
        const policyId = (k: number) =>
          policyIds.length ? policyIds[k % policyIds.length] : "0x" + "ee".repeat(16);

        for (const op of ops) {
          let expected: string | undefined;
          let send: () => Promise<ContractTransactionResponse>;
          const attempt = (f: () => unknown) => {
            try {
              f();
            } catch (error) {
              if (!(error instanceof ModelError)) throw error;
              expected = error.code;
            }
          };
          switch (op.kind) {
            case "deposit":
              attempt(() => model.deposit(stakers[op.s], op.tokens * unit, op.periods));
              send = () => e.escrow.connect(e.stakers[op.s]).deposit(op.tokens * unit, op.periods);
              break;
            case "lock":
              attempt(() => model.lock(stakers[op.s], op.tokens * unit, op.periods));
              send = () => e.escrow.connect(e.stakers[op.s]).lock(op.tokens * unit, op.periods);
              break;
            case "prolong":
              attempt(() => model.prolong(stakers[op.s], op.periods));
              send = () => e.escrow.connect(e.stakers[op.s]).prolong(op.periods);
              break;
            case "windDown":
              attempt(() => model.setWindDown(stakers[op.s], op.on));
              send = () => e.escrow.connect(e.stakers[op.s]).setWindDown(op.on);
              break;
            case "withdraw":
              attempt(() => model.withdraw(stakers[op.s], op.tokens * unit));
              send = () => e.escrow.connect(e.stakers[op.s]).withdraw(op.tokens * unit);
              break;
            case "commit":
              attempt(() => model.commit(stakers[op.s]));
              send = () => e.escrow.connect(e.operators[op.s]).commitToNextPeriod();
              break;
            case "settleStake":
              attempt(() => model.settle(stakers[op.s]));
              send = () => e.escrow.settle(stakers[op.s]);
              break;
            case "advance":
              model.advance(BigInt(op.periods));
              await nextPeriod(op.periods);
              continue;
            case "createPolicy": {
              const nodes = stakers
                .filter((_, i) => op.nodes[i])
                .sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
              const id = ethers.zeroPadValue(ethers.toBeHex(policyIds.length + 1), 16);
              const start = model.period + op.startIn;
              const rate = op.highRate ? unit : minFeeRate;
              attempt(() => model.createPolicy(id, e.owner.address, start, start + op.length, rate, nodes));
              if (expected === undefined) policyIds.push(id);
              send = () =>
                pm
                  .connect(e.owner)
                  .createPolicy(id, e.reporter.address, start, start + op.length, rate, nodes);
              break;
            }
            case "revokePolicy":
              attempt(() => model.revokePolicy(policyId(op.k), e.owner.address));
              send = () => pm.connect(e.owner).revokePolicy(policyId(op.k));
              break;
            case "revokeNode":
              attempt(() => model.revokeNode(policyId(op.k), e.owner.address, op.position));
              send = () => pm.connect(e.owner).revokeNode(policyId(op.k), op.position);
              break;
            case "settlePolicy":
              attempt(() => model.settlePolicy(policyId(op.k)));
              send = () => pm.settle([policyId(op.k)]);
              break;
            case "withdrawFees":
              attempt(() => model.withdrawFees(accounts[op.account]));
              send = () => pm.connect([...e.stakers, e.owner][op.account]).withdraw();
              break;
            case "slash": {
              const reporter = op.reporter ? e.reporter.address : undefined;
              model.slash(stakers[op.s], op.tokens * unit, reporter, op.rewardTokens * unit);
              send = () =>
                e.escrow.slash(
                  stakers[op.s],
                  op.tokens * unit,
                  reporter ?? ethers.ZeroAddress,
                  op.rewardTokens * unit,
                );
              break;
            }
          }
          if (expected === undefined) {
            await (await send()).wait();
          } else {
            const where = e.escrow.interface.getError(expected) ? e.escrow : pm;
            await expect(send(), `${op.kind} should fail with ${expected}`).to.be.revertedWithCustomError(
              where,
              expected,
            );
          }
          await compare();
        }

        async function compare() {
          const [reserve, supply, escrowHeld, pmHeld] = await Promise.all([
            e.escrow.rewardReserve(),
            e.token.totalSupply(),
            e.token.balanceOf(e.escrow),
            e.token.balanceOf(pm),
          ]);
          expect(reserve, "reward reserve").to.equal(model.reserve);
          // no token created or lost: the supply only shrinks by what slashing burned
          expect(supply, "total supply").to.equal(testSupply - model.burned);
          let staked = 0n;
          for (const s of stakers) {
            const [value, info, pending] = await Promise.all([
              e.escrow.stakeOf(s),
              e.escrow.stakeInfo(s),
              e.escrow.pendingReward(s),
            ]);
            const st = model.stake(s);
            expect(value, "stake value").to.equal(st.value);
            expect([info.locked, info.lockEnd, info.windDown, info.shares], "lock").to.deep.equal([
              st.locked,
              st.lockEnd,
              st.windDown,
              st.shares,
            ]);
            expect(pending, "pending reward").to.equal(model.pendingReward(s));
            staked += st.value;
          }
          expect(escrowHeld, "escrow holds stakes and reserve").to.equal(model.reserve + staked);
          let owed = model.unsettledFees();
          for (const a of accounts) {
            const [fees, wallet] = await Promise.all([pm.balanceOf(a), e.token.balanceOf(a)]);
            expect(fees, "fee balance").to.equal(model.feeBalances.get(a) ?? 0n);
            expect(wallet, "wallet").to.equal(model.wallets.get(a) ?? 0n);
            owed += fees;
          }
          expect(pmHeld, "manager holds unsettled fees and balances").to.equal(owed);
        }
      }),
      { numRuns: 20 },
    );
  });
});
