// The session registry on a real Deno KV: adds, takes, owners, expiry, limits, races between
// handles, and what the KV holds at rest.
import assert from "node:assert/strict";
import { KvSessionRegistry, REGISTRY_PREFIX } from "../src/adapters/deno-kv/registry.ts";
import { importSealingKeys, SealError, type SealingKeys } from "../src/sealed.ts";
import {
  MAX_PER_SUBJECT,
  REGISTRATION_ID,
  type Registration,
  RegistryFull,
  type RegistryLimits,
  type RegistryOptions,
  subjectKeyOf,
} from "../src/universal-logout/registry.ts";
import { deno, manualClock, withKvFile } from "./harness.ts";

const HOUR = 3_600_000;
const LIMITS: RegistryLimits = { maxPerSubject: 4, maxLifetimeMs: 24 * HOUR };
const ISSUER = "https://idp.example.com";
const OTHER_ISSUER = "https://other-idp.example.com";
const OWNER = "ab".repeat(32);
const OTHER_OWNER = "cd".repeat(32);

function randomKey(id: string): string {
  return `${id}:${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
}

const K1 = randomKey("k1");
const K2 = randomKey("k2");
/** Another key under the id k1: what a process with the wrong secret holds. */
const K1_WRONG = randomKey("k1");

async function keys(value: string): Promise<SealingKeys> {
  const imported = await importSealingKeys(value, "PROXY_STORE_KEYS");
  if ("message" in imported) throw new Error(imported.message);
  return imported;
}

/** A registration of `subject` at `t0`'s hour, its vendor token unique to it. */
function entry(
  t0: number,
  subject: string,
  extra: Partial<Omit<Registration, "id" | "createdAt">> = {},
) {
  return {
    issuer: ISSUER,
    subject,
    sid: undefined,
    owner: OWNER,
    expiresAt: t0 + HOUR,
    members: { lancens: { token: `lancens-token-${subject}-${crypto.randomUUID()}` } },
    ...extra,
  };
}

const ids = (taken: readonly Registration[]) => taken.map((registration) => registration.id).sort();

/** Options with a clock the test moves, and the errors takes report. */
async function options(limits = LIMITS) {
  const clock = manualClock(Date.now());
  const errors: unknown[] = [];
  const made: RegistryOptions = {
    sealing: await keys(K1),
    limits,
    now: clock.now,
    onError: (error) => errors.push(error),
  };
  return { clock, errors, options: made, t0: clock.now() };
}

deno.test("registry: an add is given back once to a take of its subject, with every field", () =>
  withKvFile(async (file) => {
    const { options: made, errors, t0 } = await options();
    const registry = new KvSessionRegistry(await file.open(), made);
    const added = entry(t0, "alice", { sid: "sid-1" });
    const { id, expiresAt } = await registry.add(added);
    assert.match(id, REGISTRATION_ID);
    assert.equal(expiresAt, added.expiresAt);
    const other = await registry.add(entry(t0, "alice"));
    assert.deepEqual(await registry.takeSubject(ISSUER, "bob"), []);
    assert.deepEqual(await registry.takeSubject(OTHER_ISSUER, "alice"), []);
    const taken = await registry.takeSubject(ISSUER, "alice");
    assert.deepEqual(ids(taken), [id, other.id].sort());
    assert.deepEqual(
      taken.find((registration) => registration.id === id),
      { ...added, id, createdAt: t0 },
    );
    assert.equal(taken.find((registration) => registration.id === other.id)?.sid, undefined);
    assert.deepEqual(await registry.takeSubject(ISSUER, "alice"), []);
    assert.deepEqual(errors, []);
  }),
);

deno.test("registry: a take with a sid, and a take by sid alone, end that session only", () =>
  withKvFile(async (file) => {
    const { options: made, t0 } = await options();
    const registry = new KvSessionRegistry(await file.open(), made);
    const one = await registry.add(entry(t0, "alice", { sid: "sid-1" }));
    const two = await registry.add(entry(t0, "alice", { sid: "sid-2" }));
    const three = await registry.add(entry(t0, "alice", { sid: "sid-3" }));
    const bare = await registry.add(entry(t0, "alice"));
    const bobs = await registry.add(entry(t0, "bob", { sid: "sid-1" }));
    const elsewhere = await registry.add(
      entry(t0, "alice", { issuer: OTHER_ISSUER, sid: "sid-2" }),
    );
    assert.deepEqual(ids(await registry.takeSubject(ISSUER, "alice", "sid-1")), [one.id]);
    const session = await registry.takeSession(ISSUER, "sid-2");
    assert.deepEqual(ids(session), [two.id]);
    assert.equal(session[0]?.subject, "alice");
    assert.deepEqual(await registry.takeSession(ISSUER, "sid-2"), []);
    assert.deepEqual(ids(await registry.takeSubject(ISSUER, "alice")), [three.id, bare.id].sort());
    assert.deepEqual(ids(await registry.takeSession(ISSUER, "sid-1")), [bobs.id]);
    assert.deepEqual(ids(await registry.takeSession(OTHER_ISSUER, "sid-2")), [elsewhere.id]);
  }),
);

deno.test("registry: only its owner removes a registration; one without owner, any caller", () =>
  withKvFile(async (file) => {
    const { options: made, t0 } = await options();
    const registry = new KvSessionRegistry(await file.open(), made);
    const { id } = await registry.add(entry(t0, "alice", { sid: "sid-1" }));
    assert.equal(await registry.remove(id, OTHER_OWNER), false);
    assert.equal(await registry.remove(id, null), false);
    assert.equal(await registry.remove(`ses_${"A".repeat(43)}`, OWNER), false);
    assert.equal(await registry.remove(id, OWNER), true);
    assert.equal(await registry.remove(id, OWNER), false);
    assert.deepEqual(await registry.takeSession(ISSUER, "sid-1"), []);
    const unowned = await registry.add(entry(t0, "alice", { owner: null }));
    const kept = await registry.add(entry(t0, "alice"));
    assert.equal(await registry.remove(unowned.id, OTHER_OWNER), true);
    assert.deepEqual(ids(await registry.takeSubject(ISSUER, "alice")), [kept.id]);
  }),
);

deno.test(
  "registry: expired registrations are never given, and a late expiry is brought forward",
  () =>
    withKvFile(async (file) => {
      const { options: made, clock, t0 } = await options();
      const registry = new KvSessionRegistry(await file.open(), made);
      const short = await registry.add(entry(t0, "alice", { expiresAt: t0 + 1_000, sid: "sid-1" }));
      const long = await registry.add(entry(t0, "alice", { expiresAt: t0 + 2_000 }));
      const capped = await registry.add(entry(t0, "alice", { expiresAt: t0 + 48 * HOUR }));
      assert.equal(capped.expiresAt, t0 + LIMITS.maxLifetimeMs);
      clock.advance(1_000);
      assert.equal(await registry.remove(short.id, OWNER), false);
      assert.deepEqual(await registry.takeSession(ISSUER, "sid-1"), []);
      clock.advance(999);
      const taken = await registry.takeSubject(ISSUER, "alice");
      assert.deepEqual(ids(taken), [long.id, capped.id].sort());
      assert.equal(
        taken.find((registration) => registration.id === capped.id)?.expiresAt,
        t0 + LIMITS.maxLifetimeMs,
      );
    }),
);

deno.test("registry: the per-subject limit refuses, named; expired and taken ones free slots", () =>
  withKvFile(async (file) => {
    const { options: made, clock, t0 } = await options();
    const registry = new KvSessionRegistry(await file.open(), made);
    await registry.add(entry(t0, "alice", { expiresAt: t0 + 1_000 }));
    for (let i = 0; i < 3; i++) await registry.add(entry(t0, "alice"));
    const refusal = await registry.add(entry(t0, "alice")).catch((error: unknown) => error);
    assert.ok(refusal instanceof RegistryFull);
    assert.equal(refusal.limit, 4);
    assert.deepEqual(refusal.init.extensions, { limit: "maxPerSubject", max: 4 });
    await registry.add(entry(t0, "bob"));
    await registry.add(entry(t0, "alice", { issuer: OTHER_ISSUER }));
    clock.advance(1_000);
    await registry.add(entry(t0, "alice"));
    await assert.rejects(registry.add(entry(t0, "alice")), RegistryFull);
    assert.equal((await registry.takeSubject(ISSUER, "alice")).length, 4);
    await registry.add(entry(t0, "alice"));
  }),
);

deno.test(
  "registry: each registering caller has slots of its own in a subject, capped at 256 in all",
  () =>
    withKvFile(async (file) => {
      const { options: made, t0 } = await options();
      const registry = new KvSessionRegistry(await file.open(), made);
      for (let i = 0; i < 4; i++) await registry.add(entry(t0, "alice"));
      await assert.rejects(registry.add(entry(t0, "alice")), RegistryFull);
      for (let i = 0; i < 4; i++)
        await registry.add(entry(t0, "alice", { owner: "another-owner" }));
      await registry.add(entry(t0, "alice", { owner: null }));
      assert.equal((await registry.takeSubject(ISSUER, "alice")).length, 9);

      const { options: wideOptions } = await options({ maxPerSubject: 256, maxLifetimeMs: HOUR });
      const wide = new KvSessionRegistry(await file.open(), wideOptions);
      for (let i = 0; i < 200; i++) await wide.add(entry(t0, "bob"));
      for (let i = 0; i < 56; i++) await wide.add(entry(t0, "bob", { owner: "second-owner" }));
      const refusal = await wide
        .add(entry(t0, "bob", { owner: "third-owner" }))
        .catch((error: unknown) => error);
      assert.ok(refusal instanceof RegistryFull);
      assert.deepEqual(refusal.init.extensions, { limit: "subjectTotal", max: 256 });
      assert.equal((await wide.takeSubject(ISSUER, "bob")).length, 256);
    }),
);

deno.test("registry: adds at once from two handles never pass the limit", () =>
  withKvFile(async (file) => {
    const { options: made, t0 } = await options();
    const first = new KvSessionRegistry(await file.open(), made);
    const second = new KvSessionRegistry(await file.open(), made);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? first : second).add(entry(t0, "alice"))),
    );
    const added = outcomes.filter((outcome) => outcome.status === "fulfilled");
    assert.equal(added.length, LIMITS.maxPerSubject);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") assert.ok(outcome.reason instanceof RegistryFull);
    }
    assert.equal((await first.takeSubject(ISSUER, "alice")).length, LIMITS.maxPerSubject);
  }),
);

deno.test("registry: of takes at once from two handles, each registration goes to one", () =>
  withKvFile(async (file) => {
    const { options: made, t0 } = await options({ maxPerSubject: 64, maxLifetimeMs: HOUR });
    const first = new KvSessionRegistry(await file.open(), made);
    const second = new KvSessionRegistry(await file.open(), made);
    const added: string[] = [];
    for (let i = 0; i < 40; i++) {
      added.push((await first.add(entry(t0, "alice", { sid: `sid-${i % 2}` }))).id);
    }
    const takes = await Promise.all([
      first.takeSubject(ISSUER, "alice"),
      second.takeSubject(ISSUER, "alice"),
      first.takeSession(ISSUER, "sid-0"),
      second.takeSession(ISSUER, "sid-1"),
      second.takeSubject(ISSUER, "alice", "sid-0"),
    ]);
    assert.deepEqual(takes.flatMap(ids).sort(), added.sort());
  }),
);

deno.test("registry: a subject at the largest limit is taken in one write", () =>
  withKvFile(async (file) => {
    const limits = { maxPerSubject: MAX_PER_SUBJECT, maxLifetimeMs: HOUR };
    const { options: made, t0 } = await options(limits);
    const registry = new KvSessionRegistry(await file.open(), made);
    for (let i = 0; i < MAX_PER_SUBJECT; i++) {
      await registry.add(entry(t0, "alice", { sid: `sid-${i}` }));
    }
    assert.equal((await registry.takeSubject(ISSUER, "alice")).length, MAX_PER_SUBJECT);
  }),
);

deno.test(
  "registry: KV holds no token, subject, sid or issuer in clear, nor opens without the key",
  () =>
    withKvFile(async (file) => {
      const { options: made, errors, t0 } = await options();
      const kv = await file.open();
      const registry = new KvSessionRegistry(kv, made);
      const added = entry(t0, "alice@example.com", { sid: "provider-session-42" });
      const { id } = await registry.add(added);
      const values: string[] = [];
      for await (const read of kv.list({ prefix: REGISTRY_PREFIX })) {
        values.push(JSON.stringify([read.key, read.value]));
      }
      assert.equal(values.length, 4, "head, entry, id and sid keys");
      const stored = values.join("\n");
      const token = (added.members.lancens as { token: string }).token;
      for (const secret of [token, "lancens", "alice@example.com", "provider-session-42", ISSUER]) {
        assert.equal(stored.includes(secret), false, `${secret} is stored in clear`);
      }
      assert.ok(stored.includes(id));
      const stranger = new KvSessionRegistry(kv, { ...made, sealing: await keys(K1_WRONG) });
      assert.deepEqual(await stranger.takeSubject(ISSUER, "alice@example.com"), []);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof SealError);
    }),
);

deno.test("registry: opens what an older key of the ring sealed, not what moved partition", () =>
  withKvFile(async (file) => {
    const { options: made, errors, t0 } = await options();
    const kv = await file.open();
    const registry = new KvSessionRegistry(kv, made);
    const { id } = await registry.add(entry(t0, "alice"));
    const rotated = new KvSessionRegistry(kv, { ...made, sealing: await keys(`${K2},${K1}`) });
    assert.deepEqual(ids(await rotated.takeSubject(ISSUER, "alice")), [id]);
    // A registration written into another subject's partition, as one with the KV's write access could.
    await registry.add(entry(t0, "alice"));
    const alice = await subjectKeyOf(ISSUER, "alice");
    const mallory = await subjectKeyOf(ISSUER, "mallory");
    for await (const read of kv.list({ prefix: [...REGISTRY_PREFIX, "entry", alice] })) {
      const moved = { ...(read.value as object), subjectKey: mallory };
      await kv
        .atomic()
        .set([...REGISTRY_PREFIX, "entry", mallory, read.key.at(-1) as string], moved)
        .commit();
    }
    assert.equal(errors.length, 0);
    assert.deepEqual(await registry.takeSubject(ISSUER, "mallory"), []);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof SealError);
  }),
);

deno.test("registry: checks its limits and what it is given, naming the field", () =>
  withKvFile(async (file) => {
    const { options: made, t0 } = await options();
    const kv = await file.open();
    for (const [limits, field] of [
      [{ ...LIMITS, maxPerSubject: 0 }, "maxPerSubject"],
      [{ ...LIMITS, maxPerSubject: MAX_PER_SUBJECT + 1 }, "maxPerSubject"],
      [{ ...LIMITS, maxLifetimeMs: 0 }, "maxLifetimeMs"],
    ] as const) {
      assert.throws(
        () => new KvSessionRegistry(kv, { ...made, limits }),
        new RegExp(`^TypeError: ${field}: `),
      );
    }
    const registry = new KvSessionRegistry(kv, made);
    const cases: [Partial<Omit<Registration, "id" | "createdAt">>, string][] = [
      [{ issuer: "" }, "issuer"],
      [{ subject: "" }, "subject"],
      [{ sid: "" }, "sid"],
      [{ owner: "" }, "owner"],
      [{ expiresAt: t0 }, "expiresAt"],
      [{ members: [] as unknown as Record<string, unknown> }, "members"],
    ];
    for (const [bad, field] of cases) {
      await assert.rejects(
        registry.add(entry(t0, "alice", bad)),
        new RegExp(`^TypeError: ${field}: `),
      );
    }
    await assert.rejects(registry.takeSession(ISSUER, ""), /^TypeError: sid: /);
    assert.deepEqual(await registry.takeSubject(ISSUER, "alice"), []);
  }),
);
