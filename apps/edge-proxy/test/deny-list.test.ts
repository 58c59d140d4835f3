// The FunGame deny-list in its Durable Object: shared by app instances, expiring at exp; edge verification.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { DurableObjectDenyList } from "../src/adapters/workers/deny-list.ts";
import { DenyListObject, type WorkerBindings } from "../src/entry/worker.ts";
import { createHarness, FUNGAME_JWT_KEY, oneObject, readProblem } from "./harness.ts";

const bindings: WorkerBindings = env;

function namespaceList(name: string): DurableObjectDenyList {
  return new DurableObjectDenyList(bindings.DENY_LIST, oneObject(name));
}

describe("DenyListObject", () => {
  it("lists a jti until its exp and keeps the later expiry", async () => {
    const list = namespaceList("unit-1");
    const now = Math.floor(Date.now() / 1000);
    expect(await list.has("a")).toBe(false);
    await list.add("a", now + 600);
    await list.add("a", now + 60);
    expect(await list.has("a")).toBe(true);
    const stub = bindings.DENY_LIST.get(bindings.DENY_LIST.idFromName("unit-1"));
    const exp = await runInDurableObject<DenyListObject, number>(
      stub,
      (_instance: DenyListObject, state) =>
        state.storage.sql
          .exec<{ exp: number }>("SELECT exp FROM entries WHERE key = 'a' AND owner IS NULL")
          .one().exp,
    );
    expect(exp).toBe((now + 600) * 1000);
  });

  it("ignores an entry already expired, forgets one at its exp, and its alarm deletes it", async () => {
    const list = namespaceList("unit-2");
    const now = Math.floor(Date.now() / 1000);
    await list.add("old", now - 1);
    expect(await list.has("old")).toBe(false);
    await list.add("soon", now + 3600);
    const stub = bindings.DENY_LIST.get(bindings.DENY_LIST.idFromName("unit-2"));
    // Time passes: the entry's exp is now behind us.
    await runInDurableObject<DenyListObject, unknown>(stub, (_instance: DenyListObject, state) => {
      state.storage.sql.exec("UPDATE entries SET exp = ? WHERE key = 'soon'", (now - 5) * 1000);
    });
    expect(await list.has("soon")).toBe(false);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const size = await runInDurableObject<DenyListObject, unknown>(
      stub,
      (instance: DenyListObject) => instance.size(),
    );
    expect(size).toBe(0);
  });

  it("cleans expired rows on every write", async () => {
    const list = namespaceList("unit-3");
    const now = Math.floor(Date.now() / 1000);
    await list.add("x", now + 100);
    const stub = bindings.DENY_LIST.get(bindings.DENY_LIST.idFromName("unit-3"));
    await runInDurableObject<DenyListObject, unknown>(stub, (_instance: DenyListObject, state) => {
      state.storage.sql.exec("UPDATE entries SET exp = ? WHERE key = 'x'", (now - 5) * 1000);
    });
    await list.add("y", now + 100);
    expect(
      await runInDurableObject<DenyListObject, unknown>(stub, (instance: DenyListObject) =>
        instance.size(),
      ),
    ).toBe(1);
  });

  it("refuses a malformed entry or claim, and an exp no FunGame token has", async () => {
    const list = namespaceList("unit-4");
    const now = Math.floor(Date.now() / 1000);
    await expect(list.add("", 1)).rejects.toThrow();
    await expect(list.add("j", 1.5)).rejects.toThrow();
    await expect(list.add("j", now + 2 * 86_400)).rejects.toThrow();
    await expect(list.claim("", "attempt", 1000)).rejects.toThrow();
    await expect(list.claim("j", "", 1000)).rejects.toThrow();
    await expect(list.claim("j", "attempt", Number.NaN)).rejects.toThrow();
    await expect(list.claim("j", "attempt", 0)).rejects.toThrow();
  });

  it("claims per attempt: the same attempt re-claims, another meets pending, add records the logout", async () => {
    const list = namespaceList("unit-5");
    const now = Math.floor(Date.now() / 1000);
    expect(await list.claim("c", "first", 10_000)).toBe("claimed");
    expect(await list.claim("c", "first", 10_000)).toBe("claimed");
    expect(await list.claim("c", "second", 10_000)).toBe("pending");
    // A claim is not a revocation.
    expect(await list.has("c")).toBe(false);
    // Only the owner's release drops it.
    await list.release("c", "second");
    expect(await list.claim("c", "third", 10_000)).toBe("pending");
    await list.release("c", "first");
    expect(await list.claim("c", "second", 10_000)).toBe("claimed");
    await list.add("c", now + 600);
    expect(await list.has("c")).toBe(true);
    for (const attempt of ["first", "second"]) {
      expect(await list.claim("c", attempt, 10_000)).toBe("revoked");
      // A release never undoes a recorded logout.
      await list.release("c", attempt);
    }
    expect(await list.has("c")).toBe(true);
    await list.add("c", now + 60);
    const stub = bindings.DENY_LIST.get(bindings.DENY_LIST.idFromName("unit-5"));
    const rows = await runInDurableObject<DenyListObject, { exp: number }[]>(
      stub,
      (_instance: DenyListObject, state) =>
        state.storage.sql
          .exec<{ exp: number }>("SELECT exp FROM entries WHERE key = 'c' AND owner IS NULL")
          .toArray(),
    );
    expect(rows).toEqual([{ exp: (now + 600) * 1000 }]);
    // An expired logout is free to claim again; an expired exp is not stored.
    await runInDurableObject(stub, (_instance: DenyListObject, state) => {
      state.storage.sql.exec("UPDATE entries SET exp = ? WHERE key = 'c'", (now - 5) * 1000);
    });
    expect(await list.claim("c", "fourth", 10_000)).toBe("claimed");
    await list.add("c", now - 1);
    expect(await list.has("c")).toBe(false);
    expect(await runInDurableObject(stub, (instance: DenyListObject) => instance.size())).toBe(0);
  });

  it("a claim left by an attempt that died lapses at the end of its lease, and the alarm deletes it", async () => {
    const list = namespaceList("unit-6");
    const stub = bindings.DENY_LIST.get(bindings.DENY_LIST.idFromName("unit-6"));
    expect(await list.claim("d", "died", 60_000)).toBe("claimed");
    const alarm = await runInDurableObject<DenyListObject, number | null>(stub, (_i, state) =>
      state.storage.getAlarm(),
    );
    expect(alarm).toBeGreaterThan(Date.now());
    expect(alarm).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(await list.claim("d", "next", 60_000)).toBe("pending");
    await runInDurableObject<DenyListObject, unknown>(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE entries SET exp = ? WHERE owner IS NOT NULL", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, (instance: DenyListObject) => instance.size())).toBe(0);
    expect(await list.claim("d", "next", 60_000)).toBe("claimed");
  });

  it("reads rows stored before claims existed, and deletes rows no FunGame token could have", async () => {
    const list = namespaceList("unit-7");
    const stub = bindings.DENY_LIST.get(bindings.DENY_LIST.idFromName("unit-7"));
    const now = Math.floor(Date.now() / 1000);
    // As older code left them: a logged-out token, and a forged one listed until the year 2300,
    // in the table of that code, read by the object when it starts.
    await runInDurableObject<DenyListObject, unknown>(stub, (_i, state) => {
      state.storage.sql.exec("CREATE TABLE revoked (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL)");
      state.storage.sql.exec("INSERT INTO revoked (jti, exp) VALUES ('old', ?)", now + 600);
      state.storage.sql.exec(
        "INSERT INTO revoked (jti, exp) VALUES ('forged', ?)",
        Date.UTC(2300, 0, 1) / 1000,
      );
      new DenyListObject(state, env);
    });
    expect(await list.has("old")).toBe(true);
    expect(await list.claim("old", "attempt", 10_000)).toBe("revoked");
    expect(await runInDurableObject(stub, (instance: DenyListObject) => instance.size())).toBe(1);
    const alarm = await runInDurableObject<DenyListObject, number | null>(stub, (_i, state) =>
      state.storage.getAlarm(),
    );
    expect(alarm).toBe((now + 600) * 1000);
  });
});

describe("DenyListObject under a Worker of the previous version", () => {
  it("answers the previous version's methods in its words, over the rows this version reads", async () => {
    const name = `old-surface-${crypto.randomUUID()}`;
    const stub = bindings.DENY_LIST.get(bindings.DENY_LIST.idFromName(name));
    const list = namespaceList(name);
    const now = Math.floor(Date.now() / 1000);
    expect(await stub.claim("c", "first", 10_000)).toBe("claimed");
    expect(await stub.claim("c", "first", 10_000)).toBe("claimed");
    expect(await stub.claim("c", "second", 10_000)).toBe("pending");
    expect(await list.claim("c", "second", 10_000)).toBe("pending");
    expect(await stub.has("c")).toBe(false);
    await stub.release("c", "second");
    expect(await list.claim("c", "second", 10_000)).toBe("pending");
    await stub.release("c", "first");
    // A claim this version takes holds against the previous version's, and the other way round.
    expect(await list.claim("c", "new", 10_000)).toBe("claimed");
    expect(await stub.claim("c", "old", 10_000)).toBe("pending");
    await stub.add("c", now + 600);
    expect(await list.has("c")).toBe(true);
    expect(await list.claim("c", "new", 10_000)).toBe("revoked");
    expect(await stub.claim("c", "old", 10_000)).toBe("revoked");
    await list.add("r", now + 600);
    expect(await stub.has("r")).toBe(true);
    await stub.add("gone", now - 1);
    expect(await stub.has("gone")).toBe(false);
    expect(await stub.size()).toBe(2);
    const rows = await runInDurableObject(stub, (_instance: DenyListObject, state) =>
      state.storage.sql
        .exec<{ key: string; exp: number; owner: string | null }>(
          "SELECT key, exp, owner FROM entries ORDER BY key",
        )
        .toArray(),
    );
    expect(rows).toEqual([
      { key: "c", exp: (now + 600) * 1000, owner: null },
      { key: "r", exp: (now + 600) * 1000, owner: null },
    ]);
  });

  it("of concurrent claims of a token by both versions, exactly one is claimed", async () => {
    const name = `old-race-${crypto.randomUUID()}`;
    const stub = bindings.DENY_LIST.get(bindings.DENY_LIST.idFromName(name));
    const list = namespaceList(name);
    for (const jti of ["race-1", "race-2", "race-3"]) {
      const outcomes: unknown[] = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          i % 2 === 0
            ? list.claim(jti, `new-${i}`, 60_000)
            : stub.claim(jti, `old-${i}`, 60_000).then((outcome: unknown) => outcome),
        ),
      );
      expect(
        outcomes.filter((outcome) => outcome === "claimed"),
        jti,
      ).toHaveLength(1);
      expect(
        outcomes.filter((outcome) => outcome === "pending"),
        jti,
      ).toHaveLength(5);
    }
  });
});

