/**
 * The node's configuration file (JSON, written by `nkms node init`). Relative paths are
 * resolved against the directory of the config file. Every field has a default except the
 * chain endpoint; unknown fields are refused so a typo never silently falls back.
 */
import fs from "node:fs";
import path from "node:path";
import type { LogLevel } from "./log";

export interface NodeConfig {
  /** where the database, keystores and TLS files live */
  dataDir: string;
  listen: { host: string; port: number };
  /** the https:// URL clients reach the node at (published in its metadata) */
  publicUrl: string;
  chain: {
    rpcUrl: string;
    /** hardhat-deploy network name: addresses from <root>/deployments/<network>/ */
    network?: string;
    /** the directory holding deployments/<network>/ (init records the one it ran in; default: the current directory) */
    root?: string;
    /** or a JSON file { chainId, contracts: { Name: address } } */
    deploymentsFile?: string;
    /** the staker expected to bond this node's operator (default: whichever did, read on chain) */
    staker?: string;
  };
  limits: {
    maxBodyBytes: number;
    maxCapsulesPerRequest: number;
    /** requests per client IP per second (token bucket), and the burst allowed */
    ratePerSecond: number;
    rateBurst: number;
    requestTimeoutMs: number;
    /** how far a signed request's time may be from the node's clock */
    freshnessWindowMs: number;
  };
  /** how long on-chain policy state is trusted before being read again */
  policyCacheTtlMs: number;
  duties: {
    /** how often to check whether the next period needs a commitment */
    commitCheckIntervalMs: number;
    commitRetryDelayMs: number;
    /** how often to settle rewards and fees; 0 disables */
    settleIntervalMs: number;
    /** how often to delete expired shares and stale nonces */
    gcIntervalMs: number;
  };
  /** worker threads for cryptography (default: one per CPU core) */
  workers: number;
  /**
   * the crypto workers' nice value (0–19, their threads only): the event loop, which receives,
   * checks and answers requests, gets the cores first, so a burst of re-encryptions does not
   * hold every other request behind it; the workers still use all the CPU time left
   */
  workerNice: number;
  logLevel: LogLevel;
}

export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** How often a node checks its commitment, settles and collects garbage, unless configured. */
export const DEFAULT_DUTIES: NodeConfig["duties"] = {
  commitCheckIntervalMs: 60_000,
  commitRetryDelayMs: 15_000,
  settleIntervalMs: 3_600_000,
  gcIntervalMs: 600_000,
};

export function defaultConfig(overrides: {
  dataDir: string;
  publicUrl: string;
  rpcUrl: string;
  staker?: string;
  network?: string;
  root?: string;
  deploymentsFile?: string;
  host?: string;
  port?: number;
}): NodeConfig {
  return {
    dataDir: overrides.dataDir,
    listen: { host: overrides.host ?? "0.0.0.0", port: overrides.port ?? 9151 },
    publicUrl: overrides.publicUrl,
    chain: {
      rpcUrl: overrides.rpcUrl,
      ...(overrides.staker ? { staker: overrides.staker } : {}),
      ...(overrides.network ? { network: overrides.network } : {}),
      ...(overrides.root ? { root: overrides.root } : {}),
      ...(overrides.deploymentsFile ? { deploymentsFile: overrides.deploymentsFile } : {}),
    },
    limits: {
      maxBodyBytes: 256 * 1024,
      maxCapsulesPerRequest: 256,
      ratePerSecond: 200,
      rateBurst: 400,
      requestTimeoutMs: 15_000,
      freshnessWindowMs: 120_000,
    },
    policyCacheTtlMs: 10_000,
    duties: { ...DEFAULT_DUTIES },
    workers: 0,
    workerNice: 10,
    logLevel: "info",
  };
}

/** Reads and validates a config file; relative paths become absolute. */
export function loadConfig(file: string): NodeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(`cannot read config ${file}: ${(error as Error).message}`);
  }
  const base = path.dirname(path.resolve(file));
  const template = defaultConfig({ dataDir: ".", publicUrl: "", rpcUrl: "" });
  const config = merge(template, raw, "config") as NodeConfig;
  config.dataDir = path.resolve(base, config.dataDir);
  if (config.chain.deploymentsFile)
    config.chain.deploymentsFile = path.resolve(base, config.chain.deploymentsFile);
  if (config.chain.root) config.chain.root = path.resolve(base, config.chain.root);
  if (!config.chain.rpcUrl) throw new ConfigError("config.chain.rpcUrl is required");
  if (config.chain.staker !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(config.chain.staker)) {
    throw new ConfigError("config.chain.staker must be an address");
  }
  if (!Number.isInteger(config.workerNice) || config.workerNice < 0 || config.workerNice > 19) {
    throw new ConfigError("config.workerNice must be an integer from 0 to 19");
  }
  if (!config.publicUrl.startsWith("https://"))
    throw new ConfigError("config.publicUrl must be an https:// URL");
  return config;
}

const optionalKeys = new Set(["network", "root", "deploymentsFile", "staker"]);

function merge(template: unknown, value: unknown, where: string): unknown {
  if (value === undefined) return template;
  if (template !== null && typeof template === "object") {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new ConfigError(`${where} must be an object`);
    }
    const out: Record<string, unknown> = { ...(template as Record<string, unknown>) };
    for (const [key, child] of Object.entries(value)) {
      if (!(key in out) && !optionalKeys.has(key))
        throw new ConfigError(`${where}.${key} is not a known setting`);
      out[key] = key in out ? merge(out[key], child, `${where}.${key}`) : child;
    }
    return out;
  }
  if (typeof value !== typeof template) throw new ConfigError(`${where} must be a ${typeof template}`);
  return value;
}

export function writeConfig(file: string, config: NodeConfig): void {
  fs.writeFileSync(file, JSON.stringify(config, null, 2) + "\n", { flag: "wx" });
}
