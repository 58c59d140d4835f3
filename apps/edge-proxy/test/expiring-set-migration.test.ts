// Objects created by the deny-list and replay-guard classes before ExpiringSetObject: every stored row still answers.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectDenyList } from "../src/adapters/workers/deny-list.ts";
import type { ExpiringSetObject } from "../src/adapters/workers/expiring-set.ts";
import { DurableObjectReplayGuard } from "../src/adapters/workers/replay-guard.ts";
import { shardName } from "../src/adapters/workers/shards.ts";
import { DenyListObject, ReplayGuardObject } from "../src/entry/worker.ts";
import { callbackKey } from "../src/replay.ts";
import { oneObject } from "./harness.ts";

/** The tables as the former DenyListObject made them. */
const OLD_DENY_LIST_DDL =
  "CREATE TABLE IF NOT EXISTS revoked (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL); CREATE INDEX IF NOT EXISTS revoked_exp ON revoked (exp); CREATE TABLE IF NOT EXISTS claims (jti TEXT PRIMARY KEY, owner TEXT NOT NULL, lease INTEGER NOT NULL); CREATE INDEX IF NOT EXISTS claims_lease ON claims (lease);";

/** The table as the former ReplayGuardObject made it. */
const OLD_REPLAY_DDL =
  "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, exp INTEGER NOT NULL, owner TEXT); CREATE INDEX IF NOT EXISTS seen_exp ON seen (exp);";

/** The replay guard's object of `key` (32 shards, as by default). */
const shard = (key: string) => shardName({ prefix: "ebet-callback" }, 32, key);

type Row = { key: string; exp: number; owner: string | null };

function snapshot(state: DurableObjectState) {
  const sql = state.storage.sql;
  const tables = sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .toArray()
    .map((table) => table.name)
    // The runtime's own (alarms) are not ours.
    .filter((table) => !table.startsWith("_cf_"));
  // The previous version's tables, as a rollback to it would read them.
  const previous: Record<string, unknown[]> = {};
  for (const table of ["revoked", "claims", "seen"].filter((name) => tables.includes(name))) {
    previous[table] = sql.exec(`SELECT * FROM ${table} ORDER BY 1`).toArray();
  }
  return {
    rows: sql.exec<Row>("SELECT key, exp, owner FROM entries ORDER BY key").toArray(),
    tables: tables.filter((table) => !(table in previous)),
    previous,
  };
}

