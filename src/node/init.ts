/**
 * `nkms node init`: creates a node's data directory with its operator key and Umbral
 * encrypting key (keystore v3 files under one passphrase), a self-signed TLS certificate and a
 * config file. Refuses to overwrite anything that exists.
 */
import { computeAddress, hexlify } from "ethers";
import fs from "node:fs";
import path from "node:path";
import { loadDeployment } from "../chain/deployments";
import { SecretKey } from "../pre";
import { defaultConfig, writeConfig, type NodeConfig } from "./config";
import { nodeFiles } from "./files";
import { randomSecret, writeKeystore, type KeystoreOptions } from "./keystore";
import { createCertificate, pemFingerprint } from "./tls";

export interface InitOptions extends KeystoreOptions {
  /** the node's directory: config.json and data/ go here */
  dir: string;
  passphrase: string;
  rpcUrl: string;
  /** the host clients reach; the URL is https://<publicHost>:<port> */
  publicHost: string;
  port: number;
  listenHost?: string;
  /** a hardhat-deploy network name, looked up in `root` (default: the current directory) */
  network?: string;
  root?: string;
  deploymentsFile?: string;
  staker?: string;
}

export interface InitResult {
  configFile: string;
  config: NodeConfig;
  operatorAddress: string;
  encryptingKey: string;
  tlsFingerprint: string;
}

export class InitError extends Error {
  readonly code = "ALREADY_INITIALISED";
  constructor(message: string) {
    super(message);
    this.name = "InitError";
  }
}

/** Throws InitError if `dir` already holds a node (before anything is asked or written). */
export function checkNotInitialised(dir: string): string {
  const configFile = path.join(dir, "config.json");
  if (fs.existsSync(configFile))
    throw new InitError(`${configFile} exists; this node is already initialised`);
  return configFile;
}

export async function initNode(o: InitOptions): Promise<InitResult> {
  const configFile = checkNotInitialised(o.dir);
  // the addresses must be there now (DEPLOYMENT_NOT_FOUND before anything is written), and the
  // node finds them again wherever it is started from
  const deploymentsFile = o.deploymentsFile ? path.resolve(o.deploymentsFile) : undefined;
  const root = o.network && !deploymentsFile ? path.resolve(o.root ?? process.cwd()) : undefined;
  loadDeployment({ file: deploymentsFile, network: o.network, root });
  const dataDir = path.join(o.dir, "data");
  const files = nodeFiles(dataDir);
  fs.mkdirSync(path.dirname(files.operatorKeystore), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.dirname(files.tlsCert), { recursive: true, mode: 0o700 });

  const operatorSecret = randomSecret();
  const encryptingSecret = SecretKey.random();
  await writeKeystore(files.operatorKeystore, operatorSecret, o.passphrase, o);
  await writeKeystore(files.encryptingKeystore, encryptingSecret.toBEBytes(), o.passphrase, o);

  const tls = await createCertificate(o.publicHost);
  fs.writeFileSync(files.tlsCert, tls.certPem, { flag: "wx" });
  fs.writeFileSync(files.tlsKey, tls.keyPem, { flag: "wx", mode: 0o600 });

  const config = defaultConfig({
    dataDir: "data",
    publicUrl: `https://${o.publicHost.includes(":") ? `[${o.publicHost}]` : o.publicHost}:${o.port}`,
    rpcUrl: o.rpcUrl,
    staker: o.staker,
    network: o.network,
    root,
    deploymentsFile,
    host: o.listenHost,
    port: o.port,
  });
  writeConfig(configFile, config);
  return {
    configFile,
    config,
    operatorAddress: computeAddress(hexlify(operatorSecret)),
    encryptingKey: hexlify(encryptingSecret.publicKey().toCompressedBytes()),
    tlsFingerprint: hexlify(pemFingerprint(tls.certPem)),
  };
}
