/**
 * Deployment parameters of each network, in one place. Deploy scripts, the demo and the
 * tests read them from here; a network without an entry uses `default`.
 */
export interface DeployParams {
  /** whole token supply, in whole tokens (18 decimals are added) */
  readonly maxSupplyTokens: bigint;
}

const params: Record<string, DeployParams> = {
  default: { maxSupplyTokens: 3_885_390_081n },
};

export function deployParams(network: string): DeployParams {
  return params[network] ?? params.default;
}
