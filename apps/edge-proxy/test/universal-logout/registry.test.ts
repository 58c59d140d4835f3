// The session registry on Workers: its Durable Objects (one per subject, pointers by sid and id) in workerd.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  DurableObjectSessionRegistry,
  type SessionRegistryObject,
} from "../../src/adapters/workers/registry.ts";
import { importSealingKeys, SealError, type SealingKeys } from "../../src/sealed.ts";
import {
  REGISTRATION_ID,
  type Registration,
  RegistryFull,
  type RegistryLimits,
  type RegistryOptions,
  sidKeyOf,
  subjectKeyOf,
} from "../../src/universal-logout/registry.ts";

const namespace = env.SESSION_REGISTRY;
const HOUR = 3_600_000;
const LIMITS: RegistryLimits = { maxPerSubject: 4, maxLifetimeMs: 24 * HOUR };
const OWNER = "ab".repeat(32);
const OTHER_OWNER = "cd".repeat(32);

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

async function keys(): Promise<SealingKeys> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const imported = await importSealingKeys(
    `k1:${btoa(String.fromCharCode(...bytes))}`,
    "PROXY_STORE_KEYS",
  );
  if ("message" in imported) throw new Error(imported.message);
  return imported;
}

let issuers = 0;

/** A registry on the Worker's binding, under an issuer of its own (objects no other test uses). */
async function setup(options: Partial<RegistryOptions> = {}) {
  const issuer = `https://idp-${++issuers}-${randomHex(4)}.example.com`;
  const errors: unknown[] = [];
  const sealing = await keys();
  const made = (more: Partial<RegistryOptions> = {}) =>
    new DurableObjectSessionRegistry(namespace, {
      sealing,
      limits: LIMITS,
      onError: (error) => errors.push(error),
      ...options,
      ...more,
    });
  /** A registration of `subject` whose vendor token is unique to it (to look for at rest). */
  const entry = (subject: string, extra: Partial<Omit<Registration, "id" | "createdAt">> = {}) => ({
    issuer,
    subject,
    sid: undefined as string | undefined,
    owner: OWNER as string | null,
    expiresAt: Date.now() + HOUR,
    members: { lancens: { username: "lancens-user", token: `lancens-token-${randomHex(8)}` } },
    ...extra,
  });
  return { issuer, errors, sealing, registry: made(), made, entry };
}

const ids = (taken: readonly Registration[]) => taken.map((registration) => registration.id).sort();

function stubOf(name: string): DurableObjectStub<SessionRegistryObject> {
  return namespace.get(namespace.idFromName(name));
}

/** The object of a subject's partition: named by its subject key. */
async function partition(issuer: string, subject: string) {
  return stubOf(await subjectKeyOf(issuer, subject));
}

/** The object pointing at the partitions that have registrations of a provider session. */
async function sidPointers(issuer: string, sid: string) {
  return stubOf(`sid:${await sidKeyOf(issuer, sid)}`);
}

/** Every row of an object's two tables, as SQLite holds them. */
function rowsIn(stub: DurableObjectStub<SessionRegistryObject>) {
  return runInDurableObject(stub, (_instance: SessionRegistryObject, state) => ({
    registrations: state.storage.sql
      .exec<Record<string, string | number | null>>("SELECT * FROM registrations")
      .toArray(),
    pointers: state.storage.sql
      .exec<{ subject_key: string; until: number }>("SELECT * FROM pointers")
      .toArray(),
  }));
}

/** Writes `count` live rows of `owner` straight into a partition: a subject filled by others. */
function seed(stub: DurableObjectStub<SessionRegistryObject>, owner: string, count: number) {
  return runInDurableObject(stub, (_instance: SessionRegistryObject, state) => {
    for (let i = 0; i < count; i++) {
      state.storage.sql.exec(
        "INSERT INTO registrations VALUES (?, NULL, ?, ?, 'sealed')",
        `ses_seeded_${randomHex(16)}`,
        owner,
        Date.now() + HOUR,
      );
    }
  });
}

