/**
 * `npm run bench:network`: recipient retrieval latency (p50, p99) for a 3-of-5 policy over
 * HTTPS on loopback at 1, 10 and 50 concurrent recipients, and grants per second. The five
 * nodes run as their own `nkms node run` processes (each with one crypto worker thread), as
 * operators run them, against the Hardhat chain of this process over JSON-RPC; the recipients
 * run in this process and share one keep-alive connector.
 * Prints a Markdown table (docs/benchmarks-network.md).
 */
import hre from "hardhat";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { tokens } from "../src/chain/params";
import { startDevnet } from "../src/cli/devnet";
import { encryptMessage, NodeConnector, Owner, Recipient, SecretKey } from "../src/client";
import { CapsuleFrag, decryptReencrypted, getBackend } from "../src/pre";
import { buildReencryptionRequest } from "../src/protocol/build";
import { encode } from "../src/protocol/codec";
import { ReencryptionRequest } from "../src/protocol/messages";
import { percentile, processCpuMs } from "./bench-stats";

const ROUNDS: { concurrency: number; requests: number }[] = [
  { concurrency: 1, requests: 200 },
  { concurrency: 10, requests: 500 },
  { concurrency: 50, requests: 500 },
];
const GRANTS = 10;

async function main(): Promise<void> {
  await hre.run("compile", { quiet: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-bench-"));
  const devnet = await startDevnet({
    hre,
    nodes: 5,
    dir,
    processes: true,
    tune: (config) => {
      // the devnet's quarter-second commitment polling (for tests that jump chain time) would
      // cost the chain more than the retrievals do; a node on a real network checks rarely
      config.duties.commitCheckIntervalMs = 5_000;
      config.policyCacheTtlMs = 10_000;
      config.limits.ratePerSecond = 1_000_000;
      config.limits.rateBurst = 1_000_000;
    },
  });
  const connector = new NodeConnector();
  const alice = new Owner({
    seed: new Uint8Array(32).fill(9),
    network: devnet.network,
    wallet: devnet.owner,
    connector,
  });
  const secret = SecretKey.random();
  const bob = new Recipient({
    secretKey: secret,
    connector,
    defaults: { nodeTimeoutMs: 60_000 },
  });
  // every grant of the benchmark: 3-of-5 to Bob
  const grantOptions = {
    recipient: bob.publicKey,
    label: "bench",
    threshold: 3,
    shares: 5,
    periods: 30,
    feeRate: tokens(1n),
  };
  try {
    const grant = await alice.grant(grantOptions);
    const policy = bob.openPolicy(grant.sealedMap);
    const kit = encryptMessage(alice.labelKey("bench"), Buffer.from("benchmark payload"));
    // warm up: TLS connections and the nodes' kfrag caches
    for (let i = 0; i < 20; i++) await bob.decryptMessage(policy, kit);

    const rows: string[] = [];
    for (const { concurrency, requests } of ROUNDS) {
      const latencies: number[] = [];
      let next = 0;
      const nodesCpu = () => devnet.nodes.reduce((sum, n) => sum + processCpuMs(n.process!.pid!), 0);
      const nodesCpu0 = nodesCpu();
      const clientCpu0 = process.cpuUsage();
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next++ < requests) {
            const t = performance.now();
            await bob.decryptMessage(policy, kit);
            latencies.push(performance.now() - t);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const nodesMs = (nodesCpu() - nodesCpu0) / requests;
      const clientUsage = process.cpuUsage(clientCpu0);
      const clientMs = (clientUsage.user + clientUsage.system) / 1000 / requests;
      latencies.sort((a, b) => a - b);
      rows.push(
        `| retrieval 3-of-5, ${concurrency} concurrent | ${requests} | ${percentile(latencies, 50).toFixed(1)} | ${percentile(latencies, 99).toFixed(1)} | ${(requests / seconds).toFixed(0)} retrievals/s | ${nodesMs.toFixed(2)} | ${clientMs.toFixed(2)} |`,
      );
      console.error(rows.at(-1));
    }

    // the recipient's own CPU per retrieval, no network: 3 signed requests, 3 cfrags verified, decrypt
    const answers = await bob.retrieve(policy, [kit.capsule], { waitForAll: true });
    const cfrags = answers.cfrags[0].map((c) => CapsuleFrag.fromBytes(c.toBytes()));
    const cpuRounds = 200;
    const cpuStarted = performance.now();
    for (let i = 0; i < cpuRounds; i++) {
      for (const node of policy.nodes.slice(0, 3)) {
        encode(
          ReencryptionRequest,
          buildReencryptionRequest({
            policyId: policy.map.policyId,
            node: node.staker,
            capsules: [kit.capsule.toBytes()],
            recipientSigner: bob.signer,
          }),
        );
      }
      const verified = cfrags.map((c) =>
        c.verify(kit.capsule, policy.ownerVerifyingKey, policy.delegatingKey, bob.publicKey),
      );
      decryptReencrypted(secret, policy.delegatingKey, kit.capsule, verified, kit.ciphertext);
    }
    const cpuMs = (performance.now() - cpuStarted) / cpuRounds;
    rows.push(
      `| recipient CPU per retrieval, no network (sign 3 requests, verify 3 cfrags, decrypt) | ${cpuRounds} | ${cpuMs.toFixed(2)} (mean) | – | – | – | – |`,
    );

    const grantStarted = performance.now();
    for (let i = 0; i < GRANTS; i++) {
      await alice.grant(grantOptions);
    }
    const grantSeconds = (performance.now() - grantStarted) / 1000;
    rows.push(
      `| grant 3-of-5 (sample, pay on chain, 5 shares in parallel), sequential | ${GRANTS} | ${((grantSeconds / GRANTS) * 1000).toFixed(0)} | – | ${(GRANTS / grantSeconds).toFixed(2)} grants/s | – | – |`,
    );

    console.log(
      `Backend: ${getBackend()}; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}\n`,
    );
    console.log(
      "| operation | count | p50 ms | p99 ms | throughput | CPU ms per retrieval, 5 nodes | CPU ms per retrieval, recipients + chain |",
    );
    console.log("|---|---|---|---|---|---|---|");
    for (const row of rows) console.log(row);
  } finally {
    alice.close();
    bob.close();
    connector.close();
    await devnet.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
