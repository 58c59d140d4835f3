// Sharded Durable Objects: the spread of keys, each key's object, the window while keys move, and the variables.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectDenyList, denyListOf } from "../src/adapters/workers/deny-list.ts";
import type { ExpiringSetObject } from "../src/adapters/workers/expiring-set.ts";
import { DurableObjectReplayGuard } from "../src/adapters/workers/replay-guard.ts";
import { keyHash, type Placement, placementOf, shardName } from "../src/adapters/workers/shards.ts";
import { workerStores } from "../src/adapters/workers/stores.ts";
import { DEFAULT_OUTBOX_POLICY } from "../src/config.ts";
import { callbackKey } from "../src/replay.ts";

const NOW_S = () => Math.floor(Date.now() / 1000);

function stubOf(namespace: DurableObjectNamespace<ExpiringSetObject>, name: string) {
  return namespace.get(namespace.idFromName(name));
}

/** The keys an object holds, expired or not. */
function keysIn(namespace: DurableObjectNamespace<ExpiringSetObject>, name: string) {
  return runInDurableObject(stubOf(namespace, name), (_instance: ExpiringSetObject, state) =>
    state.storage.sql
      .exec<{ key: string }>("SELECT key FROM entries ORDER BY key")
      .toArray()
      .map((row) => row.key),
  );
}

/** Which of a layout's N objects hold `key`. */
async function holders(
  namespace: DurableObjectNamespace<ExpiringSetObject>,
  prefix: string,
  n: number,
  key: string,
): Promise<string[]> {
  const names = Array.from({ length: n }, (_, shard) => `${prefix}-${n}-${shard}`);
  const held = await Promise.all(
    names.map(async (name) => (await keysIn(namespace, name)).includes(key)),
  );
  return names.filter((_, i) => held[i]);
}

describe("the shard of a key", () => {
  it("spreads 10,000 token ids evenly over 32, 16 and 8 shards (chi-square within bounds)", () => {
    for (const n of [8, 16, 32]) {
      for (const make of [(i: number) => `jti-${i}`, (i: number) => `${i}`]) {
        const counts = new Array<number>(n).fill(0);
        for (let i = 0; i < 10_000; i++) {
          counts[keyHash(make(i)) % n] = (counts[keyHash(make(i)) % n] ?? 0) + 1;
        }
        const expected = 10_000 / n;
        const chi = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
        // The 99.9th percentile of chi-square with n - 1 degrees of freedom is below 2n + 20 for
        // these n; a hash that piles keys up (a sum of char codes, say) is thousands.
        expect(chi, `${n} shards`).toBeLessThan(2 * n + 20);
        expect(Math.max(...counts) / Math.min(...counts)).toBeLessThan(1.5);
      }
    }
  });

  it("is stable: the same key, the same hash and name; N is in the name", () => {
    expect(keyHash("")).toBe(0x811c9dc5);
    expect(keyHash("a")).toBe(0xe40c292c);
    expect(keyHash("foobar")).toBe(0xbf9cf968);
    expect(shardName({ prefix: "fungame" }, 32, "a")).toBe(`fungame-32-${0xe40c292c % 32}`);
    expect(shardName({ prefix: "fungame" }, "legacy", "a")).toBe("fungame");
    expect(shardName({ prefix: "ebet-callback", byDigit: true }, "legacy", "c0")).toBe(
      "ebet-callback-12",
    );
  });
});

