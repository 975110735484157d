#!/usr/bin/env node
// Builds the optional native addon native/build/Release/nkms_secp256k1.node (native/nkms_secp256k1.c
// over the libsecp256k1 sources shipped in node_modules/secp256k1) with node-gyp, offline
// against the local Node headers when they are installed.
//
// Idempotent: does nothing when the addon is newer than its sources. Never fails the caller:
// when the build is impossible (no compiler, no headers) it prints a warning and exits 0, and
// nkms/pre then runs its native backend on the `secp256k1` package's binding alone.
// NKMS_SKIP_NATIVE_BUILD=1 skips it; --force rebuilds.
"use strict";
const { spawnSync } = require("node:child_process");
const { existsSync, statSync } = require("node:fs");
const { dirname, join } = require("node:path");

const root = join(__dirname, "..");
const native = join(root, "native");
const output = join(native, "build", "Release", "nkms_secp256k1.node");
const sources = [
  join(native, "nkms_secp256k1.c"),
  join(native, "binding.gyp"),
  join(root, "node_modules", "secp256k1", "package.json"),
];

function warn(message) {
  console.warn(`nkms: warning: ${message}`);
  console.warn(
    "nkms: the native PRE backend falls back to the secp256k1 package's binding (slower: reencrypt about 1.5x, batch verification of many cfrags about 3x); run `node scripts/build-native.cjs` after fixing the cause",
  );
  process.exit(0);
}

if (process.env.NKMS_SKIP_NATIVE_BUILD === "1") process.exit(0);
for (const s of sources) if (!existsSync(s)) warn(`cannot build the native addon: ${s} is missing`);

const mtime = (f) => statSync(f).mtimeMs;
const force = process.argv.includes("--force");
if (!force && existsSync(output) && sources.every((s) => mtime(s) <= mtime(output))) process.exit(0);

/** node-gyp: the one npm passes to lifecycle scripts, else the one bundled with npm */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(
      dirname(process.execPath),
      "..",
      "lib",
      "node_modules",
      "npm",
      "node_modules",
      "node-gyp",
      "bin",
      "node-gyp.js",
    ),
    join(dirname(process.execPath), "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
  ];
  try {
    candidates.push(require.resolve("node-gyp/bin/node-gyp.js", { paths: [root] }));
  } catch {
    // not installed locally
  }
  return candidates.find((c) => c && existsSync(c));
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) warn("node-gyp not found (it ships with npm)");

const args = [nodeGyp, "rebuild"];
// the installed Node's own headers, when present, so that nothing is downloaded
const prefix = join(dirname(process.execPath), "..");
if (!process.env.npm_config_nodedir && existsSync(join(prefix, "include", "node", "node_api.h"))) {
  args.push(`--nodedir=${prefix}`);
}

const started = Date.now();
console.log("nkms: building the native addon (node-gyp rebuild) ...");
const build = spawnSync(process.execPath, args, { cwd: native, encoding: "utf8" });
if (build.status !== 0) {
  process.stderr.write(build.stdout ?? "");
  process.stderr.write(build.stderr ?? "");
  warn(`building the native addon failed (${build.error?.message ?? `node-gyp exit code ${build.status}`})`);
}

// it must load and answer, in a separate process (a crash must not take this one down)
const check = spawnSync(
  process.execPath,
  [
    "-e",
    `const a = require(${JSON.stringify(output)}); if (typeof a.mulMany !== "function") process.exit(1);`,
  ],
  { encoding: "utf8" },
);
if (check.status !== 0) warn(`the native addon was built but does not load: ${check.stderr.trim()}`);
console.log(`nkms: native addon built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${output}`);
