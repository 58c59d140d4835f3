// Asynchronous logouts in Deno KV: the outbox state machine's jobs, woken by KV queue messages, each
// run by one process at a time under a lease, with the open-job caps kept by atomic counters.
import type { OutboxPolicy } from "../../config.ts";
import type { AttemptRunner } from "../../delivery.ts";
import {
  type FoundJob,
  isDueForDeletion,
  JOB_ID,
  type JobRequest,
  type JobView,
  newJob,
  nextWake,
  outboxFull,
  randomJobId,
  recoverInterrupted,
  runDue,
  type StoredJob,
  takeDue,
  tooManyOpenJobs,
  viewOf,
} from "../../outbox.ts";
import type { LogoutOutbox } from "../../ports.ts";
import { errorName } from "../../problem.ts";
import { SealError, type SealingKeys } from "../../sealed.ts";
import type { AnyVendor, FanOutInput } from "../../vendors/descriptor.ts";
import { VENDORS } from "../../vendors/index.ts";
import { openJob, sealJob, UNOPENED_RETRY_MS } from "../sealed-jobs.ts";
import { MAX_LEASE_MS } from "./expiring-set.ts";
import {
  checkText,
  checkWhole,
  expireIn,
  KEY_ROOT,
  type Kv,
  type KvAtomic,
  type KvEntryMaybe,
  type KvKey,
  LOST,
  raced,
} from "./kv.ts";

/** Where the outbox's keys are, by default: jobs, their wake-ups and the open-job counters. */
export const OUTBOX_PREFIX: KvKey = [KEY_ROOT, "outbox"];

/** The longest caller a job is counted against (an owner digest or an address digest). */
export const MAX_CALLER_LENGTH = 256;

/**
 * A message a process that is stopping receives goes back to the queue for this long, for another
 * process (or this one, restarted) to take.
 */
export const DEFER_MS = 1_000;

/**
 * KV gives a message whose process died while handling it back to the queue within about 65 s (its
 * 5 s deadline, then a cleanup every 60 s). A job overdue by more than this, plus its lease, has
 * lost its wake-up: a read of it sends another.
 */
export const STRANDED_AFTER_MS = 120_000;

/** The longest delay KV gives a queue message. */
const MAX_DELAY_MS = 30 * 86_400_000;

/** The queue message that wakes job `id` up, due at `at` (ms since the epoch). */
export interface Wake {
  kind: typeof WAKE;
  id: string;
  at: number;
}

const WAKE = "edge-proxy.outbox.wake";

/** The message that wakes job `id` up at `at`; any number of them wake it up as one does. */
export function wakeMessage(id: string, at: number): Wake {
  return { kind: WAKE, id, at };
}

/** Who runs a job's attempts, until when. */
interface Lease {
  holder: string;
  until: number;
}

/** What a job's key holds. */
interface JobRecord {
  job: StoredJob;
  lease: Lease | null;
}

/** A run of a job's due attempts by this process, under its lease. */
interface Run {
  id: string;
  holder: string;
  /** The job key's versionstamp as this run last wrote it: every write checks it. */
  versionstamp: string;
  /** This run's writes, one after the other. */
  chain: Promise<unknown>;
  /** Set once the lease is gone (taken over or handed back): the run writes nothing more. */
  lost: boolean;
}

/** A message being handled. */
interface Handling {
  run: Run | undefined;
  done: Promise<void>;
  /** Lets the message's handler return while the run's attempts go on, their outcome unwritten. */
  abandon: () => void;
}

/** What a wake-up found: a run to make under the lease it took, or when to wake up next. */
type Taken = { run: Run; job: StoredJob };
type Later = { wakeAt: number | null };

/** A write of a run failed its check: another process holds the job now. */
class LeaseLost extends Error {
  override name = "LeaseLost";
}