/** A deny-list that counts its round trips to the Durable Object. */
function counting(inner: DurableObjectDenyList) {
  const calls: string[] = [];
  return {
    calls,
    list: {
      add(jti: string, exp: number) {
        calls.push("add");
        return inner.add(jti, exp);
      },
      has(jti: string) {
        calls.push("has");
        return inner.has(jti);
      },
      claim(jti: string, claimId: string, leaseMs: number) {
        calls.push("claim");
        return inner.claim(jti, claimId, leaseMs);
      },
      release(jti: string, claimId: string) {
        calls.push("release");
        return inner.release(jti, claimId);
      },
    },
  };
}

describe("deny-list round trips per FunGame logout", () => {
  it("a logout claims the token, then records it; a second one only claims", async () => {
    const { calls, list } = counting(namespaceList("trips-1"));
    const h = await createHarness({ denyList: list });
    const token = await h.sims.fungame.login("alice");
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ result: { denyListed: true } });
    expect(calls).toEqual(["claim", "add"]);
    const again = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(await again.json()).toMatchObject({ ok: true, alreadyLoggedOut: true });
    expect(calls).toEqual(["claim", "add", "claim"]);
  });

  it("a failed logout releases its claim, so the token stays usable and a retry goes through", async () => {
    const { calls, list } = counting(namespaceList("trips-2"));
    const h = await createHarness({ denyList: list });
    const token = await h.sims.fungame.login("alice");
    h.sims.fungame.faults.set({ status: 403 });
    const failed = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(failed.status).toBeGreaterThanOrEqual(400);
    expect(calls).toEqual(["claim", "release"]);
    const status = await h.request("/v1/fungame/token-status", { bearer: token });
    expect(await status.json()).toMatchObject({ active: true });
    h.sims.fungame.faults.clear();
    const retried = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({ result: { denyListed: true } });
  });

  it("fails closed with a retryable 503 when the claim fails: FunGame is not called", async () => {
    const inner = namespaceList("trips-3");
    const h = await createHarness({
      denyList: {
        add: (jti: string, exp: number) => inner.add(jti, exp),
        has: (jti: string) => inner.has(jti),
        claim: () => Promise.reject(new Error("claim down")),
        release: (jti: string, claimId: string) => inner.release(jti, claimId),
      },
    });
    const token = await h.sims.fungame.login("alice");
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(await readProblem(response)).toMatchObject({
      status: 503,
      kind: "unavailable",
      code: "DENY_LIST_UNAVAILABLE",
      retryable: true,
      vendor: "fungame",
    });
    const fanOut = await h.request("/v1/logout", { json: { fungame: { token } } });
    const answer = (await fanOut.json()) as { results: Record<string, unknown> };
    expect(answer.results.fungame).toMatchObject({ status: 503, code: "DENY_LIST_UNAVAILABLE" });
    expect(h.sims.fungame.calls.filter((call) => call.path === "/user/logout")).toHaveLength(0);
    expect(h.logs.some((line) => line.event === "deny_list_claim_failed")).toBe(true);
    expect(JSON.stringify(h.logs)).not.toContain("claim down");
    const status = await h.request("/v1/fungame/token-status", { bearer: token });
    expect(await status.json()).toEqual({ active: true, reason: "unverified" });
  });

  it("fails closed when the object answers what this version does not know: FunGame is not called", async () => {
    for (const answer of ["pending", 7]) {
      // An object of another version: its claim answers in other words, its lookup fails.
      const object = new Proxy(
        {},
        {
          get: (_target, method) => () =>
            String(method).startsWith("has")
              ? Promise.reject(new Error("lookup down"))
              : Promise.resolve(answer),
        },
      );
      const namespace = { idFromName: (name: string) => name, get: () => object };
      const h = await createHarness({
        denyList: new DurableObjectDenyList(namespace as unknown as typeof bindings.DENY_LIST),
      });
      const token = await h.sims.fungame.login("alice");
      const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
      expect(await readProblem(response), String(answer)).toMatchObject({
        status: 503,
        code: "DENY_LIST_UNAVAILABLE",
        retryable: true,
      });
      expect(h.sims.fungame.calls.filter((call) => call.path === "/user/logout")).toHaveLength(0);
    }
  });

  it("keeps the unclaimed path for a list that cannot claim: has, then add", async () => {
    const inner = namespaceList("trips-4");
    const calls: string[] = [];
    const h = await createHarness({
      denyList: {
        add: (jti: string, exp: number) => {
          calls.push("add");
          return inner.add(jti, exp);
        },
        has: (jti: string) => {
          calls.push("has");
          return inner.has(jti);
        },
      },
    });
    const token = await h.sims.fungame.login("alice");
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(await response.json()).toMatchObject({ ok: true, result: { denyListed: true } });
    expect(calls).toEqual(["has", "add"]);
  });
});

