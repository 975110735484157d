import { expect } from "chai";
import tls from "node:tls";
import { NotBondedError } from "../../src/node/errors";
import { connectNodeChain } from "../../src/node/chain-contracts";
import { startNode, type RunningNode } from "../../src/node/run";
import { requestNode } from "../../src/protocol/https";
import { hexlify } from "ethers";
import { buildAccessLogRequest } from "../../src/protocol/build";
import { decode, encode } from "../../src/protocol/codec";
import { AccessLog, AccessLogRequest } from "../../src/protocol/messages";
import { connect, createPolicy, expectRefusal, metricsOf, policyManager, post, shareFor } from "./client";
import {
  captureLogger,
  createTestNode,
  eventually,
  nextPeriod,
  PASSPHRASE,
  runTestNode,
  startTestNet,
  type TestNet,
  type TestNode,
} from "./harness";

describe("node duties", function () {
  let net: TestNet;
  let testNode: TestNode;
  let running: RunningNode | undefined;

  before(async () => {
    net = await startTestNet();
    testNode = await createTestNode(net, net.signers[1], {
      tune: (config) => {
        config.limits.ratePerSecond = 1;
        config.limits.rateBurst = 5;
        config.limits.requestTimeoutMs = 1_000;
        // settlement on a schedule, as a node runs it
        config.duties.settleIntervalMs = 300;
      },
    });
  });

  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  after(async () => net?.close());

  it("refuses to start while its operator is not bonded", async () => {
    const unbonded = await createTestNode(net, net.signers[2], { bond: false });
    const { logger, lines } = captureLogger();
    await runTestNode(unbonded, logger).then(
      () => expect.fail("started unbonded"),
      (error: unknown) => expect(error).to.be.instanceOf(NotBondedError),
    );
    expect(lines.some((line) => line.level === "error" && String(line.msg).includes("not bonded"))).to.equal(
      true,
    );
    // nothing listens on its port
    await requestNode({
      url: unbonded.config.publicUrl,
      method: "GET",
      path: "/health",
      timeoutMs: 2000,
    }).then(
      () => expect.fail("an unbonded node is serving"),
      (error: { code?: string }) => expect(error.code).to.equal("NETWORK"),
    );
  });

  it("commits to the next period automatically, period after period", async () => {
    running = await runTestNode(testNode);
    const staker = testNode.staker.address;
    for (let i = 0; i < 3; i++) {
      const next = Number(await net.escrow.currentPeriod()) + 1;
      await eventually(() => net.escrow.committed(staker, next));
      await nextPeriod(net);
    }
    const current = Number(await net.escrow.currentPeriod());
    expect(await net.escrow.committedPeriods(staker, current - 2, current + 1)).to.equal(3n);
    // the node records its commitment once it has seen the receipt, a moment after the chain
    await eventually(async () => (running!.duties.state.lastCommittedPeriod ?? -1) >= current);
  });

  it("raises an alarm in logs and metrics when a commitment fails, and recovers by retrying", async () => {
    const { logger, lines } = captureLogger();
    running = await runTestNode(testNode, logger);
    const staker = testNode.staker.address;
    await eventually(async () => running!.duties.state.lastCommittedPeriod !== undefined);
    await net.escrow.pause();
    await nextPeriod(net);
    await eventually(() => running!.duties.state.consecutiveCommitFailures >= 2);
    expect(lines.some((line) => line.level === "error" && String(line.msg).startsWith("ALARM"))).to.equal(
      true,
    );
    const metrics = () =>
      metricsOf({
        url: testNode.config.publicUrl,
        fingerprint: Buffer.from(testNode.tlsFingerprint.slice(2), "hex"),
      });
    const alarmed = await metrics();
    expect(alarmed).to.contain("nkms_commitment_alarm 1");
    expect(alarmed).to.match(/nkms_commitments_total\{result="failure"\} [1-9]/);
    await net.escrow.unpause();
    const next = Number(await net.escrow.currentPeriod()) + 1;
    await eventually(() => net.escrow.committed(staker, next));
    await eventually(() => running!.duties.state.consecutiveCommitFailures === 0);
    expect(await metrics()).to.contain("nkms_commitment_alarm 0");
  });

  it("deletes the shares of expired policies", async () => {
    running = await runTestNode(testNode);
    const node = await connect(testNode.config.publicUrl, testNode.tlsFingerprint);
    const grant = await createPolicy(net, net.signers[3], [node.metadata.staker], { periods: 1 });
    await post(node, "/v1/shares", await shareFor(grant, node));
    expect(running.storage.getShare(grant.policyId)).to.not.equal(undefined);
    await nextPeriod(net);
    await eventually(() => running!.storage.getShare(grant.policyId) === undefined);
  });

  it("settles a policy to its end after its expired share was collected: fees paid, share released on chain, log still readable", async () => {
    running = await runTestNode(testNode);
    const node = await connect(testNode.config.publicUrl, testNode.tlsFingerprint);
    const staker = node.metadata.staker;
    const pm = await policyManager(net);
    const grant = await createPolicy(net, net.signers[3], [staker], { periods: 2 });
    await post(node, "/v1/shares", await shareFor(grant, node));
    const [, held] = await net.escrow.shareCapacity(staker);
    const balance = await pm.balanceOf(staker);
    // the node commits to the policy's second period, then the policy ends and its share is collected
    const second = Number(await net.escrow.currentPeriod()) + 1;
    await eventually(() => net.escrow.committed(staker, second));
    await nextPeriod(net);
    await nextPeriod(net);
    await eventually(() => running!.storage.getShare(grant.policyId) === undefined);

    // the settlement schedule settles its last period: the share no longer counts against the
    // stake (nor does the one of the previous test's policy, also over and collected), the fee is
    // the node's
    expect(held).to.be.greaterThan(0n);
    await eventually(async () => (await net.escrow.shareCapacity(staker))[1] === 0n);
    expect(await pm.balanceOf(staker)).to.be.greaterThan(balance);
    await eventually(
      () =>
        !running!.storage.unsettledPolicies().some((p) => hexlify(p.policyId) === hexlify(grant.policyId)),
    );
    // the owner still reads the (empty) access log of the expired policy
    const request = buildAccessLogRequest({
      policyId: grant.policyId,
      node: staker,
      ownerSigner: grant.ownerSigner,
    });
    const page = decode(AccessLog, await post(node, "/v1/access-log", encode(AccessLogRequest, request)));
    expect(page.entries).to.have.length(0);
  });

  it("answers 503 CHAIN_UNAVAILABLE, not a 500, when a chain read of a request fails, and keeps serving", async () => {
    // the node's real chain access, with reads that fail while `down` names them
    const down = new Set<string>();
    running = await startNode(testNode.config, PASSPHRASE, {
      logger: captureLogger().logger,
      chain: async (secret) => {
        const chain = await connectNodeChain(testNode.config, secret);
        return new Proxy(chain, {
          get(target, name, receiver) {
            const value = Reflect.get(target, name, receiver) as unknown;
            if (typeof value !== "function") return value;
            return (...args: unknown[]) =>
              down.has(String(name))
                ? Promise.reject(new Error("the RPC endpoint is down"))
                : (value as (...a: unknown[]) => unknown).apply(target, args);
          },
        });
      },
    });
    const node = await connect(testNode.config.publicUrl, testNode.tlsFingerprint);
    const grant = await createPolicy(net, net.signers[3], [node.metadata.staker]);
    const share = await shareFor(grant, node);
    for (const read of ["shareCapacity", "policy"]) {
      down.add(read);
      await expectRefusal(post(node, "/v1/shares", share), 503, "CHAIN_UNAVAILABLE");
      down.delete(read);
    }
    await post(node, "/v1/shares", share);
    expect(running.storage.getShare(grant.policyId)).to.not.equal(undefined);
  });

  it("drops a client that sends its request too slowly (the request timeout) and keeps serving", async () => {
    running = await runTestNode(testNode);
    const { hostname, port } = new URL(testNode.config.publicUrl);
    const socket = tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false });
    await new Promise((resolve) => socket.once("secureConnect", resolve));
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    // a body of 100 bytes announced, 10 sent, the rest never
    socket.write(`POST /v1/shares HTTP/1.1\r\nHost: ${hostname}\r\nContent-Length: 100\r\n\r\n`);
    socket.write(Buffer.alloc(10));
    await new Promise((resolve) => socket.once("close", resolve));
    expect(answer).to.match(/^HTTP\/1\.1 408 /);
    await connect(testNode.config.publicUrl, testNode.tlsFingerprint);
  });

  it("rate-limits a client that sends too many requests", async () => {
    running = await runTestNode(testNode);
    const node = await connect(testNode.config.publicUrl, testNode.tlsFingerprint);
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () => post(node, "/v1/metadata", new Uint8Array())),
    );
    const statuses = results.map((r) =>
      r.status === "rejected" ? (r.reason as { status: number }).status : 200,
    );
    expect(statuses.filter((s) => s === 429).length).to.be.greaterThan(0);
    await expectRefusal(post(node, "/v1/metadata", new Uint8Array()), 429, "RATE_LIMITED");
  });
});
