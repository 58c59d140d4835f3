// The outbox on a real Deno KV and its queue: delivery once, caps, restarts, leases, duplicates, stop, retention.
import assert from "node:assert/strict";
import {
  KvOutbox,
  type KvOutboxOptions,
  OUTBOX_PREFIX,
  wakeMessage,
} from "../src/adapters/deno-kv/outbox.ts";
import type { OutboxPolicy } from "../src/config.ts";
import type { AttemptOutcome, AttemptRunner, AttemptStep } from "../src/delivery.ts";
import { type JobStatus, newJob, randomJobId, type StoredJob, takeDue } from "../src/outbox.ts";
import { ProblemError } from "../src/problem.ts";
import { importSealingKeys, type SealingKeys } from "../src/sealed.ts";
import { deno, type KvFile, sleep, type TestKv, until, withKvFile } from "./harness.ts";

const POLICY: OutboxPolicy = {
  maxAttempts: undefined,
  baseDelayMs: 20,
  maxDelayMs: 40,
  maxAgeMs: 3_600_000,
  retentionMs: 3_600_000,
  maxOpenJobs: 10,
  maxOpenJobsPerCaller: 5,
};

const BODY = { ebet: { username: "player-1" } };
const request = (caller = "caller-a") => ({ requestId: "request-1", owner: null, caller });

const OK: AttemptOutcome = { ok: true, alreadyLoggedOut: false };
const RETRYABLE: AttemptOutcome = {
  ok: false,
  error: {
    code: "UPSTREAM_UNAVAILABLE",
    kind: "unavailable",
    upstreamStatus: 503,
    retryable: true,
  },
  retryAfterMs: 0,
};

/** A vendor the outbox calls: each call recorded (its job, step and time), answered by `answer`. */
function fakeVendor(
  answer: (call: number, jobId: string) => Promise<AttemptOutcome> | AttemptOutcome,
) {
  const calls: { jobId: string; member: string; step: AttemptStep; at: number }[] = [];
  const run: AttemptRunner = async (member, _body, claimId, step = "logout") => {
    const jobId = claimId.split(":")[0] as string;
    calls.push({ jobId, member, step, at: Date.now() });
    return answer(calls.length, jobId);
  };
  return { run, calls };
}

/** A promise the test settles: attempts wait on it as on a slow vendor. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

type LogLine = Record<string, unknown>;

/** An outbox on a new handle of `file`, its log lines collected in `log`. */
async function outboxOn(
  file: KvFile,
  run: AttemptRunner,
  log: LogLine[],
  options: Partial<KvOutboxOptions> = {},
): Promise<{ kv: TestKv; outbox: KvOutbox }> {
  const kv = await file.open();
  const outbox = new KvOutbox(kv, run, {
    policy: POLICY,
    leaseMs: 5_000,
    log: (line) => log.push(line),
    ...options,
  });
  return { kv, outbox };
}

/** Waits until the outbox shows the job in `status`, and answers its view. */
function statusOf(outbox: KvOutbox, id: string, status: JobStatus) {
  return until(`job ${id.slice(0, 8)} ${status}`, async () => {
    const found = await outbox.get(id);
    return found?.view.status === status ? found.view : undefined;
  });
}

const jobKey = (id: string) => [...OUTBOX_PREFIX, "job", id];

async function recordOf(kv: TestKv, id: string) {
  return (await kv.get(jobKey(id))).value as {
    job: StoredJob;
    lease: { holder: string; until: number } | null;
  } | null;
}

/** The open-job counters: the caller's and the total (null once back to none). */
async function counters(kv: TestKv, caller: string): Promise<unknown[]> {
  const reads = await kv.getMany([
    [...OUTBOX_PREFIX, "open", caller],
    [...OUTBOX_PREFIX, "open-total"],
  ]);
  return reads.map((read) => read.value);
}

const logged = (log: LogLine[], event: string, jobId: string, reason?: string) =>
  log.filter(
    (line) =>
      line.event === event &&
      line.jobId === jobId &&
      (reason === undefined || line.reason === reason),
  ).length;

