// The SQL stores against their real engines: SQLite through node:sqlite on a file, and a PostgreSQL 18
// server this file starts from the npm registry's binaries; each case on a fresh database, with a
// second connection standing for a second process.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type PostgresServer, startPostgres } from "../../../tooling/postgres/server.mjs";
import { createSchema, type SqlDriver, type SqlValue } from "../src/adapters/sql/driver.ts";
import { SqlDenyList, SqlReplayGuard } from "../src/adapters/sql/expiring-set.ts";
import { openNodeSqlite } from "../src/adapters/sql/node-sqlite.ts";
import { SqlOutbox } from "../src/adapters/sql/outbox.ts";
import { type PostgresClient, postgresDriver } from "../src/adapters/sql/postgres.ts";
import { SqlRateLimiter } from "../src/adapters/sql/rate-limiter.ts";
import { DEFAULT_OUTBOX_POLICY, type OutboxPolicy } from "../src/config.ts";
import type { AttemptOutcome, AttemptRunner, AttemptStep } from "../src/delivery.ts";
import type { JobRequest } from "../src/outbox.ts";
import { ProblemError } from "../src/problem.ts";
import { importSealingKeys, type SealingKeys } from "../src/sealed.ts";

/** A database of one engine: `open` makes a fresh one, `connect` another connection to it. */
export interface Engine {
  name: string;
  open(): Promise<{ db: SqlDriver; connect: () => Promise<SqlDriver> }>;
}

let folder: string;
let files = 0;

const sqlite: Engine = {
  name: "SQLite (node:sqlite)",
  async open() {
    const file = join(folder, `stores-${++files}.db`);
    return { db: await openNodeSqlite(file), connect: () => openNodeSqlite(file) };
  },
};

let server: PostgresServer | undefined;
let databases = 0;

/** A client of `url`, as the Bun and Node entries make it. */
function pgDriver(url: string): SqlDriver {
  const client = postgres(url, { max: 4, onnotice: () => {} });
  return postgresDriver(client as unknown as PostgresClient, url);
}

const pg: Engine = {
  name: "PostgreSQL 18",
  async open() {
    const admin = postgres((server as PostgresServer).url, { max: 1, onnotice: () => {} });
    const name = `stores_${++databases}`;
    await admin.unsafe(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL((server as PostgresServer).url);
    url.pathname = `/${name}`;
    return { db: pgDriver(url.href), connect: async () => pgDriver(url.href) };
  },
};

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "edge-proxy-sql-"));
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
  await rm(folder, { recursive: true, force: true });
});

const KEY = "a".repeat(64);
const OTHER_KEY = "b".repeat(64);
const T0 = 1_800_000_000_000;

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

const POLICY: OutboxPolicy = {
  ...DEFAULT_OUTBOX_POLICY,
  maxAttempts: undefined,
  baseDelayMs: 1_000,
  maxDelayMs: 4_000,
  maxAgeMs: 86_400_000,
  retentionMs: 60_000,
  maxOpenJobs: 10_000,
  maxOpenJobsPerCaller: 1_000,
};

const BODY = { lancens: { token: "t" } };

function request(caller = "caller-1"): JobRequest {
  return { requestId: crypto.randomUUID(), owner: null, caller };
}

const ok: AttemptOutcome = { ok: true, alreadyLoggedOut: false };
const unavailable: AttemptOutcome = {
  ok: false,
  error: {
    code: "UPSTREAM_UNAVAILABLE",
    kind: "unavailable",
    upstreamStatus: 503,
    retryable: true,
  },
  retryAfterMs: 0,
};

/** A runner that records every call and answers from `answer`. */
function recorder(answer: (call: number) => AttemptOutcome | Promise<AttemptOutcome>) {
  const calls: { member: string; claimId: string; step: AttemptStep | undefined }[] = [];
  const run: AttemptRunner = async (member, _body, claimId, step) => {
    calls.push({ member, claimId, step });
    return answer(calls.length);
  };
  return { run, calls };
}