describe("every operation of a key lands on its shard", () => {
  it("deny-list: add, has, claim and release of a jti go to its one object of N", async () => {
    const prefix = `dl-${crypto.randomUUID()}`;
    const list = new DurableObjectDenyList(env.DENY_LIST, {
      prefix,
      shards: 8,
      previous: undefined,
    });
    const own = shardName({ prefix }, 8, "revoked-jti");
    await list.add("revoked-jti", NOW_S() + 600);
    expect(await holders(env.DENY_LIST, prefix, 8, "revoked-jti")).toEqual([own]);
    expect(await list.has("revoked-jti")).toBe(true);
    const claimed = shardName({ prefix }, 8, "claimed-jti");
    expect(await list.claim("claimed-jti", "attempt-1", 60_000)).toBe("claimed");
    expect(await holders(env.DENY_LIST, prefix, 8, "claimed-jti")).toEqual([claimed]);
    expect(await list.claim("claimed-jti", "attempt-2", 60_000)).toBe("pending");
    await list.release("claimed-jti", "attempt-1");
    expect(await holders(env.DENY_LIST, prefix, 8, "claimed-jti")).toEqual([]);
  });

  it("replay guard: claim, heldMs and release of a key go to its one object of N", async () => {
    const prefix = `rg-${crypto.randomUUID()}`;
    const guard = new DurableObjectReplayGuard(env.REPLAY_GUARD, {
      prefix,
      shards: 4,
      previous: undefined,
    });
    const keys = await Promise.all(
      Array.from({ length: 6 }, (_, i) => callbackKey({ username: `u${i}`, accessToken: "t" })),
    );
    for (const key of keys) expect(await guard.claim(key, "request-1", 60_000)).toBe(true);
    for (const key of keys) {
      expect(await holders(env.REPLAY_GUARD, prefix, 4, key)).toEqual([
        shardName({ prefix }, 4, key),
      ]);
      expect(await guard.heldMs(key)).toBeGreaterThan(0);
      await guard.release(key, "request-1");
      expect(await holders(env.REPLAY_GUARD, prefix, 4, key)).toEqual([]);
    }
  });
});

