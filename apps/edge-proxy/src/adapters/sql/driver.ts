// The one SQL surface the stores of the Bun, Deno and Node entries use: SQLite embedded, PostgreSQL
// beyond one machine. Statements are written once, with `?` placeholders, in the SQL both accept.

/** A value bound to a placeholder. Times are whole ms since the epoch. */
export type SqlValue = string | number | null;

export type Dialect = "sqlite" | "postgres";

/** How one statement outside a transaction is committed. */
export interface StatementOptions {
  /**
   * false: its effect need not survive a power loss, only the process's own crash: a lease that
   * lapses by itself. SQLite then commits it without flushing the WAL to disk (synchronous NORMAL,
   * about 20 µs instead of a flush's few hundred); the next flushed commit takes it along. Engines
   * without such a setting flush as always. Default true.
   */
  flush?: boolean;
}

/** One connection (SQLite) or pool (PostgreSQL), and the transactions taken on it. */
export interface SqlDriver {
  readonly dialect: Dialect;
  /** What the startup line says the store is, e.g. "SQLite, /var/lib/edge-proxy/proxy.db (WAL)". */
  readonly description: string;
  /** The rows of a statement. Integer columns may come back as text (PostgreSQL's BIGINT). */
  all<Row extends Record<string, unknown>>(
    sql: string,
    params?: readonly SqlValue[],
    options?: StatementOptions,
  ): Promise<Row[]>;
  /** Runs a statement; answers how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[], options?: StatementOptions): Promise<number>;
  /**
   * Runs `work` in one transaction on `tx`, committed when it resolves and rolled back when it
   * throws (the error is thrown on). Nothing else runs on a SQLite connection meanwhile.
   */
  transaction<T>(work: (tx: SqlDriver) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A BIGINT column's value as a number (PostgreSQL sends BIGINT as text). */
export function int(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

/** A statement with `?` placeholders in PostgreSQL's `$1, $2…`. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * The tables of every store, created when the store opens (idempotent). Integer times are BIGINT
 * (INTEGER affinity in SQLite), flags INTEGER: both engines read the same statements.
 */
export const SCHEMA = [
  // The deny-list and the replay guard: keys with an expiry and, while claimed, an owner.
  "CREATE TABLE IF NOT EXISTS edge_proxy_entries (store TEXT NOT NULL, key TEXT NOT NULL, exp BIGINT NOT NULL, owner TEXT, PRIMARY KEY (store, key))",
  "CREATE INDEX IF NOT EXISTS edge_proxy_entries_exp ON edge_proxy_entries (exp)",
  // Asynchronous logouts: the job as JSON, when it is due, who runs it until when, and the caller
  // whose open-job slot it holds until it finishes (null once given back).
  "CREATE TABLE IF NOT EXISTS edge_proxy_jobs (id TEXT PRIMARY KEY, job TEXT NOT NULL, caller TEXT, wake_at BIGINT, lease_owner TEXT, lease_until BIGINT NOT NULL DEFAULT 0)",
  "CREATE INDEX IF NOT EXISTS edge_proxy_jobs_wake ON edge_proxy_jobs (wake_at)",
  // Open jobs per caller, and all together under the caller "*".
  "CREATE TABLE IF NOT EXISTS edge_proxy_open_jobs (caller TEXT PRIMARY KEY, n BIGINT NOT NULL)",
  // Requests per caller and window, for a rate limit shared by several instances.
  "CREATE TABLE IF NOT EXISTS edge_proxy_rate (caller TEXT NOT NULL, window_start BIGINT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (caller, window_start))",
  // Session registrations for universal logout: found by the digests of their subject and sid,
  // owned by a caller's digest, the registration itself (vendor tokens, subject) sealed.
  "CREATE TABLE IF NOT EXISTS edge_proxy_sessions (id TEXT PRIMARY KEY, subject_key TEXT NOT NULL, sid_key TEXT, owner TEXT, expires_at BIGINT NOT NULL, sealed TEXT NOT NULL)",
  "CREATE INDEX IF NOT EXISTS edge_proxy_sessions_subject ON edge_proxy_sessions (subject_key)",
  "CREATE INDEX IF NOT EXISTS edge_proxy_sessions_sid ON edge_proxy_sessions (sid_key)",
  "CREATE INDEX IF NOT EXISTS edge_proxy_sessions_exp ON edge_proxy_sessions (expires_at)",
] as const;

/** Creates the tables; on PostgreSQL under a lock, so instances starting together do not collide. */
export async function createSchema(driver: SqlDriver): Promise<void> {
  await driver.transaction(async (tx) => {
    if (tx.dialect === "postgres") {
      // CREATE TABLE IF NOT EXISTS is not safe against itself running at once in two sessions.
      await tx.all("SELECT pg_advisory_xact_lock(?)", [EDGE_PROXY_LOCK]);
    }
    for (const statement of SCHEMA) await tx.run(statement);
  });
}

/** The advisory lock the schema is created under (any constant; "edge" in ASCII). */
const EDGE_PROXY_LOCK = 0x65646765;
