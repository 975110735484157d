/**
 * The node's embedded database: SQLite (better-sqlite3) in WAL mode. Share writes commit with
 * synchronous=FULL (fsync before the receipt leaves the node); access-log and replay-cache
 * writes use synchronous=NORMAL, which survives a process crash (the kill -9 case) and only
 * risks the last moments before a power loss.
 *
 * Checkpoints (copying the write-ahead log back into the database file, with an fsync) run in a
 * thread of their own on a second connection, so no request waits for one: SQLite's automatic
 * checkpoint would run inside whichever commit crossed the threshold, on the event loop, and
 * hold every request behind it for milliseconds. The automatic checkpoint stays as a backstop
 * at a much larger log size.
 */
import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";

export interface StoredShare {
  policyId: Uint8Array;
  /** the encoded PolicyShare as received (the kfrag stays encrypted to the node at rest) */
  share: Uint8Array;
  ownerVerifyingKey: Uint8Array;
  recipientVerifyingKey: Uint8Array;
  kfragId: Uint8Array;
  /** end of the policy, seconds since the epoch (chain time) */
  expiresAt: number;
  storedAt: number;
}

export interface Tombstone {
  policyId: Uint8Array;
  orderHash: Uint8Array;
  /** kept so the owner can still read the access log of a revoked policy */
  ownerVerifyingKey: Uint8Array;
  revokedAt: number;
}

export interface LogHead {
  sequence: bigint;
  hash: Uint8Array;
}

type Row = Record<string, unknown>;

export interface StorageOptions {
  /** how often the background thread checkpoints the write-ahead log; 0: SQLite's own automatic checkpoints only */
  checkpointIntervalMs?: number;
  /** told when a background checkpoint fails (the backstop then still bounds the log) */
  onCheckpointError?: (message: string) => void;
}

/** Shares kept in memory (a few KiB each); past it the copies are dropped and read again. */
const SHARE_CACHE_SIZE = 4096;

const MAX_SQLITE_INTEGER = 2n ** 63n - 1n;

/** Log pages after which a commit checkpoints by itself (only if the background thread fell behind). */
const BACKSTOP_CHECKPOINT_PAGES = 16_384;

/** The background checkpointer: its own connection, a PASSIVE checkpoint on every tick. */
const CHECKPOINTER = `
  const { parentPort, workerData } = require("node:worker_threads");
  const Database = require(workerData.driver);
  const db = new Database(workerData.file);
  db.pragma("busy_timeout = 5000");
  const checkpoint = () => {
    try {
      db.pragma("wal_checkpoint(PASSIVE)");
    } catch (error) {
      parentPort.postMessage(String((error && error.message) || error));
    }
  };
  const timer = setInterval(checkpoint, workerData.intervalMs);
  parentPort.on("message", () => {
    clearInterval(timer);
    checkpoint();
    db.close();
    parentPort.close();
  });
`;

const DATABASE_FILE = "node.sqlite";

/** Bytes on disk of a database and its write-ahead log. */
function sizeOnDisk(file: string): number {
  let total = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      total += fs.statSync(file + suffix).size;
    } catch {
      // the WAL may not exist yet
    }
  }
  return total;
}

export class NodeStorage {
  readonly db: Database.Database;
  readonly file: string;
  /** One transaction wrapper for every write (BEGIN … COMMIT, ROLLBACK on a throw). */
  private readonly inTransaction: (fn: () => unknown) => unknown;

  private readonly checkpointer?: Worker;

