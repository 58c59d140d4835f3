// SQLite as the stores' engine on one machine: a file in WAL mode, one connection, statements in turn.
import type { SqlDriver, SqlValue, StatementOptions } from "./driver.ts";

/** The few calls of a synchronous SQLite binding (node:sqlite, bun:sqlite) the driver makes. */
export interface SyncDatabase {
  exec(sql: string): void;
  all(sql: string, params: readonly SqlValue[]): Record<string, unknown>[];
  /** Runs a statement; answers how many rows it changed. */
  run(sql: string, params: readonly SqlValue[]): number;
  close(): void;
}

/**
 * Settings every connection gets: WAL, so readers do not wait for the writer; FULL sync, so a
 * logout answered 202 is on disk before the answer (WAL's NORMAL may lose the last commits on
 * a power loss; a statement run with `flush: false`, a lease, is the one exception); no busy
 * timeout, as SQLite's own would block the event loop while it waits: the driver waits for the
 * write lock itself (BUSY_WAIT_MS).
 */
export const PRAGMAS = [
  "PRAGMA journal_mode = WAL",
  "PRAGMA synchronous = FULL",
  "PRAGMA busy_timeout = 0",
] as const;

/** How long a statement waits for another connection's write lock before it fails. */
export const BUSY_WAIT_MS = 5_000;

/** Whether SQLite refused because another connection holds the lock (SQLITE_BUSY, SQLITE_LOCKED). */
function isBusy(error: unknown): boolean {
  const { errcode, errno, code } = (error ?? {}) as {
    errcode?: unknown;
    errno?: unknown;
    code?: unknown;
  };
  const primary = Number(errcode ?? errno) & 0xff;
  return primary === 5 || primary === 6 || code === "SQLITE_BUSY" || code === "SQLITE_LOCKED";
}

/** Runs `step`, again after a short wait while the database is busy, for at most BUSY_WAIT_MS. */
async function whenFree<T>(step: () => T): Promise<T> {
  const until = Date.now() + BUSY_WAIT_MS;
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    try {
      return step();
    } catch (error) {
      if (!isBusy(error) || Date.now() >= until) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/**
 * A SqlDriver over one synchronous connection. Every statement and transaction waits for the one
 * before it, so a transaction's statements never interleave with another caller's: a transaction
 * holds the connection from BEGIN IMMEDIATE to COMMIT.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect = "sqlite";
  readonly description: string;
  readonly #db: SyncDatabase;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(db: SyncDatabase, description: string) {
    this.#db = db;
    this.description = description;
    for (const pragma of PRAGMAS) db.exec(pragma);
  }

  /** Runs `work` once everything queued before it is done. */
  #turn<T>(work: () => Promise<T> | T): Promise<T> {
    const next = this.#queue.then(() => {
      if (this.#closed) throw new Error("the SQLite store is closed");
      return work();
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  async all<Row extends Record<string, unknown>>(
    sql: string,
    params: readonly SqlValue[] = [],
    options: StatementOptions = {},
  ): Promise<Row[]> {
    return this.#turn(() => this.#flushing(options, () => this.#db.all(sql, params) as Row[]));
  }

  async run(
    sql: string,
    params: readonly SqlValue[] = [],
    options: StatementOptions = {},
  ): Promise<number> {
    return this.#turn(() => this.#flushing(options, () => this.#db.run(sql, params)));
  }

  /**
   * Runs one statement (in the connection's turn), its commit flushed to disk unless `flush` is
   * false: then under synchronous NORMAL, FULL again right after, whatever the statement did.
   */
  async #flushing<T>(options: StatementOptions, step: () => T): Promise<T> {
    if (options.flush !== false) return whenFree(step);
    this.#db.exec("PRAGMA synchronous = NORMAL");
    try {
      return await whenFree(step);
    } finally {
      this.#db.exec("PRAGMA synchronous = FULL");
    }
  }

  transaction<T>(work: (tx: SqlDriver) => Promise<T>): Promise<T> {
    return this.#turn(async () => {
      const db = this.#db;
      const tx: SqlDriver = {
        dialect: "sqlite",
        description: this.description,
        all: async <Row extends Record<string, unknown>>(
          sql: string,
          params: readonly SqlValue[] = [],
        ) => db.all(sql, params) as Row[],
        run: async (sql, params = []) => db.run(sql, params),
        transaction: () => Promise.reject(new Error("transactions do not nest")),
        close: () => Promise.reject(new Error("close the driver, not its transaction")),
      };
      // IMMEDIATE: the write lock is taken here or not at all, never half-way through the work.
      await whenFree(() => db.exec("BEGIN IMMEDIATE"));
      try {
        const result = await work(tx);
        db.exec("COMMIT");
        return result;
      } catch (error) {
        try {
          db.exec("ROLLBACK");
        } catch {
          // SQLite rolled back already (a full disk, say): the work's error is the one to report.
        }
        throw error;
      }
    });
  }

  close(): Promise<void> {
    return this.#turn(() => {
      this.#closed = true;
      this.#db.close();
    });
  }
}