describe("the deny-list's stored rows under ExpiringSetObject", () => {
  it("deletes the previous version's expired rows, as its own purge would, and copies only the live ones", async () => {
    const name = `migrate-expired-${crypto.randomUUID()}`;
    const stub = env.DENY_LIST.get(env.DENY_LIST.idFromName(name));
    const now = Date.now();
    const seconds = Math.floor(now / 1000);
    const after = await runInDurableObject(stub, (_instance: ExpiringSetObject, state) => {
      state.storage.sql.exec(OLD_DENY_LIST_DDL);
      state.storage.sql.exec(
        "INSERT INTO revoked (jti, exp) VALUES ('gone', ?), ('alive', ?)",
        seconds - 10,
        seconds + 600,
      );
      state.storage.sql.exec(
        "INSERT INTO claims (jti, owner, lease) VALUES ('lapsed', 'a-1', ?), ('held', 'a-2', ?)",
        now - 1_000,
        now + 60_000,
      );
      new DenyListObject(state, env);
      return snapshot(state);
    });
    expect(after.previous).toEqual({
      claims: [{ jti: "held", owner: "a-2", lease: now + 60_000 }],
      revoked: [{ jti: "alive", exp: seconds + 600 }],
    });
    expect(after.rows.map((row) => row.key)).toEqual(["alive", "held"]);
  });

  it("keeps every revoked token revoked and every claim held by its attempt; a second start changes nothing", async () => {
    const name = `migrate-${crypto.randomUUID()}`;
    const stub = env.DENY_LIST.get(env.DENY_LIST.idFromName(name));
    const list = new DurableObjectDenyList(env.DENY_LIST, oneObject(name));
    const now = Date.now();
    const seconds = Math.floor(now / 1000);
    const { first, second } = await runInDurableObject(
      stub,
      (_instance: ExpiringSetObject, state) => {
        // What the former class left: two logouts, a claim in flight, and a token with both (its
        // logout recorded after a claim that was never dropped).
        state.storage.sql.exec(OLD_DENY_LIST_DDL);
        state.storage.sql.exec(
          "INSERT INTO revoked (jti, exp) VALUES ('revoked-1', ?), ('revoked-2', ?), ('both', ?)",
          seconds + 600,
          seconds + 7200,
          seconds + 900,
        );
        state.storage.sql.exec(
          "INSERT INTO claims (jti, owner, lease) VALUES ('claimed-1', 'attempt-1', ?), ('claimed-2', 'attempt-3', ?), ('both', 'attempt-9', ?)",
          now + 60_000,
          now + 90_000,
          now + 30_000,
        );
        // The class starts on them (a deployment restarts every object); a claim is released;
        // the class starts once more and brings nothing back.
        const started = new DenyListObject(state, env);
        const first = snapshot(state);
        started.release("claimed-2", "attempt-3");
        new DenyListObject(state, env);
        return { first, second: snapshot(state) };
      },
    );
    expect(first.rows).toEqual([
      { key: "both", exp: (seconds + 900) * 1000, owner: null },
      { key: "claimed-1", exp: now + 60_000, owner: "attempt-1" },
      { key: "claimed-2", exp: now + 90_000, owner: "attempt-3" },
      { key: "revoked-1", exp: (seconds + 600) * 1000, owner: null },
      { key: "revoked-2", exp: (seconds + 7200) * 1000, owner: null },
    ]);
    expect(first.tables).toEqual(["copied_rows", "entries"]);
    // The previous version's rows stay where it reads them.
    expect(first.previous).toEqual({
      claims: [
        { jti: "both", owner: "attempt-9", lease: now + 30_000 },
        { jti: "claimed-1", owner: "attempt-1", lease: now + 60_000 },
        { jti: "claimed-2", owner: "attempt-3", lease: now + 90_000 },
      ],
      revoked: [
        { jti: "both", exp: seconds + 900 },
        { jti: "revoked-1", exp: seconds + 600 },
        { jti: "revoked-2", exp: seconds + 7200 },
      ],
    });
    expect(second).toEqual({
      rows: first.rows.filter((row) => row.key !== "claimed-2"),
      tables: first.tables,
      previous: first.previous,
    });
    // The alarm is set for the earliest row moved (the old object's may be later).
    const alarm = await runInDurableObject(stub, (_i: ExpiringSetObject, state) =>
      state.storage.getAlarm(),
    );
    expect(alarm).toBe(now + 60_000);

    for (const jti of ["revoked-1", "revoked-2", "both"]) {
      expect(await list.has(jti), jti).toBe(true);
      expect(await list.claim(jti, "attempt-2", 10_000), jti).toBe("revoked");
    }
    // The claim is no revocation, is held for its attempt, and only that attempt drops it.
    expect(await list.has("claimed-1")).toBe(false);
    expect(await list.claim("claimed-1", "attempt-2", 10_000)).toBe("pending");
    expect(await list.claim("claimed-1", "attempt-1", 60_000)).toBe("claimed");
    await list.release("claimed-1", "attempt-2");
    expect(await list.claim("claimed-1", "attempt-2", 10_000)).toBe("pending");
    await list.release("claimed-1", "attempt-1");
    expect(await list.claim("claimed-1", "attempt-2", 10_000)).toBe("claimed");
  });

  it("rows an older version writes after a rollback are copied too, keeping the later expiry", async () => {
    const name = `rollback-${crypto.randomUUID()}`;
    const stub = env.DENY_LIST.get(env.DENY_LIST.idFromName(name));
    const list = new DurableObjectDenyList(env.DENY_LIST, oneObject(name));
    const seconds = Math.floor(Date.now() / 1000);
    await list.add("kept", seconds + 3600);
    await list.add("extended", seconds + 600);
    expect(await list.claim("claimed", "attempt-1", 60_000)).toBe("claimed");
    const { rows, tables } = await runInDurableObject(
      stub,
      (_instance: ExpiringSetObject, state) => {
        state.storage.sql.exec(OLD_DENY_LIST_DDL);
        state.storage.sql.exec(
          "INSERT INTO revoked (jti, exp) VALUES ('kept', ?), ('extended', ?), ('claimed', ?), ('new', ?)",
          seconds + 60,
          seconds + 1200,
          seconds + 300,
          seconds + 300,
        );
        state.storage.sql.exec(
          "INSERT INTO claims (jti, owner, lease) VALUES ('kept', 'attempt-2', ?)",
          Date.now() + 60_000,
        );
        new DenyListObject(state, env);
        return snapshot(state);
      },
    );
    expect(tables).toEqual(["copied_rows", "entries"]);
    expect(rows).toEqual([
      // The logout the rolled-back version recorded wins over the claim this version held.
      { key: "claimed", exp: (seconds + 300) * 1000, owner: null },
      { key: "extended", exp: (seconds + 1200) * 1000, owner: null },
      // A recorded logout is never shortened, nor turned into a claim.
      { key: "kept", exp: (seconds + 3600) * 1000, owner: null },
      { key: "new", exp: (seconds + 300) * 1000, owner: null },
    ]);
    for (const jti of ["claimed", "extended", "kept", "new"]) {
      expect(await list.has(jti), jti).toBe(true);
    }
  });
});

