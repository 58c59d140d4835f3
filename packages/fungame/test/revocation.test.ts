// Deny-lists (src/revocation.ts): expiry at exp, bounds, a model-based property, async lists.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FunGameError,
  isTokenRevoked,
  MemoryRevocationList,
  type RevocationList,
  revokeToken,
} from "../src/index.ts";
import { fungameClaims, hmacToken, KEY, T0, T0_SEC } from "./jwt-oracle.ts";

function clock(start = T0) {
  let ms = start;
  return {
    now: () => ms,
    advance: (sec: number) => {
      ms += sec * 1000;
    },
  };
}

describe("MemoryRevocationList", () => {
  it("remembers a jti until its exp, in seconds, and forgets it at exp", () => {
    const time = clock();
    const list = new MemoryRevocationList({ now: time.now });
    list.add("jti-1", T0_SEC + 60);
    expect(list.has("jti-1")).toBe(true);
    expect(list.has("jti-2")).toBe(false);
    time.advance(59);
    expect(list.has("jti-1")).toBe(true);
    time.advance(1);
    expect(list.has("jti-1")).toBe(false);
    expect(list.size).toBe(0);
  });

  it("keeps entries past exp by retainAfterExpirySec (ASP.NET's 300 s clock skew)", () => {
    const time = clock();
    const list = new MemoryRevocationList({ now: time.now, retainAfterExpirySec: 300 });
    list.add("jti", T0_SEC + 60);
    time.advance(60 + 299);
    expect(list.has("jti")).toBe(true);
    time.advance(1);
    expect(list.has("jti")).toBe(false);
  });

  it("ignores an entry that has already expired", () => {
    const list = new MemoryRevocationList({ now: clock().now });
    list.add("old", T0_SEC - 1);
    list.add("now", T0_SEC);
    expect(list.size).toBe(0);
    expect(list.has("old")).toBe(false);
  });

  it("keeps the later expiry when a jti is added twice", () => {
    const time = clock();
    const list = new MemoryRevocationList({ now: time.now });
    list.add("jti", T0_SEC + 100);
    list.add("jti", T0_SEC + 10);
    time.advance(50);
    expect(list.has("jti")).toBe(true);
    list.add("jti", T0_SEC + 200);
    time.advance(100);
    expect(list.has("jti")).toBe(true);
    expect(list.size).toBe(1);
  });

  it("stays bounded: purges expired entries first, then drops the one expiring soonest", () => {
    const time = clock();
    const list = new MemoryRevocationList({ now: time.now, maxEntries: 3 });
    list.add("a", T0_SEC + 10);
    list.add("b", T0_SEC + 500);
    list.add("c", T0_SEC + 300);
    time.advance(20);
    list.add("d", T0_SEC + 400);
    expect(list.size).toBe(3);
    expect(list.evictions).toBe(0);
    list.add("e", T0_SEC + 600);
    expect(list.size).toBe(3);
    expect(list.evictions).toBe(1);
    expect(list.has("c")).toBe(false);
    for (const jti of ["b", "d", "e"]) expect(list.has(jti)).toBe(true);
  });

  it("purge() and clear() empty it", () => {
    const time = clock();
    const list = new MemoryRevocationList({ now: time.now });
    list.add("a", T0_SEC + 10);
    list.add("b", T0_SEC + 100);
    time.advance(50);
    expect(list.purge()).toBe(1);
    expect(list.size).toBe(1);
    list.clear();
    expect(list.has("b")).toBe(false);
  });

  it("refuses bad input, naming the field", () => {
    const list = new MemoryRevocationList();
    const field = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(FunGameError);
        expect((error as FunGameError).kind).toBe("invalid_request");
        return (error as FunGameError).field;
      }
      return "nothing thrown";
    };
    expect(field(() => list.add("", T0_SEC))).toBe("jti");
    expect(field(() => list.add("x".repeat(257), T0_SEC))).toBe("jti");
    expect(field(() => list.add(5 as never, T0_SEC))).toBe("jti");
    expect(field(() => list.add("a", Number.NaN))).toBe("expiresAt");
    expect(field(() => list.add("a", "1" as never))).toBe("expiresAt");
    expect(field(() => list.has(""))).toBe("jti");
    expect(field(() => new MemoryRevocationList({ maxEntries: 0 }))).toBe("maxEntries");
    expect(field(() => new MemoryRevocationList({ maxEntries: 1.5 }))).toBe("maxEntries");
    expect(field(() => new MemoryRevocationList({ retainAfterExpirySec: -1 }))).toBe(
      "retainAfterExpirySec",
    );
    expect(field(() => new MemoryRevocationList({ now: 1 as never }))).toBe("now");
  });

  it("agrees with a plain model under any sequence of operations (property, fixed seed)", () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("add" as const),
        jti: fc.constantFrom("a", "b", "c", "d", "e"),
        ttl: fc.integer({ min: -5, max: 50 }),
      }),
      fc.record({ kind: fc.constant("has" as const), jti: fc.constantFrom("a", "b", "c", "z") }),
      fc.record({ kind: fc.constant("tick" as const), sec: fc.integer({ min: 0, max: 20 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const time = clock();
        const list = new MemoryRevocationList({ now: time.now });
        const model = new Map<string, number>();
        for (const step of ops) {
          const nowSec = time.now() / 1000;
          if (step.kind === "add") {
            const exp = Math.floor(nowSec) + step.ttl;
            list.add(step.jti, exp);
            if (exp > nowSec) model.set(step.jti, Math.max(exp, model.get(step.jti) ?? 0));
          } else if (step.kind === "has") {
            const expected = (model.get(step.jti) ?? 0) > nowSec;
            expect(list.has(step.jti)).toBe(expected);
          } else {
            time.advance(step.sec);
          }
        }
      }),
      { seed: 20250323, numRuns: 300 },
    );
  });

  it("never holds more than maxEntries, and never drops a live entry while room remains (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 8 }),
        (ttls, max) => {
          const list = new MemoryRevocationList({ now: clock().now, maxEntries: max });
          ttls.forEach((ttl, i) => {
            list.add(`j${i}`, T0_SEC + ttl);
            expect(list.size).toBeLessThanOrEqual(max);
          });
          expect(list.evictions).toBe(Math.max(0, ttls.length - max));
        },
      ),
      { seed: 99, numRuns: 200 },
    );
  });
});

