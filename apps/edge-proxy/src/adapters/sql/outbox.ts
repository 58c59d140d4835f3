// Asynchronous logouts in SQL (SQLite, PostgreSQL): jobs in a table, each run under a lease by one
// process at a time, so several instances on one database share the work and a restart loses none.
import type { OutboxPolicy } from "../../config.ts";
import type { AttemptRunner } from "../../delivery.ts";
import {
  type FoundJob,
  isDueForDeletion,
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
import { ProblemError } from "../../problem.ts";
import { SealError, type SealingKeys } from "../../sealed.ts";
import type { AnyVendor, FanOutInput } from "../../vendors/descriptor.ts";
import { VENDORS } from "../../vendors/index.ts";
import { openJob, sealJob, UNOPENED_RETRY_MS } from "../sealed-jobs.ts";
import { int, type SqlDriver } from "./driver.ts";

/** The open-jobs row that counts every caller's jobs together. */
const ALL_CALLERS = "*";

export interface SqlOutboxOptions {
  policy: OutboxPolicy;
  /** The vendors jobs are delivered to; defaults to VENDORS. */
  vendors?: readonly AnyVendor[];
  /**
   * How long a process holds a job it runs: longer than an attempt can take (the proxy's
   * upstream deadline), so that no other process runs the job meanwhile. When a process dies, the
   * job is taken again once its lease is over, and its attempts in flight count as interrupted.
   */
  leaseMs: number;
  /** How often the table is asked for jobs due (default 1000 ms); a new job runs at once. */
  pollMs?: number;
  /** Jobs one process runs at once (default 16). */
  concurrency?: number;
  now?: () => number;
  random?: () => number;
  /** Called with an error the poll met (the database away, say); the poll goes on. */
  onError?: (error: unknown) => void;
  /** The keys pending jobs' vendor tokens are sealed under; without them they are stored in clear. */
  sealing?: SealingKeys;
}

interface Running {
  id: string;
  done: Promise<void>;
}

/**
 * The database did not answer a request's write or read of a job: 503, retryable. The job was not
 * stored (so nothing was accepted), or could not be read; the request can be made again.
 */
export function outboxUnavailable(): ProblemError {
  return new ProblemError({
    kind: "unavailable",
    code: "OUTBOX_UNAVAILABLE",
    detail: "the logout jobs' store did not answer; retry, or log out synchronously",
    retryable: true,
    headers: { "retry-after": "1" },
  });
}

/** A write refused because the run no longer holds the job's lease: the run stops there. */
class LeaseLost extends Error {
  override name = "LeaseLost";
}

/**
 * The outbox of the Bun, Deno and Node entries on SQLite or PostgreSQL: the same jobs, states and
 * backoff as on Workers. A job is written before its 202 is answered; a process takes jobs that are
 * due and whose lease is free (on PostgreSQL with FOR UPDATE SKIP LOCKED, so instances never wait
 * on each other), runs their due attempts, and writes each step only while it still holds the
 * lease. Open-job slots (LOGOUT_MAX_OPEN_JOBS_PER_CALLER, LOGOUT_MAX_OPEN_JOBS) are counted in a
 * table, taken with the job's insert and given back once, with the write that finishes it.
 */
export class SqlOutbox implements LogoutOutbox {
  readonly #db: SqlDriver;
  readonly #run: AttemptRunner;
  readonly #policy: OutboxPolicy;
  readonly #vendors: readonly AnyVendor[];
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #concurrency: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #sealing: SealingKeys | undefined;
  /** This process's name; each lease it takes is `<holder>:<n>` in lease_owner. */
  readonly holder = `${randomJobId().slice(0, 32)}`;
  #leases = 0;
  /** The runs in flight, by lease: one job may have a run whose lease ran out and a newer one. */
  readonly #running = new Map<string, Running>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #polling: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(db: SqlDriver, run: AttemptRunner, options: SqlOutboxOptions) {
    this.#db = db;
    this.#run = run;
    this.#policy = options.policy;
    this.#vendors = options.vendors ?? VENDORS;
    if (!Number.isSafeInteger(options.leaseMs) || options.leaseMs < 1) {
      throw new TypeError("leaseMs: needs a whole number of ms, at least 1");
    }
    this.#leaseMs = options.leaseMs;
    this.#pollMs = options.pollMs ?? 1000;
    this.#concurrency = options.concurrency ?? 16;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#onError = options.onError ?? (() => {});
    this.#sealing = options.sealing;
  }

  /** The job's row text: its members' bodies sealed. */
  async #text(job: StoredJob): Promise<string> {
    return JSON.stringify(await sealJob(job, this.#sealing));
  }

  /** Starts asking for due jobs every pollMs, at once first (jobs a stopped process left). */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setInterval(() => this.poll(), this.#pollMs);
    // A process with nothing else to do may end: the server keeps it alive, not the poll.
    (this.#timer as { unref?: () => void }).unref?.();
    this.poll();
  }

  async enqueue(body: FanOutInput, request: JobRequest): Promise<JobView> {
    const now = this.#now();
    const job = newJob(randomJobId(), body, request, now, this.#policy, this.#vendors);
    const policy = this.#policy;
    const text = await this.#text(job);
    await this.#db
      .transaction(async (tx) => {
        const take = (caller: string, limit: number) =>
          tx.all(
            "INSERT INTO edge_proxy_open_jobs AS o (caller, n) VALUES (?, 1) ON CONFLICT (caller) DO UPDATE SET n = o.n + 1 WHERE o.n < ? RETURNING n",
            [caller, limit],
          );
        if ((await take(request.caller, policy.maxOpenJobsPerCaller)).length === 0) {
          throw tooManyOpenJobs(policy.maxOpenJobsPerCaller);
        }
        if ((await take(ALL_CALLERS, policy.maxOpenJobs)).length === 0) throw outboxFull();
        await tx.run(
          "INSERT INTO edge_proxy_jobs (id, job, caller, wake_at, lease_owner, lease_until) VALUES (?, ?, ?, ?, NULL, 0)",
          [job.id, text, request.caller, now],
        );
      })
      .catch((error: unknown) => {
        // The caps' answers stand; anything else the database did means no job was stored.
        if (error instanceof ProblemError) throw error;
        this.#onError(error);
        throw outboxUnavailable();
      });
    // Its first attempts at once, here, rather than at the next poll.
    this.poll();
    return viewOf(job);
  }

  async get(id: string): Promise<FoundJob | undefined> {
    const rows = await this.#db
      .all<{ job: string }>("SELECT job FROM edge_proxy_jobs WHERE id = ?", [id])
      .catch((error: unknown) => {
        this.#onError(error);
        throw outboxUnavailable();
      });
    if (rows[0] === undefined) return undefined;
    const job = JSON.parse(rows[0].job) as StoredJob;
    if (isDueForDeletion(job, this.#now())) return undefined;
    return { view: viewOf(job), owner: job.owner };
  }

  /**
   * Takes the jobs due (as many as this process may run more) and runs them; again while a poll
   * found a full batch or was asked for meanwhile. Resolves when this round has taken its jobs.
   */
  poll(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#polling !== undefined) {
      this.#again = true;
      return this.#polling;
    }
    const round = this.#round();
    this.#polling = round;
    // Cleared once the round is over, whether it awaited anything or not (a round that finds no
    // room ends at once, before the line above has run); a poll asked for after the round's last
    // look runs now.
    void round.finally(() => {
      if (this.#polling === round) this.#polling = undefined;
      if (this.#again) void this.poll();
    });
    return round;
  }

  async #round(): Promise<void> {
    try {
      do {
        this.#again = false;
        const room = this.#concurrency - this.#running.size;
        if (room <= 0) break;
        const { lease, taken } = await this.#lease(room);
        if (this.#stopped) {
          // Stopped while the lease was being taken: the jobs go back rather than start.
          if (taken.length > 0) await this.#handBack(lease);
          break;
        }
        for (const row of taken) this.#start(row.id, row.job, lease);
        if (taken.length === room) this.#again = true;
      } while (this.#again && !this.#stopped);
    } catch (error) {
      this.#onError(error);
    }
  }

  /** Leases up to `limit` jobs that are due and free (no lease, or one that is over). */
  async #lease(limit: number): Promise<{ lease: string; taken: { id: string; job: string }[] }> {
    const now = this.#now();
    const lease = `${this.holder}:${++this.#leases}`;
    const skip = this.#db.dialect === "postgres" ? " FOR UPDATE SKIP LOCKED" : "";
    const taken = await this.#db.all<{ id: string; job: string }>(
      `UPDATE edge_proxy_jobs SET lease_owner = ?, lease_until = ? WHERE id IN (SELECT id FROM edge_proxy_jobs WHERE wake_at IS NOT NULL AND wake_at <= ? AND lease_until <= ? ORDER BY wake_at LIMIT ?${skip}) RETURNING id, job`,
      [lease, now + this.#leaseMs, now, now, limit],
    );
    return { lease, taken };
  }

  #start(id: string, text: string, lease: string): void {
    const key = `${lease}/${id}`;
    const done = this.#runJob(text, lease)
      .catch((error) => {
        // The job went to a newer run (this one's lease ran out): that run writes from here on.
        if (!(error instanceof LeaseLost)) this.#onError(error);
      })
      .finally(() => {
        this.#running.delete(key);
        // A slot is free: there may be more jobs due.
        if (!this.#stopped) void this.poll();
      });
    this.#running.set(key, { id, done });
  }

  /**
   * Writes `job` and renews the lease while this run still holds it; throws LeaseLost when it does
   * not any more, which stops the run before any further vendor call.
   */
  async #save(job: StoredJob, lease: string): Promise<void> {
    const changed = await this.#db.run(
      "UPDATE edge_proxy_jobs SET job = ?, lease_until = ? WHERE id = ? AND lease_owner = ?",
      [await this.#text(job), this.#now() + this.#leaseMs, job.id, lease],
    );
    if (changed !== 1) throw new LeaseLost(`the lease of job ${job.id} is held by another run`);
  }

  async #runJob(text: string, lease: string): Promise<void> {
    const stored = JSON.parse(text) as StoredJob;
    let job: StoredJob;
    try {
      job = await openJob(stored, this.#sealing);
    } catch (error) {
      if (!(error instanceof SealError)) throw error;
      this.#onError(error);
      return this.#unopened(stored, lease);
    }
    const now = this.#now();
    if (job.finishedAt !== null) {
      await this.#settle(job, lease, isDueForDeletion(job, now));
      return;
    }
    // Attempts left "delivering" by a run that stopped, died or ran out of lease: counted, retried.
    if (recoverInterrupted(job, now, this.#policy, this.#random)) await this.#save(job, lease);
    // The first save marks the due attempts "delivering"; refused, it throws before any call.
    await runDue(job, this.#run, {
      now: this.#now,
      random: this.#random,
      policy: this.#policy,
      save: (step) => this.#save(step, lease),
    });
    await this.#settle(job, lease, false);
  }

  /**
   * A job whose members' bodies no listed key opens (its key was dropped from PROXY_STORE_KEYS):
   * past its age its vendors fail as expired, which needs no body, and its slot is given back;
   * before, it is looked at again in a minute, in case the key comes back.
   */
  async #unopened(job: StoredJob, lease: string): Promise<void> {
    const now = this.#now();
    if (now >= job.expiresAt) {
      recoverInterrupted(job, now, this.#policy, this.#random);
      takeDue(job, now, this.#policy);
      return this.#settle(job, lease, false);
    }
    await this.#db.run(
      "UPDATE edge_proxy_jobs SET wake_at = ?, lease_owner = NULL, lease_until = 0 WHERE id = ? AND lease_owner = ?",
      [Math.min(job.expiresAt, now + UNOPENED_RETRY_MS), job.id, lease],
    );
  }

  /** Gives the jobs of one lease back, to be taken at once by any process. */
  #handBack(lease: string): Promise<number> {
    return this.#db.run(
      "UPDATE edge_proxy_jobs SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?",
      [lease],
    );
  }

  /**
   * While this run holds the job's lease: writes its next wake and frees the lease, or deletes it
   * (`remove`, past its retention); when the job is finished and still holds an open-job slot,
   * gives the slot back in the same transaction, so it is given back once.
   */
  async #settle(job: StoredJob, lease: string, remove: boolean): Promise<void> {
    const lock = this.#db.dialect === "postgres" ? " FOR UPDATE" : "";
    const text = await this.#text(job);
    await this.#db.transaction(async (tx) => {
      const rows = await tx.all<{ caller: string | null }>(
        `SELECT caller FROM edge_proxy_jobs WHERE id = ? AND lease_owner = ?${lock}`,
        [job.id, lease],
      );
      if (rows[0] === undefined) throw new LeaseLost(`job ${job.id} is held by another run`);
      const finished = job.finishedAt !== null;
      const changed = remove
        ? await tx.run("DELETE FROM edge_proxy_jobs WHERE id = ? AND lease_owner = ?", [
            job.id,
            lease,
          ])
        : await tx.run(
            "UPDATE edge_proxy_jobs SET job = ?, wake_at = ?, caller = ?, lease_owner = NULL, lease_until = 0 WHERE id = ? AND lease_owner = ?",
            [text, nextWake(job), finished ? null : rows[0].caller, job.id, lease],
          );
      // The row is locked above, so this holds; if not, nothing is given back (rolled back).
      if (changed !== 1) throw new LeaseLost(`job ${job.id} is held by another run`);
      const released = rows[0].caller;
      if (finished && released !== null) {
        // The caller's row, then all callers' row: the order enqueue takes them in, so two
        // transactions never wait on each other's rows (PostgreSQL would detect a deadlock).
        for (const caller of [released, ALL_CALLERS]) {
          await tx.run("UPDATE edge_proxy_open_jobs SET n = n - 1 WHERE caller = ? AND n > 0", [
            caller,
          ]);
        }
        await tx.run("DELETE FROM edge_proxy_open_jobs WHERE caller = ? AND n <= 0", [released]);
      }
    });
  }

  /** Jobs this process runs now (for tests and shutdown). */
  get running(): number {
    return this.#running.size;
  }

  /** Resolves when no job of this process is running (for tests). */
  async idle(): Promise<void> {
    while (this.#running.size > 0 || this.#polling !== undefined) {
      await Promise.all([this.#polling, ...[...this.#running.values()].map((r) => r.done)]);
    }
  }

  /**
   * Stops taking jobs, waits up to `graceMs` for the attempts in flight, then hands the leases of
   * the jobs still running back: another instance, or the next start, takes them at once and
   * counts their attempts as interrupted. Answers how many jobs were handed back.
   */
  async stop(graceMs: number): Promise<number> {
    this.pause();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      // A round still asking the database for jobs, and the runs it started.
      (async () => {
        await this.#polling;
        await Promise.all([...this.#running.values()].map((r) => r.done));
      })(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, graceMs));
      }),
    ]);
    if (timer !== undefined) clearTimeout(timer);
    // Every lease of this process: `<holder>:<n>` (the holder is hexadecimal, no LIKE wildcard).
    // A database that does not answer keeps them: they are taken again when their lease is over.
    return this.#db
      .run(
        "UPDATE edge_proxy_jobs SET lease_owner = NULL, lease_until = 0 WHERE lease_owner LIKE ?",
        [`${this.holder}:%`],
      )
      .catch((error: unknown) => {
        this.#onError(error);
        return 0;
      });
  }

  /** Stops taking jobs: a stop's first step, taken at once when the process is asked to stop. */
  pause(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Open jobs of `caller`, or of every caller (for tests and operations). */
  async openJobs(caller: string = ALL_CALLERS): Promise<number> {
    const rows = await this.#db.all<{ n: unknown }>(
      "SELECT n FROM edge_proxy_open_jobs WHERE caller = ?",
      [caller],
    );
    return int(rows[0]?.n ?? 0);
  }
}