function problemCode(error: unknown): unknown {
  return error instanceof ProblemError ? error.init.code : error;
}

deno.test(
  "outbox: a job whose vendor fails retryably three times is delivered once, on the fourth attempt",
  () =>
    withKvFile(async (file) => {
      const log: LogLine[] = [];
      const vendor = fakeVendor((call) => (call <= 3 ? RETRYABLE : OK));
      const { kv, outbox } = await outboxOn(file, vendor.run, log);
      const accepted = await outbox.enqueue(BODY, request());
      assert.equal(accepted.status, "pending");
      const view = await statusOf(outbox, accepted.id, "delivered");
      assert.equal(view.vendors.ebet?.attempts, 4);
      assert.deepEqual(
        vendor.calls.map((call) => call.step),
        ["logout", "retry", "retry", "retry"],
      );
      assert.deepEqual(await counters(kv, "caller-a"), [null, null]);
      // A wake-up of the finished job calls no vendor again.
      await kv.enqueue(wakeMessage(accepted.id, Date.now()));
      await until("the wake-up of the finished job", () =>
        logged(log, "outbox_wake_skipped", accepted.id, "finished") > 0 ? true : undefined,
      );
      assert.equal(vendor.calls.length, 4);
    }),
);

deno.test(
  "outbox: a caller over its cap gets 429, a full outbox 503; a finished job's slot is given back once",
  () =>
    withKvFile(async (file) => {
      const log: LogLine[] = [];
      const gates = new Map<string, ReturnType<typeof gate>>();
      const gateOf = (id: string) => {
        const found = gates.get(id) ?? gate();
        gates.set(id, found);
        return found;
      };
      const vendor = fakeVendor(async (_call, jobId) => {
        await gateOf(jobId).opened;
        return OK;
      });
      const policy = { ...POLICY, maxOpenJobsPerCaller: 2, maxOpenJobs: 3 };
      const { kv, outbox } = await outboxOn(file, vendor.run, log, { policy });
      const a1 = await outbox.enqueue(BODY, request("caller-a"));
      const a2 = await outbox.enqueue(BODY, request("caller-a"));
      const tooMany = await outbox.enqueue(BODY, request("caller-a")).catch((error) => error);
      assert.equal(problemCode(tooMany), "TOO_MANY_OPEN_JOBS");
      assert.equal((tooMany as ProblemError).init.kind, "rate_limited");
      const b1 = await outbox.enqueue(BODY, request("caller-b"));
      const full = await outbox.enqueue(BODY, request("caller-c")).catch((error) => error);
      assert.equal(problemCode(full), "OUTBOX_FULL");
      assert.equal((full as ProblemError).init.kind, "unavailable");
      assert.deepEqual(await counters(kv, "caller-a"), [2, 3]);

      gateOf(a1.id).open();
      await statusOf(outbox, a1.id, "delivered");
      assert.deepEqual(await counters(kv, "caller-a"), [1, 2]);
      // Wake-ups of the finished job, as KV may deliver again, give nothing back again.
      await kv.enqueue(wakeMessage(a1.id, Date.now()));
      await kv.enqueue(wakeMessage(a1.id, Date.now()));
      await until("two wake-ups of the finished job", () =>
        logged(log, "outbox_wake_skipped", a1.id, "finished") >= 2 ? true : undefined,
      );
      assert.deepEqual(await counters(kv, "caller-a"), [1, 2]);

      const a3 = await outbox.enqueue(BODY, request("caller-a"));
      assert.deepEqual(await counters(kv, "caller-a"), [2, 3]);
      for (const job of [a2, b1, a3]) gateOf(job.id).open();
      for (const job of [a2, b1, a3]) await statusOf(outbox, job.id, "delivered");
      assert.deepEqual(await counters(kv, "caller-a"), [null, null]);
      assert.deepEqual(await counters(kv, "caller-b"), [null, null]);
      assert.equal(vendor.calls.length, 4);
    }),
);

