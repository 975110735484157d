/**
 * One node process per data directory. Two processes on one directory would both commit, settle
 * and answer with the same operator key; the second start is refused before it does anything.
 *
 * The lock is an exclusive SQLite lock (an fcntl lock, which the operating system drops when the
 * process dies, kill -9 included) on `node.lock` in the data directory, held until the node
 * stops: no stale lock file to clean up after a crash, and a second start in the same process is
 * refused as well.
 */
import Database from "better-sqlite3";
import path from "node:path";

export class DataDirInUseError extends Error {
  readonly code = "DATA_DIR_IN_USE";
  constructor(message: string) {
    super(message);
    this.name = "DataDirInUseError";
  }
}

/** Locks `dataDir` for this node; returns the release. Throws DataDirInUseError if it is locked. */
export function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, "node.lock");
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    // the first write takes the exclusive lock; in exclusive locking mode it is kept after COMMIT
    db.exec("BEGIN EXCLUSIVE; COMMIT;");
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === "SQLITE_BUSY") {
      throw new DataDirInUseError(`${dataDir} is in use by another running node (${file} is locked)`);
    }
    throw error;
  }
  return () => {
    if (db.open) db.close();
  };
}
