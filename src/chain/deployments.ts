/**
 * Where the NKMS contracts live on a network: read from hardhat-deploy's
 * `deployments/<network>/<Contract>.json` files (and `.chainId`), or from a single devnet
 * file `{ "chainId": 31337, "contracts": { "StakingEscrow": "0x…", … } }`.
 */
import { getAddress } from "ethers";
import fs from "node:fs";
import path from "node:path";

export const CONTRACT_NAMES = [
  "NKMSToken",
  "StakingEscrow",
  "PolicyManager",
  "Adjudicator",
  "KeyLeakChallenge",
] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

export interface Deployment {
  /** undefined when the source does not say (the caller checks against the RPC's chain id) */
  chainId?: bigint;
  contracts: Partial<Record<ContractName, string>>;
}

export class DeploymentError extends Error {
  constructor(
    readonly code: "DEPLOYMENT_NOT_FOUND" | "DEPLOYMENT_INVALID" | "CONTRACT_MISSING",
    message: string,
  ) {
    super(message);
    this.name = "DeploymentError";
  }
}

export interface DeploymentSource {
  /** a devnet file; takes precedence over `network` */
  file?: string;
  /** a hardhat-deploy network name, read from `<root>/deployments/<network>/` */
  network?: string;
  /** the project root holding `deployments/` (default: the current directory) */
  root?: string;
}

export function loadDeployment(source: DeploymentSource): Deployment {
  if (source.file) return readDevnetFile(source.file);
  if (!source.network)
    throw new DeploymentError("DEPLOYMENT_NOT_FOUND", "give a deployments file or a network name");
  const dir = path.resolve(source.root ?? process.cwd(), "deployments", source.network);
  if (!fs.existsSync(dir)) {
    throw new DeploymentError(
      "DEPLOYMENT_NOT_FOUND",
      `no deployments for network "${source.network}" in ${dir}`,
    );
  }
  const contracts: Deployment["contracts"] = {};
  for (const name of CONTRACT_NAMES) {
    const file = path.join(dir, `${name}.json`);
    if (!fs.existsSync(file)) continue;
    const record = parseJson(file) as { address?: unknown };
    contracts[name] = checkedAddress(record.address, `${file}: address`);
  }
  const chainIdFile = path.join(dir, ".chainId");
  const chainId = fs.existsSync(chainIdFile)
    ? BigInt(fs.readFileSync(chainIdFile, "utf8").trim())
    : undefined;
  return { chainId, contracts };
}

/** Writes a devnet file (used by tests and the local quick start). */
export function writeDevnetFile(file: string, deployment: Deployment): void {
  const json = {
    chainId: deployment.chainId === undefined ? undefined : Number(deployment.chainId),
    contracts: deployment.contracts,
  };
  fs.writeFileSync(file, JSON.stringify(json, null, 2) + "\n");
}

/** The address of `name`, or DeploymentError if the deployment lacks it. */
export function contractAddress(deployment: Deployment, name: ContractName): string {
  const address = deployment.contracts[name];
  if (!address) throw new DeploymentError("CONTRACT_MISSING", `the deployment has no ${name}`);
  return address;
}

function readDevnetFile(file: string): Deployment {
  const raw = parseJson(file) as { chainId?: unknown; contracts?: unknown };
  if (!raw.contracts || typeof raw.contracts !== "object") {
    throw new DeploymentError("DEPLOYMENT_INVALID", `${file}: "contracts" must be an object of addresses`);
  }
  const contracts: Deployment["contracts"] = {};
  for (const [name, value] of Object.entries(raw.contracts as Record<string, unknown>)) {
    if (!(CONTRACT_NAMES as readonly string[]).includes(name)) {
      throw new DeploymentError("DEPLOYMENT_INVALID", `${file}: unknown contract ${name}`);
    }
    contracts[name as ContractName] = checkedAddress(value, `${file}: contracts.${name}`);
  }
  const chainId =
    typeof raw.chainId === "number" || typeof raw.chainId === "string" ? BigInt(raw.chainId) : undefined;
  return { chainId, contracts };
}

function parseJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new DeploymentError("DEPLOYMENT_INVALID", `cannot read ${file}: ${(error as Error).message}`);
  }
}

function checkedAddress(value: unknown, where: string): string {
  try {
    return getAddress(String(value));
  } catch {
    throw new DeploymentError("DEPLOYMENT_INVALID", `${where} is not an address`);
  }
}
