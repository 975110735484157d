/**
 * Where a client finds the network: the chain (RPC URL, chain id, contract addresses) and the
 * URLs of known nodes. `nkms devnet up` writes all of it to one devnet file, which is also a
 * valid deployments file for `nkms node init --deployments`.
 */
import { getAddress } from "ethers";
import fs from "node:fs";
import { DeploymentError, loadDeployment, type Deployment } from "../chain/deployments";
import { ClientError } from "./errors";

export interface NetworkConfig {
  chainId: bigint;
  deployment: Deployment;
  /** https:// URLs of nodes to discover (their metadata says who they are) */
  nodeUrls: string[];
}

/** The devnet file written by `nkms devnet up`. */
export interface DevnetFile {
  chainId: number;
  rpcUrl: string;
  contracts: Record<string, string>;
  nodes: { url: string; staker: string; operator: string; configFile?: string }[];
  /** funded test accounts (private keys): never use them on a real network */
  accounts: { owner: string; recipient: string; stakers: string[] };
}

export function readDevnetFile(file: string): DevnetFile & { network: NetworkConfig } {
  let raw: DevnetFile;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8")) as DevnetFile;
  } catch (error) {
    throw new ClientError("INVALID_ARGUMENT", `cannot read devnet file ${file}: ${(error as Error).message}`);
  }
  let deployment: Deployment;
  try {
    deployment = loadDeployment({ file });
  } catch (error) {
    if (error instanceof DeploymentError) throw new ClientError("INVALID_ARGUMENT", error.message);
    throw error;
  }
  if (typeof raw.rpcUrl !== "string" || deployment.chainId === undefined) {
    throw new ClientError("INVALID_ARGUMENT", `${file}: a devnet file needs "rpcUrl" and "chainId"`);
  }
  const nodes = Array.isArray(raw.nodes) ? raw.nodes : [];
  return {
    ...raw,
    nodes: nodes.map((n) => ({ ...n, staker: getAddress(n.staker), operator: getAddress(n.operator) })),
    network: { chainId: deployment.chainId, deployment, nodeUrls: nodes.map((n) => n.url) },
  };
}
