import { expect } from "chai";
import { hexlify, keccak256 } from "ethers";
import hre from "hardhat";
import { evaluateArguments, reencryptionLeaf } from "../../src/chain/adjudicator";
import { bindingProof } from "../../src/chain/merkle";
import { Capsule, CapsuleFrag, decryptReencrypted, encrypt, SecretKey, Signer } from "../../src/pre";
import { buildEvidence } from "../../src/pre/evidence";
import {
  buildAccessLogRequest,
  buildReencryptionRequest,
  buildRevocationOrder,
  checkReencryptionResponse,
  verifyAccessLog,
} from "../../src/protocol/build";
import { decode, encode } from "../../src/protocol/codec";
import { requestNode } from "../../src/protocol/https";
import {
  AccessLog,
  AccessLogRequest,
  NodeMetadata,
  PolicyShare,
  ReencryptionRequest,
  ReencryptionResponse,
  RevocationAck,
  RevocationOrder,
  ShareReceipt,
} from "../../src/protocol/messages";
import { recoverOperator, signUmbral, verifyOperator } from "../../src/protocol/signing";
import { signVoucher } from "../../src/protocol/vouchers";
import type { RunningNode } from "../../src/node/run";
import { Adjudicator__factory, KeyLeakChallenge__factory } from "../../typechain-types";
import {
  connect,
  createPolicy,
  expectRefusal,
  metricsOf,
  policyManager,
  post,
  shareFor,
  type Grant,
  type NodeHandle,
} from "./client";
import {
  createTestNode,
  nextPeriod,
  runTestNode,
  startTestNet,
  type TestNet,
  type TestNode,
} from "./harness";
import { leakCommitment } from "../../src/chain/key-leak";

