// Durable logout delivery on Workers: one SQLite-backed Durable Object per job, driven by alarms, and
// the LogoutOutbox the app uses over its namespace, each job holding an open-jobs slot until finished.
import { DurableObject } from "cloudflare:workers";
import type { FetchLike } from "@x/core-signing";
import { ConfigError, type ConfigIssue, loadConfig, type OutboxPolicy } from "../../config.ts";
import { type AttemptRunner, attemptRunner } from "../../delivery.ts";
import {
  type FoundJob,
  isDueForDeletion,
  type JobRequest,
  type JobView,
  newJob,
  nextWake,
  outboxFull,
  recoverInterrupted,
  runDue,
  type StoredJob,
  tooManyOpenJobs,
  viewOf,
} from "../../outbox.ts";
import type { DenyList, LogoutOutbox, MetricsSink } from "../../ports.ts";
import { proxyRuntime } from "../../runtime.ts";
import type { AnyVendor, FanOutInput } from "../../vendors/descriptor.ts";
import { VENDORS } from "../../vendors/index.ts";
import { denyListOf } from "./deny-list.ts";
import { metricsOf } from "./metrics.ts";
import { OPEN_JOB_SHARDS, OPEN_SLOT_GRACE_MS, type OpenJobsObject, shardOf } from "./open-jobs.ts";

/** The bindings (worker-configuration.d.ts) a job reads; OPEN_JOBS may be absent. */
type OutboxEnv = Pick<Env, "DENY_LIST"> &
  Partial<Pick<Env, "OPEN_JOBS" | "METRICS">> &
  Record<string, unknown>;

/**
 * What outbox objects in this isolate use instead of their defaults: variables laid over the
 * binding's env, the network, the clock, randomness and the deny-list. The workerd tests route
 * vendor calls to simulators with it; a deployment sets nothing.
 */
export interface OutboxObjectOverrides {
  env?: Record<string, unknown>;
  fetch?: FetchLike;
  /** The clock of job times and alarms (vendor calls always use the real clock). */
  now?: () => number;
  random?: () => number;
  denyList?: DenyList;
  /** The vendors jobs are delivered to, instead of VENDORS. */
  vendors?: readonly AnyVendor[];
  /** Where attempts' figures go, instead of the METRICS binding. */
  metrics?: MetricsSink;
}

let overrides: OutboxObjectOverrides | undefined;

export function configureOutboxObjects(next: OutboxObjectOverrides | undefined): void {
  overrides = next;
}

interface Delivery {
  run: AttemptRunner;
  policy: OutboxPolicy;
  now: () => number;
  random: () => number;
  vendors: readonly AnyVendor[];
  /** The overrides this was built with. */
  source: OutboxObjectOverrides | undefined;
}

const JOB_KEY = "job";

/**
 * One logout job. Every change is written before and after each vendor attempt, so a restart finds
 * the job as it was: an attempt that was in flight counts as failed and is made again. Alarms wake
 * the object for each next attempt and, once every vendor is final, for the job's deletion.
 */
export class LogoutOutboxObject extends DurableObject<Cloudflare.Env> {
  #delivery: Delivery | undefined;
  #running: Promise<void> = Promise.resolve();
  #busy = false;

  #deps(): Delivery {
    if (this.#delivery !== undefined && this.#delivery.source === overrides) return this.#delivery;
    const source = overrides;
    const env = this.env as unknown as OutboxEnv;
    const vendors = source?.vendors ?? VENDORS;
    const config = loadConfig({ ...env, ...source?.env }, vendors);
    const now = source?.now ?? (() => Date.now());
    const random = source?.random ?? Math.random;
    const run = attemptRunner(
      proxyRuntime(config, {
        vendors,
        denyList: source?.denyList ?? denyListOf(env),
        ...metricsDep(source?.metrics ?? metricsOf(env)),
        ...(source?.fetch === undefined ? {} : { fetch: source.fetch }),
        // Vendor calls (signatures, deadlines) keep the real clock even when the job clock is another.
        now: () => Date.now(),
        random,
        log: (line) => console.log(JSON.stringify({ ...line, jobId: this.ctx.id.toString() })),
      }),
    );
    this.#delivery = { run, policy: config.outbox, now, random, vendors, source };
    return this.#delivery;
  }