deno.test("outbox: the caps hold for enqueues made at once from two handles on one file", () =>
  withKvFile(async (file) => {
    const vendor = fakeVendor(() => OK);
    const perCaller = { ...POLICY, maxOpenJobsPerCaller: 2, maxOpenJobs: 100 };
    const a = await outboxOn(file, vendor.run, [], { policy: perCaller, listen: false });
    const b = await outboxOn(file, vendor.run, [], { policy: perCaller, listen: false });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).outbox.enqueue(BODY, request())),
    );
    assert.equal(outcomes.filter((outcome) => outcome.status === "fulfilled").length, 2);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        assert.equal(problemCode(outcome.reason), "TOO_MANY_OPEN_JOBS");
      }
    }
    const total = { ...POLICY, maxOpenJobsPerCaller: 100, maxOpenJobs: 3 };
    const c = await outboxOn(file, vendor.run, [], { policy: total, listen: false });
    const d = await outboxOn(file, vendor.run, [], { policy: total, listen: false });
    const more = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? c : d).outbox.enqueue(BODY, request(`caller-${i}`)),
      ),
    );
    // Two jobs are open already: one more fits.
    assert.equal(more.filter((outcome) => outcome.status === "fulfilled").length, 1);
    assert.deepEqual(await counters(a.kv, "caller-a"), [2, 3]);
  }),
);

deno.test(
  "outbox: a job survives closing the KV between attempts: its wake-up comes after reopening",
  () =>
    withKvFile(async (file) => {
      const log: LogLine[] = [];
      const policy = { ...POLICY, baseDelayMs: 400, maxDelayMs: 800 };
      const first = fakeVendor(() => RETRYABLE);
      const before = await outboxOn(file, first.run, log, { policy, random: () => 1 });
      const accepted = await before.outbox.enqueue(BODY, request());
      await until("the first attempt's failure", async () => {
        const found = await before.outbox.get(accepted.id);
        return found?.view.vendors.ebet?.state === "pending" && first.calls.length > 0
          ? true
          : undefined;
      });
      await before.outbox.stop(1_000);
      before.kv.close();
      await before.outbox.listening;

      const second = fakeVendor(() => OK);
      const after = await outboxOn(file, second.run, log, { policy });
      const view = await statusOf(after.outbox, accepted.id, "delivered");
      assert.equal(second.calls.length, 1);
      assert.equal(second.calls[0]?.step, "retry");
      assert.equal(view.vendors.ebet?.attempts, first.calls.length + 1);
      assert.deepEqual(await counters(after.kv, "caller-a"), [null, null]);
      // No read sent a wake-up: the queue did.
      assert.equal(log.filter((line) => line.event === "outbox_job_stranded").length, 0);
    }),
);

deno.test(
  "outbox: an attempt a dead process left under its lease is made again once the lease ends",
  () =>
    withKvFile(async (file) => {
      const log: LogLine[] = [];
      const nobody = fakeVendor(() => OK);
      const creator = await outboxOn(file, nobody.run, log, { listen: false });
      const accepted = await creator.outbox.enqueue(BODY, request());
      // The dead process had marked the attempt in flight, under its lease.
      const record = await recordOf(creator.kv, accepted.id);
      assert.ok(record);
      takeDue(record.job, Date.now(), POLICY);
      const until_ = Date.now() + 500;
      await creator.kv
        .atomic()
        .set(jobKey(accepted.id), {
          job: record.job,
          lease: { holder: "a-process-that-died", until: until_ },
        })
        .commit();

      const vendor = fakeVendor(() => OK);
      const runner = await outboxOn(file, vendor.run, log);
      const view = await statusOf(runner.outbox, accepted.id, "delivered");
      assert.equal(vendor.calls.length, 1);
      assert.equal(vendor.calls[0]?.step, "retry");
      assert.ok((vendor.calls[0]?.at ?? 0) >= until_, "no attempt while the lease ran");
      assert.equal(view.vendors.ebet?.attempts, 2);
      assert.equal(view.vendors.ebet?.lastError?.code, "ATTEMPT_INTERRUPTED");
      assert.equal(logged(log, "outbox_attempt_interrupted", accepted.id), 1);
      assert.equal(nobody.calls.length, 0);
    }),
);

