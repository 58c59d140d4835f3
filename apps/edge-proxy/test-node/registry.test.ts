// The session registry against its engines: in memory, SQLite through node:sqlite on a file, and a
// PostgreSQL 18 server this file starts; adds, takes, owners, expiry, limits, races, sealing at rest.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type PostgresServer, startPostgres } from "../../../tooling/postgres/server.mjs";
import { MemorySessionRegistry } from "../src/adapters/memory/registry.ts";
import { createSchema, type SqlDriver } from "../src/adapters/sql/driver.ts";
import { openNodeSqlite } from "../src/adapters/sql/node-sqlite.ts";
import { type PostgresClient, postgresDriver } from "../src/adapters/sql/postgres.ts";
import { SqlSessionRegistry } from "../src/adapters/sql/registry.ts";
import { importSealingKeys, SealError, type SealingKeys } from "../src/sealed.ts";
import {
  REGISTRATION_ID,
  type Registration,
  RegistryFull,
  type RegistryLimits,
  type RegistryOptions,
  type SessionRegistry,
  subjectKeyOf,
} from "../src/universal-logout/registry.ts";

const K1 = `k1:${randomBytes(32).toString("base64")}`;
const K2 = `k2:${randomBytes(32).toString("base64")}`;
/** Another key under the id k1: what a process with the wrong secret holds. */
const K1_WRONG = `k1:${randomBytes(32).toString("base64")}`;

async function keys(value: string): Promise<SealingKeys> {
  const imported = await importSealingKeys(value, "PROXY_STORE_KEYS");
  if ("message" in imported) throw new Error(imported.message);
  return imported;
}

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;
const LIMITS: RegistryLimits = { maxPerSubject: 4, maxLifetimeMs: 24 * HOUR };
const ISSUER = "https://idp.example.com";
const OTHER_ISSUER = "https://other-idp.example.com";
const OWNER = "ab".repeat(32);
const OTHER_OWNER = "cd".repeat(32);

/** A clock the test moves. */
function clock(start = T0) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** A registration of `subject` whose vendor token is unique to it (to look for at rest). */
function entry(subject: string, extra: Partial<Omit<Registration, "id" | "createdAt">> = {}) {
  return {
    issuer: ISSUER,
    subject,
    sid: undefined,
    owner: OWNER,
    expiresAt: T0 + HOUR,
    members: { lancens: { token: `lancens-token-${subject}-${randomBytes(6).toString("hex")}` } },
    ...extra,
  };
}

const ids = (taken: readonly Registration[]) => taken.map((registration) => registration.id).sort();

/** An engine: a fresh store, registries on it (each another connection where there are any). */
interface Engine {
  name: string;
  fresh(): Promise<{
    registry: (options: RegistryOptions) => Promise<SessionRegistry>;
    /** Every stored row as text, read past the registry; undefined in memory. */
    rows?: () => Promise<string[]>;
    /** A connection of its own to the database; undefined in memory. */
    db?: SqlDriver;
  }>;
}

let folder: string;
let files = 0;
let server: PostgresServer | undefined;
let databases = 0;
const open: SqlDriver[] = [];

afterEach(async () => {
  for (const db of open.splice(0)) await db.close().catch(() => {});
});

/** A SQL engine whose registries each get their own connection to one fresh database. */
function sqlEngine(name: string, connector: () => Promise<() => Promise<SqlDriver>>): Engine {
  return {
    name,
    async fresh() {
      const connect = await connector();
      const connectWithSchema = async () => {
        const db = await connect();
        open.push(db);
        await createSchema(db);
        return db;
      };
      const reader = await connectWithSchema();
      return {
        db: reader,
        registry: async (options) => new SqlSessionRegistry(await connectWithSchema(), options),
        rows: async () =>
          (await reader.all("SELECT * FROM edge_proxy_sessions")).map((row) => JSON.stringify(row)),
      };
    },
  };
}

const memory: Engine = {
  name: "memory",
  async fresh() {
    let shared: MemorySessionRegistry | undefined;
    return {
      // One process: every registry asked for is the same one, as its maps are.
      registry: async (options) => {
        shared ??= new MemorySessionRegistry(options);
        return shared;
      },
    };
  },
};

const sqlite = sqlEngine("SQLite (node:sqlite)", async () => {
  const file = join(folder, `registry-${++files}.db`);
  return () => openNodeSqlite(file);
});

const pg = sqlEngine("PostgreSQL 18", async () => {
  const admin = postgres((server as PostgresServer).url, { max: 1, onnotice: () => {} });
  const name = `registry_${++databases}`;
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL((server as PostgresServer).url);
  url.pathname = `/${name}`;
  return async () => {
    const client = postgres(url.href, { max: 4, onnotice: () => {} });
    return postgresDriver(client as unknown as PostgresClient, url.href);
  };
});

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "edge-proxy-registry-"));
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
  await rm(folder, { recursive: true, force: true });
});

