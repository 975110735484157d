/** `nkms stake deposit | bond | commit | withdraw | status`: a staker's (and operator's) transactions. */
import type { Command } from "commander";
import { getAddress } from "ethers";
import { clientContracts } from "../client/contracts";
import { ClientError } from "../client/errors";
import { mined } from "../client/owner";
import {
  connect,
  formatNkms as nkms,
  output,
  parseInteger,
  parseTokens,
  withNetwork,
  type NetworkOptions,
} from "./common";

/** Runs `fn` with the contracts as the paying account and prints what it returns. */
async function withStaker(
  o: NetworkOptions,
  fn: (c: ReturnType<typeof clientContracts>, address: string) => Promise<Record<string, unknown>>,
) {
  const c = connect(o);
  try {
    output(await fn(clientContracts(c.network.deployment, c.wallet), c.wallet.address), o.json);
  } finally {
    c.close();
  }
}

export function registerStakeCommands(program: Command): void {
  const stake = program
    .command("stake")
    .description("stake NKMS, bond a node's operator, commit, withdraw (the paying account is the staker)");

  withNetwork(
    stake
      .command("deposit")
      .description("approve and lock NKMS for a number of periods")
      .requiredOption("--amount <nkms>", "how much to lock, in NKMS")
      .requiredOption("--periods <n>", "lock duration in periods (at least the escrow's minimum)"),
  )
    .addHelpText("after", "\nExample:\n  nkms stake deposit --amount 20000 --periods 60 --wallet-key 0x…")
    .action((o) =>
      withStaker(o, async ({ token, escrow }) => {
        const amount = parseTokens(o.amount, "--amount");
        const periods = parseInteger(o.periods, "--periods");
        const approve = await mined("approve", token.approve(await escrow.getAddress(), amount));
        const deposit = await mined("deposit", escrow.deposit(amount, periods));
        return { locked: nkms(amount), periods, transactions: [approve, deposit] };
      }),
    );

  withNetwork(
    stake
      .command("bond")
      .description("bond a node's operator address to the staker")
      .requiredOption("--operator <address>", "the operator address `nkms node init` printed")
      .addHelpText("after", "\nExample:\n  nkms stake bond --operator 0x… --wallet-key 0x…"),
  ).action((o) =>
    withStaker(o, async ({ escrow }) => {
      let operator: string;
      try {
        operator = getAddress(o.operator);
      } catch {
        throw new ClientError("INVALID_ARGUMENT", `--operator: not an address: ${o.operator}`);
      }
      return { operator, transaction: await mined("bondOperator", escrow.bondOperator(operator)) };
    }),
  );

  withNetwork(
    stake
      .command("commit")
      .description("commit to the next period (the paying account must be the operator)")
      .addHelpText("after", "\nExample:\n  nkms stake commit --wallet-key 0x…        # the operator's key"),
  ).action((o) =>
    withStaker(o, async ({ escrow }) => ({
      transaction: await mined("commitToNextPeriod", escrow.commitToNextPeriod()),
    })),
  );

  withNetwork(
    stake
      .command("withdraw")
      .description("withdraw unlocked NKMS (settles rewards first)")
      .requiredOption("--amount <nkms>", "how much, in NKMS")
      .addHelpText("after", "\nExample:\n  nkms stake withdraw --amount 1000 --wallet-key 0x…"),
  ).action((o) =>
    withStaker(o, async ({ escrow }) => {
      const amount = parseTokens(o.amount, "--amount");
      return { withdrawn: nkms(amount), transaction: await mined("withdraw", escrow.withdraw(amount)) };
    }),
  );

  withNetwork(
    stake
      .command("status")
      .description("a staker's stake, lock, operator, commitments and rewards")
      .option("--staker <address>", "the staker (default: the paying account)")
      .addHelpText("after", "\nExample:\n  nkms stake status --staker 0x…"),
  ).action((o) =>
    withStaker(o, async ({ escrow, token, policyManager }, address) => {
      const staker = o.staker ? getAddress(o.staker) : address;
      const info = await escrow.stakeInfo(staker);
      const value = await escrow.stakeOf(staker);
      const period = BigInt(await escrow.currentPeriod());
      const [capacity, held] = await escrow.shareCapacity(staker);
      return {
        staker,
        balance: nkms(await token.balanceOf(staker)),
        stake: nkms(value),
        locked: nkms(await escrow.lockedStakeAt(staker, period)),
        windDown: info.windDown,
        operator: await escrow.operatorOf(staker),
        currentPeriod: period,
        committedCurrent: await escrow.committed(staker, period),
        committedNext: await escrow.committed(staker, period + 1n),
        pendingReward: nkms(await escrow.pendingReward(staker)),
        feesToWithdraw: nkms(await policyManager.balanceOf(staker)),
        shares: `${held} of ${capacity}`,
      };
    }),
  );
}