  constructor(dataDir: string, options: StorageOptions = {}) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.file = path.join(dataDir, DATABASE_FILE);
    this.db = new Database(this.file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS shares (
        policy_id BLOB PRIMARY KEY, share BLOB NOT NULL, owner_key BLOB NOT NULL,
        recipient_key BLOB NOT NULL, kfrag_id BLOB NOT NULL,
        expires_at INTEGER NOT NULL, stored_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS shares_expiry ON shares (expires_at);
      CREATE TABLE IF NOT EXISTS tombstones (
        policy_id BLOB PRIMARY KEY, order_hash BLOB NOT NULL, owner_key BLOB NOT NULL, revoked_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS access_log (
        policy_id BLOB NOT NULL, sequence INTEGER NOT NULL, entry BLOB NOT NULL, hash BLOB NOT NULL,
        PRIMARY KEY (policy_id, sequence));
      CREATE TABLE IF NOT EXISTS nonces (nonce_key BLOB PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS served (
        policy_id BLOB PRIMARY KEY, count INTEGER NOT NULL,
        voucher_count INTEGER NOT NULL DEFAULT 0, voucher_signature BLOB, claimed INTEGER NOT NULL DEFAULT 0);
      -- every policy this node took a share of, kept after the share is gone: its owner (who may
      -- still read the access log) and whether its fees are settled to the end (the last period
      -- can only be settled once the policy is over, when its share may already be collected)
      CREATE TABLE IF NOT EXISTS policies (
        policy_id BLOB PRIMARY KEY, owner_key BLOB NOT NULL, ends_at INTEGER NOT NULL,
        settled INTEGER NOT NULL DEFAULT 0);
      INSERT OR IGNORE INTO policies (policy_id, owner_key, ends_at)
        SELECT policy_id, owner_key, expires_at FROM shares;
    `);
    this.inTransaction = this.db.transaction((fn: () => unknown) => fn());
    const intervalMs = options.checkpointIntervalMs ?? 0;
    if (intervalMs > 0) {
      this.db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
      this.checkpointer = new Worker(CHECKPOINTER, {
        eval: true,
        workerData: { driver: require.resolve("better-sqlite3"), file: this.file, intervalMs },
      });
      const report = options.onCheckpointError ?? (() => {});
      this.checkpointer.on("message", report);
      this.checkpointer.on("error", (error) => report(error.message));
      this.checkpointer.unref();
    }
  }

  private statements = new Map<string, Database.Statement>();
  private readonly shareCache = new Map<string, StoredShare>();

  /** A prepared statement, compiled once per connection. */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  private synchronous: "FULL" | "NORMAL" = "FULL";

  private write<T>(synchronous: "FULL" | "NORMAL", fn: () => T): T {
    if (this.synchronous !== synchronous) {
      this.db.pragma(`synchronous = ${synchronous}`);
      this.synchronous = synchronous;
    }
    return this.inTransaction(fn) as T;
  }

  /** A transaction that is on disk (fsync) when it returns. */
  private durable<T>(fn: () => T): T {
    return this.write("FULL", fn);
  }

  /** A transaction that survives a crash of the process, not a power loss. */
  private fast<T>(fn: () => T): T {
    return this.write("NORMAL", fn);
  }

  /**
   * Stores a share durably, unless (checked in the same transaction, so concurrent uploads and a
   * revocation cannot slip between check and write) the policy was revoked here, already has a
   * share (left unchanged), or `capacity` shares are held already.
   */
  putShare(s: StoredShare, capacity?: bigint): "stored" | "revoked" | "exists" | "full" {
    return this.durable(() => {
      if (this.sql(`SELECT 1 FROM tombstones WHERE policy_id = ?`).get(s.policyId)) return "revoked";
      if (this.sql(`SELECT 1 FROM shares WHERE policy_id = ?`).get(s.policyId)) return "exists";
      if (capacity !== undefined && BigInt(this.countShares()) >= capacity) return "full";
      this.sql(`INSERT OR IGNORE INTO policies (policy_id, owner_key, ends_at) VALUES (?, ?, ?)`).run(
        s.policyId,
        s.ownerVerifyingKey,
        s.expiresAt,
      );
      this.sql(
        `INSERT INTO shares (policy_id, share, owner_key, recipient_key, kfrag_id, expires_at, stored_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        s.policyId,
        s.share,
        s.ownerVerifyingKey,
        s.recipientVerifyingKey,
        s.kfragId,
        s.expiresAt,
        s.storedAt,
      );
      return "stored";
    });
  }

  /**
   * The share of a policy. Every re-encryption request reads one, so held shares are also kept in
   * memory (a database read and its copies cost ~28 µs a request, measured); this process is the
   * database's only writer, and every write of shares below updates or drops the copies.
   */
  getShare(policyId: Uint8Array): StoredShare | undefined {
    const key = hex(policyId);
    const cached = this.shareCache.get(key);
    if (cached) return cached;
    const row = this.sql(`SELECT * FROM shares WHERE policy_id = ?`).get(policyId) as Row | undefined;
    if (!row) return undefined;
    if (this.shareCache.size >= SHARE_CACHE_SIZE) this.shareCache.clear();
    const share: StoredShare = {
      policyId: bytes(row.policy_id),
      share: bytes(row.share),
      ownerVerifyingKey: bytes(row.owner_key),
      recipientVerifyingKey: bytes(row.recipient_key),
      kfragId: bytes(row.kfrag_id),
      expiresAt: Number(row.expires_at),
      storedAt: Number(row.stored_at),
    };
    this.shareCache.set(key, share);
    return share;
  }

  countShares(): number {
    return Number((this.sql(`SELECT COUNT(*) AS n FROM shares`).get() as Row).n);
  }

  /** Deletes the share and leaves a tombstone, in one durable transaction. */
  revoke(t: Tombstone): void {
    this.shareCache.delete(hex(t.policyId));
    this.durable(() => {
      this.sql(`DELETE FROM shares WHERE policy_id = ?`).run(t.policyId);
      this.sql(
        `INSERT OR IGNORE INTO tombstones (policy_id, order_hash, owner_key, revoked_at) VALUES (?, ?, ?, ?)`,
      ).run(t.policyId, t.orderHash, t.ownerVerifyingKey, t.revokedAt);
    });
  }

  getTombstone(policyId: Uint8Array): Tombstone | undefined {
    const row = this.sql(`SELECT * FROM tombstones WHERE policy_id = ?`).get(policyId) as Row | undefined;
    return row
      ? {
          policyId: bytes(row.policy_id),
          orderHash: bytes(row.order_hash),
          ownerVerifyingKey: bytes(row.owner_key),
          revokedAt: Number(row.revoked_at),
        }
      : undefined;
  }

  /** Deletes shares whose policy ended before `before` (seconds); returns how many. */
  collectExpired(before: number): number {
    this.shareCache.clear();
    return this.durable(() => this.sql(`DELETE FROM shares WHERE expires_at < ?`).run(before).changes);
  }

  /**
   * Records a served request: its nonce, the access-log entry `makeEntry` makes from the log
   * head (undefined for an empty log), and the served count; in a transaction shared with the
   * other writes queued in the same turn of the event loop (group commit: a commit costs ~60 µs of
   * the ~85 µs such a write takes alone, measured). Each write runs in its own savepoint, so
   * one that throws fails alone; a failed commit fails them all. Resolves once committed:
   * "served" when the entry was written, "replayed" if the nonce was seen before, "revoked" if
   * the policy has a tombstone by then (checked in the same transaction, so a revocation
   * acknowledged before the commit is never followed by a served entry).
   */
  commitServed(
    nonceKey: Uint8Array,
    nonceExpiresAt: number,
    policyId: Uint8Array,
    { capsules, voucher }: { capsules: number; voucher?: { count: bigint; signature: Uint8Array } },
    makeEntry: (head: LogHead | undefined) => { entry: Uint8Array; hash: Uint8Array; sequence: bigint },
  ): Promise<"served" | "replayed" | "revoked"> {
    return this.grouped(() => {
      if (this.getTombstone(policyId)) return "revoked";
      const fresh = this.sql(`INSERT OR IGNORE INTO nonces (nonce_key, expires_at) VALUES (?, ?)`).run(
        nonceKey,
        nonceExpiresAt,
      ).changes;
      if (fresh === 0) return "replayed";
      const { entry, hash, sequence } = makeEntry(this.logHead(policyId));
      this.sql(`INSERT INTO access_log (policy_id, sequence, entry, hash) VALUES (?, ?, ?, ?)`).run(
        policyId,
        sequence,
        entry,
        hash,
      );
      this.sql(
        `INSERT INTO served (policy_id, count) VALUES (?, ?)
           ON CONFLICT (policy_id) DO UPDATE SET count = count + excluded.count`,
      ).run(policyId, capsules);
      if (voucher) {
        this.sql(
          `UPDATE served SET voucher_count = ?, voucher_signature = ? WHERE policy_id = ? AND voucher_count < ?`,
        ).run(voucher.count, voucher.signature, policyId, voucher.count);
      }
      return "served";
    });
  }

  private queued: { fn: () => unknown; resolve: (value: never) => void; reject: (error: unknown) => void }[] =
    [];

  private grouped<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.queued.push({ fn, resolve: resolve as (value: never) => void, reject }) === 1) {
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const jobs = this.queued.splice(0);
    let outcomes: { ok: boolean; value: unknown }[];
    try {
      outcomes = this.fast(() =>
        jobs.map(({ fn }) => {
          try {
            return { ok: true, value: this.inTransaction(fn) };
          } catch (error) {
            return { ok: false, value: error };
          }
        }),
      );
    } catch (error) {
      for (const job of jobs) job.reject(error);
      return;
    }
    jobs.forEach((job, i) =>
      outcomes[i].ok ? job.resolve(outcomes[i].value as never) : job.reject(outcomes[i].value),
    );
  }

