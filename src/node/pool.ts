/**
 * A fixed pool of worker threads for the node's cryptography, so every core re-encrypts.
 * Tasks are queued FIFO and handed to the first idle worker. A worker that dies is replaced
 * and its task fails with WorkerCrashedError; the node keeps serving.
 *
 * Workers run crypto-worker.js from dist/ when the node runs compiled, or crypto-worker.ts
 * through ts-node (transpile-only, registered in the worker's execArgv) in development.
 */
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { CryptoTask, CryptoTaskResult, CryptoWorkerData } from "./crypto-worker";

export class WorkerCrashedError extends Error {
  readonly code = "WORKER_CRASHED";
  constructor(message: string) {
    super(message);
    this.name = "WorkerCrashedError";
  }
}

/** An error a worker reported for a task (bad input, not a crash), with its code. */
export class WorkerTaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "WorkerTaskError";
  }
}

/**
 * A message to a worker carries at most this many capsules (or one larger task): enough to
 * spare thread hops when many small requests queue, few enough that the tasks of a large request
 * (split by taskSizes) spread over the workers as each becomes free.
 */
export const CAPSULES_PER_MESSAGE = 8;
/**
 * Messages a worker holds at most: the one it runs and one waiting in its port, which it starts
 * without waiting for the main thread to see its answer and hand it more (measured: +20 %
 * re-encryptions/s with 64-capsule requests on 2 cores).
 */
const PIPELINE_DEPTH = 2;

/**
 * How a request of `capsules` capsules is split into tasks for `workers` crypto threads: as few
 * tasks as CAPSULES_PER_MESSAGE allows, but at least one per worker (a request of a few capsules
 * is spread over the cores, not run on one while the other idles), in sizes that differ by at
 * most one (10 capsules: 5 + 5, not 8 + 2). One worker: one task.
 */
export function taskSizes(capsules: number, workers: number): number[] {
  if (capsules <= 0) return [];
  const count =
    workers > 1 ? Math.max(Math.ceil(capsules / CAPSULES_PER_MESSAGE), Math.min(capsules, workers)) : 1;
  const small = Math.floor(capsules / count);
  return Array.from({ length: count }, (_, i) => small + (i < capsules % count ? 1 : 0));
}
const capsulesOf = (task: CryptoTask): number => (task.kind === "reencrypt" ? task.capsules.length : 1);

interface Job {
  task: CryptoTask;
  resolve: (value: CryptoTaskResult) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  /** the messages the worker holds (running, then queued in its port), each its jobs in order */
  batches: Job[][];
  /** called once the worker holds no message (set while the pool closes) */
  onDrained?: () => void;
}

/** How long close() lets the workers finish the tasks they hold. */
const CLOSE_GRACE_MS = 10_000;

/** A worker's answer for one task. */
export type TaskOutcome =
  { ok: true; result: CryptoTaskResult } | { ok: false; code: string; message: string };

export class CryptoPool {
  private slots: Slot[] = [];
  private queue: Job[] = [];
  private closed = false;
  private readonly starting: Promise<void>[];

  constructor(
    private readonly data: CryptoWorkerData,
    size = 0,
  ) {
    const count = size > 0 ? size : Math.max(1, os.availableParallelism());
    for (let i = 0; i < count; i++) this.slots.push(this.spawn());
    this.starting = this.slots.map(
      ({ worker }) =>
        new Promise<void>((resolve, reject) => {
          worker.once("message", () => resolve());
          worker.once("error", reject);
        }),
    );
  }

  get size(): number {
    return this.slots.length;
  }

  /** Resolves once every worker has loaded its code (so the first request does not wait for it). */
  async ready(): Promise<void> {
    await Promise.all(this.starting);
  }

  run(task: CryptoTask): Promise<CryptoTaskResult> {
    if (this.closed) return Promise.reject(new WorkerCrashedError("crypto pool is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  /** Tells every worker to drop its cached kfrags (after a revocation). */
  forget(): void {
    for (const slot of this.slots) slot.worker.postMessage({ kind: "forget" } satisfies CryptoTask);
  }

  /**
   * Refuses queued tasks, lets the workers finish (and answer) the ones they hold, then stops
   * them. A thread stopped in the middle of a task may be inside a native call, and some addons
   * (node-addon-api's error path) abort the whole process when their thread is torn down there.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new WorkerCrashedError("crypto pool closed"));
    const drained = (slot: Slot) =>
      slot.batches.length === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => (slot.onDrained = resolve));
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.slots.map(drained)),
      new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS))),
    ]);
    clearTimeout(grace);
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private spawn(): Slot {
    const compiled = __filename.endsWith(".js");
    const file = path.join(__dirname, compiled ? "crypto-worker.js" : "crypto-worker.ts");
    const worker = new Worker(file, {
      workerData: this.data,
      // ts-node and the project's tsconfig are found from here, not from the working directory,
      // so `nkms node run` works from anywhere
      execArgv: compiled ? [] : ["--require", require.resolve("ts-node/register/transpile-only")],
      env: compiled
        ? process.env
        : { ...process.env, TS_NODE_PROJECT: path.join(__dirname, "..", "..", "tsconfig.json") },
    });
    const slot: Slot = { worker, batches: [] };
    worker.on("message", (outcomes: TaskOutcome[] | { ready: true }) => {
      if (!Array.isArray(outcomes)) return; // the worker's "ready"
      const jobs = slot.batches.shift() ?? [];
      jobs.forEach((job, i) => {
        const outcome = outcomes[i];
        if (outcome.ok) job.resolve(outcome.result);
        else job.reject(new WorkerTaskError(outcome.code, outcome.message));
      });
      if (slot.batches.length === 0) slot.onDrained?.();
      this.dispatch();
    });
    const replace = (reason: string) => {
      const jobs = slot.batches.flat();
      slot.batches = [];
      slot.onDrained?.();
      for (const job of jobs) job.reject(new WorkerCrashedError(reason));
      if (this.closed) return;
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots[index] = this.spawn();
      this.dispatch();
    };
    worker.on("error", (error) => replace(`crypto worker failed: ${error.message}`));
    worker.on("exit", (code) => {
      if (!this.closed) replace(`crypto worker exited with code ${code}`);
    });
    return slot;
  }

  /**
   * Hands queued tasks to the workers: idle ones first, then a second message to busy ones
   * (PIPELINE_DEPTH). Under load a worker takes its share of the queue, up to
   * CAPSULES_PER_MESSAGE, in one message (one thread hop for many requests); when idle, a
   * task goes at once.
   */
  private dispatch(): void {
    for (let depth = 0; depth < PIPELINE_DEPTH; depth++) {
      for (const slot of this.slots) {
        if (this.queue.length === 0) return;
        if (slot.batches.length !== depth) continue;
        const share = Math.ceil(this.queue.length / this.slots.length);
        let count = 1;
        let capsules = capsulesOf(this.queue[0].task);
        while (count < share && capsules + capsulesOf(this.queue[count].task) <= CAPSULES_PER_MESSAGE) {
          capsules += capsulesOf(this.queue[count].task);
          count++;
        }
        const jobs = this.queue.splice(0, count);
        slot.batches.push(jobs);
        slot.worker.postMessage(jobs.map((job) => job.task));
      }
    }
  }
}