describe("revokeToken and isTokenRevoked", () => {
  it("key the list by the token's jti until its exp", async () => {
    const time = clock();
    const list = new MemoryRevocationList({ now: time.now });
    const token = hmacToken(fungameClaims(), KEY);
    expect(await isTokenRevoked(list, token)).toBe(false);
    const claims = await revokeToken(list, token);
    expect(claims.jti).toBe("5f0c2a8e-3c1b-4f43-9d7e-2b7a1c0e9f11");
    expect(list.has(claims.jti as string)).toBe(true);
    expect(await isTokenRevoked(list, token)).toBe(true);
    time.advance(1800);
    expect(await isTokenRevoked(list, token)).toBe(false);
  });

  it("work with an asynchronous list, as a Durable Object would be", async () => {
    const store = new Map<string, number>();
    const asyncList: RevocationList = {
      add: async (jti, expiresAt) => {
        store.set(jti, expiresAt);
      },
      has: async (jti) => store.has(jti),
    };
    const token = hmacToken(fungameClaims(), KEY);
    await revokeToken(asyncList, token);
    expect(store.get("5f0c2a8e-3c1b-4f43-9d7e-2b7a1c0e9f11")).toBe(T0_SEC + 1800);
    expect(await isTokenRevoked(asyncList, token)).toBe(true);
  });

  it("refuse a token without jti or exp, and report a jti-less token as not listed", async () => {
    const list = new MemoryRevocationList();
    const noJti = hmacToken({ sub: "a", exp: T0_SEC + 10 }, KEY);
    const noExp = hmacToken({ sub: "a", jti: "x" }, KEY);
    await expect(revokeToken(list, noJti)).rejects.toMatchObject({
      code: "MISSING_CLAIM",
      field: "jwt",
    });
    await expect(revokeToken(list, noExp)).rejects.toThrow(/no exp claim/);
    expect(await isTokenRevoked(list, noJti)).toBe(false);
    await expect(isTokenRevoked(list, "not-a-jwt")).rejects.toBeInstanceOf(FunGameError);
  });
});