/** Waits (10 ms at a time, at most 2 s) until `done` holds. */
async function eventually(done: () => boolean): Promise<void> {
  for (let round = 0; round < 200 && !done(); round++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(done()).toBe(true);
}

/** Polls until `done` holds, calling `move` (the clock) before each poll; at most `rounds` times. */
async function until(
  outboxes: SqlOutbox[],
  done: () => Promise<boolean> | boolean,
  move: () => void = () => {},
  rounds = 200,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    if (await done()) return;
    move();
    for (const outbox of outboxes) await outbox.poll();
    for (const outbox of outboxes) await outbox.idle();
  }
  throw new Error(`not done after ${rounds} polls`);
}

describe.each([sqlite, pg])("SQL stores on $name", (engine) => {
  const open: SqlDriver[] = [];
  const outboxes: SqlOutbox[] = [];

  async function fresh() {
    const made = await engine.open();
    open.push(made.db);
    await createSchema(made.db);
    return {
      db: made.db,
      connect: async () => {
        const db = await made.connect();
        open.push(db);
        await createSchema(db);
        return db;
      },
    };
  }

  function outboxOn(db: SqlDriver, run: AttemptRunner, now: () => number, extra = {}) {
    const outbox = new SqlOutbox(db, run, {
      policy: POLICY,
      leaseMs: 10_000,
      now,
      random: () => 0.5,
      // The tests poll themselves.
      pollMs: 3_600_000,
      onError: (error) => {
        throw error;
      },
      ...extra,
    });
    outboxes.push(outbox);
    return outbox;
  }

  afterEach(async () => {
    for (const outbox of outboxes.splice(0)) await outbox.stop(0);
    for (const db of open.splice(0)) await db.close().catch(() => {});
  });

  describe("the deny-list", () => {
    it("claims, renews, refuses another owner until the lease ends, and records", async () => {
      const { db } = await fresh();
      const time = clock();
      const list = new SqlDenyList(db, { now: time.now });
      expect(await list.claim("jti-1", "attempt-a", 5_000)).toBe("claimed");
      expect(await list.claim("jti-1", "attempt-b", 5_000)).toBe("pending");
      // The same attempt claims again: its lease starts over.
      time.advance(4_000);
      expect(await list.claim("jti-1", "attempt-a", 5_000)).toBe("claimed");
      time.advance(4_000);
      expect(await list.claim("jti-1", "attempt-b", 5_000)).toBe("pending");
      // A claim is not a revocation.
      expect(await list.has("jti-1")).toBe(false);
      time.advance(1_001);
      expect(await list.claim("jti-1", "attempt-b", 5_000)).toBe("claimed");
      await list.add("jti-1", Math.floor(time.now() / 1000) + 600);
      expect(await list.has("jti-1")).toBe(true);
      expect(await list.claim("jti-1", "attempt-b", 5_000)).toBe("revoked");
      expect(await list.claim("jti-1", "attempt-c", 5_000)).toBe("revoked");
    });

    it("releases only its owner's claim, never a record", async () => {
      const { db } = await fresh();
      const list = new SqlDenyList(db);
      expect(await list.claim("jti-2", "attempt-a", 5_000)).toBe("claimed");
      await list.release("jti-2", "attempt-b");
      expect(await list.claim("jti-2", "attempt-b", 5_000)).toBe("pending");
      await list.release("jti-2", "attempt-a");
      expect(await list.claim("jti-2", "attempt-b", 5_000)).toBe("claimed");
      await list.add("jti-2", Math.floor(Date.now() / 1000) + 600);
      await list.release("jti-2", "attempt-b");
      expect(await list.has("jti-2")).toBe(true);
    });

    it("keeps the later expiry, forgets a record at its expiry, and purges it", async () => {
      const { db } = await fresh();
      const time = clock();
      const list = new SqlDenyList(db, { now: time.now });
      const sec = Math.floor(T0 / 1000);
      await list.add("jti-3", sec + 600);
      await list.add("jti-3", sec + 60);
      time.advance(599_000);
      expect(await list.has("jti-3")).toBe(true);
      time.advance(1_000);
      expect(await list.has("jti-3")).toBe(false);
      expect(await list.claim("jti-3", "attempt-a", 1_000)).toBe("claimed");
      time.advance(1_000);
      expect(await list.set.purge()).toBe(1);
      expect(await list.set.size()).toBe(0);
      // An exp already past records nothing and drops the claim.
      expect(await list.claim("jti-4", "attempt-a", 1_000)).toBe("claimed");
      await list.add("jti-4", sec);
      expect(await list.has("jti-4")).toBe(false);
      expect(await list.claim("jti-4", "attempt-b", 1_000)).toBe("claimed");
    });

    it("lets exactly one of many simultaneous claims of a token through, across connections", async () => {
      const { db, connect } = await fresh();
      const other = await connect();
      const lists = [new SqlDenyList(db), new SqlDenyList(other)];
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (lists[i % 2] as SqlDenyList).claim("jti-race", `attempt-${i}`, 10_000),
        ),
      );
      expect(answers.filter((answer) => answer === "claimed")).toHaveLength(1);
      expect(answers.filter((answer) => answer === "pending")).toHaveLength(39);
    });

    it("shares a revocation with another connection at once", async () => {
      const { db, connect } = await fresh();
      const other = await connect();
      await new SqlDenyList(db).add("jti-5", Math.floor(Date.now() / 1000) + 600);
      expect(await new SqlDenyList(other).has("jti-5")).toBe(true);
    });

    it("refuses bad input with an error that names it, and writes nothing", async () => {
      const { db } = await fresh();
      const list = new SqlDenyList(db);
      const sec = Math.floor(Date.now() / 1000);
      await expect(list.add("", sec + 60)).rejects.toThrow(/jti/);
      await expect(list.add("x".repeat(257), sec + 60)).rejects.toThrow(/jti/);
      await expect(list.add("j", sec + 2 * 86_400)).rejects.toThrow(/within a day/);
      await expect(list.add("j", 1.5)).rejects.toThrow(/whole-second/);
      await expect(list.claim("j", "", 1_000)).rejects.toThrow(/claim id/);
      await expect(list.claim("j", "a", 0)).rejects.toThrow(/lease/);
      await expect(list.claim("j", "a", 3_600_001)).rejects.toThrow(/lease/);
      await expect(list.claim("j", "a", Number.NaN)).rejects.toThrow(/lease/);
      expect(await list.set.size()).toBe(0);
      // A key that is not text is never found.
      expect(await list.has(42 as unknown as string)).toBe(false);
    });
  });

  describe("the replay guard", () => {
    it("holds a key against every claim, its owner's included, until the hold ends", async () => {
      const { db } = await fresh();
      const time = clock();
      const guard = new SqlReplayGuard(db, { now: time.now });
      const owner = crypto.randomUUID();
      expect(await guard.claim(KEY, owner, 60_000)).toBe(true);
      expect(await guard.claim(KEY, owner, 60_000)).toBe(false);
      expect(await guard.claim(KEY, crypto.randomUUID(), 60_000)).toBe(false);
      expect(await guard.heldMs(KEY)).toBe(60_000);
      time.advance(59_999);
      expect(await guard.heldMs(KEY)).toBe(1);
      time.advance(1);
      expect(await guard.heldMs(KEY)).toBe(0);
      expect(await guard.claim(KEY, crypto.randomUUID(), 60_000)).toBe(true);
      expect(await guard.heldMs(OTHER_KEY)).toBe(0);
    });

    it("frees a key for its owner's release only", async () => {
      const { db, connect } = await fresh();
      const guard = new SqlReplayGuard(db);
      const elsewhere = new SqlReplayGuard(await connect());
      const owner = crypto.randomUUID();
      expect(await guard.claim(KEY, owner, 60_000)).toBe(true);
      expect(await elsewhere.claim(KEY, crypto.randomUUID(), 60_000)).toBe(false);
      await elsewhere.release(KEY, crypto.randomUUID());
      expect(await guard.heldMs(KEY)).toBeGreaterThan(0);
      await elsewhere.release(KEY, owner);
      expect(await elsewhere.claim(KEY, crypto.randomUUID(), 60_000)).toBe(true);
    });

    it("refuses what is not a replay claim", async () => {
      const { db } = await fresh();
      const guard = new SqlReplayGuard(db);
      await expect(guard.claim("short", crypto.randomUUID(), 1_000)).rejects.toThrow(/replay key/);
      await expect(guard.claim(KEY, "not an owner!", 1_000)).rejects.toThrow(/owner/);
      await expect(guard.claim(KEY, crypto.randomUUID(), 0)).rejects.toThrow(/hold/);
      await expect(guard.claim(KEY, crypto.randomUUID(), 3_600_001)).rejects.toThrow(/hold/);
      expect(await guard.set.size()).toBe(0);
    });
  });

  describe("the rate limit", () => {
    it("counts a caller's requests per window across connections, with exact figures", async () => {
      const { db, connect } = await fresh();
      const time = clock(T0 - (T0 % 60_000) + 15_000);
      const policy = { limit: 3, windowSec: 60 };
      const here = new SqlRateLimiter(db, policy, { now: time.now });
      const there = new SqlRateLimiter(await connect(), policy, { now: time.now });
      expect(await here.take("caller")).toMatchObject({
        allowed: true,
        remaining: 2,
        resetSec: 45,
      });
      expect(await there.take("caller")).toMatchObject({ allowed: true, remaining: 1 });
      expect(await here.take("caller")).toMatchObject({ allowed: true, remaining: 0 });
      expect(await there.take("caller")).toEqual({
        allowed: false,
        remaining: 0,
        retryAfterSec: 45,
        exact: true,
        resetSec: 45,
      });
      // Another caller has its own budget.
      expect(await there.take("other")).toMatchObject({ allowed: true, remaining: 2 });
      time.advance(45_000);
      expect(await here.take("caller")).toMatchObject({
        allowed: true,
        remaining: 2,
        resetSec: 60,
      });
      // Windows that are over go; the current one stays.
      time.advance(60_000);
      expect(await here.take("caller")).toMatchObject({ allowed: true, remaining: 2 });
      expect(await here.purge()).toBe(3);
      expect(await there.take("caller")).toMatchObject({ allowed: true, remaining: 1 });
    });
  });

  describe("the outbox", () => {
    it("delivers a job through retries, once per successful attempt, and gives its slot back once", async () => {
      const { db } = await fresh();
      const time = clock();
      const { run, calls } = recorder((n) => (n <= 3 ? unavailable : ok));
      const outbox = outboxOn(db, run, time.now);
      const view = await outbox.enqueue(BODY, request());
      expect(view.status).toBe("pending");
      expect(await outbox.openJobs("caller-1")).toBe(1);
      await until(
        [outbox],
        async () => (await outbox.get(view.id))?.view.status === "delivered",
        () => time.advance(5_000),
      );
      expect(calls.map((call) => call.step)).toEqual(["logout", "retry", "retry", "retry"]);
      const found = await outbox.get(view.id);
      expect(found?.view.vendors.lancens).toMatchObject({ state: "delivered", attempts: 4 });
      expect(await outbox.openJobs("caller-1")).toBe(0);
      expect(await outbox.openJobs()).toBe(0);
      // A later poll of the finished job gives nothing back twice.
      await outbox.poll();
      await outbox.idle();
      expect(await outbox.openJobs()).toBe(0);
      // After its retention the job is deleted.
      time.advance(POLICY.retentionMs);
      expect(await outbox.get(view.id)).toBeUndefined();
      await outbox.poll();
      await outbox.idle();
      expect(await db.all("SELECT id FROM edge_proxy_jobs")).toEqual([]);
    });

    it("refuses a caller over its cap with a 429 and a full outbox with a 503, storing nothing", async () => {
      const { db } = await fresh();
      const time = clock();
      const hang = new Promise<AttemptOutcome>(() => {});
      const outbox = new SqlOutbox(db, async () => hang, {
        policy: { ...POLICY, maxOpenJobsPerCaller: 2, maxOpenJobs: 3 },
        leaseMs: 10_000,
        now: time.now,
        pollMs: 3_600_000,
      });
      outboxes.push(outbox);
      await outbox.enqueue(BODY, request("a"));
      await outbox.enqueue(BODY, request("a"));
      const caller = await outbox.enqueue(BODY, request("a")).catch((error: unknown) => error);
      expect(caller).toBeInstanceOf(ProblemError);
      expect((caller as ProblemError).init).toMatchObject({
        kind: "rate_limited",
        code: "TOO_MANY_OPEN_JOBS",
      });
      await outbox.enqueue(BODY, request("b"));
      const full = await outbox.enqueue(BODY, request("c")).catch((error: unknown) => error);
      expect(full).toBeInstanceOf(ProblemError);
      expect((full as ProblemError).init).toMatchObject({
        kind: "unavailable",
        code: "OUTBOX_FULL",
      });
      expect(await db.all("SELECT id FROM edge_proxy_jobs")).toHaveLength(3);
      expect(await outbox.openJobs("a")).toBe(2);
      expect(await outbox.openJobs("c")).toBe(0);
      expect(await outbox.openJobs()).toBe(3);
    });

    it("fails a vendor that refuses for good and says so per vendor", async () => {
      const { db } = await fresh();
      const time = clock();
      const outbox = outboxOn(
        db,
        async (member) =>
          member === "lancens"
            ? ok
            : {
                ok: false,
                error: {
                  code: "INVALID_TOKEN",
                  kind: "invalid_token",
                  upstreamStatus: 401,
                  retryable: false,
                },
                retryAfterMs: 0,
              },
        time.now,
      );
      const view = await outbox.enqueue({ ...BODY, fungame: { token: "x" } }, request());
      await until([outbox], async () => (await outbox.get(view.id))?.view.status !== "pending");
      const found = (await outbox.get(view.id))?.view;
      expect(found?.status).toBe("partially_failed");
      expect(found?.vendors.fungame).toMatchObject({ state: "failed", failure: "rejected" });
      expect(found?.vendors.lancens).toMatchObject({ state: "delivered" });
      expect(await outbox.openJobs()).toBe(0);
    });

    it("hands a running job back on stop; the next process retries it as interrupted, once", async () => {
      const { db, connect } = await fresh();
      const time = clock();
      const first = recorder(() => new Promise<AttemptOutcome>(() => {}));
      const a = outboxOn(db, first.run, time.now);
      const view = await a.enqueue(BODY, request());
      await eventually(() => first.calls.length === 1);
      expect(a.running).toBe(1);
      expect(await a.stop(0)).toBe(1);
      const second = recorder(() => ok);
      const b = outboxOn(await connect(), second.run, time.now);
      await until(
        [b],
        async () => (await b.get(view.id))?.view.status === "delivered",
        () => time.advance(1_000),
      );
      expect(second.calls).toEqual([
        { member: "lancens", claimId: `${view.id}:lancens`, step: "retry" },
      ]);
      expect((await b.get(view.id))?.view.vendors.lancens?.attempts).toBe(2);
      expect(await b.openJobs()).toBe(0);
    });

    it("takes a dead process's job once its lease is over, and never writes the dead one's late answer", async () => {
      const { db, connect } = await fresh();
      const time = clock();
      let answerLate: (outcome: AttemptOutcome) => void = () => {};
      const dead = outboxOn(db, () => new Promise((resolve) => (answerLate = resolve)), time.now);
      const view = await dead.enqueue(BODY, request());
      await eventually(() => dead.running === 1);
      const live = recorder(() => ok);
      const b = outboxOn(await connect(), live.run, time.now);
      // Within the lease, nobody else runs it.
      await b.poll();
      await b.idle();
      expect(live.calls).toHaveLength(0);
      time.advance(10_000);
      await until(
        [b],
        async () => (await b.get(view.id))?.view.status === "delivered",
        () => time.advance(1_000),
      );
      expect(live.calls).toHaveLength(1);
      // The first process answers after all: a failure it may not write any more.
      answerLate(unavailable);
      await dead.idle();
      const found = (await b.get(view.id))?.view;
      expect(found?.status).toBe("delivered");
      expect(found?.vendors.lancens?.lastError).toMatchObject({ code: "ATTEMPT_INTERRUPTED" });
      expect(await b.openJobs()).toBe(0);
    });

    it("runs each of 200 jobs exactly once when two processes share the table", async () => {
      const { db, connect } = await fresh();
      const time = clock();
      const one = recorder(() => ok);
      const two = recorder(() => ok);
      const a = outboxOn(db, one.run, time.now, { concurrency: 7 });
      const b = outboxOn(await connect(), two.run, time.now, { concurrency: 5 });
      const ids: string[] = [];
      for (let i = 0; i < 200; i++) {
        ids.push((await (i % 2 ? a : b).enqueue(BODY, request(`caller-${i % 9}`))).id);
      }
      await until([a, b], async () => (await a.openJobs()) === 0);
      const claims = [...one.calls, ...two.calls].map((call) => call.claimId).sort();
      expect(claims).toEqual(ids.map((id) => `${id}:lancens`).sort());
      expect(one.calls.length).toBeGreaterThan(0);
      expect(two.calls.length).toBeGreaterThan(0);
    });

    it("goes on taking jobs as its running ones finish, beyond its concurrency, without a timer", async () => {
      const { db } = await fresh();
      const { run, calls } = recorder(async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return ok;
      });
      const outbox = outboxOn(db, run, Date.now, { concurrency: 2 });
      // The poll timer is an hour: only the enqueues and the finished jobs start more.
      for (let i = 0; i < 12; i++) await outbox.enqueue(BODY, request());
      await eventually(() => calls.length === 12);
      await outbox.idle();
      expect(await outbox.openJobs()).toBe(0);
    });

    /** `db` with `before` run ahead of each statement outside transactions. */
    function hooked(
      db: SqlDriver,
      before: (sql: string, params: readonly SqlValue[]) => Promise<void> | void,
    ): SqlDriver {
      return {
        dialect: db.dialect,
        description: db.description,
        all: async (sql, params = []) => {
          await before(sql, params);
          return db.all(sql, params);
        },
        run: async (sql, params = []) => {
          await before(sql, params);
          return db.run(sql, params);
        },
        transaction: (work) => db.transaction(work),
        close: () => db.close(),
      } as SqlDriver;
    }

    it("calls no vendor when the write that marks the attempt in flight is refused (its lease was taken)", async () => {
      const { db } = await fresh();
      let taken = false;
      // Another process takes the job (this one paused past its lease) just before the first save.
      const driver = hooked(db, async (sql) => {
        if (!taken && sql.startsWith("UPDATE edge_proxy_jobs SET job = ?")) {
          taken = true;
          await db.run(
            "UPDATE edge_proxy_jobs SET lease_owner = 'another-process', lease_until = ?",
            [Date.now() + 60_000],
          );
        }
      });
      const { run, calls } = recorder(() => ok);
      const outbox = outboxOn(driver, run, Date.now);
      await outbox.enqueue(BODY, request());
      await outbox.idle();
      expect(taken).toBe(true);
      expect(calls).toEqual([]);
    });

    it("fences a run of its own that outlived its lease: the newer run's delivery stands", async () => {
      const { db } = await fresh();
      const time = clock();
      const answers: ((outcome: AttemptOutcome) => void)[] = [];
      const steps: (AttemptStep | undefined)[] = [];
      const outbox = outboxOn(
        db,
        (_member, _body, _claim, step) => {
          steps.push(step);
          return new Promise((resolve) => answers.push(resolve));
        },
        time.now,
      );
      const view = await outbox.enqueue(BODY, request());
      await eventually(() => answers.length === 1);
      // The attempt outlives the lease: this same process takes the job again, as interrupted.
      time.advance(10_001);
      await outbox.poll();
      time.advance(1_000);
      await outbox.poll();
      await eventually(() => answers.length === 2);
      expect(steps).toEqual(["logout", "retry"]);
      expect(outbox.running).toBe(2);
      // The first run answers late: a failure it may not write.
      (answers[0] as (outcome: AttemptOutcome) => void)(unavailable);
      await eventually(() => outbox.running === 1);
      expect((await outbox.get(view.id))?.view.vendors.lancens?.attempts).toBe(2);
      (answers[1] as (outcome: AttemptOutcome) => void)(ok);
      await outbox.idle();
      expect((await outbox.get(view.id))?.view).toMatchObject({
        status: "delivered",
        vendors: { lancens: { state: "delivered", attempts: 2 } },
      });
      expect(await outbox.openJobs()).toBe(0);
    });

    it("gives the slot of a finished job back when it deletes it at its retention, if its finish never did", async () => {
      const { db } = await fresh();
      const time = clock();
      let died = false;
      // The process dies between the save that finishes the job and the transaction that settles it.
      const dying: SqlDriver = {
        dialect: db.dialect,
        description: db.description,
        all: (sql, params) => db.all(sql, params),
        run: (sql, params) => db.run(sql, params),
        transaction: (work) =>
          db.transaction(async (tx) => {
            const rows = await tx.all<{ n: unknown }>("SELECT count(*) AS n FROM edge_proxy_jobs");
            if (!died && Number(rows[0]?.n) > 0) {
              died = true;
              throw new Error("the process died");
            }
            return work(tx);
          }),
        close: () => db.close(),
      } as SqlDriver;
      const first = new SqlOutbox(dying, async () => ok, {
        policy: POLICY,
        leaseMs: 10_000,
        now: time.now,
        pollMs: 3_600_000,
      });
      outboxes.push(first);
      const view = await first.enqueue(BODY, request());
      await first.idle();
      expect(died).toBe(true);
      expect((await first.get(view.id))?.view.status).toBe("delivered");
      expect(await first.openJobs()).toBe(1);
      await first.stop(0);
      // Back after the retention: the job is deleted, and its slot given back.
      time.advance(POLICY.retentionMs + 10_001);
      const next = outboxOn(db, async () => ok, time.now);
      await next.poll();
      await next.idle();
      expect(await db.all("SELECT id FROM edge_proxy_jobs")).toEqual([]);
      expect([await next.openJobs("caller-1"), await next.openJobs()]).toEqual([0, 0]);
    });

    it("stores a job's vendor tokens sealed, hands them to its attempts in clear, and opens them after a key rotation", async () => {
      const { db } = await fresh();
      const k1 = `k1:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
      const k2 = `k2:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
      const sealing = (await importSealingKeys(k1, "PROXY_STORE_KEYS")) as SealingKeys;
      const time = clock();
      const bodies: unknown[] = [];
      const hang = new Promise<AttemptOutcome>(() => {});
      const first = new SqlOutbox(db, async () => hang, {
        policy: POLICY,
        leaseMs: 10_000,
        pollMs: 3_600_000,
        now: time.now,
        sealing,
      });
      outboxes.push(first);
      const view = await first.enqueue({ lancens: { token: "lancens-token-secret" } }, request());
      const [row] = await db.all<{ job: string }>("SELECT job FROM edge_proxy_jobs");
      expect(row?.job).not.toContain("lancens-token-secret");
      expect(row?.job).toContain('"$sealed":"k1.');
      await first.stop(0);
      // The next process has a new key first and the old one still listed.
      const rotated = (await importSealingKeys(`${k2},${k1}`, "PROXY_STORE_KEYS")) as SealingKeys;
      const next = new SqlOutbox(
        db,
        async (_member, body) => {
          // A copy: the job drops a member's body once its vendor is final.
          bodies.push(structuredClone(body));
          return ok;
        },
        { policy: POLICY, leaseMs: 10_000, pollMs: 3_600_000, now: time.now, sealing: rotated },
      );
      outboxes.push(next);
      await until(
        [next],
        async () => (await next.get(view.id))?.view.status === "delivered",
        () => time.advance(5_000),
      );
      expect(bodies).toEqual([{ lancens: { token: "lancens-token-secret" } }]);
      // Finished, the job keeps no body at all.
      const [done] = await db.all<{ job: string }>("SELECT job FROM edge_proxy_jobs");
      expect(JSON.parse(done?.job ?? "{}").input).toEqual({});
    });

    it("answers a 503 OUTBOX_UNAVAILABLE, never a 500, when the database stops answering", async () => {
      const { db } = await fresh();
      const errors: unknown[] = [];
      const outbox = new SqlOutbox(db, async () => ok, {
        policy: POLICY,
        leaseMs: 10_000,
        pollMs: 3_600_000,
        onError: (error) => errors.push(error),
      });
      outboxes.push(outbox);
      const view = await outbox.enqueue(BODY, request());
      await outbox.idle();
      await outbox.stop(0);
      await db.close();
      for (const call of [() => outbox.enqueue(BODY, request()), () => outbox.get(view.id)]) {
        const error = await call().catch((failure: unknown) => failure);
        expect(error).toBeInstanceOf(ProblemError);
        expect((error as ProblemError).init).toMatchObject({
          kind: "unavailable",
          code: "OUTBOX_UNAVAILABLE",
          retryable: true,
          headers: { "retry-after": "1" },
        });
      }
      // The database's own errors are reported to the operator, not to the caller.
      expect(errors).toHaveLength(2);
    });

    it("hands back, not starts, the jobs a poll leased while it was stopping", async () => {
      const { db } = await fresh();
      let open: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      let held = false;
      // The database is slow to answer the lease when the stop comes.
      const slow = hooked(db, async (sql) => {
        if (!held && sql.startsWith("UPDATE edge_proxy_jobs SET lease_owner = ?")) {
          held = true;
          await gate;
        }
      });
      const { run, calls } = recorder(() => ok);
      const outbox = outboxOn(slow, run, Date.now);
      await outbox.enqueue(BODY, request());
      expect(held).toBe(true);
      await outbox.stop(20);
      open();
      await outbox.idle();
      expect(calls).toEqual([]);
      expect(await db.all("SELECT lease_owner FROM edge_proxy_jobs")).toEqual([
        { lease_owner: null },
      ]);
    });

    it("fails a job no listed key opens once past its age, giving its slot back, and waits a minute before", async () => {
      const { db } = await fresh();
      const time = clock();
      const keyOf = async (id: string) =>
        (await importSealingKeys(
          `${id}:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`,
          "PROXY_STORE_KEYS",
        )) as SealingKeys;
      const first = new SqlOutbox(db, async () => new Promise<AttemptOutcome>(() => {}), {
        policy: POLICY,
        leaseMs: 10_000,
        pollMs: 3_600_000,
        now: time.now,
        sealing: await keyOf("old"),
      });
      outboxes.push(first);
      const view = await first.enqueue(BODY, request());
      await first.stop(0);
      // The old key is gone from the next process's keys.
      const errors: unknown[] = [];
      const { run, calls } = recorder(() => ok);
      const next = new SqlOutbox(db, run, {
        policy: POLICY,
        leaseMs: 10_000,
        pollMs: 3_600_000,
        now: time.now,
        sealing: await keyOf("new"),
        onError: (error) => errors.push(error),
      });
      outboxes.push(next);
      await next.poll();
      await next.idle();
      expect(errors.map((error) => (error as Error).name)).toEqual(["SealError"]);
      const [waiting] = await db.all<{ wake_at: unknown }>("SELECT wake_at FROM edge_proxy_jobs");
      expect(Number(waiting?.wake_at)).toBe(time.now() + 60_000);
      // A poll within the minute does not look at it again.
      await next.poll();
      await next.idle();
      expect(errors).toHaveLength(1);
      time.advance(POLICY.maxAgeMs);
      await next.poll();
      await next.idle();
      expect(calls).toEqual([]);
      expect((await next.get(view.id))?.view).toMatchObject({
        status: "failed",
        vendors: { lancens: { state: "failed", failure: "expired" } },
      });
      expect([await next.openJobs("caller-1"), await next.openJobs()]).toEqual([0, 0]);
    });

    it("finds nothing for an unknown job id", async () => {
      const { db } = await fresh();
      const outbox = outboxOn(db, async () => ok, Date.now);
      expect(await outbox.get("f".repeat(64))).toBeUndefined();
    });
  });
});

describe("the SQLite driver", () => {
  it("reports a transaction's own error even when SQLite has rolled it back already", async () => {
    const { db } = await sqlite.open();
    try {
      const failure = await db
        .transaction(async (tx) => {
          // What SQLite does by itself on a full disk: the transaction is gone.
          await tx.run("ROLLBACK");
          throw new Error("the work failed");
        })
        .catch((error: unknown) => error);
      expect((failure as Error).message).toBe("the work failed");
      // The connection goes on.
      expect(await db.all("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });
});
