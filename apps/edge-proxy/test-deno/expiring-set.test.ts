// The deny-list and the replay guard on a real Deno KV: claim outcomes, races, expiry by the clock, owners, input.
import assert from "node:assert/strict";
import { KvDenyList } from "../src/adapters/deno-kv/deny-list.ts";
import { MAX_LEASE_MS } from "../src/adapters/deno-kv/expiring-set.ts";
import { KvReplayGuard } from "../src/adapters/deno-kv/replay-guard.ts";
import { deno, manualClock, refused, withKvFile } from "./harness.ts";

const LEASE = 30_000;
const DIGEST = "ab".repeat(32);
const OTHER_DIGEST = "cd".repeat(32);

deno.test(
  "deny-list: a free jti is claimed, renewed by its claim, pending for another, revoked once added",
  () =>
    withKvFile(async (file) => {
      const list = new KvDenyList(await file.open());
      assert.equal(await list.claim("jti-1", "attempt-a", LEASE), "claimed");
      assert.equal(await list.claim("jti-1", "attempt-a", LEASE), "claimed");
      assert.equal(await list.claim("jti-1", "attempt-b", LEASE), "pending");
      assert.equal(await list.has("jti-1"), false, "a claim is not a recorded logout");
      await list.add("jti-1", Math.floor(Date.now() / 1000) + 600);
      assert.equal(await list.has("jti-1"), true);
      assert.equal(await list.claim("jti-1", "attempt-a", LEASE), "revoked");
      assert.equal(await list.claim("jti-1", "attempt-b", LEASE), "revoked");
      assert.equal(await list.has("jti-2"), false);
    }),
);

deno.test(
  "deny-list: a lease and a record end by the store's clock, whatever KV's own expiry",
  () =>
    withKvFile(async (file) => {
      const clock = manualClock(Date.now());
      const list = new KvDenyList(await file.open(), { now: clock.now });
      assert.equal(await list.claim("jti-1", "attempt-a", 1_000), "claimed");
      clock.advance(999);
      assert.equal(await list.claim("jti-1", "attempt-b", LEASE), "pending");
      clock.advance(1);
      assert.equal(await list.claim("jti-1", "attempt-b", LEASE), "claimed");
      const exp = Math.floor(clock.now() / 1000) + 10;
      await list.add("jti-2", exp);
      clock.advance(exp * 1000 - clock.now() - 1);
      assert.equal(await list.has("jti-2"), true);
      assert.equal(await list.claim("jti-2", "attempt-a", LEASE), "revoked");
      clock.advance(1);
      assert.equal(await list.has("jti-2"), false);
      assert.equal(await list.claim("jti-2", "attempt-a", LEASE), "claimed");
    }),
);

deno.test(
  "deny-list: add keeps the later expiry; an expiry already past records nothing and drops the claim",
  () =>
    withKvFile(async (file) => {
      const clock = manualClock(Date.now());
      const list = new KvDenyList(await file.open(), { now: clock.now });
      const second = Math.floor(clock.now() / 1000);
      await list.add("jti-1", second + 100);
      await list.add("jti-1", second + 10);
      clock.advance(50_000);
      assert.equal(await list.has("jti-1"), true);
      assert.equal(await list.claim("jti-2", "attempt-a", LEASE), "claimed");
      await list.add("jti-2", second - 1);
      assert.equal(await list.has("jti-2"), false);
      assert.equal(await list.claim("jti-2", "attempt-b", LEASE), "claimed");
    }),
);

deno.test("deny-list: only the claim's owner releases it, and a release never drops a record", () =>
  withKvFile(async (file) => {
    const list = new KvDenyList(await file.open());
    assert.equal(await list.claim("jti-1", "attempt-a", LEASE), "claimed");
    await list.release("jti-1", "attempt-b");
    assert.equal(await list.claim("jti-1", "attempt-c", LEASE), "pending");
    await list.release("jti-1", "attempt-a");
    assert.equal(await list.claim("jti-1", "attempt-c", LEASE), "claimed");
    await list.add("jti-1", Math.floor(Date.now() / 1000) + 600);
    await list.release("jti-1", "attempt-c");
    assert.equal(await list.has("jti-1"), true);
  }),
);

deno.test("deny-list: of claims made at once from two handles on one file, exactly one wins", () =>
  withKvFile(async (file) => {
    const lists = [new KvDenyList(await file.open()), new KvDenyList(await file.open())];
    for (const round of [1, 2, 3]) {
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (lists[i % 2] as KvDenyList).claim(`jti-${round}`, `attempt-${i}`, LEASE),
        ),
      );
      assert.equal(outcomes.filter((outcome) => outcome === "claimed").length, 1, `round ${round}`);
      assert.equal(
        outcomes.filter((outcome) => outcome === "pending").length,
        11,
        `round ${round}`,
      );
    }
  }),
);

