/**
 * Faults, end to end over HTTPS: nodes killed (real processes) during a retrieval, a node
 * restarted between grant and retrieval, a slow node, an expired policy, a wrong recipient, and
 * a revocation with too few acknowledgements. One devnet of five nodes; nodes 0 and 1 run as
 * `nkms node run` child processes.
 */
import { expect } from "chai";
import hre from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { ClientError, encryptMessage, NodesFailedError, Owner, Recipient, SecretKey } from "../../src/client";
import { startDevnet, type Devnet } from "../../src/cli/devnet";
import { tokens } from "../../src/chain/params";

const PROCESSES = [0, 1];

describe("e2e: faults", function () {
  let devnet: Devnet;
  let dir: string;
  let alice: Owner;
  let bob: Recipient;

  async function waitCommitted(staker: string): Promise<void> {
    const next = BigInt(await devnet.contracts.escrow.currentPeriod()) + 1n;
    const deadline = Date.now() + 60_000;
    while (!(await devnet.contracts.escrow.committed(staker, next))) {
      if (Date.now() > deadline) throw new Error(`${staker} did not commit`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const policyFor = async (shares: number, threshold: number, periods = 10) => {
    const grant = await alice.grant({
      recipient: bob.publicKey,
      label: "faults",
      threshold,
      shares,
      periods,
      feeRate: tokens(1n),
    });
    return { grant, policy: bob.openPolicy(grant.sealedMap) };
  };
  const capsule = () => encryptMessage(alice.labelKey("faults"), Buffer.from("fault")).capsule;
  const indexOf = (staker: string) => devnet.nodes.findIndex((n) => n.staker.address === staker);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-faults-"));
    devnet = await startDevnet({ hre, nodes: 5, dir, processes: PROCESSES });
    alice = new Owner({ seed: new Uint8Array(32).fill(3), network: devnet.network, wallet: devnet.owner });
    bob = new Recipient({
      secretKey: SecretKey.random(),
      defaults: { hedgeDelayMs: 100, nodeTimeoutMs: 10_000 },
    });
  });

  after(async () => {
    alice?.close();
    bob?.close();
    await devnet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("n − m nodes killed during a retrieval: Bob still decrypts with the other m", async () => {
    const { policy } = await policyFor(5, 3);
    const kit = encryptMessage(alice.labelKey("faults"), Buffer.from("still here"));
    const retrieval = bob.decryptMessage(policy, kit, { mode: "all" });
    for (const i of PROCESSES) devnet.nodes[i].process!.kill("SIGKILL");
    expect(Buffer.from(await retrieval).toString()).to.equal("still here");
    // and with those two gone for good, a fresh retrieval names them
    const again = await bob.retrieve(policy, [kit.capsule], { waitForAll: true });
    expect(again.servedBy).to.have.length(3);
    const failed = again.failures.map((f) => f.node).sort();
    expect(failed).to.deep.equal(PROCESSES.map((i) => devnet.nodes[i].staker.address).sort());
    for (const f of again.failures) expect(f.code).to.equal("NETWORK");
  });

  it("a node restarted between grant and retrieval serves again", async () => {
    const { grant, policy } = await policyFor(3, 3);
    const restarted = indexOf(grant.nodes[0].staker);
    await devnet.stopNode(restarted);
    await devnet.startNode(restarted);
    const result = await bob.retrieve(policy, [capsule()], { waitForAll: true });
    expect(result.failures).to.deep.equal([]);
    expect(result.servedBy).to.include(grant.nodes[0].staker);
  });

  it("a slow node does not hold Bob up: the hedge asks another node and he decrypts without it", async () => {
    const { grant, policy } = await policyFor(3, 2);
    const slow = devnet.nodes[indexOf(grant.nodes[0].staker)].running!;
    const honest = slow.service.reencrypt.bind(slow.service);
    let slowAnswered = false;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    slow.service.reencrypt = async (body: Uint8Array) => {
      await held;
      slowAnswered = true;
      return honest(body);
    };
    try {
      // the slow node is first in the map, so it is always among the first m asked
      const result = await bob.retrieve(policy, [capsule()], { mode: "hedged", hedgeDelayMs: 50 });
      expect(slowAnswered).to.equal(false);
      expect(result.servedBy).to.not.include(grant.nodes[0].staker);
      expect(result.servedBy).to.have.length(2);
    } finally {
      release();
      slow.service.reencrypt = honest;
    }
  });

  it("an expired policy is refused by every node", async () => {
    const { policy } = await policyFor(3, 2, 1);
    const { escrow } = devnet.contracts;
    const period = BigInt(await escrow.currentPeriod());
    await time.increaseTo((period + 1n) * BigInt(await escrow.periodLength()));
    const error = await bob.retrieve(policy, [capsule()], { mode: "all" }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(NodesFailedError);
    const failures = (error as NodesFailedError).failures;
    expect(failures).to.have.length(3);
    for (const f of failures) expect(f.code).to.match(/POLICY_EXPIRED/);
    // the running nodes keep committing in the new period
    for (const n of devnet.nodes.filter((d) => d.running)) await waitCommitted(n.staker.address);
  });

  it("a wrong recipient cannot open the map, and nodes refuse its requests", async () => {
    const { grant, policy } = await policyFor(3, 2);
    const eve = new Recipient({ secretKey: SecretKey.random() });
    try {
      expect(() => eve.openPolicy(grant.sealedMap)).to.throw(/another recipient/);
      // even holding the map's contents, Eve's signed requests are refused
      const error = await eve.retrieve(policy, [capsule()], { mode: "all" }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(NodesFailedError);
      for (const f of (error as NodesFailedError).failures) expect(f.code).to.equal("HTTP 403 NOT_RECIPIENT");
    } finally {
      eve.close();
    }
  });

  it("a revocation acknowledged by fewer than n − m + 1 nodes is reported as not guaranteed", async () => {
    const { grant } = await policyFor(3, 2);
    const down = grant.nodes.slice(0, 2).map((n) => indexOf(n.staker));
    await Promise.all(down.map((i) => devnet.stopNode(i)));
    try {
      const result = await alice.revoke(grant.map, { onChain: false });
      expect(result.required).to.equal(2);
      expect(result.acknowledged).to.deep.equal([grant.nodes[2].staker]);
      expect(result.guaranteed).to.equal(false);
      expect(result.failures.map((f) => f.node).sort()).to.deep.equal(
        grant.nodes
          .slice(0, 2)
          .map((n) => n.staker)
          .sort(),
      );
    } finally {
      await Promise.all(down.map((i) => devnet.startNode(i)));
    }
  });

  it("a metered policy: Bob's requests carry cumulative vouchers that pay each node per re-encryption", async () => {
    const price = tokens(2n);
    const grant = await alice.grant({
      recipient: bob.publicKey,
      label: "faults",
      threshold: 2,
      shares: 3,
      periods: 5,
      feeRate: tokens(1n),
      metering: { price, budget: tokens(100n) },
    });
    expect(grant.transactions.map((t) => t.name)).to.include.members([
      "setReencryptionPrice",
      "fundReencryptions",
    ]);
    const policy = bob.openPolicy(grant.sealedMap);
    const { policyManager } = devnet.contracts;
    expect((await policyManager.metering(grant.policyId)).price).to.equal(price);
    await bob.retrieve(policy, [capsule()], { mode: "all" });
    const second = await bob.retrieve(policy, [capsule(), capsule()], { waitForAll: true });
    expect(second.failures).to.deep.equal([]);
    const nodes = [...((await policyManager.policyNodes(grant.policyId)) as string[])];
    for (const voucher of second.vouchers) {
      // every node served the first retrieval's capsule (mode "all" sends to all) and two more
      expect(voucher.count).to.equal(3n);
      const before = (await policyManager.balanceOf(voucher.node)) as bigint;
      await (
        await policyManager.claimReencryptions(
          grant.policyId,
          nodes.indexOf(voucher.node),
          voucher.count,
          voucher.signature,
        )
      ).wait();
      expect(((await policyManager.balanceOf(voucher.node)) as bigint) - before).to.equal(3n * price);
    }
    expect(second.vouchers).to.have.length(3);
  });

  it("an owner whose wallet speaks JSON-RPC sends a grant's transactions back to back, and a refused one does not stall the next", async () => {
    // ethers' JsonRpcProvider answers identical requests made within 250 ms from one response: a
    // second nonce query right after a mined transaction gets the nonce that transaction used
    const provider = new JsonRpcProvider(devnet.rpcUrl);
    const wallet = Wallet.createRandom().connect(provider);
    await hre.network.provider.send("hardhat_setBalance", [wallet.address, "0x56BC75E2D63100000"]);
    await (await devnet.contracts.token.transfer(wallet.address, tokens(1_000n))).wait();
    const carol = new Owner({ seed: new Uint8Array(32).fill(5), network: devnet.network, wallet });
    const grant = (feeRate: bigint) =>
      carol.grant({
        recipient: bob.publicKey,
        label: "json-rpc",
        threshold: 1,
        shares: 2,
        periods: 2,
        feeRate,
        metering: { price: tokens(1n), budget: tokens(10n) },
      });
    try {
      const first = await grant(tokens(1n));
      expect(first.transactions.map((t) => t.name)).to.deep.equal([
        "approve",
        "createPolicy",
        "setReencryptionPrice",
        "fundReencryptions",
      ]);
      // refused by the gas estimate: no transaction sent, so no nonce used
      const refused = await grant(0n).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).to.be.instanceOf(ClientError);
      expect((refused as ClientError).code).to.equal("CHAIN_ERROR");
      expect((refused as Error).message).to.match(/createPolicy: FeeRateOutOfRange\(0, /);
      const second = await grant(tokens(1n));
      expect(second.transactions.map((t) => t.name)).to.include("createPolicy");
      expect(await devnet.contracts.policyManager.isPolicyActive(second.policyId)).to.equal(true);
    } finally {
      carol.close();
      provider.destroy();
    }
  });
});
