/**
 * The load generator of `npm run bench:node`, in its own process (forked by bench-node.ts), so
 * the latencies it measures are the node's and not the pauses of the benchmark's own process
 * (which also runs the Hardhat chain). It sends pre-signed request bodies over HTTPS, pinned
 * to the node's certificate, with one keep-alive agent per run, either in a closed loop
 * (`concurrency` clients back to back) or an open loop (one request every 1/rate s), and
 * answers with every latency and its own CPU time.
 */
import https from "node:https";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { requestNode } from "../src/protocol/https";

export type LoadRun =
  | { mode: "closed"; url: string; fingerprint: Uint8Array; bodies: Uint8Array[]; concurrency: number }
  | { mode: "open"; url: string; fingerprint: Uint8Array; bodies: Uint8Array[]; rate: number; warm: number };

export interface LoadResult {
  latencies: number[];
  seconds: number;
  /** CPU time of this process during the run, ms */
  cpuMs: number;
  /**
   * the node's own count (its latency histogram) of re-encryption answers within 20 ms, and of
   * all, during the run; and the longest delay of its event loop meanwhile, ms
   */
  node: { within20ms: number; total: number; maxLoopDelayMs: number };
  /** the longest delay of this process's event loop during the run, ms (requests of an open loop left late by as much) */
  maxLoopDelayMs: number;
}

/** The node's /metrics: its re-encryption answers within 20 ms and in all, from handler start to answer written. */
async function nodeCounts(spec: LoadRun, agent: https.Agent): Promise<LoadResult["node"]> {
  const { body } = await requestNode({
    url: spec.url,
    tlsFingerprint: spec.fingerprint,
    method: "GET",
    path: "/metrics",
    agent,
    timeoutMs: 30_000,
  });
  const text = Buffer.from(body).toString("utf8");
  const bucket = (le: string) => {
    const line = `nkms_request_duration_seconds_bucket{endpoint="/v1/reencrypt",le="${le}"} `;
    const at = text.indexOf(line);
    return at < 0 ? 0 : parseInt(text.slice(at + line.length), 10);
  };
  const delay = /^nkms_event_loop_delay_max_seconds (\S+)$/m.exec(text);
  return {
    within20ms: bucket("0.02"),
    total: bucket("+Inf"),
    maxLoopDelayMs: delay ? 1000 * Number(delay[1]) : NaN,
  };
}

async function run(spec: LoadRun): Promise<LoadResult> {
  // no TLS session cache, so every connection presents the certificate to pin
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64, maxCachedSessions: 0 });
  const send = async (body: Uint8Array): Promise<number> => {
    const start = performance.now();
    await requestNode({
      url: spec.url,
      tlsFingerprint: spec.fingerprint,
      method: "POST",
      path: "/v1/reencrypt",
      body,
      agent,
      timeoutMs: 30_000,
    });
    return performance.now() - start;
  };
  // the first requests of a run open its connections (untimed)
  const warm = spec.mode === "closed" ? spec.concurrency : spec.warm;
  await Promise.all(spec.bodies.slice(0, warm).map(send));
  const bodies = spec.bodies.slice(warm);
  // (reading the node's metrics restarts its longest event-loop delay)
  const node0 = await nodeCounts(spec, agent);
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let latencies: number[];
  if (spec.mode === "closed") {
    latencies = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: spec.concurrency }, async () => {
        while (next < bodies.length) latencies.push(await send(bodies[next++]));
      }),
    );
  } else {
    // each request leaves at its due time, without waiting for the answers before it (setting up
    // all timers at once would delay the first ones and send them as one burst)
    const interval = 1000 / spec.rate;
    const answers: Promise<number>[] = [];
    for (const [i, body] of bodies.entries()) {
      const wait = start + i * interval - performance.now();
      if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
      answers.push(send(body));
    }
    latencies = await Promise.all(answers);
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  const node1 = await nodeCounts(spec, agent);
  agent.destroy();
  return {
    latencies,
    seconds,
    cpuMs: (cpu.user + cpu.system) / 1000,
    node: {
      within20ms: node1.within20ms - node0.within20ms,
      total: node1.total - node0.total,
      maxLoopDelayMs: node1.maxLoopDelayMs,
    },
    maxLoopDelayMs: loop.max / 1e6,
  };
}

if (require.main === module && process.send) {
  process.on("message", (spec: LoadRun) => {
    run(spec).then(
      (result) => process.send!({ ok: true, result }),
      (error: unknown) => process.send!({ ok: false, error: String(error) }),
    );
  });
  process.send({ ready: true });
}