deno.test("deny-list: two handles on one file, as two processes, share records and claims", () =>
  withKvFile(async (file) => {
    const a = new KvDenyList(await file.open());
    const b = new KvDenyList(await file.open());
    await a.add("jti-1", Math.floor(Date.now() / 1000) + 600);
    assert.equal(await b.has("jti-1"), true);
    assert.equal(await b.claim("jti-1", "attempt-b", LEASE), "revoked");
    assert.equal(await a.claim("jti-2", "attempt-a", LEASE), "claimed");
    assert.equal(await b.claim("jti-2", "attempt-b", LEASE), "pending");
    await a.release("jti-2", "attempt-a");
    assert.equal(await b.claim("jti-2", "attempt-b", LEASE), "claimed");
  }),
);

deno.test("deny-list: bad input is refused naming the field", () =>
  withKvFile(async (file) => {
    const list = new KvDenyList(await file.open());
    await refused(() => list.claim("", "attempt-a", LEASE), "jti");
    await refused(() => list.claim("j".repeat(257), "attempt-a", LEASE), "jti");
    await refused(() => list.claim("jti-1", "", LEASE), "claimId");
    await refused(() => list.claim("jti-1", "a".repeat(129), LEASE), "claimId");
    await refused(() => list.claim("jti-1", "attempt-a", 0), "leaseMs");
    await refused(() => list.claim("jti-1", "attempt-a", 1.5), "leaseMs");
    await refused(() => list.claim("jti-1", "attempt-a", MAX_LEASE_MS + 1), "leaseMs");
    await refused(() => list.release("", "attempt-a"), "jti");
    await refused(() => list.release("jti-1", 7 as unknown as string), "claimId");
    await refused(() => list.add("jti-1", 1.5), "expiresAt");
    await refused(() => list.add("jti-1", Math.floor(Date.now() / 1000) + 2 * 86_400), "expiresAt");
    await refused(() => list.add(undefined as unknown as string, 1), "jti");
    // Nothing was written by a refused call.
    assert.equal(await list.claim("jti-1", "attempt-b", LEASE), "claimed");
    assert.equal(await list.has("j".repeat(257)), false);
  }),
);

deno.test(
  "deny-list: a KV value of another shape under its key is an error, never a free jti",
  () =>
    withKvFile(async (file) => {
      const kv = await file.open();
      await kv.atomic().set(["edge-proxy", "deny", "jti-1"], "not an entry").commit();
      const list = new KvDenyList(kv);
      await assert.rejects(() => list.claim("jti-1", "attempt-a", LEASE), TypeError);
      await assert.rejects(() => list.has("jti-1"), TypeError);
    }),
);

deno.test(
  "replay guard: a held key is refused to every claim, its owner's too, until its hold ends",
  () =>
    withKvFile(async (file) => {
      const clock = manualClock(Date.now());
      const guard = new KvReplayGuard(await file.open(), { now: clock.now });
      assert.equal(await guard.claim(DIGEST, "request-1", 5_000), true);
      assert.equal(await guard.claim(DIGEST, "request-1", 5_000), false);
      assert.equal(await guard.claim(DIGEST, "request-2", 5_000), false);
      assert.equal(await guard.heldMs(DIGEST), 5_000);
      assert.equal(await guard.heldMs(OTHER_DIGEST), 0);
      clock.advance(4_999);
      assert.equal(await guard.heldMs(DIGEST), 1);
      assert.equal(await guard.claim(DIGEST, "request-2", 5_000), false);
      clock.advance(1);
      assert.equal(await guard.heldMs(DIGEST), 0);
      assert.equal(await guard.claim(DIGEST, "request-2", 5_000), true);
    }),
);

deno.test("replay guard: only the claim's owner releases a key", () =>
  withKvFile(async (file) => {
    const guard = new KvReplayGuard(await file.open());
    assert.equal(await guard.claim(DIGEST, "request-1", 60_000), true);
    await guard.release(DIGEST, "request-2");
    assert.equal(await guard.claim(DIGEST, "request-3", 60_000), false);
    await guard.release(DIGEST, "request-1");
    assert.equal(await guard.claim(DIGEST, "request-3", 60_000), true);
  }),
);

deno.test(
  "replay guard: of claims made at once from two handles on one file, exactly one wins",
  () =>
    withKvFile(async (file) => {
      const guards = [new KvReplayGuard(await file.open()), new KvReplayGuard(await file.open())];
      const won = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (guards[i % 2] as KvReplayGuard).claim(DIGEST, `request-${i}`, 60_000),
        ),
      );
      assert.equal(won.filter(Boolean).length, 1);
    }),
);

deno.test("replay guard: bad input is refused naming the field", () =>
  withKvFile(async (file) => {
    const guard = new KvReplayGuard(await file.open());
    await refused(() => guard.claim("not-a-digest", "request-1", 1_000), "key");
    await refused(() => guard.claim(DIGEST.toUpperCase(), "request-1", 1_000), "key");
    await refused(() => guard.claim(DIGEST, "no spaces", 1_000), "owner");
    await refused(() => guard.claim(DIGEST, "request-1", 0), "holdMs");
    await refused(() => guard.claim(DIGEST, "request-1", MAX_LEASE_MS + 1), "holdMs");
    await refused(() => guard.release(DIGEST, ""), "owner");
    await refused(() => guard.heldMs("x"), "key");
    assert.equal(await guard.claim(DIGEST, "request-1", 1_000), true);
  }),
);
