import { expect } from "chai";
import { decryptKeystoreJson, getAddress, ZeroAddress } from "ethers";
import hre from "hardhat";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { tokens } from "../../src/chain/params";
import { eventually, freePort, PASSPHRASE, startTestNet, type TestNet } from "./harness";

const BIN = path.join(__dirname, "..", "..", "bin", "nkms.cjs");

async function nkms(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: { ...process.env, NKMS_PASSPHRASE: "" },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("nkms node (command line)", function () {
  this.timeout(300_000);
  let net: TestNet;
  let dir: string;
  let passphraseFile: string;

  before(async () => {
    net = await startTestNet();
    dir = path.join(net.dir, "cli-node");
    passphraseFile = path.join(net.dir, "passphrase");
    fs.writeFileSync(passphraseFile, PASSPHRASE + "\n");
  });

  after(async () => net?.close());

  it("init creates encrypted keystores, a certificate and a config, and refuses to run twice", async () => {
    const port = String(await freePort());
    const args = [
      "node",
      "init",
      "--dir",
      dir,
      "--rpc-url",
      net.rpcUrl,
      "--deployments",
      net.deploymentsFile,
    ];
    const options = [
      "--port",
      port,
      "--listen",
      "127.0.0.1",
      "--passphrase-file",
      passphraseFile,
      "--scrypt-n",
      "1024",
    ];
    const result = await nkms([...args, ...options]);
    expect(result.code, result.stderr).to.equal(0);
    const operator = /operator\s+(0x[0-9a-fA-F]{40})/.exec(result.stdout)![1];
    const keystore = fs.readFileSync(path.join(dir, "data", "keys", "operator.json"), "utf8");
    expect((fs.statSync(path.join(dir, "data", "keys", "operator.json")).mode & 0o777).toString(8)).to.equal(
      "600",
    );
    expect((await decryptKeystoreJson(keystore, PASSPHRASE)).address).to.equal(getAddress(operator));
    await decryptKeystoreJson(keystore, "wrong passphrase").then(
      () => expect.fail("decrypted with a wrong passphrase"),
      () => undefined,
    );
    const encrypting = fs.readFileSync(path.join(dir, "data", "keys", "encrypting.json"), "utf8");
    expect(JSON.parse(encrypting).Crypto.kdf).to.equal("scrypt");
    expect(fs.readFileSync(path.join(dir, "data", "tls", "cert.pem"), "utf8")).to.contain(
      "BEGIN CERTIFICATE",
    );
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(config.publicUrl).to.equal(`https://127.0.0.1:${port}`);

    const again = await nkms([...args, ...options]);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain("ALREADY_INITIALISED");
    // refused before any passphrase is asked for (none is given here, and there is no terminal)
    const unasked = await nkms(args);
    expect(unasked.code).to.equal(1);
    expect(unasked.stderr).to.contain("ALREADY_INITIALISED");
  });

  it("run refuses to serve while unbonded (exit 2); status shows the on-chain and local state", async () => {
    const configFile = path.join(dir, "config.json");
    // status reads the database without creating it
    const fresh = await nkms(["node", "status", "--config", configFile, "--json"]);
    expect(JSON.parse(fresh.stdout).local).to.match(/^no database yet/);
    expect(fs.existsSync(path.join(dir, "data", "node.sqlite"))).to.equal(false);

    const run = await nkms(["node", "run", "--config", configFile, "--passphrase-file", passphraseFile]);
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain("NOT_BONDED");
    // no staker configured: the message asks for the staker's account, not the zero address
    expect(run.stderr).to.contain("from the staker's account");
    expect(run.stderr).to.not.contain(ZeroAddress);

    const before = JSON.parse((await nkms(["node", "status", "--config", configFile, "--json"])).stdout);
    expect(before.bonded).to.equal(false);
    expect(before.service).to.match(/^not reachable/);

    const staker = net.signers[1];
    await net.token.transfer(staker.address, tokens(20_000n));
    await net.token.connect(staker).approve(net.escrow, tokens(20_000n));
    await net.escrow.connect(staker).deposit(tokens(20_000n), 60);
    await net.escrow.connect(staker).bondOperator(before.operator);
    await hre.network.provider.send("hardhat_setBalance", [before.operator, "0xDE0B6B3A7640000"]);
    const after = JSON.parse((await nkms(["node", "status", "--config", configFile, "--json"])).stdout);
    expect(after.bonded).to.equal(true);
    expect(after.staker).to.equal(staker.address);
    expect(after.operatorBalanceEth).to.equal("1.0");
    expect(after.committedNext).to.equal(false);
    expect(after.local.shares).to.equal(0);
    expect(after.tlsFingerprint).to.match(/^0x[0-9a-f]{64}$/);

    // running: status reaches its /health; a second `run` on the same directory is refused
    const serving = spawn(
      process.execPath,
      [BIN, "node", "run", "--config", configFile, "--passphrase-file", passphraseFile],
      {
        env: { ...process.env, NKMS_PASSPHRASE: "" },
        stdio: "ignore",
      },
    );
    const exited = new Promise<number | null>((resolve) => serving.once("exit", resolve));
    try {
      let running: { service: { status?: string }; committedNext: boolean } | undefined;
      await eventually(async () => {
        running = JSON.parse((await nkms(["node", "status", "--config", configFile, "--json"])).stdout);
        return running!.service.status === "ok";
      }, 60_000);
      expect(running!.committedNext).to.equal(true);
      const second = await nkms(["node", "run", "--config", configFile, "--passphrase-file", passphraseFile]);
      expect(second.code).to.equal(1);
      expect(second.stderr).to.contain("DATA_DIR_IN_USE");
    } finally {
      serving.kill("SIGTERM");
    }
    expect(await exited).to.equal(0);
  });
});
