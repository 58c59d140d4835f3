// Which SQLite commits are flushed to disk: every write (synchronous FULL) but a FunGame deny-list
// claim or release, a lease on one logout attempt (synchronous NORMAL for that statement only), on a
// real node:sqlite database.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { createSchema } from "../src/adapters/sql/driver.ts";
import { SqlDenyList, SqlReplayGuard } from "../src/adapters/sql/expiring-set.ts";
import { SqliteDriver } from "../src/adapters/sql/sqlite.ts";

const folder = mkdtempSync(join(tmpdir(), "edge-proxy-flush-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
let files = 0;

/** A driver over a real database that records, in order, every PRAGMA and write it is sent. */
async function recorded() {
  const db = new DatabaseSync(join(folder, `flush-${++files}.db`));
  const log: string[] = [];
  const note = (sql: string) => {
    if (/^\s*(PRAGMA synchronous|INSERT|DELETE|UPDATE)/i.test(sql)) log.push(sql.slice(0, 40));
  };
  const driver = new SqliteDriver(
    {
      exec: (sql) => {
        note(sql);
        db.exec(sql);
      },
      all: (sql, params) => {
        note(sql);
        return db.prepare(sql).all(...params) as Record<string, unknown>[];
      },
      run: (sql, params) => {
        note(sql);
        return Number(db.prepare(sql).run(...params).changes);
      },
      close: () => db.close(),
    },
    "SQLite (recorded)",
  );
  await createSchema(driver);
  log.length = 0;
  const synchronous = async () =>
    Number((await driver.all<{ synchronous: number }>("PRAGMA synchronous"))[0]?.synchronous);
  return { driver, log, synchronous };
}

describe("SQLite commits flushed to disk", () => {
  it("commits a deny-list claim and release unflushed, then flushes again; the logout's record is flushed", async () => {
    const { driver, log, synchronous } = await recorded();
    const list = new SqlDenyList(driver);
    expect(await list.claim("jti-1", "attempt-1", 10_000)).toBe("claimed");
    expect(log).toEqual([
      "PRAGMA synchronous = NORMAL",
      expect.stringMatching(/^INSERT INTO edge_proxy_entries/),
      "PRAGMA synchronous = FULL",
    ]);
    log.length = 0;
    await list.add("jti-1", Math.floor(Date.now() / 1000) + 600);
    expect(log).toEqual([expect.stringMatching(/^INSERT INTO edge_proxy_entries/)]);
    expect(await synchronous()).toBe(2);
    log.length = 0;
    expect(await list.claim("jti-2", "attempt-2", 10_000)).toBe("claimed");
    await list.release("jti-2", "attempt-2");
    expect(log).toEqual([
      "PRAGMA synchronous = NORMAL",
      expect.stringMatching(/^INSERT/),
      "PRAGMA synchronous = FULL",
      "PRAGMA synchronous = NORMAL",
      expect.stringMatching(/^DELETE/),
      "PRAGMA synchronous = FULL",
    ]);
    expect(await list.has("jti-1")).toBe(true);
    expect(await list.has("jti-2")).toBe(false);
  });

  it("flushes a replay guard's claim: the claim is what refuses the replay", async () => {
    const { driver, log } = await recorded();
    expect(await new SqlReplayGuard(driver).claim("a".repeat(64), "owner-1", 60_000)).toBe(true);
    expect(log).toEqual([expect.stringMatching(/^INSERT/)]);
  });

  it("flushes again after an unflushed statement that fails", async () => {
    const { driver, synchronous } = await recorded();
    await expect(
      driver.run("INSERT INTO no_such_table VALUES (1)", [], { flush: false }),
    ).rejects.toThrow(/no_such_table/);
    expect(await synchronous()).toBe(2);
  });
});
