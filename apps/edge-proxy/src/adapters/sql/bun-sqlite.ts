// SQLite through bun:sqlite: the stores' file on one machine, on Bun.
import type { SqlDriver, SqlValue } from "./driver.ts";
import { SqliteDriver } from "./sqlite.ts";

// No Bun type package is installed: the calls of bun:sqlite used here, as Bun documents them.
interface BunStatement {
  all(...params: SqlValue[]): Record<string, unknown>[];
  run(...params: SqlValue[]): { changes: number };
}
interface BunDatabase {
  exec(sql: string): void;
  query(sql: string): BunStatement;
  close(): void;
}

/** Opens (or creates) the database file with bun:sqlite. */
export async function openBunSqlite(file: string): Promise<SqlDriver> {
  // A module only Bun resolves: named in a variable, so that no other runtime's tooling follows it.
  const name = "bun:sqlite";
  const { Database } = (await import(name)) as {
    Database: new (file: string, options: { create: boolean; strict: boolean }) => BunDatabase;
  };
  const db = new Database(file, { create: true, strict: true });
  return new SqliteDriver(
    {
      exec: (sql) => db.exec(sql),
      // query() caches the prepared statement per text.
      all: (sql, params) => db.query(sql).all(...params),
      run: (sql, params) => db.query(sql).run(...params).changes,
      close: () => db.close(),
    },
    `SQLite (bun:sqlite), ${file}, WAL`,
  );
}
