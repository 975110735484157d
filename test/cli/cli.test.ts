/**
 * The real `nkms` binary (bin/nkms.cjs, as a child process) against a devnet: three staked
 * HTTPS nodes and the contracts on the in-process chain, served over JSON-RPC.
 */
import { expect } from "chai";
import hre from "hardhat";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startDevnet, type Devnet } from "../../src/cli/devnet";

const BIN = path.resolve(__dirname, "..", "..", "bin", "nkms.cjs");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe("cli: the nkms binary against a devnet", function () {
  let devnet: Devnet;
  let dir: string;

  const nkms = (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        {
          cwd: dir,
          env: {
            ...process.env,
            NKMS_PASSPHRASE: "a test passphrase",
            NKMS_SCRYPT_N: "1024",
            NKMS_DEVNET: devnet?.file ?? "",
          },
          maxBuffer: 16 << 20,
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const json = (run: Run) => {
    expect(run.code, run.stderr).to.equal(0);
    return JSON.parse(run.stdout) as Record<string, unknown>;
  };
  const file = (name: string) => path.join(dir, name);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nkms-cli-"));
    devnet = await startDevnet({ hre, nodes: 3, dir: path.join(dir, "devnet") });
    fs.writeFileSync(file("secret.bin"), randomBytes(2_500_000));
  });

  after(async () => {
    await devnet?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("--help lists every command group; an unknown command exits non-zero", async () => {
    const help = await nkms("--help");
    expect(help.code).to.equal(0);
    for (const command of [
      "keys",
      "encrypt",
      "decrypt",
      "grant",
      "retrieve",
      "revoke",
      "log",
      "policy",
      "stake",
      "node",
      "devnet",
    ]) {
      expect(help.stdout).to.match(new RegExp(`\\n\\s+${command}\\b`));
    }
    const unknown = await nkms("frobnicate");
    expect(unknown.code).to.not.equal(0);
    expect(unknown.stderr).to.include("unknown command");
  });

  it("shares a file: keys, encrypt, grant, retrieve, owner decrypt, log, policy status, revoke, refused", async () => {
    const [alice, bob] = await Promise.all([
      nkms("keys", "new", "--out", "alice.json", "--json"),
      nkms("keys", "new", "--out", "bob.json", "--json"),
    ]);
    const bobKey = json(bob).recipientKey as string;
    expect(json(alice).recipientKey).to.match(/^0x0[23][0-9a-f]{64}$/);
    expect((await nkms("keys", "export-public", "--key", "bob.json")).stdout.trim()).to.equal(bobKey);

    const encrypted = json(
      await nkms(
        "encrypt",
        "--key",
        "alice.json",
        "--label",
        "reports",
        "--in",
        "secret.bin",
        "--out",
        "secret.nkms",
        "--json",
      ),
    );
    expect(encrypted.plaintextBytes).to.equal(2_500_000);

    const grant = json(
      await nkms(
        "grant",
        "--key",
        "alice.json",
        "--label",
        "reports",
        "--recipient",
        bobKey,
        "--threshold",
        "2",
        "--shares",
        "3",
        "--periods",
        "5",
        "--json",
      ),
    );
    expect(grant.nodes).to.have.length(3);
    expect(fs.existsSync(file("policy.map")) && fs.existsSync(file("policy.owner"))).to.equal(true);

    // Bob's retrieval of secret.nkms with the policy map Alice sent him
    const retrieve = (out: string, ...more: string[]) =>
      nkms(
        "retrieve",
        "--key",
        "bob.json",
        "--policy",
        "policy.map",
        "--in",
        "secret.nkms",
        "--out",
        out,
        ...more,
      );
    const retrieved = await retrieve("bob.bin", "--json");
    expect(retrieved.code, retrieved.stderr).to.equal(0);
    expect(fs.readFileSync(file("bob.bin")).equals(fs.readFileSync(file("secret.bin")))).to.equal(true);

    const own = await nkms(
      "decrypt",
      "--key",
      "alice.json",
      "--label",
      "reports",
      "--in",
      "secret.nkms",
      "--out",
      "alice.bin",
    );
    expect(own.code, own.stderr).to.equal(0);
    expect(fs.readFileSync(file("alice.bin")).equals(fs.readFileSync(file("secret.bin")))).to.equal(true);

    const log = json(await nkms("log", "--key", "alice.json", "--policy", "policy.owner", "--json"));
    const entries = (log.nodes as { entries: unknown[] }[]).reduce((n, node) => n + node.entries.length, 0);
    // at least the threshold of nodes served Bob (one more if a hedge fired)
    expect(entries).to.be.within(2, 3);

    const status = json(await nkms("policy", "status", "--policy", "policy.owner", "--json"));
    expect(status.policyId).to.equal(grant.policyId);
    expect(status.active).to.equal(true);

    const revoked = json(await nkms("revoke", "--key", "alice.json", "--policy", "policy.owner", "--json"));
    expect(revoked.guaranteed).to.equal(true);
    expect(revoked.acknowledged).to.have.length(3);

    const refused = await retrieve("late.bin");
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.include("[RETRIEVAL_FAILED]");
    expect(refused.stderr).to.include("POLICY_REVOKED");
    expect(fs.existsSync(file("late.bin"))).to.equal(false);
  });

  it("stakes from the command line: deposit, bond, status", async () => {
    const staker = devnet.owner.privateKey;
    const deposit = json(
      await nkms(
        "stake",
        "deposit",
        "--amount",
        "20000",
        "--periods",
        "40",
        "--wallet-key",
        staker,
        "--json",
      ),
    );
    expect(deposit.locked).to.equal("20000.0 NKMS");
    const operator = "0x000000000000000000000000000000000000dEaD";
    json(await nkms("stake", "bond", "--operator", operator, "--wallet-key", staker, "--json"));
    const status = json(await nkms("stake", "status", "--wallet-key", staker, "--json"));
    expect(status.operator).to.equal(operator);
    expect(status.stake).to.equal("20000.0 NKMS");
    expect(status.locked).to.equal("20000.0 NKMS");
    expect(status.windDown).to.equal(false);
  });

  it("says what was wrong and exits non-zero on bad input", async () => {
    const cases: [string[], RegExp][] = [
      [
        ["encrypt", "--label-key", "0x1234", "--in", "secret.bin", "--out", "x"],
        /\[INVALID_ARGUMENT\] --label-key/,
      ],
      [
        [
          "grant",
          "--key",
          "missing.json",
          "--label",
          "l",
          "--recipient",
          "0x02",
          "--threshold",
          "1",
          "--shares",
          "1",
          "--periods",
          "1",
        ],
        /KEYSTORE_MISSING/,
      ],
      [["policy", "status", "--id", "0x" + "11".repeat(16), "--devnet", "nowhere.json"], /no devnet file/],
    ];
    for (const [args, message] of cases) {
      const run = await nkms(...args);
      expect(run.code, args.join(" ")).to.not.equal(0);
      expect(run.stderr, args.join(" ")).to.match(message);
    }
  });
});
