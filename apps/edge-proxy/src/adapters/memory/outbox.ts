// Asynchronous logouts in memory: the jobs of the outbox state machine, run by timers in this process.
// For tests, demos and single-process entries: it forgets everything (jobs not yet delivered
// included) when the process stops.
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
  runDue,
  type StoredJob,
  tooManyOpenJobs,
  viewOf,
} from "../../outbox.ts";
import type { LogoutOutbox } from "../../ports.ts";
import type { AnyVendor, FanOutInput } from "../../vendors/descriptor.ts";
import { VENDORS } from "../../vendors/index.ts";

export interface TimerApi {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const REAL_TIMERS: TimerApi = {
  set: (callback, ms) => setTimeout(callback, Math.min(ms, 2_147_483_647)),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * The outbox of the Bun, Deno and Node entries: the same jobs, states and backoff as on Workers, run
 * by timers in this process. Not durable: jobs not yet delivered are lost when the process stops.
 * Bounded: it holds at most LOGOUT_MAX_OPEN_JOBS jobs, finished ones included; when full, the oldest
 * finished job is dropped before its retention ends; with no finished job to drop, a new job is
 * refused (503 OUTBOX_FULL). A caller with LOGOUT_MAX_OPEN_JOBS_PER_CALLER jobs not finished is
 * refused another (429 TOO_MANY_OPEN_JOBS).
 */
export class MemoryOutbox implements LogoutOutbox {
  readonly #jobs = new Map<
    string,
    { job: StoredJob; caller: string | null; timer: unknown; running: Promise<void> }
  >();
  /** Jobs not finished, per caller. */
  readonly #open = new Map<string, number>();
  readonly #run: AttemptRunner;
  readonly #policy: OutboxPolicy;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #timers: TimerApi;
  readonly #maxJobs: number;
  readonly #vendors: readonly AnyVendor[];

  constructor(
    run: AttemptRunner,
    options: {
      policy: OutboxPolicy;
      now?: () => number;
      random?: () => number;
      timers?: TimerApi;
      /** Jobs held at most; defaults to the policy's maxOpenJobs. */
      maxJobs?: number;
      /** The vendors jobs are delivered to; defaults to VENDORS. */
      vendors?: readonly AnyVendor[];
    },
  ) {
    this.#vendors = options.vendors ?? VENDORS;
    this.#maxJobs = options.maxJobs ?? options.policy.maxOpenJobs;
    this.#run = run;
    this.#policy = options.policy;
    this.#now = options.now ?? (() => Date.now());
    this.#random = options.random ?? Math.random;
    this.#timers = options.timers ?? REAL_TIMERS;
  }

  async enqueue(body: FanOutInput, request: JobRequest): Promise<JobView> {
    const open = this.#open.get(request.caller) ?? 0;
    if (open >= this.#policy.maxOpenJobsPerCaller) {
      throw tooManyOpenJobs(this.#policy.maxOpenJobsPerCaller);
    }
    if (this.#jobs.size >= this.#maxJobs) this.#dropOldestFinished();
    if (this.#jobs.size >= this.#maxJobs) throw outboxFull();
    const job = newJob(randomJobId(), body, request, this.#now(), this.#policy, this.#vendors);
    this.#open.set(request.caller, open + 1);
    this.#jobs.set(job.id, {
      job,
      caller: request.caller,
      timer: undefined,
      running: Promise.resolve(),
    });
    this.#schedule(job.id);
    return viewOf(job);
  }

  async get(id: string): Promise<FoundJob | undefined> {
    const entry = this.#jobs.get(id);
    return entry === undefined ? undefined : { view: viewOf(entry.job), owner: entry.job.owner };
  }

  /** Resolves when no attempt of any job is in flight (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#jobs.values()].map((entry) => entry.running));
  }

  #dropOldestFinished(): void {
    // Map order is insertion order: the first finished job is the oldest.
    for (const [id, entry] of this.#jobs) {
      if (entry.job.finishedAt === null) continue;
      if (entry.timer !== undefined) this.#timers.clear(entry.timer);
      this.#jobs.delete(id);
      return;
    }
  }

  /** Gives a finished job's slot back to its caller, once. */
  #release(entry: { job: StoredJob; caller: string | null }): void {
    if (entry.job.finishedAt === null || entry.caller === null) return;
    const open = (this.#open.get(entry.caller) ?? 1) - 1;
    if (open > 0) this.#open.set(entry.caller, open);
    else this.#open.delete(entry.caller);
    entry.caller = null;
  }

  #schedule(id: string): void {
    const entry = this.#jobs.get(id);
    if (entry === undefined) return;
    this.#release(entry);
    if (entry.timer !== undefined) this.#timers.clear(entry.timer);
    const at = nextWake(entry.job);
    entry.timer = undefined;
    if (at === null) return;
    entry.timer = this.#timers.set(() => this.#wake(id), Math.max(0, at - this.#now()));
  }
  #wake(id: string): void {
    const entry = this.#jobs.get(id);
    if (entry === undefined) return;
    entry.timer = undefined;
    if (entry.job.finishedAt !== null) {
      if (isDueForDeletion(entry.job, this.#now())) this.#jobs.delete(id);
      else this.#schedule(id);
      return;
    }
    entry.running = runDue(entry.job, this.#run, {
      now: this.#now,
      random: this.#random,
      policy: this.#policy,
      save: async () => {},
    }).then(
      () => this.#schedule(id),
      () => this.#schedule(id),
    );
  }
}