  /** How many capsules this node re-encrypted for the policy. */
  servedCount(policyId: Uint8Array): bigint {
    const row = this.sql(`SELECT count FROM served WHERE policy_id = ?`).get(policyId) as Row | undefined;
    return row ? BigInt(row.count as number) : 0n;
  }

  /** Vouchers whose count exceeds what was claimed on chain. */
  unclaimedVouchers(): { policyId: Uint8Array; count: bigint; signature: Uint8Array }[] {
    const rows = this.sql(
      `SELECT policy_id, voucher_count, voucher_signature FROM served WHERE voucher_count > claimed`,
    ).all() as Row[];
    return rows.map((row) => ({
      policyId: bytes(row.policy_id),
      count: BigInt(row.voucher_count as number),
      signature: bytes(row.voucher_signature),
    }));
  }

  markClaimed(policyId: Uint8Array, count: bigint): void {
    this.durable(() =>
      this.sql(`UPDATE served SET claimed = ? WHERE policy_id = ? AND claimed < ?`).run(
        count,
        policyId,
        count,
      ),
    );
  }

  /** The policies whose fees are not yet settled to their end (their share may be gone). */
  unsettledPolicies(): { policyId: Uint8Array; endsAt: number }[] {
    const rows = this.sql(`SELECT policy_id, ends_at FROM policies WHERE settled = 0`).all() as Row[];
    return rows.map((row) => ({ policyId: bytes(row.policy_id), endsAt: Number(row.ends_at) }));
  }

