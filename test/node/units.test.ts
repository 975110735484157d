import Database from "better-sqlite3";
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadDeployment, writeDevnetFile } from "../../src/chain/deployments";
import { PolicyCache, type NodeChain, type PolicyInfo } from "../../src/node/chain";
import { defaultConfig, loadConfig } from "../../src/node/config";
import { Duties } from "../../src/node/duties";
import { initNode } from "../../src/node/init";
import { nodeMetrics } from "../../src/node/metrics";
import { readKeystore, randomSecret, writeKeystore } from "../../src/node/keystore";
import { NodeStorage, type LogHead } from "../../src/node/storage";
import { captureLogger, eventually } from "./harness";

describe("node building blocks", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-unit-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe("config", () => {
    const write = (value: unknown) => {
      const file = path.join(dir, "config.json");
      fs.writeFileSync(file, JSON.stringify(value));
      return file;
    };
    const base = () =>
      defaultConfig({
        dataDir: "data",
        publicUrl: "https://127.0.0.1:9151",
        rpcUrl: "http://127.0.0.1:8545",
      });

    it("resolves paths against the config file and fills defaults", () => {
      const { limits: _limits, ...partial } = base();
      const config = loadConfig(write(partial));
      expect(config.dataDir).to.equal(path.join(dir, "data"));
      expect(config.limits.maxBodyBytes).to.equal(base().limits.maxBodyBytes);
    });

    it("refuses unknown settings, wrong types, out-of-range values and plain-HTTP URLs with a typed error", () => {
      const cases = [
        { ...base(), listen: { ...base().listen, prot: 1 } },
        { ...base(), workers: "two" },
        { ...base(), workerNice: 20 },
        { ...base(), workerNice: -1 },
        { ...base(), workerNice: 2.5 },
        { ...base(), publicUrl: "http://127.0.0.1:9151" },
        { ...base(), chain: { ...base().chain, staker: "0x12" } },
      ];
      for (const value of cases) {
        expect(() => loadConfig(write(value)))
          .to.throw()
          .with.property("code", "CONFIG_INVALID");
      }
      expect(() => loadConfig(path.join(dir, "missing.json")))
        .to.throw()
        .with.property("code", "CONFIG_INVALID");
    });
  });

  describe("keystore", () => {
    it("round-trips a secret under the passphrase and refuses a wrong one or an overwrite", async () => {
      const file = path.join(dir, "key.json");
      const secret = randomSecret();
      await writeKeystore(file, secret, "passphrase one", { scryptN: 1024 });
      expect(Buffer.from(await readKeystore(file, "passphrase one")).equals(Buffer.from(secret))).to.equal(
        true,
      );
      expect(fs.readFileSync(file, "utf8")).to.not.contain(Buffer.from(secret).toString("hex"));
      await readKeystore(file, "passphrase two").then(
        () => expect.fail("opened with a wrong passphrase"),
        (error: { code?: string }) => expect(error.code).to.equal("WRONG_PASSPHRASE"),
      );
      await writeKeystore(file, secret, "x", { scryptN: 1024 }).then(
        () => expect.fail("overwrote a keystore"),
        (error: { code?: string }) => expect(error.code).to.equal("KEYSTORE_EXISTS"),
      );
      await readKeystore(path.join(dir, "none.json"), "x").then(
        () => expect.fail("read a missing keystore"),
        (error: { code?: string }) => expect(error.code).to.equal("KEYSTORE_MISSING"),
      );
    });
  });

  describe("deployments", () => {
    const address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

    it("reads hardhat-deploy folders and devnet files", () => {
      const network = path.join(dir, "deployments", "localhost");
      fs.mkdirSync(network, { recursive: true });
      fs.writeFileSync(path.join(network, ".chainId"), "31337");
      fs.writeFileSync(path.join(network, "StakingEscrow.json"), JSON.stringify({ address, abi: [] }));
      expect(loadDeployment({ network: "localhost", root: dir })).to.deep.equal({
        chainId: 31337n,
        contracts: { StakingEscrow: address },
      });
      const file = path.join(dir, "devnet.json");
      writeDevnetFile(file, { chainId: 5n, contracts: { PolicyManager: address } });
      expect(loadDeployment({ file })).to.deep.equal({ chainId: 5n, contracts: { PolicyManager: address } });
    });

    it("refuses missing networks, unknown contracts and bad addresses", () => {
      expect(() => loadDeployment({ network: "nowhere", root: dir }))
        .to.throw()
        .with.property("code", "DEPLOYMENT_NOT_FOUND");
      const file = path.join(dir, "devnet.json");
      fs.writeFileSync(file, JSON.stringify({ contracts: { Mystery: address } }));
      expect(() => loadDeployment({ file }))
        .to.throw()
        .with.property("code", "DEPLOYMENT_INVALID");
      fs.writeFileSync(file, JSON.stringify({ contracts: { StakingEscrow: "0x1234" } }));
      expect(() => loadDeployment({ file }))
        .to.throw()
        .with.property("code", "DEPLOYMENT_INVALID");
    });
  });

  describe("init", () => {
    const options = (nodeDir: string) => ({
      dir: nodeDir,
      passphrase: "a passphrase",
      rpcUrl: "http://127.0.0.1:8545",
      publicHost: "127.0.0.1",
      port: 9151,
      scryptN: 1 << 10,
    });

    it("refuses a network without deployments before writing anything", async () => {
      const nodeDir = path.join(dir, "node");
      await initNode({ ...options(nodeDir), network: "nowhere", root: dir }).then(
        () => expect.fail("initialised without deployments"),
        (error: { code?: string }) => expect(error.code).to.equal("DEPLOYMENT_NOT_FOUND"),
      );
      expect(fs.existsSync(nodeDir)).to.equal(false);
    });

    it("records where the network's deployments are, so the node finds them from any directory", async () => {
      fs.mkdirSync(path.join(dir, "project", "deployments", "localhost"), { recursive: true });
      const { configFile } = await initNode({
        ...options(path.join(dir, "node")),
        network: "localhost",
        root: path.join(dir, "project"),
      });
      const config = loadConfig(configFile);
      expect(config.chain.root).to.equal(path.join(dir, "project"));
      const elsewhere = process.cwd();
      process.chdir(os.tmpdir());
      try {
        expect(loadDeployment(config.chain)).to.deep.equal({ chainId: undefined, contracts: {} });
      } finally {
        process.chdir(elsewhere);
      }
    });
  });

  describe("policy cache", () => {
    it("reads the chain again only after half its lifetime (in the background), or when asked for fresh state", async () => {
      let reads = 0;
      let clock = 0;
      let revoked = false;
      const chain = {
        policy: async () => {
          reads++;
          return { revoked } as PolicyInfo;
        },
        now: async () => 1000,
      } as unknown as NodeChain;
      const cache = new PolicyCache(chain, "0x0000000000000000000000000000000000000001", 5000, () => clock);
      const id = new Uint8Array(16);
      await cache.policy(id);
      clock = 2499;
      await cache.policy(id);
      expect(reads).to.equal(1);
      // past half the lifetime: the cached answer now, a read in the background for the next ones
      revoked = true;
      clock = 2500;
      expect((await cache.policy(id))?.revoked).to.equal(false);
      expect(reads).to.equal(2);
      await new Promise((resolve) => setImmediate(resolve));
      expect((await cache.policy(id))?.revoked).to.equal(true);
      expect(reads).to.equal(2);
      // fresh state is always read
      await cache.policy(id, true);
      expect(reads).to.equal(3);
      // an entry past its lifetime is never served: the request waits for the chain
      clock = 10_000;
      revoked = false;
      expect((await cache.policy(id))?.revoked).to.equal(false);
      expect(reads).to.equal(4);
      // chain time advances with the local clock between reads
      clock = 20_000;
      expect(await cache.now()).to.equal(1000);
      clock = 23_000;
      expect(await cache.now()).to.equal(1003);
    });

    it("never lets an older read replace a newer one (a revocation seen stays seen)", async () => {
      let clock = 0;
      const answers: ((p: PolicyInfo) => void)[] = [];
      const chain = {
        policy: () => new Promise<PolicyInfo>((resolve) => answers.push(resolve)),
        now: async () => 1000,
      } as unknown as NodeChain;
      const cache = new PolicyCache(chain, "0x0000000000000000000000000000000000000001", 5000, () => clock);
      const id = new Uint8Array(16);
      const first = cache.policy(id);
      answers.shift()!({ revoked: false } as PolicyInfo);
      await first;
      clock = 3000; // a background read starts (slow) ...
      await cache.policy(id);
      clock = 3001; // ... then a fresh one, which sees the revocation and answers first
      const fresh = cache.policy(id, true);
      answers.pop()!({ revoked: true } as PolicyInfo);
      expect((await fresh)?.revoked).to.equal(true);
      answers.pop()!({ revoked: false } as PolicyInfo);
      await new Promise((resolve) => setImmediate(resolve));
      expect((await cache.policy(id))?.revoked).to.equal(true);
    });

    it("shares one chain read among concurrent requests, except fresh ones; a failed read is not kept", async () => {
      let reads = 0;
      let fail = true;
      const pending: (() => void)[] = [];
      const releaseAll = () => pending.splice(0).forEach((release) => release());
      const chain = {
        policy: async () => {
          reads++;
          await new Promise<void>((resolve) => pending.push(resolve));
          if (fail) throw new Error("RPC down");
          return { revoked: false } as PolicyInfo;
        },
        now: async () => 1000,
      } as unknown as NodeChain;
      const cache = new PolicyCache(chain, "0x0000000000000000000000000000000000000001", 5000, () => 0);
      const id = new Uint8Array(16);
      const waiting = Array.from({ length: 20 }, () => cache.policy(id));
      await Promise.resolve();
      expect(reads).to.equal(1);
      releaseAll();
      for (const result of await Promise.allSettled(waiting)) expect(result.status).to.equal("rejected");
      fail = false;
      const again = cache.policy(id);
      const fresh = cache.policy(id, true);
      await new Promise((resolve) => setImmediate(resolve));
      expect(reads).to.equal(3);
      releaseAll();
      expect((await again)?.revoked).to.equal(false);
      expect((await fresh)?.revoked).to.equal(false);
      expect(reads).to.equal(3);
    });
  });

  describe("duties", () => {
    it("stop waits for a settlement under way, and no duty starts after it", async () => {
      const staker = "0x0000000000000000000000000000000000000001";
      let release!: () => void;
      const settlements: string[] = [];
      const chain = {
        stakerOfOperator: async () => staker,
        currentPeriod: async () => 10,
        isCommitted: async () => true,
        now: async () => 1_000,
        settle: async () => {
          settlements.push("sent");
          await new Promise<void>((resolve) => (release = resolve));
          settlements.push("mined");
        },
      } as unknown as NodeChain;
      const storage = new NodeStorage(path.join(dir, "duties"));
      const config = defaultConfig({
        dataDir: "data",
        publicUrl: "https://127.0.0.1:9151",
        rpcUrl: "http://x",
      });
      config.duties = {
        commitCheckIntervalMs: 60_000,
        commitRetryDelayMs: 60_000,
        gcIntervalMs: 60_000,
        settleIntervalMs: 20,
      };
      const metrics = nodeMetrics(() => 0);
      const duties = new Duties(chain, config, staker, staker, storage, captureLogger().logger, metrics);
      try {
        await duties.start();
        await eventually(() => settlements.length === 1);
        let stopped = false;
        const stopping = duties.stop().then(() => (stopped = true));
        await new Promise((resolve) => setTimeout(resolve, 60));
        // the settlement's transaction is not mined yet: stop has not returned
        expect(stopped).to.equal(false);
        release();
        await stopping;
        // it returned after the settlement had finished (and wrote what it settled), and the
        // schedule started no other
        expect(settlements).to.deep.equal(["sent", "mined"]);
        await new Promise((resolve) => setTimeout(resolve, 60));
        expect(settlements).to.have.length(2);
      } finally {
        metrics.stop();
        await storage.close();
      }
    });
  });

  describe("storage", () => {
    /** access-log rows in the database file alone, as if the write-ahead log were lost */
    const rowsInDatabaseFile = (storage: NodeStorage): number => {
      const copy = path.join(dir, `copy-${Date.now()}.sqlite`);
      fs.copyFileSync(storage.file, copy);
      const db = new Database(copy, { readonly: true });
      try {
        if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'access_log'").get()) return 0;
        return Number((db.prepare("SELECT COUNT(*) AS n FROM access_log").get() as { n: number }).n);
      } catch {
        return -1; // copied in the middle of a checkpoint
      } finally {
        db.close();
        fs.rmSync(copy);
      }
    };
    /** `count` served requests, each committed on its own */
    const serve = async (storage: NodeStorage, count: number) => {
      const policyId = new Uint8Array(16).fill(7);
      for (let i = 0; i < count; i++) {
        await storage.commitServed(
          randomBytes(32),
          Date.now() + 60_000,
          policyId,
          { capsules: 1 },
          (head) => ({
            entry: randomBytes(200),
            hash: randomBytes(32),
            sequence: head ? head.sequence + 1n : 0n,
          }),
        );
      }
    };

    it("refuses, in the write itself, a share of a revoked policy, a second share and one over capacity; keeps policies after their shares", async () => {
      const storage = new NodeStorage(path.join(dir, "shares"));
      try {
        const share = (id: number) => ({
          policyId: new Uint8Array(16).fill(id),
          share: randomBytes(64),
          ownerVerifyingKey: randomBytes(33),
          recipientVerifyingKey: randomBytes(33),
          kfragId: randomBytes(32),
          expiresAt: 1_000 + id,
          storedAt: Date.now(),
        });
        const [a, b, c] = [share(1), share(2), share(3)];
        expect(storage.putShare(a, 2n)).to.equal("stored");
        expect(storage.putShare({ ...a, share: randomBytes(64) }, 2n)).to.equal("exists");
        expect(storage.putShare(b, 2n)).to.equal("stored");
        // a third share while two are held, whatever the capacity read before the write said
        expect(storage.putShare(c, 2n)).to.equal("full");
        expect(storage.countShares()).to.equal(2);
        // an upload that passed its checks before the revocation does not bring the kfrag back
        storage.revoke({
          policyId: a.policyId,
          orderHash: randomBytes(32),
          ownerVerifyingKey: a.ownerVerifyingKey,
          revokedAt: Date.now(),
        });
        expect(storage.putShare(a)).to.equal("revoked");
        expect(storage.getShare(a.policyId)).to.equal(undefined);
        // the revoked and the expired policy are still known: their owners, what is left to settle
        expect(storage.collectExpired(2_000)).to.equal(1);
        expect(Buffer.from(storage.policyOwnerKey(a.policyId)!).equals(a.ownerVerifyingKey)).to.equal(true);
        expect(Buffer.from(storage.policyOwnerKey(b.policyId)!).equals(b.ownerVerifyingKey)).to.equal(true);
        expect(storage.policyOwnerKey(c.policyId)).to.equal(undefined);
        expect(storage.unsettledPolicies().map((p) => p.endsAt)).to.deep.equal([1_001, 1_002]);
        storage.markSettled([a.policyId]);
        expect(storage.unsettledPolicies().map((p) => p.endsAt)).to.deep.equal([1_002]);
        // a log page from beyond any sequence SQLite can hold is empty, not an error
        expect(storage.readLog(a.policyId, 2n ** 64n - 1n, 10)).to.deep.equal([]);
      } finally {
        await storage.close();
      }
    });

    it("checkpoints the write-ahead log in its own thread; commits never do at this size", async () => {
      const background = new NodeStorage(path.join(dir, "background"), { checkpointIntervalMs: 20 });
      const inline = new NodeStorage(path.join(dir, "inline"));
      try {
        await serve(background, 40);
        await serve(inline, 40);
        await eventually(() => rowsInDatabaseFile(background) === 40, 10_000);
        // SQLite's own automatic checkpoint (1000 log pages) has not run for the other one
        expect(rowsInDatabaseFile(inline)).to.equal(0);
      } finally {
        await background.close();
        await inline.close();
      }
    });

    it("commits the writes of one turn together; a replay, a revocation or a failing write fails alone", async () => {
      const storage = new NodeStorage(path.join(dir, "grouped"));
      try {
        const policyId = new Uint8Array(16).fill(1);
        const revokedId = new Uint8Array(16).fill(2);
        storage.revoke({
          policyId: revokedId,
          orderHash: randomBytes(32),
          ownerVerifyingKey: randomBytes(33),
          revokedAt: 1,
        });
        const entry = (head: LogHead | undefined) => ({
          entry: randomBytes(100),
          hash: randomBytes(32),
          sequence: head ? head.sequence + 1n : 0n,
        });
        const nonce = randomBytes(32);
        const results = await Promise.allSettled([
          storage.commitServed(nonce, Date.now() + 60_000, policyId, { capsules: 2 }, entry),
          storage.commitServed(nonce, Date.now() + 60_000, policyId, { capsules: 2 }, entry),
          storage.commitServed(randomBytes(32), Date.now() + 60_000, revokedId, { capsules: 1 }, entry),
          storage.commitServed(randomBytes(32), Date.now() + 60_000, policyId, { capsules: 1 }, () => {
            throw new Error("signing failed");
          }),
          storage.commitServed(randomBytes(32), Date.now() + 60_000, policyId, { capsules: 3 }, entry),
        ]);
        expect(
          results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message)),
        ).to.deep.equal(["served", "replayed", "revoked", "signing failed", "served"]);
        expect(storage.readLog(policyId, 0n, 10)).to.have.length(2);
        expect(storage.readLog(revokedId, 0n, 10)).to.have.length(0);
        expect(storage.servedCount(policyId)).to.equal(5n);
        expect(storage.servedCount(revokedId)).to.equal(0n);
      } finally {
        await storage.close();
      }
    });

    it("closes with a last checkpoint and reopens with everything written", async () => {
      const data = path.join(dir, "closing");
      const storage = new NodeStorage(data, { checkpointIntervalMs: 60_000 });
      await serve(storage, 25);
      await storage.close();
      expect(fs.existsSync(`${storage.file}-wal`)).to.equal(false);
      const reopened = new NodeStorage(data, { checkpointIntervalMs: 60_000 });
      try {
        expect(reopened.logHead(new Uint8Array(16).fill(7))?.sequence).to.equal(24n);
      } finally {
        await reopened.close();
      }
    });
  });
});
