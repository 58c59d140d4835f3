// The one Durable Object of the deny-list and the replay guard: claims, records, releases, expiry, bad input.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectDenyList } from "../src/adapters/workers/deny-list.ts";
import type { ExpiringSetObject } from "../src/adapters/workers/expiring-set.ts";
import { DurableObjectReplayGuard } from "../src/adapters/workers/replay-guard.ts";
import { shardName } from "../src/adapters/workers/shards.ts";
import { callbackKey } from "../src/replay.ts";
import { oneObject } from "./harness.ts";

const HOUR_MS = 3_600_000;

/** An object of its own for one test. */
function freshObject(): DurableObjectStub<ExpiringSetObject> {
  return env.DENY_LIST.get(env.DENY_LIST.idFromName(`set-${crypto.randomUUID()}`));
}

/** The rows of an object, for comparing what a call left. */
function rowsOf(stub: DurableObjectStub<ExpiringSetObject>) {
  return runInDurableObject(stub, (_instance: ExpiringSetObject, state) =>
    state.storage.sql
      .exec<{ key: string; exp: number; owner: string | null }>(
        "SELECT key, exp, owner FROM entries ORDER BY key",
      )
      .toArray(),
  );
}

/** A fresh replay key, the guard, and the object that holds the key. */
async function replayKey() {
  const key = await callbackKey({ username: "set", accessToken: crypto.randomUUID() });
  return {
    key,
    guard: new DurableObjectReplayGuard(env.REPLAY_GUARD),
    stub: env.REPLAY_GUARD.get(
      env.REPLAY_GUARD.idFromName(shardName({ prefix: "ebet-callback" }, 32, key)),
    ),
  };
}

/** A namespace whose one object answers every call with `answer`, as another version's might. */
function answering(answer: unknown): DurableObjectNamespace<ExpiringSetObject> {
  const object = new Proxy({}, { get: () => () => Promise.resolve(answer) });
  return {
    idFromName: (name: string) => name,
    get: () => object,
  } as unknown as DurableObjectNamespace<ExpiringSetObject>;
}

/** A namespace whose one object has only `methods`, as the previous version's objects had. */
function offering(methods: Record<string, unknown>): DurableObjectNamespace<ExpiringSetObject> {
  const object = Object.fromEntries(
    Object.entries(methods).map(([name, answer]) => [name, () => Promise.resolve(answer)]),
  );
  return {
    idFromName: (name: string) => name,
    get: () => object,
  } as unknown as DurableObjectNamespace<ExpiringSetObject>;
}

/** Whether a call was refused (an error) rather than answered. */
async function refused(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
  } catch {
    return true;
  }
  return false;
}