describe("deny-list across app instances", () => {
  it("a token logged out through one app is refused by another, after FunGame restarts", async () => {
    const shared = namespaceList("apps-1");
    const first = await createHarness({ denyList: shared });
    const token = await first.sims.fungame.login("alice");
    const logout = await first.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(logout.status).toBe(200);

    first.sims.fungame.restart();
    const second = first.rebuild({ denyList: namespaceList("apps-1") });
    const status = await second.request("/v1/fungame/token-status", { bearer: token });
    expect(await status.json()).toEqual({ active: false, reason: "revoked" });
    const calls = first.sims.fungame.calls.length;
    const again = await second.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(await again.json()).toMatchObject({ ok: true, alreadyLoggedOut: true });
    expect(first.sims.fungame.calls.length).toBe(calls);

    // Another deny-list (another deployment) knows nothing of it.
    const elsewhere = first.rebuild({ denyList: namespaceList("apps-2") });
    const fresh = await elsewhere.request("/v1/fungame/token-status", { bearer: token });
    expect(await fresh.json()).toEqual({ active: true, reason: "unverified" });
  });

  it("reports the logout but denyListed: false when the deny-list cannot be written", async () => {
    const h = await createHarness({
      denyList: {
        add: () => Promise.reject(new Error("storage down")),
        has: () => Promise.reject(new Error("storage down")),
      },
    });
    const token = await h.sims.fungame.login("alice");
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ result: { denyListed: false } });
    expect(h.logs.some((line) => line.event === "deny_list_write_failed")).toBe(true);
    const status = await h.request("/v1/fungame/token-status", { bearer: token });
    expect(await readProblem(status)).toMatchObject({ status: 503, code: "DENY_LIST_UNAVAILABLE" });
  });
});

