/**
 * `npm run bench:pre`: ops/s of every PRE operation on both of our curve backends and on the
 * reference (@nucypher/umbral-pre, WASM), measured in one process, with ratios.
 * Env: BENCH_MS (time per measurement, default 400), BENCH_ROUNDS (default 5), BENCH_ONLY
 * (substring filter on operation names).
 */
import * as umbral from "@nucypher/umbral-pre";
import { randomBytes } from "@noble/hashes/utils.js";
import * as pre from "../src/pre";

const BENCH_MS = Number(process.env.BENCH_MS ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SAMPLE_MS = 20;
const ONLY = process.env.BENCH_ONLY;

/**
 * Peak ops/s of `fn`: after a warm-up, run back-to-back samples of about SAMPLE_MS for
 * BENCH_MS and keep the fastest sample. The machine is shared, so a mean would mostly
 * measure the neighbours' load; the fastest sample is what the code does when it runs.
 */
function opsPerSecond(fn: () => unknown): number {
  const warmupEnd = performance.now() + Math.min(100, BENCH_MS / 4);
  do fn();
  while (performance.now() < warmupEnd);
  let best = 0;
  const end = performance.now() + BENCH_MS;
  do {
    const start = performance.now();
    let calls = 0;
    let now = start;
    do {
      fn();
      calls++;
      now = performance.now();
    } while (now - start < SAMPLE_MS);
    best = Math.max(best, (calls * 1000) / (now - start));
  } while (performance.now() < end);
  return best;
}

interface Row {
  name: string;
  /** how many operations one call performs (batch verification reports per cfrag) */
  perCall?: number;
  reference?: () => unknown;
  ours: () => unknown;
}

function bytesOf(kfrag: { toBytes(): Uint8Array }, cfrag: { toBytes(): Uint8Array }) {
  return { kfragBytes: kfrag.toBytes(), cfragBytes: cfrag.toBytes() };
}

function referenceSetup() {
  const alice = umbral.SecretKey.random();
  const bob = umbral.SecretKey.random();
  const signer = new umbral.Signer(umbral.SecretKey.random());
  const message = randomBytes(1024);
  const [capsule, ciphertext] = umbral.encrypt(alice.publicKey(), message);
  const kfrags = umbral.generateKFrags(alice, bob.publicKey(), signer, 3, 5, true, true);
  const vcfrags = kfrags.map((k) => umbral.reencrypt(capsule, k));
  return {
    alice,
    bob,
    signer,
    message,
    capsule,
    ciphertext,
    kfrags,
    vcfrags,
    capsuleBytes: capsule.toBytes(),
    ...bytesOf(kfrags[0], vcfrags[0]),
  };
}

function oursSetup() {
  const alice = pre.SecretKey.random();
  const bob = pre.SecretKey.random();
  const signer = new pre.Signer(pre.SecretKey.random());
  const message = randomBytes(1024);
  const [capsule, ciphertext] = pre.encrypt(alice.publicKey(), message);
  const kfrags = pre.generateKFrags(alice, bob.publicKey(), signer, 3, 5, true, true);
  const vcfrags = kfrags.map((k) => pre.reencrypt(capsule, k));
  // 100 cfrags of one capsule from 100 kfrags of one grant (a receiver collecting answers)
  const many = pre
    .generateKFrags(alice, bob.publicKey(), signer, 3, 100, true, true)
    .map((k) => pre.CapsuleFrag.fromBytes(pre.reencrypt(capsule, k).toBytes()));
  return {
    alice,
    bob,
    signer,
    message,
    capsule,
    ciphertext,
    kfrags,
    vcfrags,
    many,
    capsuleBytes: capsule.toBytes(),
    ...bytesOf(kfrags[0], vcfrags[0]),
  };
}

function rows(): Row[] {
  const r = referenceSetup();
  const o = oursSetup();
  const mib = new Uint8Array(1 << 20).fill(7);
  const keys = [o.signer.verifyingKey(), o.alice.publicKey(), o.bob.publicKey()] as const;
  // decoded anew for each call of the 100-cfrag rows, so the window table that batch
  // verification builds for the verifying key is paid for in every batch and helps no other row
  const keyBytes = keys.map((k) => k.toBytes());
  const freshKeys = () =>
    keyBytes.map((b) => pre.PublicKey.fromBytes(b)) as [pre.PublicKey, pre.PublicKey, pre.PublicKey];
  return [
    {
      name: "encrypt 1 KiB",
      reference: () => umbral.encrypt(r.alice.publicKey(), r.message),
      ours: () => pre.encrypt(o.alice.publicKey(), o.message),
    },
    {
      name: "encrypt 1 MiB",
      reference: () => umbral.encrypt(r.alice.publicKey(), mib),
      ours: () => pre.encrypt(o.alice.publicKey(), mib),
    },
    {
      name: "decryptOriginal 1 KiB",
      reference: () => umbral.decryptOriginal(r.alice, r.capsule, r.ciphertext),
      ours: () => pre.decryptOriginal(o.alice, o.capsule, o.ciphertext),
    },
    {
      name: "generateKFrags 3 of 5",
      reference: () => umbral.generateKFrags(r.alice, r.bob.publicKey(), r.signer, 3, 5, true, true),
      ours: () => pre.generateKFrags(o.alice, o.bob.publicKey(), o.signer, 3, 5, true, true),
    },
    {
      // the reference's verify consumes the object, so both sides decode it first
      name: "KeyFrag.fromBytes + verify",
      reference: () =>
        umbral.KeyFrag.fromBytes(r.kfragBytes).verify(
          r.signer.verifyingKey(),
          r.alice.publicKey(),
          r.bob.publicKey(),
        ),
      ours: () => pre.KeyFrag.fromBytes(o.kfragBytes).verify(...keys),
    },
    {
      name: "reencrypt",
      reference: () => umbral.reencrypt(r.capsule, r.kfrags[0]),
      ours: () => pre.reencrypt(o.capsule, o.kfrags[0]),
    },
    {
      // a re-encryption node's decoding of a request's capsule: two points and the self-check
      name: "Capsule.fromBytes",
      reference: () => umbral.Capsule.fromBytes(r.capsuleBytes),
      ours: () => pre.Capsule.fromBytes(o.capsuleBytes),
    },
    {
      // a re-encryption node's work per capsule, short of hashing and signing its answer
      name: "Capsule.fromBytes + reencrypt + toBytes",
      reference: () => umbral.reencrypt(umbral.Capsule.fromBytes(r.capsuleBytes), r.kfrags[0]).toBytes(),
      ours: () => pre.reencrypt(pre.Capsule.fromBytes(o.capsuleBytes), o.kfrags[0]).toBytes(),
    },
    {
      name: "CapsuleFrag.fromBytes + verify",
      reference: () =>
        umbral.CapsuleFrag.fromBytes(r.cfragBytes).verify(
          r.capsule,
          r.signer.verifyingKey(),
          r.alice.publicKey(),
          r.bob.publicKey(),
        ),
      ours: () => pre.CapsuleFrag.fromBytes(o.cfragBytes).verify(o.capsule, ...keys),
    },
    {
      name: "CapsuleFrag.verify × 100, one by one (per cfrag)",
      perCall: 100,
      ours: () => o.many.map((c) => c.verify(o.capsule, ...freshKeys())),
    },
    {
      name: "verifyCapsuleFrags batch of 100 (per cfrag)",
      perCall: 100,
      ours: () => pre.verifyCapsuleFrags(o.capsule, o.many, ...freshKeys()),
    },
    {
      name: "decryptReencrypted with 3",
      reference: () =>
        umbral.decryptReencrypted(r.bob, r.alice.publicKey(), r.capsule, r.vcfrags.slice(0, 3), r.ciphertext),
      ours: () =>
        pre.decryptReencrypted(o.bob, o.alice.publicKey(), o.capsule, o.vcfrags.slice(0, 3), o.ciphertext),
    },
  ].filter((row) => !ONLY || row.name.includes(ONLY));
}

function fmt(x: number | undefined): string {
  if (x === undefined) return "—";
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function main(): void {
  const backends = pre.availableBackends();
  if (!backends.includes("native")) console.warn("warning: the native libsecp256k1 binding did not load");
  const engines = pre.availableNativeEngines();
  if (backends.includes("native") && !engines.includes("addon")) {
    console.warn(
      "warning: the native addon did not load (node scripts/build-native.cjs): native runs on the binding",
    );
  }
  // "native" is the native backend on its default engine (the addon when built); "binding"
  // the same backend on the secp256k1 package's binding alone, the engine before the addon
  type Impl = "ref" | "native" | "binding" | "noble";
  const nativeEngine = pre.getNativeEngine();
  const impls: Impl[] = [
    "ref",
    ...(backends.includes("native") ? (["native"] as const) : []),
    ...(engines.includes("addon") && engines.includes("binding") ? (["binding"] as const) : []),
    "noble",
  ];
  const select = (impl: Exclude<Impl, "ref">): void => {
    if (impl === "noble") return pre.setBackend("noble");
    pre.setBackend("native");
    pre.setNativeEngine(impl === "binding" ? "binding" : nativeEngine!);
  };
  const table = rows();
  const best = table.map(() => ({}) as Partial<Record<Impl, number>>);
  // interleaved rounds: a load spike on the shared machine hits every implementation alike
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, row] of table.entries()) {
      for (const impl of impls) {
        const fn = impl === "ref" ? row.reference : row.ours;
        if (!fn) continue;
        if (impl !== "ref") select(impl);
        const rate = opsPerSecond(fn) * (row.perCall ?? 1);
        best[i][impl] = Math.max(best[i][impl] ?? 0, rate);
      }
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const label: Record<Exclude<Impl, "ref">, string> = {
    native: `native (${nativeEngine ?? "—"})`,
    binding: "native (binding)",
    noble: "noble",
  };
  const shown = impls.filter((i): i is Exclude<Impl, "ref"> => i !== "ref");
  console.log(
    `Node ${process.version}; peak ops/s over ${SAMPLE_MS} ms samples, ${ROUNDS} interleaved rounds of ${BENCH_MS} ms per implementation (higher is better); ratio = ours ÷ umbral-pre 0.10 (WASM)\n`,
  );
  console.log(
    `| operation | umbral-pre (WASM) | ${shown.map((i) => label[i]).join(" | ")} | ${shown.map((i) => `${label[i]} ÷ ref`).join(" | ")} |`,
  );
  console.log(`|---|---:|${shown.map(() => "---:|").join("")}${shown.map(() => "---:|").join("")}`);
  for (const [i, row] of table.entries()) {
    const b = best[i];
    const ratio = (x?: number) => (x !== undefined && b.ref ? `${(x / b.ref).toFixed(2)}×` : "—");
    console.log(
      `| ${row.name} | ${fmt(b.ref)} | ${shown.map((impl) => fmt(b[impl])).join(" | ")} | ${shown.map((impl) => ratio(b[impl])).join(" | ")} |`,
    );
  }
  const one = table.findIndex((r) => r.name.startsWith("CapsuleFrag.verify × 100"));
  const batch = table.findIndex((r) => r.name.startsWith("verifyCapsuleFrags"));
  if (one >= 0 && batch >= 0) {
    console.log("");
    for (const impl of shown) {
      const gain = (best[batch][impl] ?? 0) / (best[one][impl] ?? 1);
      console.log(
        `batch verification of 100, ${label[impl]}: ${gain.toFixed(2)}× the per-cfrag rate of one-by-one verification`,
      );
    }
  }
  pre.setBackend(backends.includes("native") ? "native" : "noble");
  if (nativeEngine) pre.setNativeEngine(nativeEngine);
}

main();
