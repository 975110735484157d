#!/usr/bin/env node
// The `nkms` command. Inside the repository (src/ present) it runs the TypeScript sources
// through ts-node in transpile-only mode, so it never runs a stale build; an installed package
// (no src/) runs the compiled dist/.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
const source = path.join(root, "src", "cli", "index.ts");
if (fs.existsSync(source)) {
  require("ts-node").register({ transpileOnly: true, project: path.join(root, "tsconfig.json") });
  require(source).main(process.argv);
} else {
  require(path.join(root, "dist", "cli", "index.js")).main(process.argv);
}