describe("edge verification with FUNGAME_JWT_SECRET", () => {
  const key = new TextEncoder().encode(FUNGAME_JWT_KEY);
  const claims = { iss: "FunGame", aud: "FunGame Web API", jti: crypto.randomUUID() };

  it("verifies tokens itself: a forged or expired token is refused without calling FunGame", async () => {
    const h = await createHarness({ env: { FUNGAME_JWT_SECRET: FUNGAME_JWT_KEY } });
    const forged = await new SignJWT({ ...claims, sub: "alice" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode("another-key-that-is-long-enough-0123456789"));
    const expired = await new SignJWT({ ...claims, sub: "alice" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 400)
      .sign(key);
    for (const [token, code] of [
      [forged, "TOKEN_BAD_SIGNATURE"],
      [expired, "TOKEN_EXPIRED"],
      ["a.b", "MALFORMED_TOKEN"],
    ] as const) {
      const problem = await readProblem(
        await h.request("/v1/fungame/logout", { method: "POST", bearer: token }),
      );
      expect(problem).toMatchObject({
        status: 401,
        code,
        vendor: "fungame",
        field: "Authorization",
      });
    }
    expect(h.sims.fungame.calls).toHaveLength(0);
  });

  it("allows FunGame's 300 s skew: a token FunGame still accepts can still be logged out", async () => {
    const h = await createHarness({ env: { FUNGAME_JWT_SECRET: FUNGAME_JWT_KEY } });
    await h.sims.fungame.login("alice");
    const lateJti = crypto.randomUUID();
    const late = await new SignJWT({ ...claims, jti: lateJti, sub: "alice" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(Date.now() / 1000) - 100)
      .sign(key);
    expect(await (await h.request("/v1/fungame/token-status", { bearer: late })).json()).toEqual({
      active: true,
    });
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: late });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, result: { denyListed: true } });
    expect(h.sims.fungame.calls.filter((call) => call.path === "/user/logout")).toHaveLength(1);
    // Listed for as long as FunGame would accept it.
    expect(await h.denyList.has(lateJti)).toBe(true);
    expect(await (await h.request("/v1/fungame/token-status", { bearer: late })).json()).toEqual({
      active: false,
      reason: "revoked",
    });
  });

  it("token-status says why a token is not active", async () => {
    const h = await createHarness({ env: { FUNGAME_JWT_SECRET: FUNGAME_JWT_KEY } });
    const token = await h.sims.fungame.login("alice");
    expect(await (await h.request("/v1/fungame/token-status", { bearer: token })).json()).toEqual({
      active: true,
    });
    const wrongAudience = await new SignJWT({ ...claims, aud: "other", sub: "alice" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("10m")
      .sign(key);
    const cases: [string, string][] = [
      [wrongAudience, "wrong_audience"],
      [`${token.slice(0, -4)}AAAA`, "invalid_signature"],
      ["not.a.jwt", "malformed"],
    ];
    for (const [presented, reason] of cases) {
      const answer = await h.request("/v1/fungame/token-status", { bearer: presented });
      expect(await answer.json(), reason).toEqual({ active: false, reason });
    }
    await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(await (await h.request("/v1/fungame/token-status", { bearer: token })).json()).toEqual({
      active: false,
      reason: "revoked",
    });
  });
});
