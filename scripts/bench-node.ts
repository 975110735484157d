/**
 * `npm run bench:node`: re-encryptions per second one node sustains over HTTPS, for single and
 * batched requests at rising concurrency, with p50/p99 latency, against what the PRE library
 * alone does on the same cores (native backend, one worker thread per core); then p50/p99 at
 * half of the best load of each request size, and at half of the node's peak in each smaller
 * request size that can carry it. The node runs as its own process
 * (`nkms node run`), against the contracts on the in-process Hardhat network over JSON-RPC;
 * the load generator runs in a process of its own (scripts/bench-load.ts) with requests signed
 * before each run.
 * Env: BENCH_SECONDS (baseline measurement per thread, default 3), BENCH_REQUESTS (requests per
 * single-capsule run, default 1500), BENCH_CONCURRENCY (default "1,2,4,8,16"), BENCH_BATCHES
 * (capsules per request, default "1,10,64"), BENCH_WORKERS (the node's crypto threads, default one
 * per core), BENCH_WORKER_NICE (their nice value, default the node's 10), BENCH_HALF_SECONDS
 * (length of each half-load run, default 10), BENCH_NODE_ARGS (extra Node flags for the node
 * process, e.g. "--cpu-prof").
 */
import { fork, spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { DEFAULT_DUTIES } from "../src/node/config";
import * as pre from "../src/pre";
import { buildReencryptionRequest } from "../src/protocol/build";
import { encode } from "../src/protocol/codec";
import type { LoadResult, LoadRun } from "./bench-load";
import { ReencryptionRequest } from "../src/protocol/messages";
import { connect, createPolicy, post, shareFor } from "../test/node/client";
import { createTestNode, spawnNode, startTestNet, waitServing } from "../test/node/harness";
import { percentile, processCpuMs } from "./bench-stats";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1500);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "1,2,4,8,16").split(",").map(Number);
const BATCHES = (process.env.BENCH_BATCHES ?? "1,10,64").split(",").map(Number);
const HALF_SECONDS = Number(process.env.BENCH_HALF_SECONDS ?? 10);

/**
 * The baseline: a worker thread that re-encrypts in a tight loop for `ms` with the PRE library
 * alone (native backend) and reports how many it did.
 */
const BASELINE_WORKER = `
  require("ts-node/register/transpile-only");
  const { parentPort, workerData } = require("node:worker_threads");
  const pre = require(workerData.pre);
  if (pre.availableBackends().includes("native")) pre.setBackend("native");
  const owner = pre.SecretKey.random();
  const [kfrag] = pre.generateKFrags(owner, pre.SecretKey.random().publicKey(), new pre.Signer(owner), 1, 1, true, true);
  const [capsule] = pre.encrypt(owner.publicKey(), new Uint8Array(32));
  const capsuleBytes = capsule.toBytes();
  // "bare": reencrypt alone; "wire": what one capsule of a request costs the library
  // (decode the capsule's bytes, re-encrypt, encode the cfrag)
  const step = workerData.wire
    ? () => pre.reencrypt(pre.Capsule.fromBytes(capsuleBytes), kfrag).toBytes()
    : () => pre.reencrypt(capsule, kfrag);
  for (let i = 0; i < 200; i++) step();
  let count = 0;
  const end = performance.now() + workerData.ms;
  while (performance.now() < end) {
    step();
    count++;
  }
  parentPort.postMessage(count);
`;

/**
 * An idle probe process: wakes every millisecond and does nothing else (no allocation to speak
 * of, so no garbage-collection pauses of its own); asked over IPC, it answers how late its
 * latest wake-up came since the previous question, ms. What it sees is how long the machine
 * keeps a runnable process of the node's priority waiting.
 */
const PROBE = `
  let max = 0;
  let last = performance.now();
  const tick = () => {
    const now = performance.now();
    max = Math.max(max, now - last - 1);
    last = now;
    setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  process.on("message", () => {
    process.send(max);
    max = 0;
  });
  process.on("disconnect", () => process.exit(0));
`;

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

async function libraryRate(threads: number, wire = false): Promise<number> {
  const ms = SECONDS * 1000;
  const counts = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(BASELINE_WORKER, {
            eval: true,
            workerData: { ms, wire, pre: path.join(__dirname, "..", "src", "pre") },
          });
          worker.once("message", resolve);
          worker.once("error", reject);
        }),
    ),
  );
  return counts.reduce((a, b) => a + b, 0) / SECONDS;
}