/** Moves every expiry of an object's rows `ms` back: time passes for that object. */
function age(stub: DurableObjectStub<SessionRegistryObject>, ms: number) {
  return runInDurableObject(stub, (_instance: SessionRegistryObject, state) => {
    state.storage.sql.exec("UPDATE registrations SET expires_at = expires_at - ?", ms);
    state.storage.sql.exec("UPDATE pointers SET until = until - ?", ms);
  });
}

/** A registry whose objects are the binding's, but for `subject`'s partition: its takes run `take`. */
async function failingTake(issuer: string, subject: string, take: () => Promise<never>) {
  const failing = namespace.idFromName(await subjectKeyOf(issuer, subject));
  const flaky = {
    idFromName: (name: string) => namespace.idFromName(name),
    get: (id: DurableObjectId) =>
      id.equals(failing) ? { takeRegistrations: take } : namespace.get(id),
  } as unknown as DurableObjectNamespace<SessionRegistryObject>;
  return new DurableObjectSessionRegistry(flaky, { sealing: await keys(), limits: LIMITS });
}

function alarmOf(stub: DurableObjectStub<SessionRegistryObject>) {
  return runInDurableObject(stub, (_instance: SessionRegistryObject, state) =>
    state.storage.getAlarm(),
  );
}

describe("the session registry on Durable Objects", () => {
  it("keeps a subject's registrations in the subject's object and gives each back once to a take of the subject", async () => {
    const { issuer, registry, entry, errors } = await setup();
    const added = entry("alice", { sid: "sid-1" });
    const { id, expiresAt } = await registry.add(added);
    expect(id).toMatch(REGISTRATION_ID);
    expect(expiresAt).toBe(added.expiresAt);
    const other = await registry.add(entry("alice"));
    const bobs = await registry.add(entry("bob"));
    const alice = await partition(issuer, "alice");
    expect((await rowsIn(alice)).registrations.map((row) => row.id).sort()).toEqual(
      [id, other.id].sort(),
    );
    expect((await rowsIn(await partition(issuer, "bob"))).registrations).toHaveLength(1);
    expect(await registry.takeSubject(issuer, "carol")).toEqual([]);
    expect(await registry.takeSubject(`${issuer}/other`, "alice")).toEqual([]);
    const taken = await registry.takeSubject(issuer, "alice");
    expect(ids(taken)).toEqual([id, other.id].sort());
    const mine = taken.find((registration) => registration.id === id);
    expect(mine).toEqual({ ...added, id, createdAt: mine?.createdAt });
    expect(taken.find((registration) => registration.id === other.id)?.sid).toBeUndefined();
    expect(await registry.takeSubject(issuer, "alice")).toEqual([]);
    expect((await rowsIn(alice)).registrations).toEqual([]);
    expect(ids(await registry.takeSubject(issuer, "bob"))).toEqual([bobs.id]);
    expect(errors).toEqual([]);
  });

  it("takes only the sid's registrations of a subject when a sid is given", async () => {
    const { issuer, registry, entry } = await setup();
    const one = await registry.add(entry("alice", { sid: "sid-1" }));
    const two = await registry.add(entry("alice", { sid: "sid-2" }));
    const bare = await registry.add(entry("alice"));
    // The same sid under another subject is not this subject's session.
    const bobs = await registry.add(entry("bob", { sid: "sid-1" }));
    expect(ids(await registry.takeSubject(issuer, "alice", "sid-1"))).toEqual([one.id]);
    expect(await registry.takeSubject(issuer, "alice", "sid-1")).toEqual([]);
    expect(ids(await registry.takeSubject(issuer, "alice"))).toEqual([two.id, bare.id].sort());
    expect(ids(await registry.takeSubject(issuer, "bob"))).toEqual([bobs.id]);
  });

  it("takes a provider session by its sid alone, in every partition its pointer object names, of that issuer only", async () => {
    const { issuer, registry, entry } = await setup();
    const mine = await registry.add(entry("alice", { sid: "sid-1" }));
    const also = await registry.add(entry("bob", { sid: "sid-1" }));
    const kept = await registry.add(entry("alice", { sid: "sid-2" }));
    const elsewhere = await registry.add(entry("alice", { issuer: `${issuer}/b`, sid: "sid-1" }));
    const pointers = (await rowsIn(await sidPointers(issuer, "sid-1"))).pointers;
    expect(pointers.map((row) => row.subject_key).sort()).toEqual(
      [await subjectKeyOf(issuer, "alice"), await subjectKeyOf(issuer, "bob")].sort(),
    );
    const taken = await registry.takeSession(issuer, "sid-1");
    expect(ids(taken)).toEqual([mine.id, also.id].sort());
    expect(taken.map((registration) => registration.subject).sort()).toEqual(["alice", "bob"]);
    expect(await registry.takeSession(issuer, "sid-1")).toEqual([]);
    expect(await registry.takeSession(issuer, "sid-3")).toEqual([]);
    expect(ids(await registry.takeSubject(issuer, "alice"))).toEqual([kept.id]);
    expect(ids(await registry.takeSession(`${issuer}/b`, "sid-1"))).toEqual([elsewhere.id]);
  });

  it("removes a registration for its owner only; one without an owner for any caller", async () => {
    const { issuer, registry, entry } = await setup();
    const { id } = await registry.add(entry("alice"));
    expect(await registry.remove(id, OTHER_OWNER)).toBe(false);
    expect(await registry.remove(id, null)).toBe(false);
    expect(await registry.remove(`ses_${"A".repeat(43)}`, OWNER)).toBe(false);
    expect(await registry.remove("", OWNER)).toBe(false);
    expect(await registry.remove(id, OWNER)).toBe(true);
    expect(await registry.remove(id, OWNER)).toBe(false);
    const unowned = await registry.add(entry("alice", { owner: null }));
    const kept = await registry.add(entry("alice"));
    expect(await registry.remove(unowned.id, OTHER_OWNER)).toBe(true);
    // A registration a take removed leaves its id pointer behind: a lookup, then nothing.
    const taken = await registry.add(entry("bob"));
    await registry.takeSubject(issuer, "bob");
    expect(await registry.remove(taken.id, OWNER)).toBe(false);
    expect(ids(await registry.takeSubject(issuer, "alice"))).toEqual([kept.id]);
  });

  it("never returns or removes an expired registration", async () => {
    let offset = 0;
    const { issuer, registry, entry } = await setup({ now: () => Date.now() + offset });
    const soon = Date.now() + 60_000;
    const short = await registry.add(entry("alice", { sid: "sid-1", expiresAt: soon }));
    const long = await registry.add(entry("alice", { expiresAt: soon + HOUR }));
    offset = 60_000;
    expect(await registry.remove(short.id, OWNER)).toBe(false);
    expect(await registry.takeSession(issuer, "sid-1")).toEqual([]);
    expect(ids(await registry.takeSubject(issuer, "alice"))).toEqual([long.id]);
  });

  it("deletes expired rows by each object's alarm, set for the object's earliest expiry", async () => {
    const { issuer, registry, entry } = await setup();
    const soon = Date.now() + 60_000;
    // The later expiry first: the alarm is brought forward to the earlier one.
    const long = await registry.add(entry("alice", { expiresAt: soon + HOUR }));
    const short = await registry.add(entry("alice", { sid: "sid-1", expiresAt: soon }));
    const alice = await partition(issuer, "alice");
    const bySid = await sidPointers(issuer, "sid-1");
    const byId = stubOf(`id:${short.id}`);
    for (const stub of [alice, bySid, byId]) expect(await alarmOf(stub)).toBe(soon);
    // Time passes for the objects: the short registration and its pointers are behind us.
    for (const stub of [alice, bySid, byId]) await age(stub, 60_000);
    expect(await runDurableObjectAlarm(alice)).toBe(true);
    expect((await rowsIn(alice)).registrations.map((row) => row.id)).toEqual([long.id]);
    // The alarm is set again, for the registration left.
    expect(await alarmOf(alice)).toBe(soon + HOUR - 60_000);
    for (const stub of [bySid, byId]) {
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      expect((await rowsIn(stub)).pointers).toEqual([]);
      expect(await alarmOf(stub)).toBeNull();
    }
  });

  it("brings an expiry beyond the longest lifetime forward", async () => {
    const { issuer, registry, entry } = await setup();
    const before = Date.now();
    const { expiresAt } = await registry.add(entry("alice", { expiresAt: before + 48 * HOUR }));
    expect(expiresAt).toBeGreaterThanOrEqual(before + LIMITS.maxLifetimeMs);
    expect(expiresAt).toBeLessThan(before + 48 * HOUR);
    const [taken] = await registry.takeSubject(issuer, "alice");
    expect(taken?.expiresAt).toBe(expiresAt);
  });

  it("refuses a caller's registration of a subject beyond its limit, naming it; expired and taken ones free slots", async () => {
    let offset = 0;
    const { issuer, registry, entry } = await setup({ now: () => Date.now() + offset });
    const soon = Date.now() + 60_000;
    await registry.add(entry("alice", { expiresAt: soon }));
    for (let i = 0; i < 3; i++) await registry.add(entry("alice"));
    const refusal = await registry.add(entry("alice")).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RegistryFull);
    expect((refusal as RegistryFull).limit).toBe(4);
    expect((refusal as RegistryFull).init).toMatchObject({
      kind: "conflict",
      code: "REGISTRY_FULL",
      extensions: { limit: "maxPerSubject", max: 4 },
    });
    expect((await rowsIn(await partition(issuer, "alice"))).registrations).toHaveLength(4);
    // Another subject, and the same subject at another issuer, have their own slots.
    await registry.add(entry("bob"));
    await registry.add(entry("alice", { issuer: `${issuer}/b` }));
    offset = 60_000;
    await registry.add(entry("alice"));
    await expect(registry.add(entry("alice"))).rejects.toBeInstanceOf(RegistryFull);
    expect(await registry.takeSubject(issuer, "alice")).toHaveLength(4);
    await registry.add(entry("alice"));
  });

  it("gives each registering caller slots of its own in a subject, and caps the subject at 256", async () => {
    const { issuer, registry, entry, made } = await setup();
    for (let i = 0; i < 4; i++) await registry.add(entry("alice"));
    await expect(registry.add(entry("alice"))).rejects.toBeInstanceOf(RegistryFull);
    // Another caller is not held back by the first one's registrations, nor is a caller without one.
    for (let i = 0; i < 4; i++) await registry.add(entry("alice", { owner: OTHER_OWNER }));
    await expect(registry.add(entry("alice", { owner: OTHER_OWNER }))).rejects.toBeInstanceOf(
      RegistryFull,
    );
    await registry.add(entry("alice", { owner: null }));
    expect(await registry.takeSubject(issuer, "alice")).toHaveLength(9);

    const wide = made({ limits: { maxPerSubject: 256, maxLifetimeMs: HOUR } });
    const fill = (owner: string, count: number) =>
      Promise.all(Array.from({ length: count }, () => wide.add(entry("bob", { owner }))));
    await fill(OWNER, 200);
    await fill(OTHER_OWNER, 56);
    const refusal = await wide
      .add(entry("bob", { owner: "ef".repeat(32) }))
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(RegistryFull);
    expect((refusal as RegistryFull).limit).toBe(256);
    expect((refusal as RegistryFull).init.extensions).toEqual({ limit: "subjectTotal", max: 256 });
    // A caller that has used none of its own slots is refused as well: the subject is full.
    await expect(wide.add(entry("bob", { owner: null }))).rejects.toBeInstanceOf(RegistryFull);
    expect((await rowsIn(await partition(issuer, "bob"))).registrations).toHaveLength(256);
    expect(await wide.takeSubject(issuer, "bob")).toHaveLength(256);
  });

  it("lets many adds at once from several registries never pass a caller's limit: the object counts and inserts in one step", async () => {
    const { issuer, made, entry } = await setup();
    const registries = [made(), made(), made()];
    const owners = [OWNER, OTHER_OWNER];
    for (const subject of ["alice", "bob"]) {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          registries[i % 3]?.add(entry(subject, { owner: owners[i % 2] as string })),
        ),
      );
      const added = outcomes.filter((outcome) => outcome.status === "fulfilled");
      const refused = outcomes.filter((outcome) => outcome.status === "rejected");
      expect(added).toHaveLength(2 * LIMITS.maxPerSubject);
      for (const outcome of refused) expect(outcome.reason).toBeInstanceOf(RegistryFull);
      const taken = (await registries[0]?.takeSubject(issuer, subject)) ?? [];
      for (const owner of owners) {
        expect(taken.filter((registration) => registration.owner === owner)).toHaveLength(
          LIMITS.maxPerSubject,
        );
      }
    }
  });

  it("lets many adds at once of several callers never pass the subject's 256 in all", async () => {
    const { issuer, made, entry } = await setup();
    const registries = [made(), made(), made()];
    // Others hold 250 of the subject's 256; 5 callers with 4 free slots each ask for 20 more.
    await seed(await partition(issuer, "alice"), "ef".repeat(32), 250);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        registries[i % 3]?.add(entry("alice", { owner: `${i % 5}`.repeat(64) })),
      ),
    );
    const refused = outcomes.flatMap((outcome) =>
      outcome.status === "rejected" ? [outcome.reason as RegistryFull] : [],
    );
    expect(refused).toHaveLength(14);
    for (const refusal of refused) {
      expect(refusal.init.extensions).toEqual({ limit: "subjectTotal", max: 256 });
    }
    expect((await rowsIn(await partition(issuer, "alice"))).registrations).toHaveLength(256);
  });

  it("gives each registration to one of several takes at once", async () => {
    const { issuer, registry, made, entry } = await setup({
      limits: { maxPerSubject: 64, maxLifetimeMs: HOUR },
    });
    const second = made();
    const added: string[] = [];
    for (let i = 0; i < 30; i++) {
      added.push((await registry.add(entry("alice", { sid: `sid-${i % 2}` }))).id);
    }
    const takes = await Promise.all([
      registry.takeSubject(issuer, "alice"),
      second.takeSubject(issuer, "alice"),
      registry.takeSession(issuer, "sid-0"),
      second.takeSession(issuer, "sid-1"),
      second.takeSubject(issuer, "alice", "sid-0"),
    ]);
    expect(takes.flatMap(ids).sort()).toEqual(added.sort());
  });

  it("treats a pointer to a partition without the registration as a lookup that finds nothing", async () => {
    const { issuer, registry, entry, errors } = await setup();
    const real = await registry.add(entry("alice", { sid: "sid-1" }));
    // What an add that failed after writing its pointers leaves behind: pointers to nothing.
    const nowhere = await subjectKeyOf(issuer, "nobody");
    await (await sidPointers(issuer, "sid-1")).point(nowhere, Date.now() + HOUR);
    const lost = `ses_${"B".repeat(43)}`;
    await stubOf(`id:${lost}`).point(await subjectKeyOf(issuer, "alice"), Date.now() + HOUR);
    expect(await registry.remove(lost, OWNER)).toBe(false);
    // And what an add refused by the limit leaves: its pointers, and no registration.
    const full = await setup({ limits: { maxPerSubject: 1, maxLifetimeMs: HOUR } });
    await full.registry.add(full.entry("bob"));
    const refused = full.entry("bob", { sid: "sid-9" });
    await expect(full.registry.add(refused)).rejects.toBeInstanceOf(RegistryFull);
    expect((await rowsIn(await sidPointers(full.issuer, "sid-9"))).pointers).toHaveLength(1);
    expect(await full.registry.takeSession(full.issuer, "sid-9")).toEqual([]);
    expect(await full.registry.takeSubject(full.issuer, "bob")).toHaveLength(1);
    // The stale pointer costs a lookup; the real registration is taken once.
    const taken = await registry.takeSession(issuer, "sid-1");
    expect(ids(taken)).toEqual([real.id]);
    expect(await registry.takeSession(issuer, "sid-1")).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("writes an add's pointers before its registration: a pointer that cannot be written leaves no registration", async () => {
    const { issuer, registry, entry } = await setup();
    const sidObject = namespace.idFromName(`sid:${await sidKeyOf(issuer, "sid-1")}`);
    // The sid's pointer object cannot be reached.
    const flaky = {
      idFromName: (name: string) => namespace.idFromName(name),
      get: (id: DurableObjectId) =>
        id.equals(sidObject)
          ? { point: () => Promise.reject(new Error("Durable Object unreachable")) }
          : namespace.get(id),
    } as unknown as DurableObjectNamespace<SessionRegistryObject>;
    const broken = new DurableObjectSessionRegistry(flaky, {
      sealing: (await setup()).sealing,
      limits: LIMITS,
    });
    await expect(broken.add(entry("alice", { sid: "sid-1" }))).rejects.toThrow(
      "Durable Object unreachable",
    );
    // No registration that takeSession could never find.
    expect((await rowsIn(await partition(issuer, "alice"))).registrations).toEqual([]);
    expect(await registry.takeSubject(issuer, "alice")).toEqual([]);
  });

  it("reads an answer of its object it does not know as an error, never as a full subject", async () => {
    const { entry, sealing } = await setup();
    for (const answer of ["added", false, "maxperSubject", { limit: "subjectTotal" }]) {
      const odd = {
        idFromName: (name: string) => namespace.idFromName(name),
        get: () => ({ point: async () => {}, addRegistration: async () => answer }),
      } as unknown as DurableObjectNamespace<SessionRegistryObject>;
      const registry = new DurableObjectSessionRegistry(odd, { sealing, limits: LIMITS });
      const refusal = await registry.add(entry("alice")).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(TypeError);
      expect(String(refusal)).toMatch(/answered what this version does not know/);
    }
  });

  it("puts back what a take of several partitions took when one of them fails, so a retry finds it", async () => {
    const { issuer, registry, made, entry } = await setup();
    const alice = await registry.add(entry("alice", { sid: "sid-1" }));
    const bob = await registry.add(entry("bob", { sid: "sid-1" }));
    // Bob's partition cannot be reached: its takes fail, as a call to an unreachable object does.
    const broken = await failingTake(issuer, "bob", () =>
      Promise.reject(new Error("Durable Object unreachable")),
    );
    await expect(broken.takeSession(issuer, "sid-1")).rejects.toThrow("Durable Object unreachable");
    // Alice's partition was taken, then put back: the retry finds both, once.
    expect((await rowsIn(await partition(issuer, "alice"))).registrations).toHaveLength(1);
    expect(ids(await made().takeSession(issuer, "sid-1"))).toEqual([alice.id, bob.id].sort());
  });

  it("puts back what it took even when the caller's slots, and the subject's 256, filled up meanwhile", async () => {
    const { issuer, registry, made, entry, errors } = await setup();
    const alice = await registry.add(entry("alice", { sid: "sid-1" }));
    await registry.add(entry("bob", { sid: "sid-1" }));
    // While Bob's partition fails its take, Alice's fills up: this caller's 4 slots, and 256 in all.
    const broken = await failingTake(issuer, "bob", async () => {
      for (let i = 0; i < 4; i++) await registry.add(entry("alice"));
      await seed(await partition(issuer, "alice"), OTHER_OWNER, 252);
      throw new Error("Durable Object unreachable");
    });
    await expect(broken.takeSession(issuer, "sid-1")).rejects.toThrow("Durable Object unreachable");
    expect((await rowsIn(await partition(issuer, "alice"))).registrations).toHaveLength(257);
    expect(ids(await made().takeSession(issuer, "sid-1"))).toContain(alice.id);
    expect(errors).toEqual([]);
  });

  it("reports a registration it could not put back, and throws the take's own failure", async () => {
    const { issuer, registry, entry } = await setup();
    await registry.add(entry("alice", { sid: "sid-1" }));
    await registry.add(entry("bob", { sid: "sid-1" }));
    const [alice, bob] = await Promise.all(
      ["alice", "bob"].map(async (subject) =>
        namespace.idFromName(await subjectKeyOf(issuer, subject)),
      ),
    );
    // Bob's partition cannot be reached; Alice's takes, then refuses the put-back.
    const flaky = {
      idFromName: (name: string) => namespace.idFromName(name),
      get: (id: DurableObjectId) => {
        const stub = namespace.get(id);
        if (id.equals(bob as DurableObjectId)) {
          return { takeRegistrations: () => Promise.reject(new Error("take failed")) };
        }
        if (!id.equals(alice as DurableObjectId)) return stub;
        return {
          takeRegistrations: (sidKey: string | null, now: number) =>
            stub.takeRegistrations(sidKey, now),
          addRegistration: () => Promise.reject(new Error("put-back failed")),
        };
      },
    } as unknown as DurableObjectNamespace<SessionRegistryObject>;
    const errors: unknown[] = [];
    const broken = new DurableObjectSessionRegistry(flaky, {
      sealing: (await setup()).sealing,
      limits: LIMITS,
      onError: (error) => errors.push(error),
    });
    await expect(broken.takeSession(issuer, "sid-1")).rejects.toThrow("take failed");
    expect(errors.map(String)).toEqual(["Error: put-back failed"]);
  });

  it("holds no vendor token, subject, sid or issuer in clear in any object, and opens under no other key", async () => {
    const { issuer, registry, entry, made } = await setup();
    const added = entry("alice@example.com", { sid: "provider-session-42" });
    const { id } = await registry.add(added);
    const stored = JSON.stringify([
      await rowsIn(await partition(issuer, "alice@example.com")),
      await rowsIn(await sidPointers(issuer, "provider-session-42")),
      await rowsIn(stubOf(`id:${id}`)),
    ]);
    const token = (added.members.lancens as { token: string }).token;
    for (const secret of [
      token,
      "lancens",
      "alice@example.com",
      "provider-session-42",
      issuer,
      "example.com",
    ]) {
      expect(stored).not.toContain(secret);
    }
    expect(stored).toContain(id);
    expect(stored).toContain(await sidKeyOf(issuer, "provider-session-42"));
    const errors: unknown[] = [];
    const stranger = made({ sealing: await keys(), onError: (error) => errors.push(error) });
    // The wrong key finds the row by its digests but cannot open it: reported, never returned.
    expect(await stranger.takeSubject(issuer, "alice@example.com")).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SealError);
    expect(String(errors[0])).not.toContain(token);
  });

  it("checks what it is given, naming the field", async () => {
    const { issuer, registry, entry } = await setup();
    await expect(registry.add(entry("alice", { sid: "" }))).rejects.toThrow(/^sid: /);
    await expect(registry.add(entry("alice", { expiresAt: Date.now() - 1 }))).rejects.toThrow(
      /^expiresAt: /,
    );
    await expect(registry.takeSubject(issuer, "")).rejects.toThrow(/^subject: /);
    await expect(registry.takeSession("", "sid-1")).rejects.toThrow(/^issuer: /);
    await expect(registry.takeSession(issuer, "x".repeat(1025))).rejects.toThrow(/^sid: /);
    const sealing = (await setup()).sealing;
    expect(
      () =>
        new DurableObjectSessionRegistry(namespace, {
          sealing,
          limits: { ...LIMITS, maxPerSubject: 257 },
        }),
    ).toThrow(/^maxPerSubject: /);
    expect(await registry.takeSubject(issuer, "alice")).toEqual([]);
  });
});
