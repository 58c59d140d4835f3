// SQLite through node:sqlite (Node.js 22.5 and later): the stores' file on one machine.
import type { SqlDriver } from "./driver.ts";
import { SqliteDriver } from "./sqlite.ts";

/** Opens (or creates) the database file with node:sqlite; throws a readable error on Node.js < 22.5. */
export async function openNodeSqlite(file: string): Promise<SqlDriver> {
  let sqlite: typeof import("node:sqlite");
  try {
    sqlite = await import("node:sqlite");
  } catch {
    throw new Error(
      `SQLite needs Node.js 22.5 or later (node:sqlite); this is Node.js ${process.versions.node}`,
    );
  }
  const db = new sqlite.DatabaseSync(file);
  const statements = new Map<string, ReturnType<typeof db.prepare>>();
  const prepared = (sql: string) => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
  return new SqliteDriver(
    {
      exec: (sql) => db.exec(sql),
      all: (sql, params) => prepared(sql).all(...params) as Record<string, unknown>[],
      run: (sql, params) => Number(prepared(sql).run(...params).changes),
      close: () => db.close(),
    },
    `SQLite (node:sqlite), ${file}, WAL`,
  );
}
