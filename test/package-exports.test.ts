import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = join(__dirname, "..");

/** runs a CommonJS snippet with plain node (no ts-node), as another project would import nkms */
function runBuilt(code: string): string {
  return execFileSync(process.execPath, ["-e", code], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

describe("package exports (the built library, as other projects import it)", function () {
  before(function () {
    if (!existsSync(join(root, "dist", "pre", "index.js"))) {
      throw new Error("dist/ is missing: run `npm run build` first (npm test does)");
    }
  });

  it("nkms/pre encrypts, re-encrypts through a 2-of-3 policy and decrypts", () => {
    const out = runBuilt(`
      const pre = require("nkms/pre");
      const alice = pre.SecretKey.random(), bob = pre.SecretKey.random(), signer = new pre.Signer(pre.SecretKey.random());
      const [capsule, ct] = pre.encrypt(alice.publicKey(), new TextEncoder().encode("exports work"));
      const kfrags = pre.generateKFrags(alice, bob.publicKey(), signer, 2, 3, true, true);
      const cfrags = kfrags.slice(1).map((k) => pre.reencrypt(capsule, k));
      const pt = pre.decryptReencrypted(bob, alice.publicKey(), capsule, cfrags, ct);
      process.stdout.write(new TextDecoder().decode(pt));
    `);
    expect(out).to.equal("exports work");
  });

  it("nkms/client loads, with typed errors and stake-weighted sampling", () => {
    const out = runBuilt(`
      const client = require("nkms/client");
      const error = new client.TimeoutError("slow", 5);
      process.stdout.write([error instanceof client.ClientError, typeof error.code, typeof client.stakeWeightedOrder].join(","));
    `);
    expect(out).to.equal("true,string,function");
  });

  it("nkms internals are not importable past the exports map", () => {
    expect(() => runBuilt(`require("nkms/dist/pre/curve.js")`)).to.throw();
  });
});
