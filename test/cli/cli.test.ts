/**
 * The real `nkms` binary (bin/nkms.cjs, as a child process) against a devnet: three staked
 * HTTPS nodes and the contracts on the in-process chain, served over JSON-RPC.
 */
import { expect } from "chai";
import type { Command } from "commander";
import hre from "hardhat";
import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startDevnet, type Devnet } from "../../src/cli/devnet";
import { buildProgram } from "../../src/cli/index";
import { writeKeystore } from "../../src/node/keystore";

const BIN = path.resolve(__dirname, "..", "..", "bin", "nkms.cjs");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe("cli: the nkms binary against a devnet", function () {
  let devnet: Devnet;
  let dir: string;

  const env = (more: Record<string, string> = {}) => ({
    ...process.env,
    NKMS_PASSPHRASE: "a test passphrase",
    NKMS_SCRYPT_N: "1024",
    NKMS_DEVNET: devnet?.file ?? "",
    ...more,
  });
  /** runs nkms with `args`, and these environment variables changed */
  const nkmsWith = (more: Record<string, string>, ...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        { cwd: dir, env: env(more), maxBuffer: 16 << 20 },
        (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const nkms = (...args: string[]): Promise<Run> => nkmsWith({}, ...args);
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
    // the exact fee in the smallest unit: 0.001 NKMS × 3 nodes × 5 periods
    expect(grant.fee).to.equal("15000000000000000");
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
    // once more: the nodes acknowledge again, and no on-chain revocation is sent
    const again = await nkms("revoke", "--key", "alice.json", "--policy", "policy.owner");
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.match(/^transaction\s+none sent \(the policy is no longer active on chain/m);
    expect(again.stdout).to.not.include("undefined");

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
          "--out",
          "unwritten.map",
          "--owner-copy",
          "unwritten.owner",
        ],
        /KEYSTORE_MISSING/,
      ],
      [["policy", "status", "--id", "0x" + "11".repeat(16), "--devnet", "nowhere.json"], /no devnet file/],
      [
        [
          "retrieve",
          "--key",
          "bob.json",
          "--policy",
          "policy.owner",
          "--in",
          "secret.nkms",
          "--out",
          "x.bin",
        ],
        /\[INVALID_DATA\] policy\.owner is the owner's copy of a policy .* retrieve takes the policy map/,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await nkms(...args);
      expect(run.code, args.join(" ")).to.not.equal(0);
      expect(run.stderr, args.join(" ")).to.match(message);
    }
  });

  it("reports usage errors as `nkms: [USAGE] …`; --help and --version still print", async () => {
    const bogus = await nkms("keys", "new", "--out", "usage.json", "--bogus");
    expect(bogus.code).to.equal(1);
    expect(bogus.stderr).to.match(/^nkms: \[USAGE\] unknown option '--bogus'$/m);
    expect(bogus.stderr).to.not.match(/^error:/m);
    const missing = await nkms("keys", "new");
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/^nkms: \[USAGE\] required option '--out <file>' not specified$/m);
    expect(fs.existsSync(file("usage.json"))).to.equal(false);
    const help = await nkms("keys", "new", "--help");
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include("Usage: nkms keys new");
    expect((await nkms("--version")).stdout.trim()).to.equal("0.1.0");
    // the default paying account the help names is the one the command uses
    const flat = async (...args: string[]) => (await nkms(...args, "--help")).stdout.replace(/\s+/g, " ");
    expect(await flat("retrieve")).to.include("default: the devnet's recipient account");
    expect(await flat("grant")).to.include("default: the devnet's owner account");
  });

  it("every command's help ends with an example, and docs/cli.md documents every option", () => {
    const doc = fs.readFileSync(path.join(__dirname, "..", "..", "docs", "cli.md"), "utf8");
    // documented once, for every command that has them
    const common = ["--devnet", "--wallet-key", "--json", "--passphrase-file"];
    const leaves = (command: Command): Command[] =>
      command.commands.length > 0 ? command.commands.flatMap(leaves) : [command];
    const nameOf = (command: Command): string =>
      command.parent ? `${nameOf(command.parent)} ${command.name()}` : command.name();
    for (const command of leaves(buildProgram())) {
      const name = nameOf(command);
      let help = "";
      command.configureOutput({ writeOut: (text) => (help += text) });
      command.outputHelp();
      expect(help, name).to.match(/\nExamples?:\n {2}(NKMS_\w+=\S+ )?nkms /);
      const rows = doc
        .split("\n")
        .filter((line) => line.startsWith(`| \`${name} `) || line.startsWith(`| \`${name}\``));
      expect(rows.length, name).to.be.greaterThan(0);
      for (const option of command.options) {
        if (common.includes(option.long!)) expect(doc, option.long).to.include(`\`${option.long}`);
        else
          expect(rows.join("\n"), `${name} ${option.long}`).to.match(new RegExp(`${option.long}(?![\\w-])`));
      }
    }
  });

  it("closing stdout early (`nkms … | head`) ends the command quietly", async () => {
    const child = spawn(process.execPath, [BIN, "keys", "new", "--out", "piped.json"], {
      cwd: dir,
      env: env(),
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.once("close", resolve));
    expect(stderr).to.equal("");
    expect(code).to.equal(0);
    expect(fs.existsSync(file("piped.json"))).to.equal(true);
  });

  it("passphrases: an unreadable file, a new keystore's minimum length from every source", async () => {
    const unreadable = await nkms("keys", "new", "--out", "p.json", "--passphrase-file", "missing.txt");
    expect(unreadable.code).to.equal(1);
    expect(unreadable.stderr).to.match(
      /^nkms: \[PASSPHRASE_UNREADABLE\] cannot read the passphrase file missing\.txt: /,
    );
    fs.writeFileSync(file("short.txt"), "x\n");
    const shortFile = await nkms("keys", "new", "--out", "p.json", "--passphrase-file", "short.txt");
    const shortEnv = await nkmsWith({ NKMS_PASSPHRASE: "x" }, "keys", "new", "--out", "p.json");
    for (const run of [shortFile, shortEnv]) {
      expect(run.code).to.equal(1);
      expect(run.stderr).to.match(/^nkms: \[PASSPHRASE_TOO_SHORT\] .* at least 8 characters/);
    }
    expect(fs.existsSync(file("p.json"))).to.equal(false);
    // an existing keystore opens with the passphrase it was made with, however short
    await writeKeystore(file("old.json"), randomBytes(32), "x", { scryptN: 1024 });
    const old = await nkmsWith({ NKMS_PASSPHRASE: "x" }, "keys", "show", "--key", "old.json");
    expect(old.code, old.stderr).to.equal(0);
  });

  it("passphrases: two different ones typed at the prompt are a PASSPHRASE_MISMATCH", async function () {
    // a terminal, from util-linux `script`
    if (process.platform !== "linux" || spawnSync("script", ["--version"]).status !== 0) this.skip();
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} keys new --out typed.json`;
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      cwd: dir,
      env: env({ NKMS_PASSPHRASE: "" }),
    });
    const answers = [
      ["Keystore passphrase:", "first passphrase\r"],
      ["Repeat the passphrase:", "other passphrase\r"],
    ];
    let terminal = "";
    child.stdout.on("data", (chunk) => {
      terminal += chunk;
      while (answers.length > 0 && terminal.includes(answers[0][0])) child.stdin.write(answers.shift()![1]);
    });
    const code = await new Promise((resolve) => child.once("close", resolve));
    expect(code).to.equal(1);
    expect(terminal).to.include("nkms: [PASSPHRASE_MISMATCH] the passphrases differ");
    expect(fs.existsSync(file("typed.json"))).to.equal(false);
  });

  it("grant refuses to overwrite a policy map or owner copy unless --force; shows the fee in NKMS", async () => {
    const [carol, dave] = await Promise.all([
      nkms("keys", "new", "--out", "carol.json", "--json"),
      nkms("keys", "new", "--out", "dave.json", "--json"),
    ]);
    expect(carol.code, carol.stderr).to.equal(0);
    const grant = (...more: string[]) =>
      nkms(
        "grant",
        "--key",
        "carol.json",
        "--label",
        "notes",
        "--recipient",
        json(dave).recipientKey as string,
        "--threshold",
        "1",
        "--shares",
        "2",
        "--periods",
        "3",
        ...more,
      );
    fs.writeFileSync(file("taken.map"), "an earlier grant");
    fs.writeFileSync(file("taken.owner"), "an earlier grant");
    const balance = () => devnet.contracts.token.balanceOf(devnet.owner.address);
    const before = await balance();
    for (const [taken, outputs] of [
      ["taken.map", ["--out", "taken.map", "--owner-copy", "new.owner"]],
      ["taken.owner", ["--out", "new.map", "--owner-copy", "taken.owner"]],
    ] as const) {
      const refused = await grant(...outputs);
      expect(refused.code, taken).to.equal(1);
      expect(refused.stderr).to.include(`nkms: [OUTPUT_EXISTS] ${taken} already exists`);
    }
    expect(fs.existsSync(file("new.map")) || fs.existsSync(file("new.owner"))).to.equal(false);
    expect(fs.readFileSync(file("taken.owner"), "utf8")).to.equal("an earlier grant");
    expect(await balance()).to.equal(before);

    const forced = await grant("--out", "taken.map", "--owner-copy", "taken.owner", "--force");
    expect(forced.code, forced.stderr).to.equal(0);
    // 0.001 NKMS × 2 nodes × 3 periods
    expect(forced.stdout).to.match(/^fee\s+0\.006 NKMS$/m);
    expect(fs.readFileSync(file("taken.owner"), "utf8")).to.not.equal("an earlier grant");
  });

  it("devnet up on a port in use says so, exits non-zero and leaves nothing behind", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const run = await nkms(
        "devnet",
        "up",
        "--nodes",
        "1",
        "--port",
        String(port),
        "--dir",
        "busy",
        "--file",
        "busy.json",
      );
      expect(run.code).to.equal(1);
      expect(run.stderr).to.match(new RegExp(`^nkms: \\[PORT_IN_USE\\] port ${port} `));
      expect(run.stderr).to.not.match(/^\s+at /m);
      expect(fs.existsSync(file("busy")) || fs.existsSync(file("busy.json"))).to.equal(false);
    } finally {
      taken.close();
    }
  });
});
