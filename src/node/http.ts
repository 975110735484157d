/**
 * The node's HTTPS front: routing, body limits, per-client rate limits, timeouts, metrics and
 * one JSON log line per request. Any malformed input ends as a 4xx with a JSON body
 * `{ "error": { "code", "message" } }`; the server keeps serving.
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ProtocolError } from "../protocol/errors";
import type { NodeConfig } from "./config";
import { NodeError, refuse } from "./errors";
import type { Logger } from "./log";
import type { NodeMetrics } from "./metrics";
import type { NodeService } from "./service";

type Handler = (body: Uint8Array) => Uint8Array | Promise<Uint8Array>;

interface Route {
  method: "GET" | "POST";
  handler: Handler;
  contentType?: string;
}

/** A token bucket per client address. */
class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  take(client: string, now = Date.now()): boolean {
    let bucket = this.buckets.get(client);
    if (!bucket) {
      if (this.buckets.size > 50_000) this.buckets.clear();
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(client, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

export interface NodeServerOptions {
  config: NodeConfig;
  service: NodeService;
  tls: { certPem: string; keyPem: string };
  logger: Logger;
  metrics: NodeMetrics;
  /** health details (bonded, last commitment, ...) */
  health: () => Record<string, unknown>;
}

/** How long a stopping node lets the requests under way finish. */
const CLOSE_GRACE_MS = 10_000;

export class NodeServer {
  readonly server: https.Server;
  private readonly routes: Map<string, Route>;
  private readonly limiter: RateLimiter;

  constructor(private readonly o: NodeServerOptions) {
    const s = o.service;
    this.routes = new Map<string, Route>([
      ["/v1/metadata", { method: "GET", handler: () => s.metadata() }],
      ["/v1/shares", { method: "POST", handler: (b) => s.storeShare(b) }],
      ["/v1/reencrypt", { method: "POST", handler: (b) => s.reencrypt(b) }],
      ["/v1/revoke", { method: "POST", handler: (b) => s.revoke(b) }],
      ["/v1/access-log", { method: "POST", handler: (b) => s.accessLog(b) }],
      [
        "/health",
        {
          method: "GET",
          handler: () => Buffer.from(JSON.stringify(o.health())),
          contentType: "application/json",
        },
      ],
      [
        "/metrics",
        {
          method: "GET",
          handler: () => Buffer.from(o.metrics.registry.render()),
          contentType: "text/plain; version=0.0.4",
        },
      ],
    ]);
    this.limiter = new RateLimiter(o.config.limits.ratePerSecond, o.config.limits.rateBurst);
    this.server = https.createServer(
      {
        cert: o.tls.certPem,
        key: o.tls.keyPem,
        minVersion: "TLSv1.2",
        // how often the request and header timeouts below are enforced (Node's default, 30 s,
        // would let a slow client hold a connection for that long past its timeout)
        connectionsCheckingInterval: 1_000,
        // a TLS handshake that does not finish (default 120 s)
        handshakeTimeout: 10_000,
      },
      (req, res) => {
        void this.handle(req, res);
      },
    );
    this.server.requestTimeout = o.config.limits.requestTimeoutMs;
    this.server.headersTimeout = Math.min(o.config.limits.requestTimeoutMs, 10_000);
    this.server.keepAliveTimeout = 5_000;
    this.server.maxHeadersCount = 50;
    // TLS handshakes that never finish, and clients that send garbage before TLS
    this.server.on("tlsClientError", () => this.o.metrics.errors.inc({ code: "TLS_ERROR" }));
  }

  listen(): Promise<AddressInfo> {
    const { host, port } = this.o.config.listen;
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /**
   * Takes no new connection and lets the requests under way finish (for at most
   * CLOSE_GRACE_MS, then drops every connection): a stop or an upgrade fails no request already
   * received. Kept-alive connections are closed as soon as they are idle.
   */
  close(): Promise<void> {
    return new Promise((resolve) => {
      const idle = setInterval(() => this.server.closeIdleConnections(), 25);
      const force = setTimeout(() => this.server.closeAllConnections(), CLOSE_GRACE_MS);
      this.server.close(() => {
        clearInterval(idle);
        clearTimeout(force);
        resolve();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const path = (req.url ?? "/").split("?")[0];
    const route = this.routes.get(path);
    const endpoint = route ? path : "unknown";
    let status = 200;
    let code: string | undefined;
    try {
      if (!this.limiter.take(req.socket.remoteAddress ?? "unknown")) throw refuse.rateLimited();
      if (!route) throw refuse.notFound("NO_SUCH_ENDPOINT", `no endpoint ${path}`);
      if (req.method !== route.method) {
        throw new NodeError(405, "METHOD_NOT_ALLOWED", `${path} accepts ${route.method} only`);
      }
      const body = route.method === "POST" ? await this.readBody(req) : new Uint8Array();
      const out = await route.handler(body);
      res.writeHead(200, {
        "content-type": route.contentType ?? "application/octet-stream",
        "content-length": out.length,
      });
      res.end(out);
    } catch (error) {
      const refusal = this.toRefusal(error);
      status = refusal.status;
      code = refusal.code;
      if (status >= 500) this.o.logger.error("request failed", { path, error });
      this.o.metrics.errors.inc({ code: refusal.code });
      const body = JSON.stringify({ error: { code: refusal.code, message: refusal.message } });
      if (!res.headersSent) {
        res.writeHead(status, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...(status === 413 || status === 400 ? { connection: "close" } : {}),
        });
      }
      res.end(body);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.o.metrics.requests.inc({ endpoint, status: String(status) });
      this.o.metrics.latency.observe(seconds, { endpoint });
      this.o.logger.debug("request", {
        method: req.method,
        path,
        status,
        code,
        ms: Math.round(seconds * 1e6) / 1e3,
        client: req.socket.remoteAddress,
      });
    }
  }

  private readBody(req: IncomingMessage): Promise<Uint8Array> {
    const limit = this.o.config.limits.maxBodyBytes;
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      return Promise.reject(refuse.tooLarge(`body of ${declared} bytes exceeds the limit of ${limit}`));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.removeAllListeners("data");
          req.resume();
          reject(refuse.tooLarge(`body exceeds the limit of ${limit} bytes`));
        } else chunks.push(chunk);
      });
      req.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
      req.on("error", (error) => reject(refuse.badRequest("BODY_UNREADABLE", error.message)));
      req.on("aborted", () => reject(refuse.badRequest("BODY_ABORTED", "the client aborted the request")));
    });
  }

  private toRefusal(error: unknown): NodeError {
    if (error instanceof NodeError) return error;
    if (error instanceof ProtocolError) {
      const status = error.code === "BAD_SIGNATURE" ? 401 : error.code === "TOO_LARGE" ? 413 : 400;
      return new NodeError(status, error.code, error.message);
    }
    return new NodeError(500, "INTERNAL", "internal error; see the node's log");
  }
}
