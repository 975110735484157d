/**
 * `npm run demo`: the whole NKMS story on the in-process Hardhat network, with real HTTPS
 * nodes on loopback, narrated step by step. Ends with a summary table: the gas of each
 * transaction, retrieval latencies and balances.
 */
import hre from "hardhat";
import { formatUnits, getBytes, hexlify, randomBytes } from "ethers";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { tokens } from "../src/chain/params";
import { DEVNET_PASSPHRASE, startDevnet, type Devnet } from "../src/cli/devnet";
import {
  encryptMessage,
  encryptStream,
  NodesFailedError,
  Owner,
  Recipient,
  SecretKey,
  type TransactionRecord,
} from "../src/client";
import { leakKfragKey, makeLiar } from "../test/e2e/lying-node";
import { KeyLeakChallenge__factory } from "../typechain-types";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { leakCommitment } from "../src/chain/key-leak";

const gasRows: { step: string; transaction: string; gasUsed: bigint }[] = [];
const latencyRows: { retrieval: string; ms: string }[] = [];
let stepNumber = 0;

function step(title: string): void {
  console.log(`\n== ${++stepNumber}. ${title}`);
}

function say(line: string): void {
  console.log(`   ${line}`);
}

function recordGas(stepName: string, records: TransactionRecord[]): void {
  for (const r of records) gasRows.push({ step: stepName, transaction: r.name, gasUsed: r.gasUsed });
}

const nkms = (value: bigint) => `${formatUnits(value, 18)} NKMS`;
const short = (address: string) => `${address.slice(0, 8)}…${address.slice(-4)}`;