describe("node service over HTTPS", function () {
  let net: TestNet;
  let testNode: TestNode;
  let otherNode: TestNode;
  let running: RunningNode;
  let node: NodeHandle;

  before(async () => {
    net = await startTestNet();
    testNode = await createTestNode(net, net.signers[1]);
    otherNode = await createTestNode(net, net.signers[2]);
    running = await runTestNode(testNode);
    node = await connect(testNode.config.publicUrl, testNode.tlsFingerprint);
  });

  after(async () => {
    await running?.close();
    await net?.close();
  });

  const owner = () => net.signers[3];
  const mine = () => [node.metadata.staker];

  async function storedGrant(options: Parameters<typeof createPolicy>[3] = {}): Promise<Grant> {
    const grant = await createPolicy(net, owner(), mine(), options);
    await post(node, "/v1/shares", await shareFor(grant, node));
    return grant;
  }

  function capsules(grant: Grant, count: number) {
    const delegating = grant.delegatingSk.publicKey();
    return Array.from({ length: count }, (_, i) =>
      encrypt(delegating, new TextEncoder().encode(`secret ${i}`)),
    );
  }

  /** A signed request of the grant's recipient to this node, for one fresh capsule unless told. */
  function requestFor(grant: Grant, options: Partial<Parameters<typeof buildReencryptionRequest>[0]> = {}) {
    return buildReencryptionRequest({
      policyId: grant.policyId,
      node: node.metadata.staker,
      capsules: options.capsules ?? [capsules(grant, 1)[0][0].toBytes()],
      recipientSigner: grant.recipientSigner,
      ...options,
    });
  }

  async function reencrypt(grant: Grant, caps: Capsule[], signer: Signer = grant.recipientSigner) {
    const request = requestFor(grant, {
      capsules: caps.map((c) => c.toBytes()),
      recipientSigner: signer,
    });
    const body = await post(node, "/v1/reencrypt", encode(ReencryptionRequest, request));
    return { request, response: decode(ReencryptionResponse, body) };
  }

  describe("metadata", () => {
    it("is signed by the operator and pins the certificate the node presents", async () => {
      const response = await requestNode({ url: node.url, method: "GET", path: "/v1/metadata" });
      const metadata = decode(NodeMetadata, response.body);
      expect(recoverOperator(NodeMetadata, metadata)).to.equal(testNode.operator);
      expect(metadata.operator).to.equal(testNode.operator);
      expect(metadata.staker).to.equal(net.signers[1].address);
      expect(hexlify(metadata.tlsFingerprint)).to.equal(hexlify(response.tlsFingerprint));
      expect(hexlify(metadata.encryptingKey)).to.equal(testNode.encryptingKey);
      expect(metadata.url).to.equal(testNode.config.publicUrl);
      expect(metadata.chainId).to.equal(31337n);
    });

    it("refuses to talk to a server whose certificate does not match the pin", async () => {
      const wrong = new Uint8Array(32).fill(1);
      await requestNode({ url: node.url, tlsFingerprint: wrong, method: "GET", path: "/v1/metadata" }).then(
        () => expect.fail("connected despite a wrong pin"),
        (error: { code?: string }) => expect(error.code).to.equal("CERTIFICATE_MISMATCH"),
      );
    });
  });

  describe("storing a policy share", () => {
    it("verifies the kfrag and the policy, stores it, and returns a signed receipt", async () => {
      const grant = await createPolicy(net, owner(), mine());
      const share = await shareFor(grant, node);
      const receipt = decode(ShareReceipt, await post(node, "/v1/shares", share));
      verifyOperator(ShareReceipt, receipt, testNode.operator);
      expect(hexlify(receipt.policyId)).to.equal(hexlify(grant.policyId));
      expect(receipt.node).to.equal(node.metadata.staker);
      expect(hexlify(receipt.shareHash)).to.equal(keccak256(share));
      expect(hexlify(receipt.kfragId)).to.equal(hexlify(grant.kfrags[0].kfrag.id));
      expect(hexlify(receipt.commitmentHash)).to.equal(
        keccak256(grant.kfrags[0].kfrag.commitment.uncompressed().subarray(1)),
      );
      // stored for real: the database has it
      expect(running.storage.getShare(grant.policyId)).to.not.equal(undefined);
      // the same upload again is answered with the same receipt; another share is refused
      const again = decode(ShareReceipt, await post(node, "/v1/shares", share));
      expect(again.storedAt).to.equal(receipt.storedAt);
      const other = await createPolicy(net, owner(), mine(), { onChain: false });
      const squat = { ...other, policyId: grant.policyId };
      await expectRefusal(post(node, "/v1/shares", await shareFor(squat, node)), 409, "SHARE_EXISTS");
    });

    it("gives a custody receipt with which a leaked kfrag gets the node punished by KeyLeakChallenge", async () => {
      const grant = await createPolicy(net, owner(), mine());
      const receipt = decode(ShareReceipt, await post(node, "/v1/shares", await shareFor(grant, node)));
      const challenger = net.signers[8];
      const challenge = KeyLeakChallenge__factory.connect(
        (await hre.deployments.get("KeyLeakChallenge")).address,
        challenger,
      );
      const key = grant.kfrags[0].kfrag.key;
      const salt = keccak256(new TextEncoder().encode("salt"));
      const commitment = leakCommitment(challenger.address, grant.policyId, 0, key, salt);
      await challenge.commit(commitment);
      await expect(
        challenge.reveal(grant.policyId, 0, key, salt, receipt.commitmentHash, receipt.custodySignature),
      ).to.emit(challenge, "LeakProven");
      // the node's part of the policy is revoked on chain: it stops serving it
      const [capsule] = encrypt(grant.delegatingSk.publicKey(), new Uint8Array([1]));
      await expectRefusal(reencrypt(grant, [capsule]), 410, "POLICY_REVOKED");
    });

    it("refuses an unsigned share", async () => {
      const grant = await createPolicy(net, owner(), mine());
      const share = decode(PolicyShare, await shareFor(grant, node));
      const unsigned = encode(PolicyShare, { ...share, signature: new Uint8Array(64) });
      await expectRefusal(post(node, "/v1/shares", unsigned), 401, "BAD_SIGNATURE");
    });

    it("refuses a share signed by someone else than its owner key", async () => {
      const grant = await createPolicy(net, owner(), mine());
      const share = decode(PolicyShare, await shareFor(grant, node));
      const forged = signUmbral(PolicyShare, share, new Signer(SecretKey.random()));
      await expectRefusal(post(node, "/v1/shares", encode(PolicyShare, forged)), 401, "BAD_SIGNATURE");
    });

    it("refuses a share not bound by the policy's on-chain owner", async () => {
      const grant = await createPolicy(net, owner(), mine());
      const squatter = { ...grant, owner: net.signers[4] };
      await expectRefusal(post(node, "/v1/shares", await shareFor(squatter, node)), 403, "NOT_OWNER");
    });

    it("refuses a share whose kfrag does not verify against the share's keys", async () => {
      const grant = await createPolicy(net, owner(), mine());
      const otherGrant = await createPolicy(net, owner(), mine(), { onChain: false });
      const mixed = { ...grant, kfrags: otherGrant.kfrags };
      await expectRefusal(post(node, "/v1/shares", await shareFor(mixed, node)), 400, "KFRAG_INVALID");
    });

    it("re-verifies a stored encrypted kfrag presented again under other keys (a framing attempt)", async () => {
      // an owner re-uses an accepted share's encrypted kfrag for a second policy with another
      // recipient: had the node trusted its cache of verified kfrags, it would serve cfrags
      // whose kfrag signature fails under the keys it vouches for, and be slashed for it
      const grant = await createPolicy(net, owner(), mine());
      const first = decode(PolicyShare, await shareFor(grant, node));
      await post(node, "/v1/shares", encode(PolicyShare, first));
      const second = await createPolicy(net, owner(), mine());
      const { signature: _, ...rest } = decode(
        PolicyShare,
        await shareFor({ ...second, ownerSigner: grant.ownerSigner, delegatingSk: grant.delegatingSk }, node),
      );
      const reused = signUmbral(
        PolicyShare,
        { ...rest, kfragCapsule: first.kfragCapsule, kfragCiphertext: first.kfragCiphertext },
        grant.ownerSigner,
      );
      await expectRefusal(post(node, "/v1/shares", encode(PolicyShare, reused)), 400, "KFRAG_INVALID");
    });

    it("refuses a kfrag encrypted to another key", async () => {
      const grant = await createPolicy(net, owner(), mine());
      const elsewhere = {
        ...node,
        metadata: { ...node.metadata, encryptingKey: SecretKey.random().publicKey().toCompressedBytes() },
      };
      await expectRefusal(
        post(node, "/v1/shares", await shareFor(grant, elsewhere)),
        400,
        "KFRAG_UNREADABLE",
      );
    });

    it("refuses a share for an unpaid policy (none on chain)", async () => {
      const grant = await createPolicy(net, owner(), mine(), { onChain: false });
      await expectRefusal(post(node, "/v1/shares", await shareFor(grant, node)), 402, "POLICY_UNPAID");
    });

    it("refuses a share of a policy that does not list this node", async () => {
      const other = await connect(otherNode.config.publicUrl, otherNode.tlsFingerprint).catch(
        () => undefined,
      );
      expect(other).to.equal(undefined); // the other node is staked but not running
      const grant = await createPolicy(net, owner(), [otherNode.staker.address]);
      await expectRefusal(post(node, "/v1/shares", await shareFor(grant, node)), 403, "NOT_LISTED");
    });

    it("refuses a share addressed to another node", async () => {
      const grant = await createPolicy(net, owner(), mine());
      const misaddressed = { ...node, metadata: { ...node.metadata, staker: otherNode.staker.address } };
      await expectRefusal(post(node, "/v1/shares", await shareFor(grant, misaddressed)), 400, "WRONG_NODE");
    });

    it("refuses a share of a policy revoked on chain", async () => {
      const grant = await createPolicy(net, owner(), mine());
      await (await policyManager(net, owner())).revokePolicy(grant.policyId);
      await expectRefusal(post(node, "/v1/shares", await shareFor(grant, node)), 410, "POLICY_REVOKED");
    });
  });

  describe("re-encryption", () => {
    it("re-encrypts single and batched capsules with cfrags the recipient verifies and decrypts", async () => {
      const grant = await storedGrant();
      // 37 capsules: a batch the node splits over its crypto workers, answered in order
      for (const count of [1, 3, 37]) {
        const caps = capsules(grant, count);
        const { request, response } = await reencrypt(
          grant,
          caps.map(([c]) => c),
        );
        const verifying = grant.ownerSk.publicKey();
        const delegating = grant.delegatingSk.publicKey();
        const receiving = grant.recipientSk.publicKey();
        const cfrags = response.cfrags.map((bytes, i) =>
          CapsuleFrag.fromBytes(bytes).verify(caps[i][0], verifying, delegating, receiving),
        );
        cfrags.forEach((cfrag, i) => {
          const plain = decryptReencrypted(grant.recipientSk, delegating, caps[i][0], [cfrag], caps[i][1]);
          expect(new TextDecoder().decode(plain)).to.equal(`secret ${i}`);
        });
        const nodeInfo = {
          operator: testNode.operator,
          chainId: 31337n,
          adjudicator: running.chain.adjudicator,
        };
        const keys = {
          ownerVerifyingKey: verifying.toCompressedBytes(),
          delegatingKey: delegating.toCompressedBytes(),
          capsulesSimple: caps.map(([c]) => c.toBytesSimple()),
          cfragsSimple: cfrags.map((c) => c.toBytesSimple()),
        };
        // one binding signature covers every cfrag of the answer, in order
        checkReencryptionResponse(response, request, nodeInfo, keys);
        if (count > 1) {
          const swapped = [...keys.cfragsSimple];
          [swapped[0], swapped[count - 1]] = [swapped[count - 1], swapped[0]];
          expect(() =>
            checkReencryptionResponse(response, request, nodeInfo, { ...keys, cfragsSimple: swapped }),
          )
            .to.throw()
            .with.property("code", "BAD_SIGNATURE");
        }
      }
    });

    it("signs each run of 8 cfrags once, so the Adjudicator takes each cfrag with its proof as binding (and judges it correct)", async () => {
      const grant = await storedGrant();
      const caps = capsules(grant, 11).map(([c]) => c);
      const { response } = await reencrypt(grant, caps);
      expect(response.bindingSignatures).to.have.length(2);
      const evidence = response.cfrags.map((cfrag, i) =>
        buildEvidence({
          capsule: caps[i],
          cfrag,
          verifyingKey: grant.ownerSk.publicKey(),
          delegatingKey: grant.delegatingSk.publicKey(),
          receivingKey: grant.recipientSk.publicKey(),
        }),
      );
      const leaves = evidence.map((e) =>
        reencryptionLeaf({
          capsule: e.capsule,
          cfrag: e.cfrag,
          verifyingKey: grant.ownerSk.publicKey().toCompressedBytes(),
          delegatingKey: grant.delegatingSk.publicKey().toCompressedBytes(),
          receivingKey: grant.recipientSk.publicKey().toCompressedBytes(),
        }),
      );
      const adjudicator = Adjudicator__factory.connect(running.chain.adjudicator, net.signers[5]);
      const argsOf = (i: number) => {
        const { root, proof } = bindingProof(leaves, i);
        expect(proof.length, `cfrag ${i}`).to.be.at.most(3);
        return evaluateArguments(evidence[i], proof, response.bindingSignatures[root]);
      };
      // a proof into the first root with the second root's signature recovers someone else (the
      // cfrag is correct, so that someone is not slashed: the verdict names who signed)
      const crossed = evaluateArguments(
        evidence[9],
        bindingProof(leaves, 1).proof,
        response.bindingSignatures[1],
      );
      await expect(adjudicator.evaluateCFrag(...crossed))
        .to.emit(adjudicator, "CFragEvaluated")
        .withArgs(
          hexlify(leaves[9]),
          (operator: string) => operator !== testNode.operator,
          net.signers[5].address,
          true,
          0,
        );
      for (const i of evidence.keys()) {
        if (i === 9) continue;
        await expect(adjudicator.evaluateCFrag(...argsOf(i)), `cfrag ${i}`)
          .to.emit(adjudicator, "CFragEvaluated")
          .withArgs(hexlify(leaves[i]), testNode.operator, net.signers[5].address, true, 0);
      }
    });

    it("refuses an unsigned request", async () => {
      const grant = await storedGrant();
      const request = requestFor(grant);
      const unsigned = encode(ReencryptionRequest, { ...request, signature: new Uint8Array(64) });
      await expectRefusal(post(node, "/v1/reencrypt", unsigned), 401, "BAD_SIGNATURE");
    });

    it("refuses requests from anyone but the policy's recipient", async () => {
      const grant = await storedGrant();
      const caps = capsules(grant, 1).map(([c]) => c);
      await expectRefusal(reencrypt(grant, caps, new Signer(SecretKey.random())), 403, "NOT_RECIPIENT");
      // claiming the recipient's key but signing with another
      const request = requestFor(grant, {
        capsules: caps.map((c) => c.toBytes()),
        recipientSigner: new Signer(SecretKey.random()),
      });
      const claimed = signUmbral(
        ReencryptionRequest,
        { ...request, recipientVerifyingKey: grant.recipientSk.publicKey().toCompressedBytes() },
        new Signer(SecretKey.random()),
      );
      await expectRefusal(
        post(node, "/v1/reencrypt", encode(ReencryptionRequest, claimed)),
        401,
        "BAD_SIGNATURE",
      );
    });

    it("refuses a replayed request, even after the original was served", async () => {
      const grant = await storedGrant();
      const request = requestFor(grant);
      const body = encode(ReencryptionRequest, request);
      await post(node, "/v1/reencrypt", body);
      await expectRefusal(post(node, "/v1/reencrypt", body), 409, "REPLAYED");
      // concurrent replays: exactly one of a burst of the same fresh request is served
      const fresh = encode(ReencryptionRequest, requestFor(grant, { capsules: request.capsules }));
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => post(node, "/v1/reencrypt", fresh)),
      );
      expect(results.filter((r) => r.status === "fulfilled")).to.have.length(1);
    });

    it("refuses a stale request", async () => {
      const grant = await storedGrant();
      const request = requestFor(grant, { now: Date.now() - 10 * 60_000 });
      await expectRefusal(
        post(node, "/v1/reencrypt", encode(ReencryptionRequest, request)),
        401,
        "STALE_REQUEST",
      );
    });

    it("refuses a policy this node holds no share of", async () => {
      const grant = await createPolicy(net, owner(), mine());
      await expectRefusal(
        reencrypt(
          grant,
          capsules(grant, 1).map(([c]) => c),
        ),
        404,
        "NO_SHARE",
      );
    });

    it("refuses once the policy expired (chain time moved past its end)", async () => {
      const grant = await storedGrant({ periods: 1 });
      const caps = capsules(grant, 1).map(([c]) => c);
      await reencrypt(grant, caps);
      await nextPeriod(net);
      await expectRefusal(reencrypt(grant, caps), 410, "POLICY_EXPIRED");
    });

    it("refuses a policy revoked on chain", async () => {
      const grant = await storedGrant();
      const caps = capsules(grant, 1).map(([c]) => c);
      await reencrypt(grant, caps);
      await (await policyManager(net, owner())).revokePolicy(grant.policyId);
      await expectRefusal(reencrypt(grant, caps), 410, "POLICY_REVOKED");
    });

    it("serves a metered policy only against the recipient's vouchers within the budget", async () => {
      const recipient = net.signers[6];
      const grant = await storedGrant({ recipient });
      const pm = await policyManager(net, owner());
      await pm.setReencryptionPrice(grant.policyId, 10n);
      const caps = capsules(grant, 2).map(([c]) => c);
      await expectRefusal(reencrypt(grant, caps), 402, "POLICY_UNPAID");
      await net.token.connect(net.governance).transfer(owner().address, 30n);
      await net.token.connect(owner()).approve(pm, 30n);
      await pm.fundReencryptions(grant.policyId, 30n);
      const send = async (count: bigint, signer = recipient) => {
        const signature = await signVoucher(signer, 31337n, await pm.getAddress(), {
          policyId: grant.policyId,
          node: node.metadata.staker,
          count,
        });
        const request = requestFor(grant, {
          capsules: caps.map((c) => c.toBytes()),
          voucher: { count, signature },
        });
        return post(node, "/v1/reencrypt", encode(ReencryptionRequest, request));
      };
      await expectRefusal(send(2n, net.signers[7]), 401, "BAD_VOUCHER");
      await send(2n);
      await expectRefusal(send(3n), 402, "POLICY_UNPAID"); // must cover 2 served + 2 asked
      await expectRefusal(send(4n), 402, "POLICY_UNPAID"); // 4 × 10 exceeds the budget of 30
      // the node claims its voucher on its settlement schedule
      await running.duties.settle();
      expect(await pm.reencryptionsPaid(grant.policyId, node.metadata.staker)).to.equal(2n);
      expect(await pm.balanceOf(node.metadata.staker)).to.be.greaterThanOrEqual(20n);
    });
  });

  describe("revocation", () => {
    it("deletes the kfrag, acknowledges, and never serves the policy again, even after a restart", async () => {
      const grant = await storedGrant();
      const caps = capsules(grant, 1).map(([c]) => c);
      await reencrypt(grant, caps);
      const stranger = buildRevocationOrder({
        policyId: grant.policyId,
        node: node.metadata.staker,
        ownerSigner: new Signer(SecretKey.random()),
      });
      await expectRefusal(post(node, "/v1/revoke", encode(RevocationOrder, stranger)), 401, "BAD_SIGNATURE");
      const order = buildRevocationOrder({
        policyId: grant.policyId,
        node: node.metadata.staker,
        ownerSigner: grant.ownerSigner,
      });
      const ack = decode(RevocationAck, await post(node, "/v1/revoke", encode(RevocationOrder, order)));
      verifyOperator(RevocationAck, ack, testNode.operator);
      expect(hexlify(ack.orderHash)).to.equal(keccak256(encode(RevocationOrder, order)));
      expect(running.storage.getShare(grant.policyId)).to.equal(undefined);
      await expectRefusal(reencrypt(grant, caps), 410, "POLICY_REVOKED");
      await expectRefusal(post(node, "/v1/shares", await shareFor(grant, node)), 410, "POLICY_REVOKED");

      await running.close();
      running = await runTestNode(testNode);
      await expectRefusal(reencrypt(grant, caps), 410, "POLICY_REVOKED");
      await expectRefusal(post(node, "/v1/shares", await shareFor(grant, node)), 410, "POLICY_REVOKED");
    });
  });

  describe("access log", () => {
    it("records every re-encryption in a hash-chained log only the owner can read", async () => {
      const grant = await storedGrant();
      const served = [];
      for (const count of [1, 2, 1])
        served.push(
          await reencrypt(
            grant,
            capsules(grant, count).map(([c]) => c),
          ),
        );
      const request = buildAccessLogRequest({
        policyId: grant.policyId,
        node: node.metadata.staker,
        ownerSigner: grant.ownerSigner,
      });
      const page = decode(AccessLog, await post(node, "/v1/access-log", encode(AccessLogRequest, request)));
      const { entries, hashes } = verifyAccessLog(
        page,
        { staker: node.metadata.staker, operator: testNode.operator },
        grant.policyId,
      );
      expect(entries.map((e) => e.capsuleHashes.length)).to.deep.equal([1, 2, 1]);
      served.forEach(({ request: r, response }, i) => {
        expect(hexlify(hashes[i])).to.equal(hexlify(response.accessLogEntryHash));
        expect(hexlify(entries[i].requestHash)).to.equal(keccak256(encode(ReencryptionRequest, r)));
        expect(hexlify(entries[i].requesterVerifyingKey)).to.equal(
          hexlify(grant.recipientSk.publicKey().toCompressedBytes()),
        );
      });
      // a rewritten log does not verify: drop the middle entry
      const rewritten = { ...page, entries: [page.entries[0], page.entries[2]] };
      expect(() =>
        verifyAccessLog(
          rewritten,
          { staker: node.metadata.staker, operator: testNode.operator },
          grant.policyId,
        ),
      ).to.throw();
      // the recipient, or anyone else, may not read it; a replayed read is refused
      const notOwner = buildAccessLogRequest({
        policyId: grant.policyId,
        node: node.metadata.staker,
        ownerSigner: grant.recipientSigner,
      });
      await expectRefusal(
        post(node, "/v1/access-log", encode(AccessLogRequest, notOwner)),
        401,
        "BAD_SIGNATURE",
      );
      await expectRefusal(post(node, "/v1/access-log", encode(AccessLogRequest, request)), 409, "REPLAYED");
    });
  });

  describe("refusals of revocation orders, access-log reads and late shares", () => {
    it("refuses unsigned and stale revocation orders and access-log reads, and a share of an expired policy", async () => {
      const grant = await storedGrant();
      const stale = Date.now() - 10 * 60_000;
      const order = (now?: number) =>
        buildRevocationOrder({
          policyId: grant.policyId,
          node: node.metadata.staker,
          ownerSigner: grant.ownerSigner,
          now,
        });
      const read = (now?: number) =>
        buildAccessLogRequest({
          policyId: grant.policyId,
          node: node.metadata.staker,
          ownerSigner: grant.ownerSigner,
          now,
        });
      const unsignedOrder = encode(RevocationOrder, { ...order(), signature: new Uint8Array(64) });
      const unsignedRead = encode(AccessLogRequest, { ...read(), signature: new Uint8Array(64) });
      await expectRefusal(post(node, "/v1/revoke", unsignedOrder), 401, "BAD_SIGNATURE");
      await expectRefusal(post(node, "/v1/access-log", unsignedRead), 401, "BAD_SIGNATURE");
      await expectRefusal(
        post(node, "/v1/revoke", encode(RevocationOrder, order(stale))),
        401,
        "STALE_REQUEST",
      );
      await expectRefusal(
        post(node, "/v1/access-log", encode(AccessLogRequest, read(stale))),
        401,
        "STALE_REQUEST",
      );
      // none of them revoked anything
      expect(running.storage.getShare(grant.policyId)).to.not.equal(undefined);

      const late = await createPolicy(net, owner(), mine(), { periods: 1 });
      const share = await shareFor(late, node);
      await nextPeriod(net);
      await expectRefusal(post(node, "/v1/shares", share), 410, "POLICY_EXPIRED");
      expect(running.storage.getShare(late.policyId)).to.equal(undefined);
    });
  });

  describe("robustness", () => {
    const endpoints = ["/v1/shares", "/v1/reencrypt", "/v1/revoke", "/v1/access-log"];

    it("answers random, truncated and mismatched bodies on every endpoint with a 4xx and keeps serving", async () => {
      const grant = await storedGrant();
      const valid = [
        await shareFor(grant, node),
        encode(ReencryptionRequest, requestFor(grant)),
        encode(
          RevocationOrder,
          buildRevocationOrder({
            policyId: grant.policyId,
            node: node.metadata.staker,
            ownerSigner: grant.recipientSigner,
          }),
        ),
        encode(
          AccessLogRequest,
          buildAccessLogRequest({
            policyId: grant.policyId,
            node: node.metadata.staker,
            ownerSigner: grant.recipientSigner,
          }),
        ),
      ];
      let seed = 1;
      const random = (n: number) =>
        Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff);
      const bodies: Uint8Array[] = [new Uint8Array(), random(1), random(3), random(64), random(700)];
      for (const v of valid) {
        for (const cut of [4, 10, Math.floor(v.length / 2), v.length - 1]) bodies.push(v.subarray(0, cut));
        const flipped = Uint8Array.from(v);
        flipped[5] ^= 0xff;
        bodies.push(flipped, Buffer.concat([v, Buffer.from([1, 2, 3])]));
      }
      for (const path of endpoints) {
        for (const body of [...bodies, ...valid.filter((_, i) => endpoints[i] !== path)]) {
          await post(node, path, body).then(
            () => expect.fail(`${path} accepted a broken or misdirected body of ${body.length} bytes`),
            (error: { status?: number; nodeCode?: string }) => {
              expect(error.status, `${path}: ${error.nodeCode}`).to.be.within(400, 499);
              expect(error.nodeCode).to.be.a("string");
            },
          );
        }
      }
      await connect(node.url, testNode.tlsFingerprint);
    });

    it("refuses oversized bodies, unknown paths and wrong methods", async () => {
      const huge = new Uint8Array(testNode.config.limits.maxBodyBytes + 1);
      await expectRefusal(post(node, "/v1/shares", huge), 413, "BODY_TOO_LARGE");
      await expectRefusal(post(node, "/v1/nothing", new Uint8Array(1)), 404, "NO_SUCH_ENDPOINT");
      await expectRefusal(post(node, "/v1/metadata", new Uint8Array(1)), 405, "METHOD_NOT_ALLOWED");
      await connect(node.url, testNode.tlsFingerprint);
    });

    it("reports health and Prometheus metrics", async () => {
      const health = JSON.parse(
        Buffer.from(
          (
            await requestNode({
              url: node.url,
              tlsFingerprint: node.fingerprint,
              method: "GET",
              path: "/health",
            })
          ).body,
        ).toString(),
      );
      expect(health.status).to.equal("ok");
      expect(health.staker).to.equal(node.metadata.staker);
      const scrape = () => metricsOf(node);
      const metrics = await scrape();
      for (const name of [
        "nkms_requests_total",
        "nkms_request_duration_seconds_bucket",
        "nkms_reencryptions_total",
        "nkms_errors_total",
        "nkms_commitments_total",
        "nkms_storage_bytes",
        "nkms_shares",
      ]) {
        expect(metrics).to.contain(name);
      }
      expect(metrics).to.match(/nkms_errors_total\{code="REPLAYED"\} [1-9]/);
      // the series operators alert on exist from the start; no internal error so far
      expect(metrics).to.match(/^nkms_errors_total\{code="INTERNAL"\} 0$/m);
      expect(metrics).to.match(/^nkms_errors_total\{code="CHAIN_UNAVAILABLE"\} \d+$/m);
      expect(metrics).to.match(/^nkms_errors_total\{code="CHECKPOINT_FAILED"\} 0$/m);

      // the longest event-loop delay since the previous scrape: this node runs in the test's
      // process, so blocking the test's main thread for 80 ms blocks the node's
      const loopDelay = async () =>
        Number(/^nkms_event_loop_delay_max_seconds (\S+)$/m.exec(await scrape())![1]);
      await loopDelay();
      const blockedSince = Date.now();
      while (Date.now() - blockedSince < 80) {
        // busy: the event loop does not turn
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      const blocked = await loopDelay();
      expect(blocked).to.be.at.least(0.06);
      // read once, then restarted
      expect(await loopDelay()).to.be.below(blocked);
    });

    // last of its block: it restarts the node (the metrics above count since the start)
    it("finishes a request under way when it stops, and takes no new one", async () => {
      const grant = await storedGrant();
      const caps = capsules(grant, 2).map(([c]) => c);
      // the request is held in the handler until the node has begun to stop
      let received!: () => void;
      const inHandler = new Promise<void>((resolve) => (received = resolve));
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const service = running.service;
      const reencryptOriginal = service.reencrypt.bind(service);
      service.reencrypt = async (body) => {
        received();
        await held;
        return reencryptOriginal(body);
      };
      const answer = reencrypt(grant, caps);
      await inHandler;
      const stopping = running.close();
      // no new connection is taken meanwhile
      await connect(node.url, testNode.tlsFingerprint).then(
        () => expect.fail("a stopping node took a new connection"),
        (error: { code?: string }) => expect(error.code).to.be.a("string"),
      );
      release();
      const { response } = await answer;
      expect(response.cfrags).to.have.length(2);
      await stopping;
      running = await runTestNode(testNode);
    });
  });

  describe("capacity", () => {
    it("refuses a share when the staker's stake no longer covers another one", async () => {
      const held = BigInt(running.storage.countShares());
      const locked = await net.escrow.lockedStakeAt(node.metadata.staker, await net.escrow.currentPeriod());
      const grant = await createPolicy(net, owner(), mine());
      // governance raises the stake required per share so that capacity equals what is held
      await net.escrow.setStakeLimits(
        await net.escrow.minStake(),
        await net.escrow.maxStake(),
        locked / held,
      );
      await expectRefusal(post(node, "/v1/shares", await shareFor(grant, node)), 409, "OVER_CAPACITY");
    });
  });
});
