import { expect } from "chai";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { Worker } from "node:worker_threads";
import * as pre from "../../src/pre";
import type { CryptoTask } from "../../src/node/crypto-worker";
import {
  CAPSULES_PER_MESSAGE,
  CryptoPool,
  WorkerCrashedError,
  WorkerTaskError,
  taskSizes,
} from "../../src/node/pool";

/** A share's keys and a kfrag encrypted to the node, as the service hands them to the pool. */
function fixture() {
  const nodeSk = pre.SecretKey.random();
  const owner = pre.SecretKey.random();
  const signer = new pre.Signer(pre.SecretKey.random());
  const recipient = pre.SecretKey.random();
  const [kfrag] = pre.generateKFrags(owner, recipient.publicKey(), signer, 1, 1, true, true);
  const [capsule, ciphertext] = pre.encrypt(nodeSk.publicKey(), kfrag.toBytes());
  const keys = {
    capsule: capsule.toBytes(),
    ciphertext,
    ownerVerifyingKey: signer.verifyingKey().toCompressedBytes(),
    delegatingKey: owner.publicKey().toCompressedBytes(),
    recipientVerifyingKey: recipient.publicKey().toCompressedBytes(),
  };
  const data = { encryptingSecret: nodeSk.toBEBytes(), nice: 0 };
  return { data, keys, owner, signer, recipient, kfragId: kfrag.kfrag.id };
}

describe("node: splitting a request into tasks", () => {
  it("spreads a few capsules over the workers and a large batch in even tasks of at most 8", () => {
    expect(taskSizes(1, 2)).to.deep.equal([1]);
    expect(taskSizes(2, 2)).to.deep.equal([1, 1]);
    expect(taskSizes(8, 2)).to.deep.equal([4, 4]);
    expect(taskSizes(10, 2)).to.deep.equal([5, 5]);
    expect(taskSizes(17, 2)).to.deep.equal([6, 6, 5]);
    expect(taskSizes(64, 2)).to.deep.equal(Array(8).fill(8));
    expect(taskSizes(3, 4)).to.deep.equal([1, 1, 1]);
    // one worker: one task, whatever the size
    expect(taskSizes(64, 1)).to.deep.equal([64]);
    expect(taskSizes(0, 2)).to.deep.equal([]);
  });

  it("covers every capsule exactly once, in tasks no larger than a message", () => {
    for (let workers = 1; workers <= 4; workers++) {
      for (let capsules = 1; capsules <= 130; capsules++) {
        const sizes = taskSizes(capsules, workers);
        expect(sizes.reduce((a, b) => a + b, 0)).to.equal(capsules);
        expect(Math.min(...sizes)).to.be.greaterThan(0);
        expect(Math.max(...sizes) - Math.min(...sizes)).to.be.at.most(1);
        if (workers > 1) {
          expect(Math.max(...sizes)).to.be.at.most(CAPSULES_PER_MESSAGE);
          expect(sizes.length).to.equal(
            Math.max(Math.ceil(capsules / CAPSULES_PER_MESSAGE), Math.min(capsules, workers)),
          );
        } else expect(sizes).to.have.length(1);
      }
    }
  });
});