describe("the previous layout, read while keys move", () => {
  it("a token revoked in the legacy single object before the upgrade stays revoked after it", async () => {
    const prefix = `upgrade-${crypto.randomUUID()}`;
    const before = new DurableObjectDenyList(env.DENY_LIST, {
      prefix,
      shards: "legacy",
      previous: undefined,
    });
    await before.add("revoked-before", NOW_S() + 900);
    expect(await before.claim("in-flight", "attempt-old", 600_000)).toBe("claimed");
    // The upgraded Worker: 32 shards, the legacy object as the previous layout (the default).
    const after = new DurableObjectDenyList(env.DENY_LIST, { prefix });
    expect(await after.has("revoked-before")).toBe(true);
    expect(await after.claim("revoked-before", "attempt-new", 60_000)).toBe("revoked");
    expect(await after.claim("in-flight", "attempt-new", 60_000)).toBe("pending");
    // The claim held before the upgrade renews for its own attempt, as it did in one object.
    expect(await after.claim("in-flight", "attempt-old", 60_000)).toBe("claimed");
    // Nothing the refused claims asked for was left behind in the new shards.
    expect(await holders(env.DENY_LIST, prefix, 32, "revoked-before")).toEqual([]);
    // Writes go to both layouts while the previous one is read: a Worker of the previous version,
    // which reads only the legacy object, sees the revocation too.
    await after.add("revoked-after", NOW_S() + 900);
    expect(await keysIn(env.DENY_LIST, prefix)).toContain("revoked-after");
    expect(await before.has("revoked-after")).toBe(true);
    expect(await after.has("revoked-after")).toBe(true);
    // The attempt's release drops its claim in both layouts.
    await after.release("in-flight", "attempt-old");
    expect(await after.claim("in-flight", "attempt-3", 60_000)).toBe("claimed");
    // Without the previous layout, what only the legacy object holds is not seen.
    const later = new DurableObjectDenyList(env.DENY_LIST, { prefix, previous: undefined });
    expect(await later.has("revoked-before")).toBe(false);
  });

  it("the Worker's deny-list reads the legacy object by default; DENY_LIST_SHARDS_PREVIOUS=none stops it", async () => {
    const jti = `legacy-${crypto.randomUUID()}`;
    await new DurableObjectDenyList(env.DENY_LIST, {
      prefix: "fungame",
      shards: "legacy",
      previous: undefined,
    }).add(jti, NOW_S() + 600);
    expect(await denyListOf(env).has(jti)).toBe(true);
    expect(await denyListOf(Object.assign({}, env, { DENY_LIST_SHARDS: "8" })).has(jti)).toBe(true);
    expect(
      await denyListOf(Object.assign({}, env, { DENY_LIST_SHARDS_PREVIOUS: "none" })).has(jti),
    ).toBe(false);
  });

  it("by default the legacy layout is read for the first hour of the deployed version only", async () => {
    const jti = `window-${crypto.randomUUID()}`;
    await new DurableObjectDenyList(env.DENY_LIST, {
      prefix: "fungame",
      shards: "legacy",
      previous: undefined,
    }).add(jti, NOW_S() + 600);
    const deployedAgo = (ms: number) =>
      Object.assign({}, env, {
        CF_VERSION_METADATA: {
          id: "v",
          tag: "",
          timestamp: new Date(Date.now() - ms).toISOString(),
        },
      });
    expect(await denyListOf(deployedAgo(5 * 60_000)).has(jti)).toBe(true);
    expect(await denyListOf(deployedAgo(61 * 60_000)).has(jti)).toBe(false);
    // Named explicitly, the previous layout is read whatever the version's age.
    expect(
      await denyListOf(
        Object.assign(deployedAgo(61 * 60_000), { DENY_LIST_SHARDS_PREVIOUS: "legacy" }),
      ).has(jti),
    ).toBe(true);
  });

  it("replay keys held in the legacy 16 objects stay held after the upgrade", async () => {
    const prefix = `ebet-${crypto.randomUUID()}`;
    const legacy = { prefix, byDigit: true };
    const before = new DurableObjectReplayGuard(env.REPLAY_GUARD, {
      ...legacy,
      shards: "legacy",
      previous: undefined,
    });
    const key = await callbackKey({ username: "legacy", accessToken: crypto.randomUUID() });
    expect(await before.claim(key, "request-old", 300_000)).toBe(true);
    expect(await keysIn(env.REPLAY_GUARD, shardName(legacy, "legacy", key))).toEqual([key]);
    const after = new DurableObjectReplayGuard(env.REPLAY_GUARD, { ...legacy });
    expect(await after.claim(key, "request-new", 300_000)).toBe(false);
    expect(await after.claim(key, "request-old", 300_000)).toBe(false);
    expect(await after.heldMs(key)).toBeGreaterThan(290_000);
    expect(await holders(env.REPLAY_GUARD, prefix, 32, key)).toEqual([]);
  });

  it("N = 8 to N = 32 loses no entry: every revocation and claim of the 8 shards still answers", async () => {
    const prefix = `resize-${crypto.randomUUID()}`;
    const eight = new DurableObjectDenyList(env.DENY_LIST, {
      prefix,
      shards: 8,
      previous: undefined,
    });
    const jtis = Array.from({ length: 40 }, (_, i) => `jti-${i}`);
    for (const jti of jtis.slice(0, 30)) await eight.add(jti, NOW_S() + 600);
    for (const jti of jtis.slice(30))
      expect(await eight.claim(jti, "attempt-8", 600_000)).toBe("claimed");
    const wide = new DurableObjectDenyList(env.DENY_LIST, { prefix, shards: 32, previous: 8 });
    for (const jti of jtis.slice(0, 30)) {
      expect(await wide.has(jti), jti).toBe(true);
      expect(await wide.claim(jti, "attempt-32", 60_000), jti).toBe("revoked");
    }
    for (const jti of jtis.slice(30)) {
      expect(await wide.claim(jti, "attempt-32", 60_000), jti).toBe("pending");
    }
    // What the wide layout writes is found there, under names that no 8-shard object has, and,
    // while the 8 shards are read, in the 8-shard layout too (a Worker still on it sees it).
    await wide.add("fresh", NOW_S() + 600);
    expect(await holders(env.DENY_LIST, prefix, 32, "fresh")).toEqual([
      shardName({ prefix }, 32, "fresh"),
    ]);
    expect(await holders(env.DENY_LIST, prefix, 8, "fresh")).toEqual([
      shardName({ prefix }, 8, "fresh"),
    ]);
    const settled = new DurableObjectDenyList(env.DENY_LIST, {
      prefix,
      shards: 32,
      previous: undefined,
    });
    await settled.add("later", NOW_S() + 600);
    expect(await holders(env.DENY_LIST, prefix, 8, "later")).toEqual([]);

    const guards = [8, 32].map(
      (shards) =>
        new DurableObjectReplayGuard(env.REPLAY_GUARD, {
          prefix,
          shards,
          previous: shards === 32 ? 8 : undefined,
        }),
    );
    const key = await callbackKey({ username: "resize", accessToken: prefix });
    expect(await guards[0]?.claim(key, "request-8", 300_000)).toBe(true);
    expect(await guards[1]?.claim(key, "request-32", 300_000)).toBe(false);
    expect(await guards[1]?.heldMs(key)).toBeGreaterThan(0);
  });

  it("claims of a Worker of the previous version and of this one exclude each other, both ways", async () => {
    const prefix = `rollout-${crypto.randomUUID()}`;
    const old = new DurableObjectDenyList(env.DENY_LIST, {
      prefix,
      shards: "legacy",
      previous: undefined,
    });
    const now = new DurableObjectDenyList(env.DENY_LIST, { prefix });
    // This version first: the previous version's claim meets it in the legacy object.
    expect(await now.claim("t1", "attempt-new", 60_000)).toBe("claimed");
    expect(await old.claim("t1", "attempt-old", 60_000)).toBe("pending");
    // The previous version first: this version's claim meets it.
    expect(await old.claim("t2", "attempt-old", 60_000)).toBe("claimed");
    expect(await now.claim("t2", "attempt-new", 60_000)).toBe("pending");
    // A release frees both layouts, and a record is seen by both versions.
    await now.release("t1", "attempt-new");
    expect(await old.claim("t1", "attempt-old", 60_000)).toBe("claimed");
    await old.release("t1", "attempt-old");
    expect(await now.claim("t1", "attempt-new", 60_000)).toBe("claimed");
    await now.add("t1", NOW_S() + 600);
    expect(await old.claim("t1", "attempt-old", 60_000)).toBe("revoked");
  });

  it("a claim that fails in the current layout leaves nothing held in the previous one", async () => {
    const prefix = `half-${crypto.randomUUID()}`;
    const broken = new Proxy({}, { get: () => () => Promise.reject(new Error("shard down")) });
    const namespace = {
      idFromName: (name: string) => name,
      get: (name: string) => (name === prefix ? stubOf(env.DENY_LIST, name) : broken),
    } as unknown as DurableObjectNamespace<ExpiringSetObject>;
    const list = new DurableObjectDenyList(namespace, { prefix });
    await expect(list.claim("t", "attempt-1", 60_000)).rejects.toThrow("shard down");
    const legacy = new DurableObjectDenyList(env.DENY_LIST, {
      prefix,
      shards: "legacy",
      previous: undefined,
    });
    expect(await legacy.claim("t", "attempt-2", 60_000)).toBe("claimed");
  });

  it("an answer of the previous layout's object it does not know is an error, never a claim", async () => {
    // The current layout's objects are real; the legacy one answers in another version's words.
    const other = new Proxy({}, { get: () => () => Promise.resolve("pending") });
    const namespace = {
      idFromName: (name: string) => name,
      get: (name: string) => (name === "other-version" ? other : stubOf(env.DENY_LIST, name)),
    } as unknown as DurableObjectNamespace<ExpiringSetObject>;
    const list = new DurableObjectDenyList(namespace, { prefix: "other-version" });
    await expect(list.claim("jti", "attempt", 10_000)).rejects.toThrow(TypeError);
    await expect(list.has("jti")).rejects.toThrow(TypeError);
  });
});

