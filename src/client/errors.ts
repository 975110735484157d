/**
 * Errors of the client SDK. Every failure is a `ClientError` with a stable `code`; errors about
 * several nodes carry one `NodeFailure` per node saying which node failed and why.
 */
export type ClientErrorCode =
  /** an argument is out of range or malformed */
  | "INVALID_ARGUMENT"
  /** the operation did not finish within its timeout */
  | "TIMEOUT"
  /** the caller's AbortSignal fired */
  | "ABORTED"
  /** too few active, reachable nodes to sample from */
  | "NOT_ENOUGH_NODES"
  /** fewer than the threshold of nodes accepted their share */
  | "GRANT_FAILED"
  /** fewer than the threshold of nodes returned valid cfrags */
  | "RETRIEVAL_FAILED"
  /** a node answered with something that does not verify */
  | "NODE_MISBEHAVED"
  /** a policy map, ciphertext or file is not what it claims to be */
  | "INVALID_DATA"
  /** the chain refused a transaction or a read */
  | "CHAIN_ERROR"
  /** an access log does not verify (broken chain, bad signature) */
  | "ACCESS_LOG_INVALID"
  /** decryption failed (wrong key, tampered data) */
  | "DECRYPTION_FAILED";

export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class TimeoutError extends ClientError {
  constructor(what: string, ms: number) {
    super("TIMEOUT", `${what} did not finish within ${ms} ms`);
  }
}

export class AbortedError extends ClientError {
  constructor(what: string) {
    super("ABORTED", `${what} was aborted`);
  }
}

/** Why one node could not serve: its staker address, URL, a short code and the detail. */
export interface NodeFailure {
  node: string;
  url: string;
  /** e.g. TIMEOUT, NETWORK, HTTP 410 POLICY_REVOKED, INVALID_CFRAG, BAD_SIGNATURE, ABORTED */
  code: string;
  message: string;
}

function describe(failures: readonly NodeFailure[]): string {
  return failures.map((f) => `\n  - ${f.node} (${f.url}): [${f.code}] ${f.message}`).join("");
}

/** Raised when fewer than `needed` nodes succeeded; lists every node that failed and why. */
export class NodesFailedError extends ClientError {
  constructor(
    code: "GRANT_FAILED" | "RETRIEVAL_FAILED" | "NOT_ENOUGH_NODES",
    what: string,
    readonly needed: number,
    readonly succeeded: number,
    readonly failures: readonly NodeFailure[],
  ) {
    super(code, `${what}: ${succeeded} of the ${needed} nodes needed succeeded${describe(failures)}`);
  }
}
