/**
 * Talking to nodes: their signed metadata (which pins their TLS certificate) and protocol
 * requests over pinned HTTPS, each with a timeout and the caller's AbortSignal. Connections are
 * kept alive per client, and the pin is checked on every request.
 */
import https from "node:https";
import { decode, type MessageType } from "../protocol/codec";
import { ProtocolError } from "../protocol/errors";
import { NodeRequestError, requestNode } from "../protocol/https";
import { NodeMetadata } from "../protocol/messages";
import { recoverOperator, verifyOperator } from "../protocol/signing";
import { AbortedError, ClientError, type NodeFailure } from "./errors";

/** A node as the client knows it: from its own operator-signed metadata. */
export interface NodeInfo {
  staker: string;
  operator: string;
  url: string;
  tlsFingerprint: Uint8Array;
  /** the Umbral key its policy shares are encrypted to */
  encryptingKey: Uint8Array;
  /** the encoded, signed NodeMetadata (goes into policy maps) */
  metadata: Uint8Array;
}

export function nodeInfoFromMetadata(bytes: Uint8Array): NodeInfo {
  const m = decode(NodeMetadata, bytes);
  return {
    staker: m.staker,
    operator: m.operator,
    url: m.url,
    tlsFingerprint: m.tlsFingerprint,
    encryptingKey: m.encryptingKey,
    metadata: bytes,
  };
}

export interface RequestOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** HTTPS access to nodes with one keep-alive agent; `close()` releases its sockets. */
export class NodeConnector {
  // no TLS session cache: a resumed session shows no certificate, so the pin could not be checked
  private readonly agent = new https.Agent({ keepAlive: true, maxSockets: 64, maxCachedSessions: 0 });

  constructor(private readonly defaultTimeoutMs = 10_000) {}

  /**
   * Reads a node's metadata from `url` (trust on first use of the certificate): the metadata
   * must verify under its operator, be for `chainId`, and pin the very certificate served.
   */
  async discover(url: string, chainId: bigint, options: RequestOptions = {}): Promise<NodeInfo> {
    const response = await this.call(url, undefined, "GET", "/v1/metadata", undefined, options);
    const metadata = decode(NodeMetadata, response.body);
    if (recoverOperator(NodeMetadata, metadata) !== metadata.operator) {
      throw new ClientError("NODE_MISBEHAVED", `${url}: metadata not signed by its operator`);
    }
    if (metadata.chainId !== chainId) {
      throw new ClientError("NODE_MISBEHAVED", `${url}: serves chain ${metadata.chainId}, not ${chainId}`);
    }
    if (!Buffer.from(metadata.tlsFingerprint).equals(Buffer.from(response.tlsFingerprint))) {
      throw new ClientError(
        "NODE_MISBEHAVED",
        `${url}: metadata pins another TLS certificate than it serves`,
      );
    }
    return nodeInfoFromMetadata(response.body);
  }

  /**
   * Sends `body` to a node and decodes the answer as `responseType`, signed by the node's
   * operator. Node refusals, network errors and bad answers all become a NodeCallError.
   */
  async send<T extends { signature: Uint8Array }>(
    node: NodeInfo,
    path: string,
    body: Uint8Array,
    responseType: MessageType<T>,
    options: RequestOptions = {},
  ): Promise<T> {
    const response = await this.call(node.url, node.tlsFingerprint, "POST", path, body, options);
    try {
      const message = decode(responseType, response.body);
      verifyOperator(responseType, message, node.operator);
      return message;
    } catch (error) {
      if (error instanceof ProtocolError) {
        throw new NodeCallError(node, error.code, `answer does not verify: ${error.message}`);
      }
      throw error;
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private async call(
    url: string,
    fingerprint: Uint8Array | undefined,
    method: "GET" | "POST",
    path: string,
    body: Uint8Array | undefined,
    options: RequestOptions,
  ) {
    const what = `${method} ${url}${path}`;
    if (options.signal?.aborted) throw new AbortedError(what);
    try {
      // The caller's signal is not handed to the request: destroying a TLS socket mid-handshake
      // trips protocol/https.ts. An aborted call returns at once; its request finishes (or
      // times out) in the background.
      const request = requestNode({
        url,
        tlsFingerprint: fingerprint,
        method,
        path,
        body,
        timeoutMs: options.timeoutMs ?? this.defaultTimeoutMs,
        agent: this.agent,
      });
      if (!options.signal) return await request;
      request.catch(() => {});
      return await new Promise<Awaited<typeof request>>((resolve, reject) => {
        const onAbort = () => reject(new AbortedError(what));
        options.signal!.addEventListener("abort", onAbort, { once: true });
        request.then(resolve, reject).finally(() => options.signal!.removeEventListener("abort", onAbort));
      });
    } catch (error) {
      if (options.signal?.aborted) throw new AbortedError(what);
      if (error instanceof NodeRequestError) {
        const code =
          error.code === "HTTP_STATUS" ? `HTTP ${error.status} ${error.nodeCode ?? ""}`.trim() : error.code;
        throw new NodeCallError({ staker: "?", url }, code, error.message);
      }
      throw error;
    }
  }
}

/** One node could not do what was asked; `failure` says which and why. */
export class NodeCallError extends ClientError {
  readonly failure: NodeFailure;
  constructor(node: { staker: string; url: string }, code: string, message: string) {
    super("NODE_MISBEHAVED", `${node.url}: [${code}] ${message}`);
    this.failure = { node: node.staker, url: node.url, code, message };
  }
}

/** The NodeFailure for any error raised while talking to `node`. */
export function failureOf(node: { staker: string; url: string }, error: unknown): NodeFailure {
  if (error instanceof NodeCallError) return { ...error.failure, node: node.staker };
  if (error instanceof ClientError)
    return { node: node.staker, url: node.url, code: error.code, message: error.message };
  if (error instanceof ProtocolError)
    return { node: node.staker, url: node.url, code: error.code, message: error.message };
  const code = (error as { code?: unknown })?.code;
  return {
    node: node.staker,
    url: node.url,
    code: typeof code === "string" ? code : "ERROR",
    message: (error as Error)?.message ?? String(error),
  };
}