describe("where the objects are placed", () => {
  it("passes locationHint to get() and opens the jurisdiction's namespace before idFromName", () => {
    const calls: unknown[][] = [];
    const namespace = {
      jurisdiction(name: string) {
        calls.push(["jurisdiction", name]);
        return namespace;
      },
      idFromName(name: string) {
        calls.push(["idFromName", name]);
        return name;
      },
      get(id: string, options?: unknown) {
        calls.push(["get", id, options]);
        return { hasRecorded: () => Promise.resolve(false) };
      },
    } as unknown as DurableObjectNamespace<ExpiringSetObject>;
    const placement: Partial<Placement> = { locationHint: "weur", jurisdiction: "eu" };
    void new DurableObjectDenyList(namespace, placement).has("a");
    const shard = shardName({ prefix: "fungame" }, 32, "a");
    expect(calls).toEqual([
      ["jurisdiction", "eu"],
      ["idFromName", shard],
      ["get", shard, { locationHint: "weur" }],
      // The legacy object was made without a jurisdiction: it is found without one.
      ["idFromName", "fungame"],
      ["get", "fungame", { locationHint: "weur" }],
    ]);
  });

  it("a real binding takes the location hint; workerd refuses a jurisdiction (it cannot emulate one)", async () => {
    const prefix = `placed-${crypto.randomUUID()}`;
    const list = new DurableObjectDenyList(env.DENY_LIST, { prefix, locationHint: "weur" });
    await list.add("placed", NOW_S() + 600);
    expect(await list.has("placed")).toBe(true);
    expect(await holders(env.DENY_LIST, prefix, 32, "placed")).toEqual([
      shardName({ prefix }, 32, "placed"),
    ]);
    const eu = new DurableObjectDenyList(env.DENY_LIST, { prefix, jurisdiction: "eu" });
    await expect(eu.add("placed", NOW_S() + 600)).rejects.toThrow(/not implemented in workerd/);
  });
});

