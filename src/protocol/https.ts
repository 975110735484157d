/**
 * HTTPS to a node, pinned to the certificate fingerprint from its signed metadata instead of
 * a CA: the connection is dropped before any byte is sent if the server's certificate does
 * not hash (SHA-256 of DER) to the expected fingerprint.
 */
import { createHash } from "node:crypto";
import https from "node:https";
import type { TLSSocket } from "node:tls";

export class NodeRequestError extends Error {
  constructor(
    readonly code: "CERTIFICATE_MISMATCH" | "TIMEOUT" | "NETWORK" | "HTTP_STATUS" | "RESPONSE_TOO_LARGE",
    message: string,
    /** the node's HTTP status and its error code, for HTTP_STATUS */
    readonly status?: number,
    readonly nodeCode?: string,
  ) {
    super(message);
    this.name = "NodeRequestError";
  }
}

export interface NodeRequest {
  /** https://host:port of the node */
  url: string;
  /** expected SHA-256 of the node's certificate; omit only to fetch metadata the first time */
  tlsFingerprint?: Uint8Array;
  method: "GET" | "POST";
  path: string;
  body?: Uint8Array;
  timeoutMs?: number;
  signal?: AbortSignal;
  maxResponseBytes?: number;
  /** a keep-alive agent to reuse connections (pinning is checked on every request) */
  agent?: https.Agent;
}

export interface NodeResponse {
  status: number;
  body: Uint8Array;
  /** SHA-256 of the certificate the server presented */
  tlsFingerprint: Uint8Array;
}

export function certificateFingerprint(der: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(der).digest());
}

/**
 * The certificate fingerprint of each open connection: a connection keeps its certificate, and
 * reading it again (getPeerCertificate) on every request of a keep-alive socket costs ~70 µs.
 */
const fingerprints = new WeakMap<object, Uint8Array>();

/** Sends one request; non-2xx answers become NodeRequestError with the node's error code. */
export async function requestNode(req: NodeRequest): Promise<NodeResponse> {
  const response = await rawRequest(req);
  if (response.status >= 200 && response.status < 300) return response;
  let nodeCode: string | undefined;
  let detail = Buffer.from(response.body).toString("utf8").slice(0, 500);
  try {
    const parsed = JSON.parse(detail) as { error?: { code?: string; message?: string } };
    nodeCode = parsed.error?.code;
    detail = parsed.error?.message ?? detail;
  } catch {
    // not JSON: keep the text
  }
  throw new NodeRequestError(
    "HTTP_STATUS",
    `${req.method} ${req.path} → ${response.status} ${nodeCode ?? ""}: ${detail}`,
    response.status,
    nodeCode,
  );
}

function rawRequest(req: NodeRequest): Promise<NodeResponse> {
  const limit = req.maxResponseBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const url = new URL(req.path, req.url);
    let fingerprint: Uint8Array = new Uint8Array(32);
    const request = https.request(url, {
      method: req.method,
      rejectUnauthorized: false,
      timeout: req.timeoutMs ?? 10_000,
      signal: req.signal,
      agent: req.agent ?? false,
      headers: {
        "content-type": "application/octet-stream",
        ...(req.body ? { "content-length": String(req.body.length) } : {}),
      },
    });
    const fail = (error: NodeRequestError) => {
      request.destroy();
      reject(error);
    };
    request.on("socket", (socket) => {
      const checkAndSend = () => {
        // no certificate to pin: the socket closed during the handshake, or the TLS session was
        // resumed (agents must not cache sessions: maxCachedSessions 0)
        let known = fingerprints.get(socket);
        if (!known) {
          const raw = (socket as TLSSocket).getPeerCertificate()?.raw;
          if (!raw) {
            fail(
              new NodeRequestError(
                "NETWORK",
                `${req.url}: no server certificate to check (closed or resumed session)`,
              ),
            );
            return;
          }
          known = certificateFingerprint(raw);
          fingerprints.set(socket, known);
        }
        fingerprint = known;
        if (req.tlsFingerprint && !Buffer.from(fingerprint).equals(Buffer.from(req.tlsFingerprint))) {
          fail(
            new NodeRequestError(
              "CERTIFICATE_MISMATCH",
              `${req.url} presented an unexpected TLS certificate`,
            ),
          );
          return;
        }
        request.end(req.body ? Buffer.from(req.body) : undefined);
      };
      if (socket.connecting) socket.once("secureConnect", checkAndSend);
      else checkAndSend();
    });
    request.on("timeout", () => fail(new NodeRequestError("TIMEOUT", `${req.method} ${req.path} timed out`)));
    request.on("error", (error) => {
      reject(error instanceof NodeRequestError ? error : new NodeRequestError("NETWORK", error.message));
    });
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) fail(new NodeRequestError("RESPONSE_TOO_LARGE", `response exceeds ${limit} bytes`));
        else chunks.push(chunk);
      });
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          body: new Uint8Array(Buffer.concat(chunks)),
          tlsFingerprint: fingerprint,
        }),
      );
      response.on("error", (error) => reject(new NodeRequestError("NETWORK", error.message)));
    });
  });
}