export interface KvOutboxOptions {
  policy: OutboxPolicy;
  /**
   * How long a process holds a job while it runs its attempts: longer than an attempt can take (the
   * proxy's UPSTREAM_DEADLINE_MS) plus the writes around it. Renewed at every write of the job; a
   * job whose lease ran out is found interrupted and its attempts in flight are made again.
   */
  leaseMs: number;
  /** The vendors jobs are delivered to; defaults to VENDORS. */
  vendors?: readonly AnyVendor[];
  now?: () => number;
  random?: () => number;
  /** Where the keys are; defaults to OUTBOX_PREFIX. */
  prefix?: KvKey;
  /**
   * Whether this process runs jobs (listens to the KV queue); defaults to true. A process that does
   * not stores and reads jobs, and the processes that listen on the same KV run them.
   */
  listen?: boolean;
  /** Where lease take-overs, hand-backs and skipped wake-ups are reported. */
  log?: (line: Record<string, unknown>) => void;
  /** The keys pending jobs' vendor tokens are sealed under; without them they are stored in clear. */
  sealing?: SealingKeys;
}

function isWake(message: unknown): message is Wake {
  const wake = message as Partial<Wake> | null;
  return (
    typeof wake === "object" &&
    wake !== null &&
    wake.kind === WAKE &&
    typeof wake.id === "string" &&
    JOB_ID.test(wake.id) &&
    typeof wake.at === "number" &&
    Number.isFinite(wake.at)
  );
}

/** The record a job key holds; a value of another shape is an error, never a missing job. */
function recordOf(value: unknown): JobRecord {
  const record = value as Partial<JobRecord> | null;
  const lease = record?.lease;
  if (
    typeof record?.job !== "object" ||
    record.job === null ||
    typeof record.job.id !== "string" ||
    typeof record.job.vendors !== "object" ||
    (lease !== null &&
      (typeof lease !== "object" ||
        typeof lease.holder !== "string" ||
        typeof lease.until !== "number"))
  ) {
    throw new TypeError("the KV entry of this job is not a job record");
  }
  return { job: record.job, lease: lease ?? null };
}

/** A counter as stored: a whole number of jobs; anything else is an error. */
function countOf(value: unknown): number {
  if (value === null) return 0;
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new TypeError("the KV entry of an open-jobs counter is not a count");
  }
  return value as number;
}

/**
 * The delay of a message due at `at`: KV delays a message 30 days at most, and one that comes
 * early is sent again for the rest of the wait.
 */
function delayUntil(at: number, now: number): number {
  return Math.min(MAX_DELAY_MS, Math.max(0, at - now));
}

/**
 * When the job needs a process next: the end of a running lease, at once for an attempt left in
 * flight without one (or under one that lapsed), else its next attempt or deletion.
 */
function dueAt({ job, lease }: JobRecord, now: number): number | null {
  if (lease !== null && lease.until > now) return lease.until;
  const inFlight = Object.values(job.vendors).some((delivery) => delivery?.state === "delivering");
  return inFlight ? (lease?.until ?? job.updatedAt) : nextWake(job);
}

/** Whether a wake-up at `now` has anything to do: an attempt due, one to recover, a vendor to expire. */
function hasWork(job: StoredJob, now: number): boolean {
  return Object.values(job.vendors).some(
    (delivery) =>
      delivery?.state === "delivering" ||
      (delivery?.state === "pending" &&
        (now >= job.expiresAt || (delivery.nextAttemptAt ?? 0) <= now)),
  );
}

/**
 * The outbox of processes sharing a Deno KV (Deno Deploy, or Deno processes on one KV file). A job
 * is one key, written before and after each vendor attempt; KV queue messages wake it up for each
 * next attempt and for its deletion. A process runs a job's attempts only under the job's lease,
 * taken with an atomic check, so a message delivered twice (KV queues deliver at least once) or to
 * two processes never calls a vendor twice. A job's open-jobs slot, per caller and in all, is taken
 * in the same atomic write that stores the job and given back in the one that finishes it.
 */