describe("the replay guard's stored rows under ExpiringSetObject", () => {
  it("keeps every key held by its request's claim; a second start changes nothing", async () => {
    const guard = new DurableObjectReplayGuard(env.REPLAY_GUARD);
    const key = await callbackKey({ username: "migrate", accessToken: crypto.randomUUID() });
    // Rows of the same shard, so that one object holds them all.
    let ownerless = key;
    while (ownerless === key || shard(ownerless) !== shard(key)) {
      ownerless = await callbackKey({ username: "migrate", accessToken: crypto.randomUUID() });
    }
    const stub = env.REPLAY_GUARD.get(env.REPLAY_GUARD.idFromName(shard(key)));
    const now = Date.now();
    const { first, second } = await runInDurableObject(
      stub,
      (_instance: ExpiringSetObject, state) => {
        state.storage.sql.exec(OLD_REPLAY_DDL);
        // A request's claim, and a row from before claims had owners.
        state.storage.sql.exec(
          "INSERT INTO seen (key, exp, owner) VALUES (?, ?, 'request-1'), (?, ?, NULL)",
          key,
          now + 300_000,
          ownerless,
          now + 200_000,
        );
        new ReplayGuardObject(state, env);
        const first = snapshot(state);
        new ReplayGuardObject(state, env);
        return { first, second: snapshot(state) };
      },
    );
    const moved = (rows: Row[]) => rows.filter((row) => row.key === key || row.key === ownerless);
    expect(moved(first.rows)).toEqual(
      [
        { key, exp: now + 300_000, owner: "request-1" },
        { key: ownerless, exp: now + 200_000, owner: null },
      ].sort((a, b) => a.key.localeCompare(b.key)),
    );
    expect(first.tables).toEqual(["copied_rows", "entries"]);
    expect(first.previous.seen).toHaveLength(2);
    expect(second).toEqual(first);

    expect(await guard.claim(key, "request-2", 300_000)).toBe(false);
    expect(await guard.heldMs(key)).toBeGreaterThan(200_000);
    await guard.release(key, "request-2");
    expect(await guard.claim(key, "request-2", 300_000)).toBe(false);
    await guard.release(key, "request-1");
    expect(await guard.claim(key, "request-2", 300_000)).toBe(true);
    // The row without an owner: held until it expires, released by no one.
    expect(await guard.claim(ownerless, "request-3", 300_000)).toBe(false);
    await guard.release(ownerless, "request-3");
    expect(await guard.heldMs(ownerless)).toBeGreaterThan(100_000);
  });
});

