import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import { encrypt } from "../../src/pre";
import { buildReencryptionRequest } from "../../src/protocol/build";
import { decode, encode } from "../../src/protocol/codec";
import { ReencryptionRequest, ReencryptionResponse, ShareReceipt } from "../../src/protocol/messages";
import { connect, createPolicy, post, shareFor, type Grant, type NodeHandle } from "./client";
import { startNode } from "../../src/node/run";
import {
  createTestNode,
  PASSPHRASE,
  spawnNode,
  startTestNet,
  waitServing,
  type TestNet,
  type TestNode,
} from "./harness";

describe("node crash safety", function () {
  this.timeout(300_000);
  let net: TestNet;
  let testNode: TestNode;
  let child: ChildProcess | undefined;

  before(async () => {
    net = await startTestNet();
    testNode = await createTestNode(net, net.signers[1]);
  });

  after(async () => {
    child?.kill("SIGKILL");
    await net?.close();
  });

  it("loses no acknowledged share when killed with SIGKILL during a burst of uploads", async () => {
    child = spawnNode(testNode);
    await waitServing(testNode);
    let node: NodeHandle = await connect(testNode.config.publicUrl, testNode.tlsFingerprint);
    const grants: Grant[] = [];
    for (let i = 0; i < 40; i++) grants.push(await createPolicy(net, net.signers[3], [node.metadata.staker]));
    const shares = await Promise.all(grants.map((grant) => shareFor(grant, node)));

    const acknowledged: { grant: Grant; receipt: ShareReceipt }[] = [];
    let killed = false;
    const upload = async (i: number) => {
      const body = await post(node, "/v1/shares", shares[i]);
      acknowledged.push({ grant: grants[i], receipt: decode(ShareReceipt, body) });
      if (acknowledged.length === 12 && !killed) {
        killed = true;
        child!.kill("SIGKILL");
      }
    };
    // 8 uploads in flight at a time until the kill
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < shares.length && !killed) await upload(next++).catch(() => undefined);
      }),
    );
    expect(killed).to.equal(true);
    await new Promise((resolve) => child!.once("exit", resolve));
    expect(acknowledged.length).to.be.at.least(12);
    expect(acknowledged.length).to.be.below(shares.length);

    child = spawnNode(testNode);
    await waitServing(testNode);
    node = await connect(testNode.config.publicUrl, testNode.tlsFingerprint);
    for (const { grant, receipt } of acknowledged) {
      // the share is there: the node re-encrypts with it, and re-uploading returns the original receipt
      const [capsule] = encrypt(grant.delegatingSk.publicKey(), new Uint8Array([1]));
      const request = buildReencryptionRequest({
        policyId: grant.policyId,
        node: node.metadata.staker,
        capsules: [capsule.toBytes()],
        recipientSigner: grant.recipientSigner,
      });
      const response = decode(
        ReencryptionResponse,
        await post(node, "/v1/reencrypt", encode(ReencryptionRequest, request)),
      );
      expect(response.cfrags).to.have.length(1);
      const again = decode(ShareReceipt, await post(node, "/v1/shares", shares[grants.indexOf(grant)]));
      expect(again.storedAt).to.equal(receipt.storedAt);
    }
    // the killed process's lock on the data directory went with it (the restart above took it);
    // the running one's holds: a second node on the same directory is refused before it acts
    let reachedChain = false;
    await startNode(testNode.config, PASSPHRASE, {
      chain: () => {
        reachedChain = true;
        throw new Error("a second node went on to the chain");
      },
    }).then(
      () => expect.fail("a second node started on a data directory in use"),
      (error: { code?: string }) => expect(error.code).to.equal("DATA_DIR_IN_USE"),
    );
    expect(reachedChain).to.equal(false);
    child.kill("SIGTERM");
    await new Promise((resolve) => child!.once("exit", resolve));
    child = undefined;
  });
});