  /** Storage is the only copy (its own cache makes reads cheap): what a restart would find. */
  async #load(): Promise<StoredJob | null> {
    return (await this.ctx.storage.get<StoredJob>(JOB_KEY)) ?? null;
  }

  async #save(job: StoredJob): Promise<void> {
    await this.ctx.storage.put(JOB_KEY, job);
  }

  /** Sets the alarm for the job's next wake-up (attempt or deletion) and remembers its time. */
  async #schedule(job: StoredJob): Promise<void> {
    const at = nextWake(job);
    await this.#save(job);
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  /**
   * Stores a new job (once: a second call answers the first job) and wakes up at once for it.
   * `counter` names the open-jobs shard holding its slot, given back when the job is finished.
   */
  async create(
    body: FanOutInput,
    request: Pick<JobRequest, "requestId" | "owner">,
    counter: string | null,
  ): Promise<JobView> {
    const existing = await this.#load();
    if (existing !== null) return viewOf(existing);
    const { policy, now, vendors } = this.#deps();
    const job = newJob(this.ctx.id.toString(), body, request, now(), policy, vendors);
    job.counter = counter;
    await this.#schedule(job);
    return viewOf(job);
  }

  /** The job's view and owner; null when there is none or it is past its retention. */
  async view(): Promise<FoundJob | null> {
    const job = await this.#load();
    if (job === null) return null;
    const { now } = this.#deps();
    if (job.finishedAt !== null && isDueForDeletion(job, now())) return null;
    // An alarm lost for any reason must not strand a job: a read sets it again.
    if (!this.#busy && (await this.ctx.storage.getAlarm()) === null && nextWake(job) !== null) {
      await this.#schedule(job);
    }
    // Jobs stored before jobs had owners have none: `undefined`, not null.
    return { view: viewOf(job), owner: job.owner };
  }

  /** Gives a finished job's open-jobs slot back; on failure the next wake-up tries again. */
  async #release(job: StoredJob): Promise<void> {
    const counters = (this.env as unknown as OutboxEnv).OPEN_JOBS;
    if (job.finishedAt === null || !job.counter || counters === undefined) return;
    try {
      await counters.get(counters.idFromName(job.counter)).release(job.id);
    } catch {
      return;
    }
    job.counter = null;
    await this.#save(job);
  }

  /** Resolves when no wake-up is running (tests drive alarms and then wait for this). */
  async idle(): Promise<void> {
    await this.#running;
  }

  override async alarm(): Promise<void> {
    const wake = this.#running.then(() => this.#wake());
    this.#running = wake.catch(() => {});
    await wake;
  }

  async #wake(): Promise<void> {
    this.#busy = true;
    try {
      const job = await this.#load();
      if (job === null) return;
      const { run, policy, now, random } = this.#deps();
      if (job.finishedAt !== null) {
        await this.#release(job);
        if (isDueForDeletion(job, now())) {
          await this.ctx.storage.deleteAlarm();
          await this.ctx.storage.deleteAll();
        } else {
          await this.#schedule(job);
        }
        return;
      }
      if (recoverInterrupted(job, now(), policy, random)) await this.#save(job);
      await runDue(job, run, { now, random, policy, save: (next) => this.#save(next) });
      await this.#schedule(job);
      await this.#release(job);
    } finally {
      this.#busy = false;
    }
  }
}

/**
 * What the open-job caps need on Workers: each of the 16 shards holds floor(LOGOUT_MAX_OPEN_JOBS /
 * 16) jobs, at least LOGOUT_MAX_OPEN_JOBS_PER_CALLER, so a caller at its cap meets a 429 (never its
 * shard's 503) and the shards together never hold more than LOGOUT_MAX_OPEN_JOBS.
 */
export function openJobCapIssues(policy: OutboxPolicy): ConfigIssue[] {
  const least = OPEN_JOB_SHARDS * policy.maxOpenJobsPerCaller;
  if (policy.maxOpenJobs >= least) return [];
  return [
    {
      name: "LOGOUT_MAX_OPEN_JOBS",
      message: `must be at least ${least} (16 × LOGOUT_MAX_OPEN_JOBS_PER_CALLER) on Workers`,
    },
  ];
}

/**
 * The outbox over the LOGOUT_OUTBOX namespace: a new object per job, its id the job's id. Each job
 * first takes a slot in the OPEN_JOBS shard of its caller: a shard holds at most
 * LOGOUT_MAX_OPEN_JOBS_PER_CALLER jobs of one caller and floor(LOGOUT_MAX_OPEN_JOBS / 16) in all
 * (see openJobCapIssues, refused otherwise).
 */
export class DurableObjectOutbox implements LogoutOutbox {
  readonly #namespace: DurableObjectNamespace<LogoutOutboxObject>;
  readonly #counters: DurableObjectNamespace<OpenJobsObject>;
  readonly #policy: OutboxPolicy;
  readonly #now: () => number;

  constructor(
    namespace: DurableObjectNamespace<LogoutOutboxObject>,
    counters: DurableObjectNamespace<OpenJobsObject>,
    policy: OutboxPolicy,
    now: () => number = () => Date.now(),
  ) {
    const issues = openJobCapIssues(policy);
    if (issues.length > 0) throw new ConfigError(issues);
    this.#namespace = namespace;
    this.#counters = counters;
    this.#policy = policy;
    this.#now = now;
  }

  async enqueue(body: FanOutInput, request: JobRequest): Promise<JobView> {
    const objectId = this.#namespace.newUniqueId();
    const id = objectId.toString();
    const shard = shardOf(request.caller);
    const counter = this.#counters.get(this.#counters.idFromName(shard));
    const now = this.#now();
    const perCaller = this.#policy.maxOpenJobsPerCaller;
    const verdict = await counter.acquire(
      id,
      request.caller,
      now + this.#policy.maxAgeMs + OPEN_SLOT_GRACE_MS,
      now,
      { perCaller, perShard: Math.floor(this.#policy.maxOpenJobs / OPEN_JOB_SHARDS) },
    );
    if (verdict === "caller_full") throw tooManyOpenJobs(perCaller);
    if (verdict === "shard_full") throw outboxFull();
    try {
      const { requestId, owner } = request;
      return (await this.#namespace
        .get(objectId)
        .create(body, { requestId, owner }, shard)) as JobView;
    } catch (error) {
      await counter.release(id).catch(() => {});
      throw error;
    }
  }

  async get(id: string): Promise<FoundJob | undefined> {
    let objectId: DurableObjectId;
    try {
      objectId = this.#namespace.idFromString(id);
    } catch {
      // Well-formed but not an id of this namespace: no such job.
      return undefined;
    }
    const found = (await this.#namespace.get(objectId).view()) as FoundJob | null;
    return found ?? undefined;
  }
}

/** A sink as an optional dependency: absent rather than undefined. */
function metricsDep(metrics: MetricsSink | undefined): { metrics?: MetricsSink } {
  return metrics === undefined ? {} : { metrics };
}
