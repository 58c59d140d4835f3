// The in-memory FunGame deny-list of the Bun, Deno and Node entries: claims, leases and recorded logouts.
import { describe, expect, it } from "vitest";
import { MemoryDenyList } from "../src/adapters/memory/deny-list.ts";
import { createHarness, readProblem } from "./harness.ts";

describe("MemoryDenyList", () => {
  it("claims per attempt: the same attempt re-claims, another meets pending, add records the logout", async () => {
    const now = Date.now();
    const list = new MemoryDenyList({ now: () => now });
    const exp = Math.floor(now / 1000) + 600;
    expect(await list.claim("c", "first", 10_000)).toBe("claimed");
    expect(await list.claim("c", "first", 10_000)).toBe("claimed");
    expect(await list.claim("c", "second", 10_000)).toBe("pending");
    expect(list.has("c")).toBe(false);
    await list.release("c", "second");
    expect(await list.claim("c", "third", 10_000)).toBe("pending");
    await list.release("c", "first");
    expect(await list.claim("c", "second", 10_000)).toBe("claimed");
    list.add("c", exp);
    expect(list.has("c")).toBe(true);
    for (const attempt of ["first", "second"]) {
      expect(await list.claim("c", attempt, 10_000)).toBe("revoked");
      await list.release("c", attempt);
    }
    expect(list.has("c")).toBe(true);
    expect(list.size).toBe(1);
  });

  it("a claim left by an attempt that died lapses at the end of its lease", async () => {
    let now = Date.now();
    const list = new MemoryDenyList({ now: () => now });
    expect(await list.claim("d", "died", 60_000)).toBe("claimed");
    now += 59_999;
    expect(await list.claim("d", "next", 60_000)).toBe("pending");
    now += 1;
    expect(await list.claim("d", "next", 60_000)).toBe("claimed");
  });

  it("a recorded logout is forgotten at its expiry", async () => {
    let now = Date.now();
    const list = new MemoryDenyList({ now: () => now });
    list.add("e", Math.floor(now / 1000) + 10);
    expect(await list.claim("e", "late", 1_000)).toBe("revoked");
    now += 10_000;
    expect(list.has("e")).toBe(false);
    expect(await list.claim("e", "late", 1_000)).toBe("claimed");
  });

  it("bounds its claims: lapsed ones make room, live ones are never dropped", async () => {
    let now = Date.now();
    const list = new MemoryDenyList({ now: () => now, maxClaims: 2 });
    expect(await list.claim("a", "x", 1_000)).toBe("claimed");
    expect(await list.claim("b", "x", 5_000)).toBe("claimed");
    await expect(list.claim("c", "x", 1_000)).rejects.toThrow(/in flight/);
    now += 1_000;
    expect(await list.claim("c", "x", 1_000)).toBe("claimed");
    expect(await list.claim("b", "y", 1_000)).toBe("pending");
  });

  it("refuses a claim without a claim id or lease, and a malformed jti", async () => {
    const list = new MemoryDenyList();
    await expect(list.claim("j", "", 1_000)).rejects.toThrow(TypeError);
    await expect(list.claim("j", "x", 0)).rejects.toThrow(TypeError);
    await expect(list.claim("j", "x", Number.NaN)).rejects.toThrow(TypeError);
    await expect(list.claim("", "x", 1_000)).rejects.toThrow(/jti/);
  });

  it("holds the app's recorded logouts, and nothing of a finished claim", async () => {
    const list = new MemoryDenyList();
    const h = await createHarness({ denyList: list });
    const token = await h.sims.fungame.login("alice");
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(await response.json()).toMatchObject({ ok: true, result: { denyListed: true } });
    expect(list.size).toBe(1);
  });

  it("a full claim map refuses the logout with a retryable 503, without calling FunGame", async () => {
    const list = new MemoryDenyList({ maxClaims: 1 });
    const h = await createHarness({ denyList: list });
    const held = await h.sims.fungame.login("alice");
    // A claim of another attempt, live for a minute: the map is full.
    expect(await list.claim("another-jti", "another-attempt", 60_000)).toBe("claimed");
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: held });
    expect(await readProblem(response)).toMatchObject({
      status: 503,
      code: "DENY_LIST_UNAVAILABLE",
      retryable: true,
      vendor: "fungame",
    });
    expect(h.sims.fungame.calls.filter((call) => call.path === "/user/logout")).toHaveLength(0);
    await list.release("another-jti", "another-attempt");
    const retried = await h.request("/v1/fungame/logout", { method: "POST", bearer: held });
    expect(await retried.json()).toMatchObject({ ok: true, result: { denyListed: true } });
  });
});