export class KvOutbox implements LogoutOutbox {
  readonly #kv: Kv;
  readonly #run: AttemptRunner;
  readonly #policy: OutboxPolicy;
  readonly #leaseMs: number;
  readonly #vendors: readonly AnyVendor[];
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #prefix: KvKey;
  readonly #log: (line: Record<string, unknown>) => void;
  readonly #handling = new Set<Handling>();
  readonly #sealing: SealingKeys | undefined;
  #stopping = false;
  /** Resolves when this outbox no longer listens: the KV is closed (at once when it never listened). */
  readonly listening: Promise<void>;

  constructor(kv: Kv, run: AttemptRunner, options: KvOutboxOptions) {
    checkWhole(options.leaseMs, "leaseMs", 1, MAX_LEASE_MS);
    this.#kv = kv;
    this.#run = run;
    this.#policy = options.policy;
    this.#leaseMs = options.leaseMs;
    this.#vendors = options.vendors ?? VENDORS;
    this.#now = options.now ?? (() => Date.now());
    this.#random = options.random ?? Math.random;
    this.#prefix = options.prefix ?? OUTBOX_PREFIX;
    this.#log = options.log ?? (() => {});
    this.#sealing = options.sealing;
    this.listening =
      options.listen === false
        ? Promise.resolve()
        : kv
            .listenQueue((message) => this.#onMessage(message))
            .catch((error: unknown) =>
              this.#log({ event: "outbox_listen_failed", error: errorName(error) }),
            );
    if (options.listen !== false) {
      this.recovered = this.#resendOverdue().catch((error: unknown) =>
        this.#log({ event: "outbox_recovery_failed", error: errorName(error) }),
      );
    }
  }

  /** Resolves when the start's look for overdue wake-ups is done (at once when not listening). */
  readonly recovered: Promise<void> = Promise.resolve();