deno.test("outbox: duplicate queue messages, through two handles, never run an attempt twice", () =>
  withKvFile(async (file) => {
    const log: LogLine[] = [];
    const slow = gate();
    const vendor = fakeVendor(async () => {
      await slow.opened;
      return OK;
    });
    const a = await outboxOn(file, vendor.run, log);
    const b = await outboxOn(file, vendor.run, log);
    const accepted = await a.outbox.enqueue(BODY, request());
    await until("the attempt in flight", () => (vendor.calls.length > 0 ? true : undefined));
    for (const kv of [a.kv, b.kv, a.kv, b.kv]) {
      await kv.enqueue(wakeMessage(accepted.id, Date.now()));
    }
    await until("four wake-ups finding the job leased", () =>
      logged(log, "outbox_wake_skipped", accepted.id, "leased") >= 4 ? true : undefined,
    );
    slow.open();
    const view = await statusOf(b.outbox, accepted.id, "delivered");
    assert.equal(view.vendors.ebet?.attempts, 1);
    assert.equal(vendor.calls.length, 1);
  }),
);

deno.test(
  "outbox: stop() gives the lease of an attempt in flight back; the next process makes it again",
  () =>
    withKvFile(async (file) => {
      const log: LogLine[] = [];
      const slow = gate();
      const stopping = fakeVendor(async () => {
        await slow.opened;
        return OK;
      });
      const a = await outboxOn(file, stopping.run, log);
      const accepted = await a.outbox.enqueue(BODY, request());
      await until("the attempt in flight", () => (stopping.calls.length > 0 ? true : undefined));
      await a.outbox.stop(50);
      const record = await recordOf(a.kv, accepted.id);
      assert.equal(record?.lease, null);
      assert.equal(record?.job.vendors.ebet?.state, "delivering");
      assert.equal(logged(log, "outbox_lease_handed_back", accepted.id), 1);
      // A job stored after the stop is left to the next process too.
      const later = await a.outbox.enqueue(BODY, request());
      await until("the stopped process deferring the new job", () =>
        logged(log, "outbox_message_deferred", later.id) > 0 ? true : undefined,
      );

      const next = fakeVendor(() => OK);
      const b = await outboxOn(file, next.run, log);
      const view = await statusOf(b.outbox, accepted.id, "delivered");
      await statusOf(b.outbox, later.id, "delivered");
      assert.equal(next.calls.length, 2);
      assert.deepEqual(
        next.calls.map((call) => `${call.jobId}:${call.step}`).sort(),
        [`${accepted.id}:retry`, `${later.id}:logout`].sort(),
      );
      assert.equal(view.vendors.ebet?.lastError?.code, "ATTEMPT_INTERRUPTED");
      assert.equal(view.vendors.ebet?.attempts, 2);

      // The stopped process's vendor answers at last: its outcome is not written.
      slow.open();
      await until("the stopped run's lost lease", () =>
        logged(log, "outbox_lease_lost", accepted.id) > 0 ? true : undefined,
      );
      const after = await b.outbox.get(accepted.id);
      assert.deepEqual(after?.view, view);
      assert.equal(stopping.calls.length, 1);
    }),
);