async function main(): Promise<void> {
  const cores = os.availableParallelism();
  console.log(`# node benchmark — ${os.cpus()[0].model}, ${cores} cores, Node ${process.version}`);
  const baseline = async () => ({
    single: await libraryRate(1),
    bare: await libraryRate(cores),
    wire: await libraryRate(cores, true),
  });
  const before = await baseline();

  // the chain, a staked node in its own process, a policy with the node's share
  if (pre.availableBackends().includes("native")) pre.setBackend("native");

  const net = await startTestNet();
  const testNode = await createTestNode(net, net.signers[1], {
    tune: (config) => {
      config.workers = Number(process.env.BENCH_WORKERS ?? cores);
      config.limits.ratePerSecond = 1e6;
      config.limits.rateBurst = 1e6;
      config.policyCacheTtlMs = 10_000;
      // a node's default duty schedule (the test harness polls the chain every 100 ms)
      config.duties = { ...DEFAULT_DUTIES };
      config.logLevel = "error";
      if (process.env.BENCH_WORKER_NICE) config.workerNice = Number(process.env.BENCH_WORKER_NICE);
    },
  });
  // BENCH_NODE_ARGS: extra Node flags for the node process, e.g. "--cpu-prof --cpu-prof-dir=prof"
  const child = spawnNode(testNode, process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean));
  try {
    await waitServing(testNode);
    const node = await connect(testNode.config.publicUrl, testNode.tlsFingerprint);
    const grant = await createPolicy(net, net.signers[3], [node.metadata.staker], { periods: 20 });
    await post(node, "/v1/shares", await shareFor(grant, node));
    const capsules = Array.from({ length: 64 }, () =>
      pre.encrypt(grant.delegatingSk.publicKey(), new Uint8Array(32))[0].toBytes(),
    );
    const makeRequests = (count: number, batch: number) =>
      Array.from({ length: count }, (_, i) =>
        encode(
          ReencryptionRequest,
          buildReencryptionRequest({
            policyId: grant.policyId,
            node: node.metadata.staker,
            capsules: Array.from({ length: batch }, (_, j) => capsules[(i * batch + j) % capsules.length]),
            recipientSigner: grant.recipientSigner,
          }),
        ),
      );
    // the load generator: its own process (scripts/bench-load.ts), fed pre-signed requests
    const load = fork(path.join(__dirname, "bench-load.ts"), [], {
      execArgv: ["--require", require.resolve("ts-node/register/transpile-only")],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    await new Promise((resolve) => load.once("message", resolve));
    const runLoad = (spec: LoadRun) =>
      new Promise<LoadResult>((resolve, reject) => {
        load.once("message", (answer: { ok: true; result: LoadResult } | { ok: false; error: string }) =>
          answer.ok ? resolve(answer.result) : reject(new Error(answer.error)),
        );
        load.send(spec);
      });
    const target = { url: node.url, fingerprint: node.fingerprint };
    const probe = spawn(process.execPath, ["-e", PROBE], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const probeMax = () =>
      new Promise<number>((resolve) => {
        probe.once("message", (ms: number) => resolve(ms));
        probe.send("max");
      });

    // warm the node (worker caches, policy cache)
    await runLoad({ mode: "closed", ...target, bodies: makeRequests(50, 1), concurrency: 1 });

    interface Run {
      batch: number;
      concurrency: number;
      reencPerSecond: number;
      p50: number;
      p99: number;
      /** CPU ms per request: the node process (all threads), its main thread, the load generator's process */
      nodeCpu: number;
      mainCpu: number;
      clientCpu: number;
    }
    const closedLoop = async (batch: number, concurrency: number): Promise<Run> => {
      const count = Math.max(concurrency * 4, Math.round(REQUESTS / batch));
      // the first `concurrency` (single-capsule) requests open the connections, untimed
      const bodies = [...makeRequests(concurrency, 1), ...makeRequests(count, batch)];
      const nodeCpu0 = processCpuMs(child.pid!);
      const mainCpu0 = processCpuMs(child.pid!, true);
      const { latencies, seconds, cpuMs } = await runLoad({ mode: "closed", ...target, bodies, concurrency });
      const nodeCpu = (processCpuMs(child.pid!) - nodeCpu0) / count;
      const mainCpu = (processCpuMs(child.pid!, true) - mainCpu0) / count;
      const clientCpu = cpuMs / count;
      latencies.sort((a, b) => a - b);
      return {
        batch,
        concurrency,
        reencPerSecond: (count * batch) / seconds,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        nodeCpu,
        mainCpu,
        clientCpu,
      };
    };

    const runs: Run[] = [];
    for (const batch of BATCHES) {
      for (const concurrency of CONCURRENCY) runs.push(await closedLoop(batch, concurrency));
    }
    // the library measured again after the node's runs: the mean of both is the reference
    const after = await baseline();
    const bare = (before.bare + after.bare) / 2;
    const wire = (before.wire + after.wire) / 2;
    console.log("\n| PRE library alone (native backend) | before | after | mean |");
    console.log("|---|---:|---:|---:|");
    console.log(
      `| reencrypt, 1 thread | ${before.single.toFixed(0)} | ${after.single.toFixed(0)} | ${((before.single + after.single) / 2).toFixed(0)} |`,
    );
    console.log(
      `| reencrypt, ${cores} threads | ${before.bare.toFixed(0)} | ${after.bare.toFixed(0)} | ${bare.toFixed(0)} |`,
    );
    console.log(
      `| Capsule.fromBytes + reencrypt + cfrag.toBytes, ${cores} threads | ${before.wire.toFixed(0)} | ${after.wire.toFixed(0)} | ${wire.toFixed(0)} |`,
    );
    console.log(
      "\n| capsules per request | concurrency | re-encryptions/s | vs reencrypt alone | vs decode+reencrypt+encode | p50 ms | p99 ms | node CPU ms/request | of which main thread | load generator CPU ms/request |",
    );
    console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const r of runs) {
      const pct = (x: number) => `${((100 * r.reencPerSecond) / x).toFixed(0)}%`;
      console.log(
        `| ${r.batch} | ${r.concurrency} | ${r.reencPerSecond.toFixed(0)} | ${pct(bare)} | ${pct(wire)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.nodeCpu.toFixed(2)} | ${r.mainCpu.toFixed(2)} | ${r.clientCpu.toFixed(2)} |`,
      );
    }

    // open loop at half of the best sustained load of each request size, and at half of the
    // node's peak (whatever the request size) in every smaller size that can carry it
    const peak = Math.max(...runs.map((r) => r.reencPerSecond));
    const halfLoads: { batch: number; load: number; basis: string }[] = [];
    for (const batch of BATCHES) {
      const best = Math.max(...runs.filter((r) => r.batch === batch).map((r) => r.reencPerSecond));
      halfLoads.push({ batch, load: best / 2, basis: "its own best" });
      if (best < peak && best > peak / 2) halfLoads.push({ batch, load: peak / 2, basis: "the node's peak" });
    }
    console.log(
      "\n| capsules per request | half of | offered load (reenc/s) | requests/s | p50 ms | p99 ms | answered within 20 ms | the node's own count: within 20 ms | longest stall: node's event loop / load generator's / idle probe's wake-up (ms) | chain process CPU (% of a core) |",
    );
    console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const { batch, load: offered, basis } of halfLoads) {
      const requestRate = offered / batch;
      // long enough that p99 is not just the worst few requests
      const count = Math.max(500, Math.round(requestRate * HALF_SECONDS));
      // as many open connections as a burst of the open loop may need (a steady client keeps
      // its connections; TLS handshakes are not what this measures)
      const warm = 32;
      const bodies = [...makeRequests(warm, 1), ...makeRequests(count, batch)];
      const chainCpu0 = processCpuMs(process.pid);
      await probeMax();
      const {
        latencies,
        seconds,
        node: counts,
        maxLoopDelayMs,
      } = await runLoad({
        mode: "open",
        ...target,
        bodies,
        rate: requestRate,
        warm,
      });
      const probeLate = await probeMax();
      const chainCpu = (processCpuMs(process.pid) - chainCpu0) / (10 * seconds);
      latencies.sort((a, b) => a - b);
      const pct = (part: number, all: number) => `${((100 * part) / all).toFixed(1)}%`;
      console.log(
        `| ${batch} | ${basis} | ${offered.toFixed(0)} | ${requestRate.toFixed(0)} | ${percentile(latencies, 50).toFixed(1)} | ${percentile(latencies, 99).toFixed(1)} | ${pct(latencies.filter((l) => l <= 20).length, latencies.length)} | ${pct(counts.within20ms, counts.total)} of ${counts.total} | ${counts.maxLoopDelayMs.toFixed(1)} / ${maxLoopDelayMs.toFixed(1)} / ${probeLate.toFixed(1)} | ${chainCpu.toFixed(1)}% |`,
      );
    }
    load.kill();
    probe.kill();
  } finally {
    child.kill("SIGTERM");
    await net.close();
  }
}
