/**
 * What the client command groups share: the network (a devnet file), the Ethereum account that
 * pays, identity files, output (`--json` or aligned text) and progress bars.
 */
import type { Command } from "commander";
import { formatUnits, JsonRpcProvider, NonceManager, Wallet } from "ethers";
import fs from "node:fs";
import path from "node:path";
import { ClientError } from "../client/errors";
import { readDevnetFile, type DevnetFile, type NetworkConfig } from "../client/network";
import { randomSecret, readKeystore, writeKeystore } from "../node/keystore";
import { readPassphrase } from "./passphrase";

/** A failure of the command line itself, printed as `nkms: [CODE] message`. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export interface NetworkOptions {
  devnet?: string;
  walletKey?: string;
  json?: boolean;
}

/** Adds --devnet, --wallet-key (paid by the devnet's `payer` account by default) and --json to a command. */
export function withNetwork(command: Command, payer: "owner" | "recipient" = "owner"): Command {
  return command
    .option(
      "--devnet <file>",
      "the devnet file written by `nkms devnet up` (env NKMS_DEVNET)",
      process.env.NKMS_DEVNET ?? "devnet.json",
    )
    .option(
      "--wallet-key <hex>",
      `private key of the paying Ethereum account (env NKMS_WALLET_KEY; default: the devnet's ${payer} account)`,
    )
    .option("--json", "print JSON");
}

export interface Connected {
  devnet: DevnetFile;
  network: NetworkConfig;
  provider: JsonRpcProvider;
  /** the paying account; nonces are counted locally so back-to-back transactions never collide */
  wallet: NonceManager & { address: string };
  close(): void;
}

/** Connects to the devnet's chain with the paying account (`defaultAccount` of the devnet file unless --wallet-key). */
export function connect(o: NetworkOptions, defaultAccount: "owner" | "recipient" = "owner"): Connected {
  const file = path.resolve(o.devnet ?? "devnet.json");
  if (!fs.existsSync(file)) {
    throw new ClientError(
      "INVALID_ARGUMENT",
      `no devnet file at ${file}: run \`nkms devnet up\` or pass --devnet <file>`,
    );
  }
  const devnet = readDevnetFile(file);
  const provider = new JsonRpcProvider(devnet.rpcUrl, Number(devnet.chainId), {
    staticNetwork: true,
    pollingInterval: 200,
    cacheTimeout: -1,
  });
  const key = o.walletKey ?? process.env.NKMS_WALLET_KEY ?? devnet.accounts?.[defaultAccount];
  if (!key) throw new ClientError("INVALID_ARGUMENT", "no paying account: pass --wallet-key");
  return {
    devnet,
    network: devnet.network,
    provider,
    wallet: Object.assign(new NonceManager(new Wallet(key, provider)), { address: new Wallet(key).address }),
    close: () => provider.destroy(),
  };
}

/** An identity file: a keystore (scrypt) holding a 32-byte seed; every key derives from it. Returns the seed. */
export async function createIdentity(file: string, passphraseFile?: string): Promise<Uint8Array> {
  const passphrase = await readPassphrase({ passphraseFile, confirm: true });
  const seed = randomSecret();
  await writeKeystore(file, seed, passphrase, { scryptN: Number(process.env.NKMS_SCRYPT_N ?? 1 << 17) });
  return seed;
}

export async function loadSeed(file: string, passphraseFile?: string): Promise<Uint8Array> {
  const passphrase = await readPassphrase({ passphraseFile });
  return readKeystore(file, passphrase);
}

/** The recipient key of an identity (what others grant to). */
export const RECIPIENT_KEY_LABEL = new TextEncoder().encode("nkms/recipient-key");

/** Prints `fields` as JSON or as aligned `key  value` lines. */
export function output(fields: Record<string, unknown>, json: boolean | undefined): void {
  if (json) {
    process.stdout.write(
      JSON.stringify(fields, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n",
    );
    return;
  }
  const width = Math.max(...Object.keys(fields).map((k) => k.length));
  for (const [key, value] of Object.entries(fields)) {
    const text =
      typeof value === "object" && value !== null
        ? JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v))
        : String(value);
    process.stdout.write(`${key.padEnd(width)}  ${text}\n`);
  }
}

/** Counts bytes flowing through and draws a progress bar on stderr when it is a terminal. */
export async function* withProgress(
  source: AsyncIterable<Uint8Array>,
  total: number,
  label: string,
  enabled: boolean,
): AsyncGenerator<Uint8Array> {
  const draw = enabled && process.stderr.isTTY;
  let done = 0;
  let last = 0;
  for await (const chunk of source) {
    done += chunk.length;
    if (draw && (Date.now() - last > 100 || done >= total)) {
      last = Date.now();
      const ratio = total > 0 ? Math.min(1, done / total) : 1;
      const bar = "#".repeat(Math.round(ratio * 30)).padEnd(30, ".");
      process.stderr.write(
        `\r${label} [${bar}] ${(ratio * 100).toFixed(0).padStart(3)}% ${(done / 1e6).toFixed(1)} MB`,
      );
    }
    yield chunk;
  }
  if (draw) process.stderr.write("\n");
}

/** Reads a file as a stream of chunks. */
export function readChunks(file: string): AsyncIterable<Uint8Array> {
  if (!fs.existsSync(file)) throw new ClientError("INVALID_ARGUMENT", `no such file: ${file}`);
  return fs.createReadStream(file, { highWaterMark: 1 << 20 });
}

/** Writes a stream of chunks to `file` (through a temporary file, renamed when complete). */
export async function writeChunks(file: string, source: AsyncIterable<Uint8Array>): Promise<number> {
  const temporary = `${file}.partial`;
  const handle = await fs.promises.open(temporary, "w");
  let size = 0;
  try {
    for await (const chunk of source) {
      await handle.write(chunk);
      size += chunk.length;
    }
  } catch (error) {
    await handle.close();
    fs.rmSync(temporary, { force: true });
    throw error;
  }
  await handle.close();
  fs.renameSync(temporary, file);
  return size;
}

/** An amount in the smallest unit as NKMS, with the unit ("1.5 NKMS"). */
export const formatNkms = (value: bigint): string => `${formatUnits(value, 18)} NKMS`;

/** Whole or decimal NKMS ("1.5") to the smallest unit. */
export function parseTokens(value: string, what: string): bigint {
  if (!/^\d+(\.\d{1,18})?$/.test(value))
    throw new ClientError("INVALID_ARGUMENT", `${what}: not an NKMS amount: ${value}`);
  const [whole, fraction = ""] = value.split(".");
  return BigInt(whole) * 10n ** 18n + BigInt(fraction.padEnd(18, "0"));
}

export function parseInteger(value: string, what: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new ClientError("INVALID_ARGUMENT", `${what} must be an integer ≥ ${min}, got ${value}`);
  return n;
}