describe.each([memory, sqlite, pg])("the session registry on $name", (engine) => {
  async function setup(limits = LIMITS) {
    const store = await engine.fresh();
    const time = clock();
    const errors: unknown[] = [];
    const options: RegistryOptions = {
      sealing: await keys(K1),
      limits,
      now: time.now,
      onError: (error) => errors.push(error),
    };
    return {
      ...store,
      time,
      errors,
      options,
      registry: await store.registry(options),
      /** Another registry on the same store (another connection), with these or other options. */
      another: (other = options) => store.registry(other),
    };
  }

  it("adds a registration with a ses_ id and gives it back, once, to a take of its subject", async () => {
    const { registry, errors } = await setup();
    const added = entry("alice", { sid: "sid-1" });
    const { id, expiresAt } = await registry.add(added);
    expect(id).toMatch(REGISTRATION_ID);
    expect(expiresAt).toBe(added.expiresAt);
    const other = await registry.add(entry("alice"));
    expect(other.id).not.toBe(id);
    expect(await registry.takeSubject(ISSUER, "bob")).toEqual([]);
    expect(await registry.takeSubject(OTHER_ISSUER, "alice")).toEqual([]);
    const taken = await registry.takeSubject(ISSUER, "alice");
    expect(ids(taken)).toEqual([id, other.id].sort());
    expect(taken.find((registration) => registration.id === id)).toEqual({
      ...added,
      id,
      createdAt: T0,
    });
    expect(taken.find((registration) => registration.id === other.id)?.sid).toBeUndefined();
    expect(await registry.takeSubject(ISSUER, "alice")).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("takes only the sid's registrations of a subject when a sid is given", async () => {
    const { registry } = await setup();
    const one = await registry.add(entry("alice", { sid: "sid-1" }));
    const two = await registry.add(entry("alice", { sid: "sid-2" }));
    const bare = await registry.add(entry("alice"));
    // The same sid under another subject is not this subject's session.
    const bobs = await registry.add(entry("bob", { sid: "sid-1" }));
    expect(ids(await registry.takeSubject(ISSUER, "alice", "sid-1"))).toEqual([one.id]);
    expect(await registry.takeSubject(ISSUER, "alice", "sid-1")).toEqual([]);
    expect(ids(await registry.takeSubject(ISSUER, "alice"))).toEqual([two.id, bare.id].sort());
    expect(ids(await registry.takeSubject(ISSUER, "bob"))).toEqual([bobs.id]);
  });

  it("takes a provider session by its sid alone, of that issuer only", async () => {
    const { registry } = await setup();
    const mine = await registry.add(entry("alice", { sid: "sid-1" }));
    const kept = await registry.add(entry("alice", { sid: "sid-2" }));
    const elsewhere = await registry.add(entry("alice", { issuer: OTHER_ISSUER, sid: "sid-1" }));
    const taken = await registry.takeSession(ISSUER, "sid-1");
    expect(ids(taken)).toEqual([mine.id]);
    expect(taken[0]?.subject).toBe("alice");
    expect(await registry.takeSession(ISSUER, "sid-1")).toEqual([]);
    expect(ids(await registry.takeSubject(ISSUER, "alice"))).toEqual([kept.id]);
    expect(ids(await registry.takeSession(OTHER_ISSUER, "sid-1"))).toEqual([elsewhere.id]);
  });

  it("removes a registration for its owner only; one without an owner for any caller", async () => {
    const { registry } = await setup();
    const { id } = await registry.add(entry("alice"));
    expect(await registry.remove(id, OTHER_OWNER)).toBe(false);
    expect(await registry.remove(id, null)).toBe(false);
    expect(await registry.remove(`ses_${"A".repeat(43)}`, OWNER)).toBe(false);
    expect(await registry.remove(id, OWNER)).toBe(true);
    expect(await registry.remove(id, OWNER)).toBe(false);
    const unowned = await registry.add(entry("alice", { owner: null }));
    const kept = await registry.add(entry("alice"));
    expect(await registry.remove(unowned.id, OTHER_OWNER)).toBe(true);
    expect(ids(await registry.takeSubject(ISSUER, "alice"))).toEqual([kept.id]);
  });

  it("never returns an expired registration, nor removes one, and brings a late expiry forward", async () => {
    const { registry, time } = await setup();
    const short = await registry.add(entry("alice", { expiresAt: T0 + 1_000, sid: "sid-1" }));
    const long = await registry.add(entry("alice", { expiresAt: T0 + 2_000 }));
    const capped = await registry.add(entry("alice", { expiresAt: T0 + 48 * HOUR }));
    expect(capped.expiresAt).toBe(T0 + LIMITS.maxLifetimeMs);
    time.advance(1_000);
    expect(await registry.remove(short.id, OWNER)).toBe(false);
    expect(await registry.takeSession(ISSUER, "sid-1")).toEqual([]);
    time.advance(999);
    const taken = await registry.takeSubject(ISSUER, "alice");
    expect(ids(taken)).toEqual([long.id, capped.id].sort());
    expect(taken.find((registration) => registration.id === capped.id)?.expiresAt).toBe(
      T0 + LIMITS.maxLifetimeMs,
    );
  });

  it("refuses a subject's registration beyond the limit, naming it; expired and taken ones free slots", async () => {
    const { registry, time } = await setup();
    await registry.add(entry("alice", { expiresAt: T0 + 1_000 }));
    for (let i = 0; i < 3; i++) await registry.add(entry("alice"));
    const refusal = await registry.add(entry("alice")).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RegistryFull);
    expect((refusal as RegistryFull).limit).toBe(4);
    expect((refusal as RegistryFull).init).toMatchObject({
      kind: "conflict",
      code: "REGISTRY_FULL",
      extensions: { limit: "maxPerSubject", max: 4 },
    });
    // Another subject, and the same subject at another issuer, have their own slots.
    await registry.add(entry("bob"));
    await registry.add(entry("alice", { issuer: OTHER_ISSUER }));
    time.advance(1_000);
    await registry.add(entry("alice"));
    await expect(registry.add(entry("alice"))).rejects.toBeInstanceOf(RegistryFull);
    expect(await registry.takeSubject(ISSUER, "alice")).toHaveLength(4);
    await registry.add(entry("alice"));
  });

  it("gives each registering caller slots of its own in a subject, and caps the subject at 256", async () => {
    const { registry } = await setup();
    for (let i = 0; i < 4; i++) await registry.add(entry("alice"));
    await expect(registry.add(entry("alice"))).rejects.toBeInstanceOf(RegistryFull);
    // Another caller is not held back by the first one's registrations, nor is a caller without one.
    for (let i = 0; i < 4; i++) await registry.add(entry("alice", { owner: "another-owner" }));
    await registry.add(entry("alice", { owner: null }));
    expect(await registry.takeSubject(ISSUER, "alice")).toHaveLength(9);

    const { registry: wide } = await setup({ maxPerSubject: 256, maxLifetimeMs: HOUR });
    for (let i = 0; i < 200; i++) await wide.add(entry("bob"));
    for (let i = 0; i < 56; i++) await wide.add(entry("bob", { owner: "second-owner" }));
    const refusal = await wide
      .add(entry("bob", { owner: "third-owner" }))
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RegistryFull);
    expect((refusal as RegistryFull).init.extensions).toEqual({ limit: "subjectTotal", max: 256 });
    expect(await wide.takeSubject(ISSUER, "bob")).toHaveLength(256);
  });

  it("lets adds at once from three connections never pass the limit", async () => {
    const { registry, another } = await setup();
    const registries = [registry, await another(), await another()];
    // Rounds of many adds at once, so that statements of several transactions interleave.
    for (const subject of ["alice", "bob", "carol"]) {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) => registries[i % 3]?.add(entry(subject))),
      );
      const added = outcomes.filter((outcome) => outcome.status === "fulfilled");
      const refused = outcomes.filter((outcome) => outcome.status === "rejected");
      expect(added).toHaveLength(LIMITS.maxPerSubject);
      for (const outcome of refused) expect(outcome.reason).toBeInstanceOf(RegistryFull);
      expect(await registry.takeSubject(ISSUER, subject)).toHaveLength(LIMITS.maxPerSubject);
    }
  });

  it("gives each registration to one of two takes at once", async () => {
    const { registry, another } = await setup({ maxPerSubject: 64, maxLifetimeMs: HOUR });
    const second = await another();
    const added: string[] = [];
    for (let i = 0; i < 40; i++) {
      added.push((await registry.add(entry("alice", { sid: `sid-${i % 2}` }))).id);
    }
    const takes = await Promise.all([
      registry.takeSubject(ISSUER, "alice"),
      second.takeSubject(ISSUER, "alice"),
      registry.takeSession(ISSUER, "sid-0"),
      second.takeSession(ISSUER, "sid-1"),
      second.takeSubject(ISSUER, "alice", "sid-0"),
    ]);
    const taken = takes.flatMap(ids);
    expect(taken.sort()).toEqual(added.sort());
  });

  it("checks what it is given, naming the field", async () => {
    const { registry } = await setup();
    const cases: [Partial<Omit<Registration, "id" | "createdAt">>, string][] = [
      [{ issuer: "" }, "issuer"],
      [{ subject: "" }, "subject"],
      [{ subject: undefined as unknown as string }, "subject"],
      [{ sid: "" }, "sid"],
      [{ owner: "" }, "owner"],
      [{ expiresAt: T0 }, "expiresAt"],
      [{ expiresAt: T0 + 0.5 }, "expiresAt"],
      [{ members: [] as unknown as Record<string, unknown> }, "members"],
      [{ members: null as unknown as Record<string, unknown> }, "members"],
    ];
    for (const [bad, field] of cases) {
      await expect(registry.add(entry("alice", bad)), field).rejects.toThrow(
        new RegExp(`^${field}: `),
      );
    }
    await expect(registry.takeSubject(ISSUER, "")).rejects.toThrow(/^subject: /);
    await expect(registry.takeSession("", "sid-1")).rejects.toThrow(/^issuer: /);
    await expect(registry.takeSession(ISSUER, "x".repeat(1025))).rejects.toThrow(/^sid: /);
    expect(await registry.takeSubject(ISSUER, "alice")).toEqual([]);
  });
});