describe("node: crypto worker pool", function () {
  this.timeout(60_000);
  const f = fixture();
  let pool: CryptoPool;

  before(async () => {
    pool = new CryptoPool(f.data, 2);
    await pool.ready();
  });
  after(() => pool.close());

  it("answers each of many concurrent tasks with its own result, batched or not", async () => {
    const capsules = Array.from({ length: 24 }, () => pre.encrypt(f.owner.publicKey(), randomBytes(8))[0]);
    const results = await Promise.all(
      capsules.map((capsule) => pool.run({ kind: "reencrypt", ...f.keys, capsules: [capsule.toBytes()] })),
    );
    results.forEach((result, i) => {
      if (result.kind !== "reencrypt") throw new Error("wrong kind");
      const cfrag = pre.CapsuleFrag.fromBytes(result.cfrags[0]);
      // the cfrag verifies against this task's capsule only
      cfrag.verify(capsules[i], f.signer.verifyingKey(), f.owner.publicKey(), f.recipient.publicKey());
      expect(() =>
        cfrag.verify(
          capsules[(i + 1) % capsules.length],
          f.signer.verifyingKey(),
          f.owner.publicKey(),
          f.recipient.publicKey(),
        ),
      ).to.throw(pre.PreError);
    });
  });

  it("hands a worker at most 8 capsules a message and two messages at a time: small tasks batched, a large request's tasks spread", async () => {
    const sent: { thread: number; tasks: number; capsules: number }[] = [];
    const original = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (this: Worker, message: unknown, ...rest: unknown[]) {
      if (Array.isArray(message)) {
        const tasks = message as CryptoTask[];
        const capsules = tasks.reduce((n, t) => n + (t.kind === "reencrypt" ? t.capsules.length : 1), 0);
        sent.push({ thread: this.threadId, tasks: tasks.length, capsules });
      }
      return original.call(this, message, ...(rest as []));
    };
    try {
      const capsule = pre.encrypt(f.owner.publicKey(), randomBytes(8))[0].toBytes();
      const task = (n: number): CryptoTask => ({
        kind: "reencrypt",
        ...f.keys,
        capsules: Array(n).fill(capsule),
      });
      // 40 single-capsule requests queued at once, then one of 64 capsules in tasks of 8
      await Promise.all(Array.from({ length: 40 }, () => pool.run(task(1))));
      // the first four went one by one (a running and a waiting message per worker), the rest
      // queued and went in batches of 8 at most
      expect(sent.reduce((n, m) => n + m.tasks, 0)).to.equal(40);
      expect(Math.max(...sent.map((m) => m.tasks))).to.equal(8);
      sent.length = 0;
      const large = Array.from({ length: 8 }, () => pool.run(task(8)));
      // at once, before any answer: a running and a waiting message for each worker
      const [a, b] = sent.map((m) => m.thread);
      expect(a).to.not.equal(b);
      expect(sent.map((m) => m.thread)).to.deep.equal([a, b, a, b]);
      await Promise.all(large);
    } finally {
      Worker.prototype.postMessage = original;
    }
    // the large request: one task a message, taken by both workers as they become free
    expect(sent.map((m) => m.capsules)).to.deep.equal(Array(8).fill(8));
    expect(new Set(sent.map((m) => m.thread)).size).to.equal(2);
  });

  it("closes after its workers answered the tasks they hold; refuses tasks after", async () => {
    const capsule = pre.encrypt(f.owner.publicKey(), randomBytes(8))[0].toBytes();
    const closing = new CryptoPool(f.data, 2);
    await closing.ready();
    const held = Array.from({ length: 4 }, () =>
      closing.run({ kind: "reencrypt", ...f.keys, capsules: Array(16).fill(capsule) }),
    );
    await closing.close();
    for (const result of await Promise.all(held)) {
      expect(result.kind === "reencrypt" && result.cfrags.length).to.equal(16);
    }
    await closing.run({ kind: "reencrypt", ...f.keys, capsules: [capsule] }).then(
      () => expect.fail("a closed pool ran a task"),
      (error: Error) => expect(error).to.be.instanceOf(WorkerCrashedError),
    );
  });

  it("runs its workers at the configured nice value, and only them (Linux)", async function () {
    if (!fs.existsSync("/proc/self/task")) this.skip();
    const niceOf = (tid: string) =>
      Number(fs.readFileSync(`/proc/self/task/${tid}/stat`, "utf8").split(") ")[1].split(" ")[16]);
    const own = niceOf(String(process.pid));
    const before = new Set(fs.readdirSync("/proc/self/task"));
    const niced = new CryptoPool({ ...f.data, nice: 7 }, 2);
    try {
      await niced.ready();
      const fresh = fs.readdirSync("/proc/self/task").filter((tid) => !before.has(tid));
      expect(fresh.filter((tid) => niceOf(tid) === 7)).to.have.length(2);
      expect(niceOf(String(process.pid))).to.equal(own);
    } finally {
      await niced.close();
    }
  });

  it("fails only the bad task of a batch, with its code", async () => {
    const good = pre.encrypt(f.owner.publicKey(), randomBytes(8))[0].toBytes();
    const bad = new Uint8Array(good.length).fill(1);
    const tasks: CryptoTask[] = Array.from({ length: 12 }, (_, i) => ({
      kind: "reencrypt",
      ...f.keys,
      capsules: [i === 5 ? bad : good],
    }));
    const outcomes = await Promise.allSettled(tasks.map((task) => pool.run(task)));
    outcomes.forEach((outcome, i) => {
      if (i === 5) {
        expect(outcome.status).to.equal("rejected");
        const error = (outcome as PromiseRejectedResult).reason as WorkerTaskError;
        expect(error).to.be.instanceOf(WorkerTaskError);
        expect(error.code).to.equal("CAPSULE_INVALID");
      } else expect(outcome.status, `task ${i}`).to.equal("fulfilled");
    });
  });

  it("opens a share and refuses a kfrag that does not verify", async () => {
    const opened = await pool.run({ kind: "openShare", ...f.keys });
    expect(
      opened.kind === "openShare" && Buffer.from(opened.kfragId).equals(Buffer.from(f.kfragId)),
    ).to.equal(true);
    const other = pre.SecretKey.random().publicKey().toCompressedBytes();
    const refused = pool.run({ kind: "openShare", ...f.keys, recipientVerifyingKey: other });
    await refused.then(
      () => expect.fail("a kfrag for another recipient was accepted"),
      (error: WorkerTaskError) => expect(error.code).to.equal("KFRAG_INVALID"),
    );
  });

  it("fails the tasks of a worker that dies, replaces it and keeps serving", async () => {
    const capsule = pre.encrypt(f.owner.publicKey(), randomBytes(8))[0].toBytes();
    const task: CryptoTask = { kind: "reencrypt", ...f.keys, capsules: Array(64).fill(capsule) };
    // the first worker's next message makes it throw outside any task (as a bug in it would):
    // the exception is uncaught and the thread dies with the two tasks it holds by then
    const slots = (pool as unknown as { slots: { worker: Worker }[] }).slots;
    slots[0].worker.postMessage({
      kind: "reencrypt",
      ...f.keys,
      ciphertext: new Uint8Array(1),
      capsules: [],
    });
    const running = Array.from({ length: 4 }, () => pool.run(task));
    const outcomes = await Promise.allSettled(running);
    const crashed = outcomes.filter(
      (o) => o.status === "rejected" && (o.reason as Error) instanceof WorkerCrashedError,
    );
    // the dead worker held two of the four: the one it ran and the one waiting in its port
    expect(crashed.length).to.equal(2);
    expect(
      outcomes.every((o) => o.status === "fulfilled" || (o.reason as Error) instanceof WorkerCrashedError),
    ).to.equal(true);
    const after = await pool.run({ ...task, capsules: [capsule] });
    expect(after.kind === "reencrypt" && after.cfrags.length).to.equal(1);
    expect(pool.size).to.equal(2);
  });
});