describe("the previous version's tables, for a rollback", () => {
  it("are copied once and left as they were: what is released or written later stays in entries only", async () => {
    const stub = env.DENY_LIST.get(env.DENY_LIST.idFromName(`keep-${crypto.randomUUID()}`));
    const now = Date.now();
    const seconds = Math.floor(now / 1000);
    const { started, restarted } = await runInDurableObject(
      stub,
      async (_instance: ExpiringSetObject, state) => {
        state.storage.sql.exec(OLD_DENY_LIST_DDL);
        state.storage.sql.exec(OLD_REPLAY_DDL);
        state.storage.sql.exec(
          "INSERT INTO revoked (jti, exp) VALUES ('revoked', ?)",
          seconds + 600,
        );
        state.storage.sql.exec(
          "INSERT INTO claims (jti, owner, lease) VALUES ('claimed', 'attempt-1', ?)",
          now + 60_000,
        );
        state.storage.sql.exec(
          "INSERT INTO seen (key, exp, owner) VALUES ('seen', ?, 'request-1')",
          now + 300_000,
        );
        const object = new DenyListObject(state, env);
        const started = snapshot(state);
        // This version releases the copied claim and records a token of its own.
        object.releaseKey("claimed", "attempt-1");
        await object.recordKey("later", now + 900_000);
        // A new instance over the same storage, as after a restart or a deployment.
        new DenyListObject(state, env);
        return { started, restarted: snapshot(state) };
      },
    );
    expect(started.rows).toEqual([
      { key: "claimed", exp: now + 60_000, owner: "attempt-1" },
      { key: "revoked", exp: (seconds + 600) * 1000, owner: null },
      { key: "seen", exp: now + 300_000, owner: "request-1" },
    ]);
    expect(restarted.rows).toEqual([
      { key: "later", exp: now + 900_000, owner: null },
      { key: "revoked", exp: (seconds + 600) * 1000, owner: null },
      { key: "seen", exp: now + 300_000, owner: "request-1" },
    ]);
    // The previous version would read the rows from before the upgrade, and only those.
    const previous = {
      claims: [{ jti: "claimed", owner: "attempt-1", lease: now + 60_000 }],
      revoked: [{ jti: "revoked", exp: seconds + 600 }],
      seen: [{ key: "seen", exp: now + 300_000, owner: "request-1" }],
    };
    expect(started.previous).toEqual(previous);
    expect(restarted.previous).toEqual(previous);
    expect(await stub.claimKey("claimed", "attempt-2", 10_000)).toBe("claimed");
  });

  it("a row the previous version changed during a rollback is copied on the next start; one it left is not", async () => {
    const stub = env.DENY_LIST.get(env.DENY_LIST.idFromName(`flip-${crypto.randomUUID()}`));
    const now = Date.now();
    const seconds = Math.floor(now / 1000);
    const rows = await runInDurableObject(stub, async (_instance: ExpiringSetObject, state) => {
      const sql = state.storage.sql;
      sql.exec(OLD_DENY_LIST_DDL);
      sql.exec(
        "INSERT INTO revoked (jti, exp) VALUES ('extended', ?), ('kept', ?)",
        seconds + 600,
        seconds + 600,
      );
      sql.exec(
        "INSERT INTO claims (jti, owner, lease) VALUES ('released', 'attempt-1', ?), ('renewed', 'attempt-2', ?)",
        now + 60_000,
        now + 60_000,
      );
      const object = new DenyListObject(state, env);
      object.releaseKey("released", "attempt-1");
      // Rolled back: the previous version extends a logout, records another, renews a claim and
      // takes a new one, in its own tables.
      sql.exec("UPDATE revoked SET exp = ? WHERE jti = 'extended'", seconds + 1200);
      sql.exec("INSERT INTO revoked (jti, exp) VALUES ('during', ?)", seconds + 300);
      sql.exec("UPDATE claims SET lease = ? WHERE jti = 'renewed'", now + 120_000);
      sql.exec(
        "INSERT INTO claims (jti, owner, lease) VALUES ('taken', 'attempt-3', ?)",
        now + 90_000,
      );
      // And forward again.
      new DenyListObject(state, env);
      return snapshot(state).rows;
    });
    expect(rows).toEqual([
      { key: "during", exp: (seconds + 300) * 1000, owner: null },
      { key: "extended", exp: (seconds + 1200) * 1000, owner: null },
      { key: "kept", exp: (seconds + 600) * 1000, owner: null },
      { key: "renewed", exp: now + 120_000, owner: "attempt-2" },
      { key: "taken", exp: now + 90_000, owner: "attempt-3" },
    ]);
  });
});
