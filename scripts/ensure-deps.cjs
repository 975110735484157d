#!/usr/bin/env node
// Installs the locked dependencies when node_modules is missing or older than
// package-lock.json, then builds the native PRE addon if it is missing or stale (see
// build-native.cjs), so `npm test`, `npm run demo` and the benchmarks work on a fresh clone.
"use strict";
const { createHash } = require("node:crypto");
const { existsSync, readFileSync, statSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");
const { execFileSync, execSync } = require("node:child_process");

const root = join(__dirname, "..");
const lockFile = join(root, "package-lock.json");
const lock = readFileSync(lockFile);
const digest = createHash("sha256").update(lock).digest("hex");
const marker = join(root, "node_modules", ".nkms-lock-sha256");
// npm's own record of an install (written by `npm ci` and `npm install`): without our marker, an
// install newer than the lock file (a manual `npm ci`) counts as current
const npmRecord = join(root, "node_modules", ".package-lock.json");

const current = existsSync(marker)
  ? readFileSync(marker, "utf8") === digest
  : existsSync(npmRecord) && statSync(npmRecord).mtimeMs >= statSync(lockFile).mtimeMs;
if (!current) {
  console.log("nkms: installing locked dependencies (npm ci) ...");
  execSync("npm ci --no-audit --no-fund", { cwd: root, stdio: "inherit" });
}
if (!existsSync(marker) || readFileSync(marker, "utf8") !== digest) writeFileSync(marker, digest);
execFileSync(process.execPath, [join(__dirname, "build-native.cjs")], { cwd: root, stdio: "inherit" });