  /**
   * At start: a wake-up whose time has passed was taken by a process that may have died with it
   * (KV gives a message whose handler never finished back only after a while), or is being handled
   * by a live one: each is sent again now. A live process's duplicate finds the job's lease held
   * and waits for it; the lease keeps any job from running twice at once.
   */
  async #resendOverdue(): Promise<void> {
    const now = this.#now();
    for await (const entry of this.#kv.list({ prefix: [...this.#prefix, "wake"] })) {
      const id = entry.key[entry.key.length - 1];
      if (typeof id === "string" && typeof entry.value === "number" && entry.value <= now) {
        await this.#ensureWake(id, now, now);
      }
    }
  }

  #jobKey(id: string): KvKey {
    return [...this.#prefix, "job", id];
  }

  /** The time of the last wake-up message sent for the job. */
  #wakeKey(id: string): KvKey {
    return [...this.#prefix, "wake", id];
  }

  #openKey(caller: string): KvKey {
    return [...this.#prefix, "open", caller];
  }

  #totalKey(): KvKey {
    return [...this.#prefix, "open-total"];
  }

  async enqueue(body: FanOutInput, request: JobRequest): Promise<JobView> {
    checkText(request?.caller, "caller", MAX_CALLER_LENGTH);
    const { maxOpenJobs, maxOpenJobsPerCaller } = this.#policy;
    const now = this.#now();
    const job = newJob(randomJobId(), body, request, now, this.#policy, this.#vendors);
    job.counter = request.caller;
    const record: JobRecord = { job: await sealJob(job, this.#sealing), lease: null };
    const keys = [this.#openKey(request.caller), this.#totalKey()] as const;
    return raced("outbox", async () => {
      const [mine, all] = (await this.#kv.getMany(keys)) as [KvEntryMaybe, KvEntryMaybe];
      const open = countOf(mine.value);
      const total = countOf(all.value);
      if (open >= maxOpenJobsPerCaller) throw tooManyOpenJobs(maxOpenJobsPerCaller);
      if (total >= maxOpenJobs) throw outboxFull();
      const atomic = this.#kv
        .atomic()
        .check(mine, all, { key: this.#jobKey(job.id), versionstamp: null })
        .set(keys[0], open + 1)
        .set(keys[1], total + 1)
        .set(this.#jobKey(job.id), record);
      return (await this.#scheduleWake(atomic, job.id, now, now).commit()).ok ? viewOf(job) : LOST;
    });
  }

  async get(id: string): Promise<FoundJob | undefined> {
    if (typeof id !== "string" || !JOB_ID.test(id)) return undefined;
    const read = await this.#kv.get(this.#jobKey(id));
    if (read.value === null) return undefined;
    const { job, lease } = recordOf(read.value);
    const now = this.#now();
    if (isDueForDeletion(job, now)) return undefined;
    // A job whose wake-up was lost (a message KV gave up on) must not be stranded: a read sends another.
    const due = dueAt({ job, lease }, now);
    if (due !== null && now - due > STRANDED_AFTER_MS + this.#leaseMs) {
      this.#log({ event: "outbox_job_stranded", jobId: id });
      await this.#ensureWake(id, now, now, STRANDED_AFTER_MS);
    }
    return { view: viewOf(job), owner: job.owner };
  }

  /**
   * Stops taking work: messages that come from now on go back to the queue (DEFER_MS). Waits for the
   * attempts in flight up to `deadlineMs`, then gives the leases of the jobs still running back, with
   * a wake-up at once: the next process to run them finds their attempts interrupted and makes them
   * again (their vendor calls may still be going on here; their outcomes are not written). Close the
   * KV after: until then, messages this process receives keep going back to the queue.
   */
  async stop(deadlineMs: number): Promise<void> {
    checkWhole(deadlineMs, "deadlineMs", 0, MAX_LEASE_MS);
    this.#stopping = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([...this.#handling].map((handling) => handling.done)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
      }),
    ]);
    if (timer !== undefined) clearTimeout(timer);
    await Promise.all(
      [...this.#handling].map(async (handling) => {
        // A message still being read gives back at once any lease it takes: the outbox is stopping.
        if (handling.run === undefined) return handling.done;
        await this.#handBack(handling.run);
        handling.abandon();
      }),
    );
  }

  /** Adds the wake-up message for `at` and its time to `atomic`. */
  #scheduleWake(atomic: KvAtomic, id: string, at: number, now: number): KvAtomic {
    return atomic
      .set(this.#wakeKey(id), at, { expireIn: expireIn(at + STRANDED_AFTER_MS, now) })
      .enqueue(wakeMessage(id, at), { delay: delayUntil(at, now) });
  }

  /**
   * Makes sure a message wakes the job up at `at`: sends one unless the last one sent was for that
   * time (or, with `recentMs`, for a time less than that before now: a stranded job read again and
   * again gets one message per STRANDED_AFTER_MS). Duplicates are harmless; this keeps them from
   * multiplying.
   */
  async #ensureWake(id: string, at: number | null, now: number, recentMs = 0): Promise<void> {
    if (at === null) return;
    await raced("outbox", async () => {
      const read = await this.#kv.get(this.#wakeKey(id));
      const sent = read.value;
      const recent = recentMs > 0 && typeof sent === "number" && sent > now - recentMs;
      if (sent === at || recent) return;
      const atomic = this.#scheduleWake(this.#kv.atomic().check(read), id, at, now);
      return (await atomic.commit()).ok ? undefined : LOST;
    });
  }

  async #onMessage(message: unknown): Promise<void> {
    if (!isWake(message)) {
      this.#log({ event: "outbox_message_ignored" });
      return;
    }
    if (this.#stopping) {
      await this.#kv.enqueue(message, { delay: DEFER_MS });
      this.#log({ event: "outbox_message_deferred", jobId: message.id });
      return;
    }
    // KV delivers by its clock: a process whose clock is behind waits for the job's time.
    const early = message.at - this.#now();
    if (early > 0) {
      await this.#kv.enqueue(message, { delay: delayUntil(message.at, this.#now()) });
      return;
    }
    let abandon = () => {};
    const abandoned = new Promise<void>((resolve) => {
      abandon = resolve;
    });
    const handling: Handling = { run: undefined, done: Promise.resolve(), abandon };
    const work = this.#wake(message.id, handling);
    handling.done = work.then(
      () => {},
      () => {},
    );
    this.#handling.add(handling);
    try {
      await Promise.race([work, abandoned]);
    } catch (error) {
      // KV sends the message again (its backoff schedule): a lease left here lapses meanwhile.
      this.#log({ event: "outbox_wake_failed", jobId: message.id, error: errorName(error) });
      throw error;
    } finally {
      this.#handling.delete(handling);
    }
  }

  /** Handles a wake-up of job `id`: deletes it, runs its due attempts under its lease, or sees to its next wake-up. */
  async #wake(id: string, handling: Handling): Promise<void> {
    const key = this.#jobKey(id);
    const next = await raced("outbox", async (): Promise<Taken | Later | typeof LOST> => {
      const read = await this.#kv.get(key);
      if (read.value === null) return { wakeAt: null };
      const { job, lease } = recordOf(read.value);
      const now = this.#now();
      if (job.finishedAt !== null) {
        if (!isDueForDeletion(job, now)) {
          this.#log({ event: "outbox_wake_skipped", reason: "finished", jobId: id });
          return { wakeAt: job.deleteAt };
        }
        const deleted = this.#kv.atomic().check(read).delete(key).delete(this.#wakeKey(id));
        return (await deleted.commit()).ok ? { wakeAt: null } : LOST;
      }
      if (lease !== null && lease.until > now) {
        this.#log({ event: "outbox_wake_skipped", reason: "leased", jobId: id });
        return { wakeAt: lease.until };
      }
      if (!hasWork(job, now)) {
        this.#log({ event: "outbox_wake_skipped", reason: "not_due", jobId: id });
        return { wakeAt: nextWake(job) };
      }
      const holder = crypto.randomUUID();
      const leased: JobRecord = { job, lease: { holder, until: now + this.#leaseMs } };
      const commit = await this.#kv.atomic().check(read).set(key, leased).commit();
      if (!commit.ok) return LOST;
      const run: Run = {
        id,
        holder,
        versionstamp: commit.versionstamp,
        chain: Promise.resolve(),
        lost: false,
      };
      return { run, job };
    });
    if ("run" in next) {
      handling.run = next.run;
      return this.#runJob(next.run, next.job);
    }
    return this.#ensureWake(id, next.wakeAt, this.#now());
  }

  /** Recovers attempts a dead process left, runs the due ones, and schedules the next wake-up. */
  async #runJob(run: Run, stored: StoredJob): Promise<void> {
    try {
      if (this.#stopping) return await this.#handBack(run);
      let job: StoredJob;
      try {
        job = await openJob(stored, this.#sealing);
      } catch (error) {
        if (!(error instanceof SealError)) throw error;
        return await this.#unopened(run, stored);
      }
      const deps = { now: this.#now, random: this.#random, policy: this.#policy };
      if (recoverInterrupted(job, this.#now(), this.#policy, this.#random)) {
        this.#log({ event: "outbox_attempt_interrupted", jobId: run.id });
        await this.#save(run, job);
      }
      await runDue(job, this.#run, { ...deps, save: (next) => this.#save(run, next) });
      await this.#save(run, job, { wakeAt: nextWake(job) });
    } catch (error) {
      if (!(error instanceof LeaseLost)) throw error;
      this.#log({ event: "outbox_lease_lost", jobId: run.id });
    }
  }

  /**
   * A job whose members' bodies no listed key opens (its key was dropped from PROXY_STORE_KEYS):
   * past its age its vendors fail as expired, which needs no body, and its slot is given back;
   * before, it is looked at again in a minute, in case the key comes back.
   */
  async #unopened(run: Run, job: StoredJob): Promise<void> {
    const now = this.#now();
    this.#log({ event: "outbox_job_unopened", jobId: run.id });
    if (now >= job.expiresAt) {
      recoverInterrupted(job, now, this.#policy, this.#random);
      takeDue(job, now, this.#policy);
      return this.#save(run, job, { wakeAt: nextWake(job) });
    }
    return this.#save(run, job, { wakeAt: Math.min(job.expiresAt, now + UNOPENED_RETRY_MS) });
  }

  /** Stops taking work at once (the first step of a stop, before the server drains). */
  pause(): void {
    this.#stopping = true;
  }

  /** Writes the job under the run's lease, after the run's earlier writes. */
  #save(run: Run, job: StoredJob, last?: { wakeAt: number | null }): Promise<void> {
    const write = run.chain.then(() => this.#write(run, job, last));
    run.chain = write.catch(() => {});
    return write;
  }

  /**
   * One write of a run: the job, and the lease renewed (or, with `last`, dropped and the next
   * wake-up sent). The write that first stores the job finished gives its open-jobs slot back,
   * in the same atomic write, so the slot is given back once. Throws LeaseLost when another
   * process wrote the job since this run's last write.
   */
  async #write(run: Run, job: StoredJob, last?: { wakeAt: number | null }): Promise<void> {
    if (run.lost) throw new LeaseLost();
    const key = this.#jobKey(run.id);
    await raced("outbox", async () => {
      const now = this.#now();
      const atomic = this.#kv.atomic().check({ key, versionstamp: run.versionstamp });
      const stored = await sealJob(structuredClone(job), this.#sealing);
      const releasing = job.finishedAt !== null && typeof job.counter === "string";
      if (releasing) {
        const counters = await this.#kv.getMany([
          this.#openKey(job.counter as string),
          this.#totalKey(),
        ]);
        for (const counter of counters) {
          const left = countOf(counter.value) - 1;
          atomic.check(counter);
          if (left > 0) atomic.set(counter.key, left);
          else atomic.delete(counter.key);
        }
        stored.counter = null;
      }
      const lease = last === undefined ? { holder: run.holder, until: now + this.#leaseMs } : null;
      const record: JobRecord = { job: stored, lease };
      atomic.set(
        key,
        record,
        job.deleteAt === null ? undefined : { expireIn: expireIn(job.deleteAt, now) },
      );
      const wakeAt = last?.wakeAt ?? null;
      if (wakeAt !== null) {
        const sent = await this.#kv.get(this.#wakeKey(run.id));
        if (sent.value !== wakeAt) this.#scheduleWake(atomic.check(sent), run.id, wakeAt, now);
      }
      const commit = await atomic.commit();
      if (commit.ok) {
        run.versionstamp = commit.versionstamp;
        if (releasing) job.counter = null;
        return;
      }
      if ((await this.#kv.get(key)).versionstamp !== run.versionstamp) {
        run.lost = true;
        throw new LeaseLost();
      }
      // A counter or the wake-up time changed under this write: read them again.
      return LOST;
    });
  }

  /**
   * Gives a run's lease back, the job as last written (its attempts in flight "delivering"), with a
   * wake-up at once for the next process. Nothing when another process holds the job already.
   */
  async #handBack(run: Run): Promise<void> {
    run.lost = true;
    await run.chain;
    const key = this.#jobKey(run.id);
    await raced("outbox", async () => {
      const read = await this.#kv.get(key);
      if (read.versionstamp !== run.versionstamp) return;
      const { job } = recordOf(read.value);
      const now = this.#now();
      const record: JobRecord = { job, lease: null };
      const atomic = this.#scheduleWake(
        this.#kv.atomic().check(read).set(key, record),
        run.id,
        now,
        now,
      );
      if (!(await atomic.commit()).ok) return LOST;
      this.#log({ event: "outbox_lease_handed_back", jobId: run.id });
    });
  }
}