deno.test(
  "outbox: a read sends a wake-up to a job whose wake-up was lost, its attempt in flight or not",
  () =>
    withKvFile(async (file) => {
      const log: LogLine[] = [];
      const vendor = fakeVendor(() => OK);
      const { kv, outbox } = await outboxOn(file, vendor.run, log, { leaseMs: 1_000 });
      // A job stored five minutes ago whose message never came.
      const job = newJob(randomJobId(), BODY, request(), Date.now() - 300_000, POLICY);
      await kv.atomic().set(jobKey(job.id), { job, lease: null }).commit();
      // And one whose process died in an attempt, its lease over these five minutes.
      const left = newJob(randomJobId(), BODY, request(), Date.now() - 300_000, POLICY);
      takeDue(left, left.createdAt, POLICY);
      const lease = { holder: "a-process-that-died", until: left.createdAt + 1_000 };
      await kv.atomic().set(jobKey(left.id), { job: left, lease }).commit();
      for (const id of [job.id, left.id]) {
        assert.equal((await outbox.get(id))?.view.status, "pending");
        assert.equal(logged(log, "outbox_job_stranded", id), 1);
      }
      await statusOf(outbox, job.id, "delivered");
      await statusOf(outbox, left.id, "delivered");
      assert.deepEqual(
        vendor.calls.map((call) => `${call.jobId}:${call.step}`).sort(),
        [`${job.id}:logout`, `${left.id}:retry`].sort(),
      );
    }),
);

deno.test(
  "outbox: at start, a wake-up whose time has passed is sent again: its message died with a process",
  () =>
    withKvFile(async (file) => {
      const log: LogLine[] = [];
      const vendor = fakeVendor(() => OK);
      const setup = await outboxOn(file, vendor.run, log, { listen: false, leaseMs: 1_000 });
      // A process took the job's message and died in its attempt a moment ago: the job is in
      // flight under a lease that ends soon, and its wake-up is marked sent, with no message left.
      const job = newJob(randomJobId(), BODY, request(), Date.now() - 2_000, POLICY);
      takeDue(job, job.createdAt, POLICY);
      const lease = { holder: "a-process-that-died", until: Date.now() + 300 };
      await setup.kv
        .atomic()
        .set(jobKey(job.id), { job, lease })
        .set([...OUTBOX_PREFIX, "wake", job.id], job.createdAt)
        .commit();
      // The next process: its start finds the wake-up overdue and sends it again.
      const next = await outboxOn(file, vendor.run, log, { leaseMs: 1_000 });
      await statusOf(next.outbox, job.id, "delivered");
      assert.deepEqual(
        vendor.calls.map((call) => `${call.jobId}:${call.step}`),
        [`${job.id}:retry`],
      );
      assert.equal(logged(log, "outbox_job_stranded", job.id), 0);
    }),
);

deno.test(
  "outbox: a job no listed key opens fails once past its age, and gives its slot back",
  () =>
    withKvFile(async (file) => {
      const log: LogLine[] = [];
      const keyOf = async (id: string) =>
        (await importSealingKeys(
          `${id}:${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`,
          "PROXY_STORE_KEYS",
        )) as SealingKeys;
      let now = Date.now();
      const clock = () => now;
      const creator = await outboxOn(file, fakeVendor(() => OK).run, log, {
        listen: false,
        now: clock,
        sealing: await keyOf("old"),
      });
      const accepted = await creator.outbox.enqueue(BODY, request());
      const stored = await recordOf(creator.kv, accepted.id);
      assert.equal(JSON.stringify(stored?.job.input).includes("player-1"), false);
      // Past its age, a process whose keys do not include the old one wakes it.
      now += POLICY.maxAgeMs + 1_000;
      const vendor = fakeVendor(() => OK);
      const runner = await outboxOn(file, vendor.run, log, {
        now: clock,
        sealing: await keyOf("new"),
      });
      const view = await statusOf(runner.outbox, accepted.id, "failed");
      assert.equal(view.vendors.ebet?.failure, "expired");
      assert.equal(vendor.calls.length, 0);
      assert.equal(logged(log, "outbox_job_unopened", accepted.id), 1);
      assert.deepEqual(await counters(runner.kv, "caller-a"), [null, null]);
    }),
);

