/** Refusals of the node service: each maps to an HTTP status and a stable code. */
export class NodeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "NodeError";
  }
}

export const refuse = {
  badRequest: (code: string, message: string) => new NodeError(400, code, message),
  unauthorized: (code: string, message: string) => new NodeError(401, code, message),
  unpaid: (message: string) => new NodeError(402, "POLICY_UNPAID", message),
  forbidden: (code: string, message: string) => new NodeError(403, code, message),
  notFound: (code: string, message: string) => new NodeError(404, code, message),
  conflict: (code: string, message: string) => new NodeError(409, code, message),
  gone: (code: string, message: string) => new NodeError(410, code, message),
  tooLarge: (message: string) => new NodeError(413, "BODY_TOO_LARGE", message),
  rateLimited: () => new NodeError(429, "RATE_LIMITED", "too many requests from this client; slow down"),
  unavailable: (code: string, message: string) => new NodeError(503, code, message),
};

/** The node's operator is not bonded to the configured staker: it must not serve. */
export class NotBondedError extends Error {
  readonly code = "NOT_BONDED";
  constructor(message: string) {
    super(message);
    this.name = "NotBondedError";
  }
}
