// Durable logout delivery on Workers: one SQLite-backed Durable Object per job, driven by alarms, and
// the LogoutOutbox the app uses over its namespace.
import { DurableObject } from "cloudflare:workers";
import type { FetchLike } from "@x/core-signing";
import { loadConfig, type OutboxPolicy } from "../config.ts";
import { type AttemptDeps, type AttemptRunner, attemptRunner } from "../delivery.ts";
import {
  isDueForDeletion,
  type JobView,
  type LogoutOutbox,
  newJob,
  nextWake,
  recoverInterrupted,
  runDue,
  type StoredJob,
  viewOf,
} from "../outbox.ts";
import type { FanOutInput } from "../schemas.ts";
import { type DenyListObject, DurableObjectDenyList } from "./deny-list.ts";

type OutboxEnv = { DENY_LIST: DurableObjectNamespace<DenyListObject> } & Record<string, unknown>;

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
  denyList?: AttemptDeps["denyList"];
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
    const config = loadConfig({ ...env, ...source?.env });
    const now = source?.now ?? (() => Date.now());
    const random = source?.random ?? Math.random;
    const baseFetch = source?.fetch ?? ((request: Request) => fetch(request));
    const run = attemptRunner({
      config,
      fetch: baseFetch,
      denyList: source?.denyList ?? new DurableObjectDenyList(env.DENY_LIST),
      // Vendor calls (signatures, deadlines) keep the real clock even when the job clock is another.
      now: () => Date.now(),
      random,
      log: (line) => console.log(JSON.stringify({ ...line, jobId: this.ctx.id.toString() })),
    });
    this.#delivery = { run, policy: config.outbox, now, random, source };
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

  /** Stores a new job (once: a second call answers the first job) and wakes up at once for it. */
  async create(body: FanOutInput, requestId: string): Promise<JobView> {
    const existing = await this.#load();
    if (existing !== null) return viewOf(existing);
    const { policy, now } = this.#deps();
    const job = newJob(this.ctx.id.toString(), body, requestId, now(), policy);
    await this.#schedule(job);
    return viewOf(job);
  }

  /** The job's view; null when there is none or it is past its retention. */
  async view(): Promise<JobView | null> {
    const job = await this.#load();
    if (job === null) return null;
    const { now } = this.#deps();
    if (job.finishedAt !== null && isDueForDeletion(job, now())) return null;
    // An alarm lost for any reason must not strand a job: a read sets it again.
    if (!this.#busy && (await this.ctx.storage.getAlarm()) === null && nextWake(job) !== null) {
      await this.#schedule(job);
    }
    return viewOf(job);
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
    } finally {
      this.#busy = false;
    }
  }
}

/** The outbox over the LOGOUT_OUTBOX namespace: a new object per job, its id the job's id. */
export class DurableObjectOutbox implements LogoutOutbox {
  readonly #namespace: DurableObjectNamespace<LogoutOutboxObject>;

  constructor(namespace: DurableObjectNamespace<LogoutOutboxObject>) {
    this.#namespace = namespace;
  }

  async enqueue(body: FanOutInput, requestId: string): Promise<JobView> {
    const stub = this.#namespace.get(this.#namespace.newUniqueId());
    return (await stub.create(body, requestId)) as JobView;
  }

  async get(id: string): Promise<JobView | undefined> {
    let objectId: DurableObjectId;
    try {
      objectId = this.#namespace.idFromString(id);
    } catch {
      // Well-formed but not an id of this namespace: no such job.
      return undefined;
    }
    const view = (await this.#namespace.get(objectId).view()) as JobView | null;
    return view ?? undefined;
  }
}