  /** Records that these policies' fees are settled to their end. */
  markSettled(policyIds: Uint8Array[]): void {
    if (policyIds.length === 0) return;
    this.durable(() => {
      for (const id of policyIds) this.sql(`UPDATE policies SET settled = 1 WHERE policy_id = ?`).run(id);
    });
  }

  /** The owner's verifying key of a policy this node ever took a share of. */
  policyOwnerKey(policyId: Uint8Array): Uint8Array | undefined {
    const row = this.sql(`SELECT owner_key FROM policies WHERE policy_id = ?`).get(policyId) as
      Row | undefined;
    return row ? bytes(row.owner_key) : undefined;
  }

  /** Records a nonce alone (requests that write no log entry); false if seen before. */
  recordNonce(nonceKey: Uint8Array, expiresAt: number): boolean {
    return this.fast(
      () =>
        this.sql(`INSERT OR IGNORE INTO nonces (nonce_key, expires_at) VALUES (?, ?)`).run(
          nonceKey,
          expiresAt,
        ).changes === 1,
    );
  }

  hasNonce(nonceKey: Uint8Array): boolean {
    return this.sql(`SELECT 1 FROM nonces WHERE nonce_key = ?`).get(nonceKey) !== undefined;
  }

  collectNonces(before: number): number {
    return this.fast(() => this.sql(`DELETE FROM nonces WHERE expires_at < ?`).run(before).changes);
  }

  logHead(policyId: Uint8Array): LogHead | undefined {
    const row = this.sql(
      `SELECT sequence, hash FROM access_log WHERE policy_id = ? ORDER BY sequence DESC LIMIT 1`,
    ).get(policyId) as Row | undefined;
    return row ? { sequence: BigInt(row.sequence as number), hash: bytes(row.hash) } : undefined;
  }

  readLog(policyId: Uint8Array, fromSequence: bigint, limit: number): Uint8Array[] {
    // sequences are SQLite integers (below 2⁶³): none is at or beyond a larger request
    if (fromSequence > MAX_SQLITE_INTEGER) return [];
    const rows = this.sql(
      `SELECT entry FROM access_log WHERE policy_id = ? AND sequence >= ? ORDER BY sequence LIMIT ?`,
    ).all(policyId, fromSequence, limit) as Row[];
    return rows.map((row) => bytes(row.entry));
  }

  getState(key: string): string | undefined {
    const row = this.sql(`SELECT value FROM state WHERE key = ?`).get(key) as Row | undefined;
    return row ? String(row.value) : undefined;
  }

  setState(key: string, value: string): void {
    this.durable(() => this.sql(`INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)`).run(key, value));
  }

  /** Bytes on disk: the database and its write-ahead log. */
  sizeBytes(): number {
    return sizeOnDisk(this.file);
  }

  /**
   * What `nkms node status` shows of a node's database, read without writing to it (the node may
   * be running): undefined before the node first ran.
   */
  static readStats(dataDir: string): { shares: number; storageBytes: number } | undefined {
    const file = path.join(dataDir, DATABASE_FILE);
    if (!fs.existsSync(file)) return undefined;
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      db.pragma("busy_timeout = 5000");
      const shares = Number((db.prepare(`SELECT COUNT(*) AS n FROM shares`).get() as Row).n);
      return { shares, storageBytes: sizeOnDisk(file) };
    } finally {
      db.close();
    }
  }

  /** Stops the checkpointer (after a last checkpoint) and closes the database. */
  async close(): Promise<void> {
    const checkpointer = this.checkpointer;
    if (checkpointer && checkpointer.threadId >= 0) {
      const exited = new Promise((resolve) => checkpointer.once("exit", resolve));
      checkpointer.ref();
      checkpointer.postMessage("close");
      await exited;
    }
    this.db.close();
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function bytes(value: unknown): Uint8Array {
  return new Uint8Array(value as Buffer);
}