describe("the shard variables", () => {
  it("default to 32 shards with the legacy layout read, and no placement", () => {
    expect(placementOf({}, "DENY_LIST")).toEqual({
      placement: {
        prefix: "fungame",
        byDigit: false,
        shards: 32,
        previous: "legacy",
        locationHint: undefined,
        jurisdiction: undefined,
      },
      issues: [],
    });
    const { placement } = placementOf(
      {
        REPLAY_GUARD_SHARDS: 64,
        REPLAY_GUARD_SHARDS_PREVIOUS: " 16 ",
        DURABLE_OBJECT_LOCATION_HINT: "apac",
        DURABLE_OBJECT_JURISDICTION: "fedramp",
      },
      "REPLAY_GUARD",
    );
    expect(placement).toMatchObject({
      prefix: "ebet-callback",
      shards: 64,
      previous: 16,
      locationHint: "apac",
      jurisdiction: "fedramp",
    });
    expect(placementOf({ DENY_LIST_SHARDS_PREVIOUS: "none" }, "DENY_LIST").placement.previous).toBe(
      undefined,
    );
  });

  it("name every invalid variable, once, and the Worker refuses to start", () => {
    const bad = {
      DENY_LIST_SHARDS: "0",
      DENY_LIST_SHARDS_PREVIOUS: "old",
      REPLAY_GUARD_SHARDS: "1025",
      REPLAY_GUARD_SHARDS_PREVIOUS: "x1",
      DURABLE_OBJECT_LOCATION_HINT: "mars",
      DURABLE_OBJECT_JURISDICTION: "moon",
    };
    const { issues } = workerStores(
      { ...env, ...bad },
      { outbox: DEFAULT_OUTBOX_POLICY, rateLimit: undefined },
    );
    expect(issues.map((issue) => issue.name)).toEqual([
      "DENY_LIST_SHARDS",
      "DENY_LIST_SHARDS_PREVIOUS",
      "DURABLE_OBJECT_LOCATION_HINT",
      "DURABLE_OBJECT_JURISDICTION",
      "REPLAY_GUARD_SHARDS",
      "REPLAY_GUARD_SHARDS_PREVIOUS",
    ]);
    expect(issues[0]?.message).toBe("must be a whole number from 1 to 1024");
    expect(issues[1]?.message).toBe('must be "legacy", "none" or a whole number from 1 to 1024');
    expect(issues[2]?.message).toContain("wnam");
    expect(issues[3]?.message).toContain("eu");
    // 32 is REPLAY_GUARD_SHARDS' default: the same layout twice is refused.
    expect(placementOf({ REPLAY_GUARD_SHARDS_PREVIOUS: "32" }, "REPLAY_GUARD").issues).toEqual([
      { name: "REPLAY_GUARD_SHARDS_PREVIOUS", message: "must differ from REPLAY_GUARD_SHARDS" },
    ]);
    for (const value of ["1.5", "-1", "0x10", "32 shards", "", "legacy"]) {
      const found = placementOf({ DENY_LIST_SHARDS: value }, "DENY_LIST").issues;
      expect(
        found.map((issue) => issue.name),
        value,
      ).toEqual(value === "" ? [] : ["DENY_LIST_SHARDS"]);
    }
    expect(() => denyListOf(Object.assign({}, env, { DENY_LIST_SHARDS: "2000" }))).toThrow(
      /DENY_LIST_SHARDS/,
    );
  });
});