deno.test("outbox: a stranded job read again and again is sent one wake-up", () =>
  withKvFile(async (file) => {
    const log: LogLine[] = [];
    const vendor = fakeVendor(() => OK);
    const reader = await outboxOn(file, vendor.run, log, { listen: false, leaseMs: 1_000 });
    const job = newJob(randomJobId(), BODY, request(), Date.now() - 300_000, POLICY);
    await reader.kv.atomic().set(jobKey(job.id), { job, lease: null }).commit();
    const wakeKey = [...OUTBOX_PREFIX, "wake", job.id];
    await reader.outbox.get(job.id);
    const sent = (await reader.kv.get(wakeKey)).value;
    assert.equal(typeof sent, "number");
    for (const _ of [1, 2, 3]) {
      await sleep(5);
      await reader.outbox.get(job.id);
    }
    assert.equal((await reader.kv.get(wakeKey)).value, sent);
    assert.equal(logged(log, "outbox_job_stranded", job.id), 4);
    // The one message sent runs it.
    const runner = await outboxOn(file, vendor.run, log);
    await statusOf(runner.outbox, job.id, "delivered");
    assert.equal(vendor.calls.length, 1);
  }),
);

deno.test(
  "outbox: a process whose clock is behind the job's waits for its time, its wake-up kept",
  () =>
    withKvFile(async (file) => {
      const log: LogLine[] = [];
      const vendor = fakeVendor(() => OK);
      const creator = await outboxOn(file, vendor.run, log, { listen: false });
      const behind = () => Date.now() - 300;
      const runner = await outboxOn(file, vendor.run, log, { now: behind });
      const accepted = await creator.outbox.enqueue(BODY, request());
      await statusOf(runner.outbox, accepted.id, "delivered");
      assert.equal(vendor.calls.length, 1);
      assert.ok((vendor.calls[0]?.at ?? 0) - 300 >= Date.parse(accepted.createdAt));
    }),
);

deno.test(
  "outbox: a finished job is deleted at the end of its retention, by a delayed message",
  () =>
    withKvFile(async (file) => {
      const vendor = fakeVendor(() => OK);
      const policy = { ...POLICY, retentionMs: 300 };
      const { kv, outbox } = await outboxOn(file, vendor.run, [], { policy });
      const accepted = await outbox.enqueue(BODY, request());
      await until("the job's deletion", async () =>
        (await kv.get(jobKey(accepted.id))).versionstamp === null ? true : undefined,
      );
      assert.equal((await kv.get([...OUTBOX_PREFIX, "wake", accepted.id])).value, null);
      assert.equal(await outbox.get(accepted.id), undefined);
      assert.equal(vendor.calls.length, 1);
    }),
);

deno.test(
  "outbox: bad options, input, messages and records are refused or ignored, never run",
  () =>
    withKvFile(async (file) => {
      const log: LogLine[] = [];
      const vendor = fakeVendor(() => OK);
      const kv = await file.open();
      assert.throws(
        () => new KvOutbox(kv, vendor.run, { policy: POLICY, leaseMs: 0 }),
        /^TypeError: leaseMs: /,
      );
      const { outbox } = await outboxOn(file, vendor.run, log);
      await assert.rejects(() => outbox.enqueue(BODY, request("")), /^TypeError: caller: /);
      await assert.rejects(
        () => outbox.enqueue({ nobody: { x: 1 } }, request()),
        /no vendor of this outbox has the member nobody/,
      );
      await assert.rejects(() => outbox.enqueue({}, request()), /at least one member/);
      assert.equal(await outbox.get("not-a-job-id"), undefined);
      assert.equal(await outbox.get("f".repeat(64)), undefined);
      await kv
        .atomic()
        .set(jobKey("e".repeat(64)), { job: "not a job" })
        .commit();
      await assert.rejects(() => outbox.get("e".repeat(64)), TypeError);
      await kv.enqueue({ hello: "world" });
      await until("the foreign message", () =>
        log.some((line) => line.event === "outbox_message_ignored") ? true : undefined,
      );
      await assert.rejects(() => outbox.stop(-1), /^TypeError: deadlineMs: /);
      assert.equal(vendor.calls.length, 0);
      assert.deepEqual(await counters(kv, "caller-a"), [null, null]);
    }),
);
