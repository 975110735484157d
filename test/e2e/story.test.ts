/**
 * The whole NKMS story end to end, one test per step, over real HTTPS on loopback: the
 * contracts on the in-process Hardhat chain (served over JSON-RPC), five staked nodes, the SDK.
 * The steps share one network and run in order.
 */
import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import {
  encryptMessage,
  encryptStream,
  NodesFailedError,
  Owner,
  Recipient,
  SecretKey,
} from "../../src/client";
import { DEVNET_PASSPHRASE, startDevnet, type Devnet } from "../../src/cli/devnet";
import { tokens } from "../../src/chain/params";
import { getBytes, hexlify, randomBytes } from "ethers";
import { KeyLeakChallenge__factory } from "../../typechain-types";
import { leakKfragKey, makeLiar, makeSwapper } from "./lying-node";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { leakCommitment } from "../../src/chain/key-leak";

/** the pieces as a stream, as a file read would give them */
const from = (...pieces: Uint8Array[]): AsyncIterable<Uint8Array> => Readable.from(pieces);

describe("e2e: the NKMS story over HTTPS", function () {
  let devnet: Devnet;
  let alice: Owner;
  let bob: Recipient;
  let dir: string;
  const file = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
  let sealedFile: Buffer;
  let grant: Awaited<ReturnType<Owner["grant"]>>;
  let policy: ReturnType<Recipient["openPolicy"]>;
  const feeRate = tokens(1n);
  const periods = 10;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-e2e-"));
    devnet = await startDevnet({ hre, nodes: 5, dir });
    alice = new Owner({ seed: new Uint8Array(32).fill(42), network: devnet.network, wallet: devnet.owner });
    const reporter = (await hre.ethers.getSigners())[5];
    bob = new Recipient({
      secretKey: SecretKey.random(),
      adjudicator: devnet.contracts.adjudicator!.connect(reporter) as typeof devnet.contracts.adjudicator,
      chain: { chainId: devnet.chainId, adjudicatorAddress: devnet.deployment.contracts.Adjudicator! },
      defaults: { hedgeDelayMs: 100 },
    });
  });

  after(async () => {
    alice?.close();
    bob?.close();
    await devnet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("Alice encrypts a file to a label key with no network", async () => {
    sealedFile = await buffer(encryptStream(alice.labelKey("reports"), from(file), { chunkSize: 16_384 }));
    expect(sealedFile.length).to.be.greaterThan(file.length);
    // and she can always read it herself
    expect(
      (await buffer(alice.decryptStream("reports", from(sealedFile)))).equals(Buffer.from(file)),
    ).to.equal(true);
  });

  it("Alice grants Bob 3-of-5 for a fee in NKMS, paid to the PolicyManager", async () => {
    const pm = await devnet.contracts.policyManager.getAddress();
    const before = (await devnet.contracts.token.balanceOf(pm)) as bigint;
    grant = await alice.grant({
      recipient: bob.publicKey,
      label: "reports",
      threshold: 3,
      shares: 5,
      periods,
      feeRate,
    });
    expect(grant.nodes).to.have.length(5);
    expect(grant.failures).to.deep.equal([]);
    expect(grant.fee).to.equal(feeRate * 5n * BigInt(periods));
    expect((await devnet.contracts.token.balanceOf(pm)) - before).to.equal(grant.fee);
    const info = await devnet.contracts.policyManager.policyInfo(grant.policyId);
    expect(info.owner).to.equal(devnet.owner.address);
    expect([...info.nodes].sort()).to.deep.equal(grant.nodes.map((n) => n.staker).sort());
  });

  it("Bob opens the policy map (only he can) and decrypts the file through 3 nodes", async () => {
    expect(() => new Recipient({ secretKey: SecretKey.random() }).openPolicy(grant.sealedMap)).to.throw(
      /another recipient/,
    );
    policy = bob.openPolicy(grant.sealedMap, alice.verifyingKey);
    expect(policy.map.threshold).to.equal(3);
    const plain = await buffer(bob.decryptStream(policy, from(sealedFile)));
    expect(plain.equals(Buffer.from(file))).to.equal(true);
  });

  it("two nodes are stopped and Bob still decrypts", async () => {
    const stopped = grant.nodes
      .slice(0, 2)
      .map((n) => devnet.nodes.findIndex((d) => d.staker.address === n.staker));
    await Promise.all(stopped.map((i) => devnet.stopNode(i)));
    try {
      const result = await bob.retrieve(policy, [
        encryptMessage(alice.labelKey("reports"), Buffer.from("x")).capsule,
      ]);
      expect(result.servedBy).to.have.length(3);
      expect(result.servedBy).to.not.include.members(grant.nodes.slice(0, 2).map((n) => n.staker));
      const plain = await buffer(bob.decryptStream(policy, from(sealedFile), { mode: "all" }));
      expect(plain.equals(Buffer.from(file))).to.equal(true);
    } finally {
      await Promise.all(stopped.map((i) => devnet.startNode(i)));
    }
  });

  it("a node that lies is caught: Bob still decrypts and its evidence slashes it on-chain", async () => {
    const liarIndex = devnet.nodes.findIndex((d) => d.staker.address === grant.nodes[0].staker);
    const liar = devnet.nodes[liarIndex];
    const honest = await makeLiar(liar.running!, liar.config.dataDir, DEVNET_PASSPHRASE, {
      chainId: devnet.chainId,
      adjudicator: devnet.deployment.contracts.Adjudicator!,
    });
    try {
      const stakeBefore = (await devnet.contracts.escrow.stakeOf(liar.staker.address)) as bigint;
      const capsules = ["x", "y", "z"].map(
        (m) => encryptMessage(alice.labelKey("reports"), Buffer.from(m)).capsule,
      );
      const result = await bob.retrieve(policy, capsules, { waitForAll: true });
      expect(result.servedBy).to.not.include(liar.staker.address);
      expect(result.incorrect).to.have.length(1);
      const report = result.incorrect[0];
      expect(report.node).to.equal(liar.staker.address);
      expect(report.evidence.correct).to.equal(false);
      // the first wrong cfrag of a 3-cfrag answer: its proof climbs two levels to the signed root
      expect(report.proof).to.have.length(2);
      expect(report.submission).to.have.property("hash");
      const penalty = (report.submission as { penalty?: bigint }).penalty!;
      expect(penalty > 0n).to.equal(true);
      expect((await devnet.contracts.escrow.stakeOf(liar.staker.address)) as bigint).to.equal(
        stakeBefore - penalty,
      );
      const failure = result.failures.find((f) => f.node === liar.staker.address)!;
      expect(failure.code).to.equal("INVALID_CFRAG");
    } finally {
      honest();
    }
  });

  it("an answer whose binding signature does not cover its cfrags is refused, and no evidence is kept", async () => {
    const node = devnet.nodes.find((d) => d.staker.address === grant.nodes[1].staker)!;
    const honest = await makeSwapper(node.running!, node.config.dataDir, DEVNET_PASSPHRASE);
    try {
      const stakeBefore = (await devnet.contracts.escrow.stakeOf(node.staker.address)) as bigint;
      const capsules = ["a", "b"].map(
        (m) => encryptMessage(alice.labelKey("reports"), Buffer.from(m)).capsule,
      );
      const result = await bob.retrieve(policy, capsules, { waitForAll: true });
      expect(result.servedBy).to.not.include(node.staker.address);
      expect(result.failures.find((f) => f.node === node.staker.address)!.code).to.equal("BAD_BINDING");
      expect(result.incorrect).to.have.length(0);
      expect((await devnet.contracts.escrow.stakeOf(node.staker.address)) as bigint).to.equal(stakeBefore);
    } finally {
      honest();
    }
  });

  it("a leaked kfrag is challenged (commit, then reveal with the node's custody receipt) and its node slashed", async () => {
    const leaker = devnet.nodes.find((d) => d.staker.address === grant.nodes[3].staker)!;
    const key = await leakKfragKey(
      leaker.running!,
      leaker.config.dataDir,
      DEVNET_PASSPHRASE,
      getBytes(grant.policyId),
    );
    const receipt = grant.receipts.find((r) => r.node === leaker.staker.address)!;
    const [, , , , , , challenger] = await hre.ethers.getSigners();
    const challenge = KeyLeakChallenge__factory.connect(
      devnet.deployment.contracts.KeyLeakChallenge!,
      challenger,
    );
    const position = [...(await devnet.contracts.policyManager.policyNodes(grant.policyId))].indexOf(
      leaker.staker.address,
    );
    const salt = hexlify(randomBytes(32));
    const commitment = leakCommitment(challenger.address, grant.policyId, position, key, salt);
    const stakeBefore = (await devnet.contracts.escrow.stakeOf(leaker.staker.address)) as bigint;
    await (await challenge.commit(commitment)).wait();
    await expect(
      challenge.reveal(grant.policyId, position, key, salt, receipt.commitmentHash, receipt.custodySignature),
    ).to.emit(challenge, "LeakProven");
    expect((await devnet.contracts.escrow.stakeOf(leaker.staker.address)) < stakeBefore).to.equal(true);
    expect(await devnet.contracts.policyManager.isNodeActive(grant.policyId, position)).to.equal(false);
    // the node stops serving the policy; Bob decrypts with the others
    const { capsule } = encryptMessage(alice.labelKey("reports"), Buffer.from("z"));
    const result = await bob.retrieve(policy, [capsule], { waitForAll: true });
    expect(result.servedBy).to.not.include(leaker.staker.address);
    expect(result.failures.find((f) => f.node === leaker.staker.address)?.code).to.match(/POLICY_REVOKED/);
  });

  it("Alice revokes: every node acknowledges, revocation is guaranteed, and Bob is refused", async () => {
    const refundBefore = (await devnet.contracts.token.balanceOf(devnet.owner.address)) as bigint;
    const revoked = await alice.revoke(grant.map);
    expect(revoked.acknowledged).to.have.length(5);
    expect(revoked.required).to.equal(3);
    expect(revoked.guaranteed).to.equal(true);
    expect(revoked.transaction?.name).to.equal("revokePolicy");
    expect((await devnet.contracts.token.balanceOf(devnet.owner.address)) > refundBefore).to.equal(true);
    const error = await buffer(bob.decryptStream(policy, from(sealedFile), { mode: "all" })).catch(
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(NodesFailedError);
    const failed = error as NodesFailedError;
    expect(failed.code).to.equal("RETRIEVAL_FAILED");
    expect(failed.failures).to.have.length(5);
    for (const f of failed.failures) expect(f.code).to.match(/POLICY_REVOKED/);
    expect(failed.message).to.include(grant.nodes[0].staker);
  });

  it("a period passes: nodes commit, rewards accrue and fees are paid to the nodes", async () => {
    const staker = grant.nodes[1].staker;
    const { escrow, policyManager } = devnet.contracts;
    const worth = async () =>
      ((await escrow.stakeOf(staker)) as bigint) + ((await escrow.pendingReward(staker)) as bigint);
    const before = await worth();
    const period = BigInt(await escrow.currentPeriod());
    await time.increaseTo((period + 1n) * BigInt(await escrow.periodLength()));
    // the nodes commit to the new next period on their own, which settles their rewards
    const deadline = Date.now() + 20_000;
    while (!(await escrow.committed(staker, period + 2n))) {
      if (Date.now() > deadline) throw new Error("node did not commit");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await worth()) > before).to.equal(true);
    // the policy's served period (committed by every node) is paid to the nodes
    await (await policyManager.settle([grant.policyId])).wait();
    for (const node of grant.nodes) {
      expect((await policyManager.balanceOf(node.staker)) as bigint).to.equal(feeRate);
    }
  });

  it("Alice reads and verifies every node's access log", async () => {
    const log = await alice.accessLog(grant.map);
    expect(log.failures).to.deep.equal([]);
    expect(log.nodes).to.have.length(5);
    const served = log.nodes.reduce((sum, n) => sum + n.entries.length, 0);
    // first decryption (3) + two retrievals with two nodes down (3 + 3) + the liar's round (5)
    // + the audit after the key leak (4)
    expect(served).to.be.greaterThanOrEqual(3 + 6 + 5 + 4);
    for (const n of log.nodes) {
      n.entries.forEach((e, i) => {
        expect(e.sequence).to.equal(BigInt(i));
        expect(e.requester).to.equal("0x" + Buffer.from(bob.publicKey.toCompressedBytes()).toString("hex"));
      });
    }
  });

  it("a node that drops the tail of its log is caught by the owner who read it before", async () => {
    const before = await alice.accessLog(grant.map);
    const heads = before.nodes.map((n) => ({ node: n.node, ...n.entries[n.entries.length - 1] }));
    // the node answers with a shorter log, its pages as validly signed as ever
    const dropper = devnet.nodes.find((n) => n.staker.address === grant.nodes[0].staker)!;
    const db = new Database(path.join(dropper.config.dataDir, "node.sqlite"));
    try {
      db.prepare(
        "DELETE FROM access_log WHERE policy_id = ? AND sequence = (SELECT MAX(sequence) FROM access_log WHERE policy_id = ?)",
      ).run(Buffer.from(getBytes(grant.policyId)), Buffer.from(getBytes(grant.policyId)));
    } finally {
      db.close();
    }
    const log = await alice.accessLog(grant.map);
    expect(log.failures.map((f) => [f.node, f.code])).to.deep.equal([
      [dropper.staker.address, "ACCESS_LOG_INVALID"],
    ]);
    expect(log.nodes).to.have.length(4);
    // an Owner with no memory of the earlier read passes the log, unless given the heads kept
    const forgetful = new Owner({
      seed: new Uint8Array(32).fill(42),
      network: devnet.network,
      wallet: devnet.owner,
    });
    try {
      expect((await forgetful.accessLog(grant.map)).failures).to.deep.equal([]);
      const told = await forgetful.accessLog(grant.map, { heads });
      expect(told.failures.map((f) => f.node)).to.deep.equal([dropper.staker.address]);
    } finally {
      forgetful.close();
    }
  });
});