describe.each([memory, sqlite, pg])("the session registry's limits on $name", (engine) => {
  it("are checked when the registry is made, naming the field", async () => {
    const store = await engine.fresh();
    const sealing = await keys(K1);
    await expect(
      store.registry({ sealing, limits: { ...LIMITS, maxPerSubject: 0 } }),
    ).rejects.toThrow(/^maxPerSubject: /);
    await expect(
      store.registry({ sealing, limits: { ...LIMITS, maxPerSubject: 257 } }),
    ).rejects.toThrow(/^maxPerSubject: /);
    await expect(
      store.registry({ sealing, limits: { ...LIMITS, maxLifetimeMs: 0 } }),
    ).rejects.toThrow(/^maxLifetimeMs: /);
  });
});

describe.each([sqlite, pg])("the session registry's rows on $name", (engine) => {
  it("hold no vendor token, subject, sid or issuer in clear, and open under no other key", async () => {
    const store = await engine.fresh();
    const errors: unknown[] = [];
    const registry = await store.registry({
      sealing: await keys(K1),
      limits: LIMITS,
      now: () => T0,
    });
    const added = entry("alice@example.com", { sid: "provider-session-42" });
    const { id } = await registry.add(added);
    const rows = await (store.rows as () => Promise<string[]>)();
    expect(rows).toHaveLength(1);
    const token = (added.members.lancens as { token: string }).token;
    for (const secret of [token, "lancens", "alice@example.com", "provider-session-42", ISSUER]) {
      expect(rows[0]).not.toContain(secret);
    }
    expect(rows[0]).toContain(id);
    const stranger = await store.registry({
      sealing: await keys(K1_WRONG),
      limits: LIMITS,
      now: () => T0,
      onError: (error) => errors.push(error),
    });
    // The wrong key finds the row by its digests but cannot open it: reported, never returned.
    expect(await stranger.takeSubject(ISSUER, "alice@example.com")).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SealError);
    expect(String(errors[0])).not.toContain(token);
  });

  it("are purged once expired, and only then", async () => {
    const store = await engine.fresh();
    const time = clock();
    const registry = new SqlSessionRegistry(store.db as SqlDriver, {
      sealing: await keys(K1),
      limits: LIMITS,
      now: time.now,
    });
    await registry.add(entry("alice", { expiresAt: T0 + 1_000 }));
    const kept = await registry.add(entry("bob", { expiresAt: T0 + 2_000 }));
    time.advance(999);
    expect(await registry.purge()).toBe(0);
    time.advance(1);
    expect(await registry.purge()).toBe(1);
    expect(await (store.rows as () => Promise<string[]>)()).toHaveLength(1);
    expect(ids(await registry.takeSubject(ISSUER, "bob"))).toEqual([kept.id]);
  });

  it("open when sealed under an older key of the ring", async () => {
    const store = await engine.fresh();
    const registry = await store.registry({
      sealing: await keys(K1),
      limits: LIMITS,
      now: () => T0,
    });
    const { id } = await registry.add(entry("alice"));
    const rotated = await store.registry({
      sealing: await keys(`${K2},${K1}`),
      limits: LIMITS,
      now: () => T0,
    });
    expect(ids(await rotated.takeSubject(ISSUER, "alice"))).toEqual([id]);
  });

  it("are not opened when moved to another subject's partition", async () => {
    const store = await engine.fresh();
    const errors: unknown[] = [];
    const options: RegistryOptions = {
      sealing: await keys(K1),
      limits: LIMITS,
      now: () => T0,
      onError: (error) => errors.push(error),
    };
    const registry = await store.registry(options);
    await registry.add(entry("alice"));
    await (store.db as SqlDriver).run("UPDATE edge_proxy_sessions SET subject_key = ?", [
      await subjectKeyOf(ISSUER, "mallory"),
    ]);
    expect(await registry.takeSubject(ISSUER, "mallory")).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SealError);
  });
});