describe("ExpiringSetObject", () => {
  it("answers claimed, held or recorded; renews its owner's lease or refuses it, as asked", async () => {
    const stub = freshObject();
    expect(await stub.claimKey("k", "a", 10_000)).toBe("claimed");
    expect(await stub.claimKey("k", "b", 10_000)).toBe("held");
    const [first] = await rowsOf(stub);
    // The same owner: "refuse" leaves the claim as it was, "renew" starts its lease again.
    expect(await stub.claimKey("k", "a", HOUR_MS, "refuse")).toBe("held");
    expect(await rowsOf(stub)).toEqual([first]);
    expect(await stub.claimKey("k", "a", HOUR_MS, "renew")).toBe("claimed");
    const [renewed] = await rowsOf(stub);
    expect(renewed?.owner).toBe("a");
    expect(renewed?.exp).toBeGreaterThan((first?.exp ?? 0) + 60_000);
    await stub.recordKey("k", Date.now() + 60_000);
    expect(await stub.claimKey("k", "a", 10_000)).toBe("recorded");
    expect(await stub.claimKey("k", "b", 10_000, "refuse")).toBe("recorded");
  });

  it("reports recorded keys only, and how long any key is held", async () => {
    const stub = freshObject();
    expect(await stub.claimKey("claimed", "a", 60_000)).toBe("claimed");
    expect(await stub.hasRecorded("claimed")).toBe(false);
    expect(await stub.keyHeldMs("claimed")).toBeGreaterThan(0);
    expect(await stub.keyHeldMs("claimed")).toBeLessThanOrEqual(60_000);
    await stub.recordKey("recorded", Date.now() + 120_000);
    expect(await stub.hasRecorded("recorded")).toBe(true);
    expect(await stub.keyHeldMs("recorded")).toBeGreaterThan(60_000);
    expect(await stub.hasRecorded("free")).toBe(false);
    expect(await stub.keyHeldMs("free")).toBe(0);
  });

  it("a record keeps the later expiry and drops the claim; one already past stores nothing", async () => {
    const stub = freshObject();
    const until = Date.now() + 600_000;
    expect(await stub.claimKey("k", "a", 10_000)).toBe("claimed");
    await stub.recordKey("k", until);
    await stub.recordKey("k", until - 500_000);
    expect(await rowsOf(stub)).toEqual([{ key: "k", exp: until, owner: null }]);
    expect(await stub.claimKey("gone", "a", 10_000)).toBe("claimed");
    await stub.recordKey("gone", Date.now() - 1);
    expect(await stub.hasRecorded("gone")).toBe(false);
    expect(await rowsOf(stub)).toEqual([{ key: "k", exp: until, owner: null }]);
  });

  it("a release by anyone but the claim's owner does nothing, and no release drops a record", async () => {
    const stub = freshObject();
    expect(await stub.claimKey("k", "owner", 60_000)).toBe("claimed");
    const before = await rowsOf(stub);
    await stub.releaseKey("k", "someone-else");
    expect(await rowsOf(stub)).toEqual(before);
    expect(await stub.claimKey("k", "someone-else", 60_000)).toBe("held");
    await stub.releaseKey("k", "owner");
    expect(await rowsOf(stub)).toEqual([]);
    await stub.recordKey("r", Date.now() + 60_000);
    await stub.releaseKey("r", "owner");
    expect(await stub.hasRecorded("r")).toBe(true);
  });

  it("of many concurrent claims of one key, exactly one wins", async () => {
    const stub = freshObject();
    const owners = Array.from({ length: 12 }, (_, i) => `owner-${i}`);
    const answers = await Promise.all(owners.map((owner) => stub.claimKey("race", owner, 60_000)));
    expect(answers.filter((answer) => answer === "claimed")).toHaveLength(1);
    expect(answers.filter((answer) => answer === "held")).toHaveLength(owners.length - 1);
    const winner = owners[answers.indexOf("claimed")];
    expect(await rowsOf(stub)).toEqual([{ key: "race", exp: expect.any(Number), owner: winner }]);
  });

  it("its alarm deletes what expired and is set again for the earliest key left", async () => {
    const stub = freshObject();
    await stub.recordKey("record", Date.now() + 60_000);
    expect(await stub.claimKey("claim", "a", HOUR_MS)).toBe("claimed");
    const [claim] = (await rowsOf(stub)).filter((row) => row.key === "claim");
    const alarmOf = () =>
      runInDurableObject(stub, (_i: ExpiringSetObject, state) => state.storage.getAlarm());
    expect(await alarmOf()).toBeLessThanOrEqual(Date.now() + 60_000);
    // Time passes for the record.
    await runInDurableObject(stub, (_i: ExpiringSetObject, state) => {
      state.storage.sql.exec("UPDATE entries SET exp = ? WHERE key = 'record'", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await rowsOf(stub)).toEqual([claim]);
    expect(await alarmOf()).toBe(claim?.exp);
    // And for the claim: nothing is left, and no alarm.
    await runInDurableObject(stub, (_i: ExpiringSetObject, state) => {
      state.storage.sql.exec("UPDATE entries SET exp = ?", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, (instance: ExpiringSetObject) => instance.size())).toBe(
      0,
    );
    expect(await alarmOf()).toBeNull();
  });

  it("refuses bad input, naming the argument", async () => {
    const stub = freshObject();
    // Awaited here: an RPC call's promise is read once, as a plain promise.
    const refusal = async (call: PromiseLike<unknown>) => {
      try {
        await call;
      } catch (error) {
        return error instanceof TypeError ? error.message : String(error);
      }
      return "accepted";
    };
    expect(await refusal(stub.claimKey("", "a", 1000))).toMatch(/^key:/);
    expect(await refusal(stub.claimKey("x".repeat(257), "a", 1000))).toMatch(/^key:/);
    expect(await refusal(stub.claimKey("k", "", 1000))).toMatch(/^owner:/);
    expect(await refusal(stub.claimKey("k", "x".repeat(129), 1000))).toMatch(/^owner:/);
    for (const lease of [0, 1.5, Number.NaN, HOUR_MS + 1]) {
      expect(await refusal(stub.claimKey("k", "a", lease))).toMatch(/^leaseMs:/);
    }
    expect(await refusal(stub.claimKey("k", "a", 1000, "steal" as "renew"))).toMatch(/^reclaim:/);
    expect(await refusal(stub.recordKey("k", Date.now() + 2 * 86_400_000))).toMatch(/^untilMs:/);
    expect(await refusal(stub.recordKey("k", 1.5))).toMatch(/^untilMs:/);
    expect(await refusal(stub.releaseKey("k", ""))).toMatch(/^owner:/);
    expect(await refusal(stub.claimKey("k", "a", HOUR_MS))).toBe("accepted");
    expect(await stub.size()).toBe(1);
  });
});

describe("the two adapters over ExpiringSetObject", () => {
  it("deny-list: of concurrent claims of a token by different attempts one is claimed, the others pending", async () => {
    const name = `race-${crypto.randomUUID()}`;
    // Two isolates' deny-lists, one object.
    const lists = [
      new DurableObjectDenyList(env.DENY_LIST, oneObject(name)),
      new DurableObjectDenyList(env.DENY_LIST, oneObject(name)),
    ];
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (lists[i % 2] as DurableObjectDenyList).claim("jti", `attempt-${i}`, 60_000),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === "claimed")).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === "pending")).toHaveLength(7);
    // A non-owner's release leaves the claim.
    const winner = `attempt-${outcomes.indexOf("claimed")}`;
    await lists[0]?.release("jti", winner === "attempt-0" ? "attempt-1" : "attempt-0");
    expect(await lists[1]?.claim("jti", "late", 60_000)).toBe("pending");
    await lists[1]?.release("jti", winner);
    expect(await lists[0]?.claim("jti", "late", 60_000)).toBe("claimed");
  });

  it("replay guard: of concurrent claims of a key one wins; its own owner cannot claim it again", async () => {
    const { key, guard, stub } = await replayKey();
    const won = await Promise.all(
      Array.from({ length: 8 }, (_, i) => guard.claim(key, `request-${i}`, 300_000)),
    );
    expect(won.filter(Boolean)).toHaveLength(1);
    const winner = `request-${won.indexOf(true)}`;
    const [held] = await rowsOf(stub).then((rows) => rows.filter((row) => row.key === key));
    expect(await guard.claim(key, winner, 300_000)).toBe(false);
    // Refused, not renewed: the claim's expiry is unchanged.
    expect((await rowsOf(stub)).filter((row) => row.key === key)).toEqual([held]);
    await guard.release(key, "request-none");
    expect(await guard.claim(key, "request-late", 300_000)).toBe(false);
    await guard.release(key, winner);
    expect(await guard.heldMs(key)).toBe(0);
    expect(await guard.claim(key, "request-late", 300_000)).toBe(true);
  });

  it("replay guard: a key's claim lands on its shard of 32; the legacy layout names the 16 objects by first hex digit", async () => {
    const legacy = { prefix: "ebet-callback", byDigit: true };
    expect(shardName(legacy, "legacy", `0${"a".repeat(63)}`)).toBe("ebet-callback-0");
    expect(shardName(legacy, "legacy", `f${"0".repeat(63)}`)).toBe("ebet-callback-15");
    const { key, guard, stub } = await replayKey();
    expect(await guard.claim(key, "request-1", 300_000)).toBe(true);
    expect((await rowsOf(stub)).map((row) => row.key)).toContain(key);
  });
  it("deny-list: an answer it does not know is an error, never a claim outcome or a lookup", async () => {
    const jti = "jti";
    for (const answer of ["pending", "revoked", "", 1, 0, true, false, null, undefined, {}]) {
      const list = new DurableObjectDenyList(answering(answer));
      expect(await refused(() => list.claim(jti, "attempt", 10_000)), String(answer)).toBe(true);
    }
    for (const answer of ["true", "false", 1, 0, null, undefined, {}, "claimed"]) {
      const list = new DurableObjectDenyList(answering(answer));
      expect(await refused(() => list.has(jti)), String(answer)).toBe(true);
    }
    // What the object may answer, each read as itself.
    const outcomes = ["claimed", "held", "recorded"].map((answer) =>
      new DurableObjectDenyList(answering(answer)).claim(jti, "attempt", 10_000),
    );
    expect(await Promise.all(outcomes)).toEqual(["claimed", "pending", "revoked"]);
    expect(await new DurableObjectDenyList(answering(true)).has(jti)).toBe(true);
    expect(await new DurableObjectDenyList(answering(false)).has(jti)).toBe(false);
  });

  it("replay guard: an answer it does not know is an error, never a claim or a hold", async () => {
    const { key } = await replayKey();
    for (const answer of [true, false, "pending", "revoked", "", 1, null, undefined, {}]) {
      const guard = new DurableObjectReplayGuard(answering(answer));
      expect(await refused(() => guard.claim(key, "request-1", 300_000)), String(answer)).toBe(
        true,
      );
    }
    for (const answer of [
      "5",
      -1,
      1.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      null,
      undefined,
      true,
    ]) {
      const guard = new DurableObjectReplayGuard(answering(answer));
      expect(await refused(() => guard.heldMs(key)), String(answer)).toBe(true);
    }
    const claims = ["claimed", "held", "recorded"].map((answer) =>
      new DurableObjectReplayGuard(answering(answer)).claim(key, "request-1", 300_000),
    );
    expect(await Promise.all(claims)).toEqual([true, false, false]);
    expect(await new DurableObjectReplayGuard(answering(1500)).heldMs(key)).toBe(1500);
  });

  it("an object of the previous version, with its own methods only, is an error, never misread", async () => {
    const { key } = await replayKey();
    const oldList = new DurableObjectDenyList(
      offering({ add: undefined, has: true, claim: "pending", release: undefined, size: 1 }),
    );
    expect(await refused(() => oldList.claim("jti", "attempt", 10_000))).toBe(true);
    expect(await refused(() => oldList.has("jti"))).toBe(true);
    expect(await refused(() => oldList.add("jti", Math.floor(Date.now() / 1000) + 60))).toBe(true);
    expect(await refused(() => oldList.release("jti", "attempt"))).toBe(true);
    const oldGuard = new DurableObjectReplayGuard(
      offering({ claim: true, release: undefined, heldMs: 1000, size: 1 }),
    );
    expect(await refused(() => oldGuard.claim(key, "request-1", 300_000))).toBe(true);
    expect(await refused(() => oldGuard.release(key, "request-1"))).toBe(true);
    expect(await refused(() => oldGuard.heldMs(key))).toBe(true);
  });
});