/** the pieces as a stream, as a file read would give them */
const from = (...pieces: Uint8Array[]): AsyncIterable<Uint8Array> => Readable.from(pieces);

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await fn();
  latencyRows.push({ retrieval: label, ms: (performance.now() - start).toFixed(1) });
  return result;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-demo-"));
  let devnet: Devnet | undefined;
  let alice: Owner | undefined;
  let bob: Recipient | undefined;
  try {
    step("Deploy the contracts and start five staked nodes (HTTPS on loopback)");
    devnet = await startDevnet({ hre, nodes: 5, dir });
    for (const [name, record] of Object.entries(await hre.deployments.all())) {
      gasRows.push({
        step: "deploy",
        transaction: name,
        gasUsed: BigInt(record.receipt?.gasUsed?.toString() ?? 0),
      });
    }
    const { escrow, policyManager, token, adjudicator } = devnet.contracts;
    console.table(
      await Promise.all(
        devnet.nodes.map(async (n) => ({
          staker: short(n.staker.address),
          stake: nkms((await escrow.stakeOf(n.staker.address)) as bigint),
          url: n.url,
        })),
      ),
    );
    say(
      `chain ${devnet.chainId} over JSON-RPC at ${devnet.rpcUrl}; every node committed to the current period`,
    );

    step("Alice encrypts a file to her label 'medical-records' (no network needed)");
    alice = new Owner({ seed: new Uint8Array(32).fill(7), network: devnet.network, wallet: devnet.owner });
    const file = new Uint8Array(1 << 20).map((_, i) => (i * 131) & 0xff);
    const sealed = await buffer(encryptStream(alice.labelKey("medical-records"), from(file)));
    say(
      `1 MiB → ${sealed.length} bytes of ciphertext; the label key is ${alice.labelKey("medical-records").toString().slice(0, 30)}…`,
    );

    step("Alice grants Bob 3-of-5 for 10 periods at 1 NKMS per node per period");
    const [, , , , , , , , , reporter] = await hre.ethers.getSigners();
    bob = new Recipient({
      secretKey: SecretKey.random(),
      adjudicator: adjudicator!.connect(reporter) as typeof adjudicator,
      chain: { chainId: devnet.chainId, adjudicatorAddress: devnet.deployment.contracts.Adjudicator! },
      defaults: { hedgeDelayMs: 100 },
    });
    const aliceBefore = (await token.balanceOf(devnet.owner.address)) as bigint;
    const grant = await alice.grant({
      recipient: bob.publicKey,
      label: "medical-records",
      threshold: 3,
      shares: 5,
      periods: 10,
      feeRate: tokens(1n),
    });
    recordGas("grant", grant.transactions);
    say(`policy ${grant.policyId}: fee ${nkms(grant.fee)} paid to the PolicyManager`);
    say(`nodes (sampled by stake): ${grant.nodes.map((n) => short(n.staker)).join(", ")}`);
    say(`Bob receives the policy map: ${grant.sealedMap.length} bytes, signed by Alice and encrypted to him`);

    step("Bob decrypts the file: 3 nodes re-encrypt, every cfrag is verified");
    const policy = bob.openPolicy(grant.sealedMap, alice.verifyingKey);
    const plain = await timed("first retrieval (hedged, 3 of 5)", () =>
      buffer(bob!.decryptStream(policy, from(sealed))),
    );
    say(`decrypted ${plain.length} bytes, identical to Alice's: ${plain.equals(Buffer.from(file))}`);
    const message = encryptMessage(alice.labelKey("medical-records"), Buffer.from("a short note"));
    for (let i = 0; i < 5; i++) {
      await timed(`warm retrieval ${i + 1}`, () => bob!.decryptMessage(policy, message));
    }

    step("Two nodes are stopped; Bob still decrypts");
    const stopped = grant.nodes
      .slice(0, 2)
      .map((n) => devnet!.nodes.findIndex((d) => d.staker.address === n.staker));
    await Promise.all(stopped.map((i) => devnet!.stopNode(i)));
    const withTwoDown = await timed("with 2 of 5 nodes down", () => bob!.retrieve(policy, [message.capsule]));
    say(`served by ${withTwoDown.servedBy.map(short).join(", ")}; skipped:`);
    for (const f of withTwoDown.failures) say(`  ${short(f.node)} [${f.code}] ${f.message.slice(0, 70)}`);
    await Promise.all(stopped.map((i) => devnet!.startNode(i)));
    say("the two nodes are back");

    step("A node lies; Bob catches it and its evidence slashes it on-chain");
    const liar = devnet.nodes.find((d) => d.staker.address === grant.nodes[2].staker)!;
    const stakeBefore = (await escrow.stakeOf(liar.staker.address)) as bigint;
    const honest = await makeLiar(liar.running!, liar.config.dataDir, DEVNET_PASSPHRASE, {
      chainId: devnet.chainId,
      adjudicator: devnet.deployment.contracts.Adjudicator!,
    });
    const audited = await bob.retrieve(policy, [message.capsule], { waitForAll: true });
    honest();
    for (const report of audited.incorrect) {
      say(
        `node ${short(report.node)} returned a cfrag failing ${report.evidence.defect}, bound by its one signature of the answer's Merkle root (proof: ${report.proof.length} hashes)`,
      );
      if ("hash" in report.submission!) {
        gasRows.push({
          step: "slash",
          transaction: "Adjudicator.evaluateCFrag",
          gasUsed: report.submission.gasUsed,
        });
        say(
          `evidence submitted (${report.submission.gasUsed} gas): penalty ${nkms(report.submission.penalty)}`,
        );
      } else say(`evidence not accepted: ${report.submission!.error}`);
    }
    say(
      `stake of the liar: ${nkms(stakeBefore)} → ${nkms((await escrow.stakeOf(liar.staker.address)) as bigint)}; Bob still decrypted with ${audited.servedBy.length} honest nodes`,
    );

    step("A node leaks its kfrag; a challenger proves it (commit, then reveal) and the node is slashed");
    const leaker = devnet.nodes.find((d) => d.staker.address === grant.nodes[3].staker)!;
    const key = await leakKfragKey(
      leaker.running!,
      leaker.config.dataDir,
      DEVNET_PASSPHRASE,
      getBytes(grant.policyId),
    );
    const receipt = grant.receipts.find((r) => r.node === leaker.staker.address)!;
    const [, , , , , , , , challenger] = await hre.ethers.getSigners();
    const challenge = KeyLeakChallenge__factory.connect(
      devnet.deployment.contracts.KeyLeakChallenge!,
      challenger,
    );
    const position = [...((await policyManager.policyNodes(grant.policyId)) as string[])].indexOf(
      leaker.staker.address,
    );
    const salt = hexlify(randomBytes(32));
    const commitment = leakCommitment(challenger.address, grant.policyId, position, key, salt);
    const leakerStake = (await escrow.stakeOf(leaker.staker.address)) as bigint;
    const challengerBefore = (await token.balanceOf(challenger.address)) as bigint;
    const committed = await (await challenge.commit(commitment)).wait();
    const revealed = await (
      await challenge.reveal(
        grant.policyId,
        position,
        key,
        salt,
        receipt.commitmentHash,
        receipt.custodySignature,
      )
    ).wait();
    gasRows.push({ step: "key leak", transaction: "KeyLeakChallenge.commit", gasUsed: committed!.gasUsed });
    gasRows.push({ step: "key leak", transaction: "KeyLeakChallenge.reveal", gasUsed: revealed!.gasUsed });
    say(
      `node ${short(leaker.staker.address)} let rk of its kfrag leak; its custody receipt binds it to u1 = rk·U`,
    );
    say(
      `stake ${nkms(leakerStake)} → ${nkms((await escrow.stakeOf(leaker.staker.address)) as bigint)}; challenger paid ${nkms(((await token.balanceOf(challenger.address)) as bigint) - challengerBefore)}; node revoked from the policy: ${!(await policyManager.isNodeActive(grant.policyId, position))}`,
    );

    step("Alice revokes; Bob is refused");
    const revoked = await alice.revoke(grant.map);
    if (revoked.transaction) recordGas("revoke", [revoked.transaction]);
    say(
      `${revoked.acknowledged.length} of ${grant.nodes.length} nodes acknowledged (${revoked.required} needed): revocation ${revoked.guaranteed ? "guaranteed" : "NOT guaranteed"}`,
    );
    const refused = await bob.decryptMessage(policy, message, { mode: "all" }).catch((e: unknown) => e);
    if (!(refused instanceof NodesFailedError)) throw new Error("Bob was not refused after the revocation");
    say(`Bob: ${refused.message.split("\n")[0]}`);
    for (const f of refused.failures.slice(0, 2)) say(`  ${short(f.node)} [${f.code}]`);

    step("A period passes: nodes commit, rewards accrue, fees are paid");
    const period = BigInt(await escrow.currentPeriod());
    const periodLength = BigInt(await escrow.periodLength());
    const worth = async (staker: string) =>
      ((await escrow.stakeOf(staker)) as bigint) + ((await escrow.pendingReward(staker)) as bigint);
    const before = await Promise.all(grant.nodes.map((n) => worth(n.staker)));
    await hre.network.provider.send("evm_setNextBlockTimestamp", [
      `0x${((period + 1n) * periodLength).toString(16)}`,
    ]);
    await hre.network.provider.send("evm_mine", []);
    for (const n of grant.nodes) {
      const deadline = Date.now() + 30_000;
      while (!(await escrow.committed(n.staker, period + 2n))) {
        if (Date.now() > deadline) throw new Error(`node ${n.staker} did not commit`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const settle = await (await policyManager.settle([grant.policyId])).wait();
    gasRows.push({ step: "settle", transaction: "PolicyManager.settle", gasUsed: settle!.gasUsed });
    const balances = await Promise.all(
      grant.nodes.map(async (n, i) => ({
        node: short(n.staker),
        "reward (stake growth)": nkms((await worth(n.staker)) - before[i]),
        "fees to withdraw": nkms((await policyManager.balanceOf(n.staker)) as bigint),
        stake: nkms((await escrow.stakeOf(n.staker)) as bigint),
      })),
    );
    console.table(balances);
    say(
      `Alice paid ${nkms(grant.fee)} and got back ${nkms(((await token.balanceOf(devnet.owner.address)) as bigint) - (aliceBefore - grant.fee))} for the revoked periods`,
    );

    step("Alice reads the access log of every node (signed, hash-chained)");
    const log = await alice.accessLog(grant.map);
    console.table(
      log.nodes.map((n) => ({
        node: short(n.node),
        entries: n.entries.length,
        "last served": n.entries.at(-1)?.servedAt.toISOString() ?? "-",
      })),
    );
    if (log.failures.length > 0)
      for (const f of log.failures) say(`${short(f.node)}: [${f.code}] ${f.message}`);

    step("Summary");
    console.table(gasRows.map((r) => ({ ...r, gasUsed: r.gasUsed.toString() })));
    console.table(latencyRows);
    const pmAddress = await policyManager.getAddress();
    const holders: [string, string][] = [
      ["Alice (owner)", devnet.owner.address],
      ["PolicyManager (fees held)", pmAddress],
      ...grant.nodes.map((n, i): [string, string] => [`node ${i + 1} staker ${short(n.staker)}`, n.staker]),
    ];
    console.table(
      await Promise.all(
        holders.map(async ([who, address]) => ({
          account: who,
          "NKMS balance": nkms((await token.balanceOf(address)) as bigint),
          stake:
            address === pmAddress || address === devnet!.owner.address
              ? "-"
              : nkms((await escrow.stakeOf(address)) as bigint),
        })),
      ),
    );
  } finally {
    alice?.close();
    bob?.close();
    await devnet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
