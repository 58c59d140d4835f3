// Asynchronous logouts: the job, its per-vendor state machine (backoff with jitter, bounded attempts
// and age, retention), its owner and open-job caps, and the public view; outboxes run it
// (src/adapters/memory/outbox.ts, src/adapters/workers/outbox.ts).
import { timingSafeEqual } from "@x/core-signing";
import type { OutboxPolicy } from "./config.ts";
import type { AttemptOutcome, AttemptRunner, AttemptStep, DeliveryError } from "./delivery.ts";
import { ProblemError } from "./problem.ts";
import type { AnyVendor, FanOutInput } from "./vendors/descriptor.ts";
import { VENDORS } from "./vendors/index.ts";

/** A member of the fan-out body (a vendor's `member`). */
type FanOutMember = string;
/** A vendor's name. */
type VendorName = string;

export type { LogoutOutbox } from "./ports.ts";

export type VendorState = "pending" | "delivering" | "delivered" | "failed";
export type JobStatus = "pending" | "delivered" | "partially_failed" | "failed";
/** Why a vendor failed for good: refused, out of attempts, or out of time. */
export type FailureReason = "rejected" | "attempts_exhausted" | "expired";

/** A job id: 64 lowercase hexadecimal characters (a Durable Object id on Workers). */
export const JOB_ID = /^[0-9a-f]{64}$/;

export interface VendorDelivery {
  vendor: VendorName;
  state: VendorState;
  attempts: number;
  /** When the next attempt is due (ms since the epoch); null unless pending. */
  nextAttemptAt: number | null;
  lastError: DeliveryError | null;
  failure: FailureReason | null;
  alreadyLoggedOut: boolean | null;
  /**
   * FunGame only: null until FunGame accepts the logout, then whether it is on the deny-list. False
   * while pending: only the record is retried (FunGame would now refuse the token).
   */
  denyListed?: boolean | null;
  /** When the vendor reached delivered or failed. */
  finishedAt: number | null;
}

/** What an outbox stores for one job. `input` keeps a member's body only until its vendor is final. */
export interface StoredJob {
  version: 1;
  id: string;
  requestId: string;
  createdAt: number;
  updatedAt: number;
  /** No attempt is started after this; a vendor still pending then fails as expired. */
  expiresAt: number;
  finishedAt: number | null;
  /** When a finished job is deleted. */
  deleteAt: number | null;
  vendors: Partial<Record<FanOutMember, VendorDelivery>>;
  input: Record<string, unknown>;
  /**
   * ownerOf() the creating caller's credential, null for a job created without one; absent on
   * jobs stored before jobs had owners (readable as they were then: by any authenticated caller).
   */
  owner?: string | null;
  /** The open-jobs counter that holds this job's slot until it is finished; null once released. */
  counter?: string | null;
}

/** Who creates a job: its owner and whom the open-job caps count it against. */
export interface JobRequest {
  requestId: string;
  /** ownerOf() the caller's credential; null when the caller presented none. */
  owner: string | null;
  /** The caller for the caps: the owner, else a digest of the client's address. */
  caller: string;
}

/** A job as the outbox found it: its view and its owner, for the route to decide who may see it. */
export interface FoundJob {
  view: JobView;
  owner: string | null | undefined;
}

/** The JSON of GET /v1/logout/{id} and of the 202. */
export interface JobView {
  id: string;
  status: JobStatus;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  finishedAt: string | null;
  deleteAt: string | null;
  vendors: Record<
    string,
    {
      vendor: VendorName;
      state: VendorState;
      attempts: number;
      nextAttemptAt: string | null;
      lastError: DeliveryError | null;
      failure: FailureReason | null;
      alreadyLoggedOut: boolean | null;
      /** The FunGame member only. */
      denyListed?: boolean | null;
    }
  >;
}

const encoder = new TextEncoder();

/**
 * Whether `reader` (ownerOf() their credential, null without one) may see a job of `owner`: a job
 * without an owner is readable by its id alone; an owned one by its owner only; one stored before
 * jobs had owners by any authenticated caller, or by anyone when no caller auth is configured.
 */
export function mayRead(
  owner: string | null | undefined,
  reader: string | null,
  callerAuthConfigured: boolean,
): boolean {
  if (owner === null) return true;
  if (owner === undefined) return reader !== null || !callerAuthConfigured;
  return reader !== null && timingSafeEqual(encoder.encode(owner), encoder.encode(reader));
}

/** A caller over LOGOUT_MAX_OPEN_JOBS_PER_CALLER: 429, retry when some of its jobs are done. */
export function tooManyOpenJobs(limit: number): ProblemError {
  return new ProblemError({
    kind: "rate_limited",
    code: "TOO_MANY_OPEN_JOBS",
    detail: `${limit} logout jobs of this caller are not finished yet`,
    retryable: true,
    headers: { "retry-after": String(OPEN_JOBS_RETRY_AFTER_SEC) },
  });
}

/** Every slot of LOGOUT_MAX_OPEN_JOBS taken: 503, retry later or log out synchronously. */
export function outboxFull(): ProblemError {
  return new ProblemError({
    kind: "unavailable",
    code: "OUTBOX_FULL",
    detail: "too many logout jobs are not finished; retry later or log out synchronously",
    retryable: true,
    headers: { "retry-after": String(OPEN_JOBS_RETRY_AFTER_SEC) },
  });
}

/** Jobs usually finish within seconds; a caller or outbox at its cap is told to wait this long. */
export const OPEN_JOBS_RETRY_AFTER_SEC = 60;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * A new job for the members `body` names, each delivered to its vendor of `vendors`; a vendor whose
 * logout is followed by an edge-side record (FunGame) also tracks `denyListed`.
 */
export function newJob(
  id: string,
  body: FanOutInput,
  request: Pick<JobRequest, "requestId" | "owner">,
  now: number,
  policy: OutboxPolicy,
  all: readonly AnyVendor[] = VENDORS,
): StoredJob {
  const vendors: Partial<Record<FanOutMember, VendorDelivery>> = {};
  const input: Record<string, unknown> = {};
  const byMember = new Map(all.map((descriptor) => [descriptor.member, descriptor]));
  // A member no vendor of this outbox delivers (its lists differ from the app's) is refused: the
  // job would otherwise be "delivered" without that vendor ever being called.
  for (const [member, value] of Object.entries(body)) {
    if (value !== undefined && !byMember.has(member)) {
      throw new Error(`no vendor of this outbox has the member ${member}`);
    }
  }
  for (const descriptor of all) {
    const member = descriptor.member;
    if (!Object.hasOwn(body, member) || body[member] === undefined) continue;
    vendors[member] = {
      vendor: descriptor.name,
      state: "pending",
      attempts: 0,
      nextAttemptAt: now,
      lastError: null,
      failure: null,
      alreadyLoggedOut: null,
      ...(records(descriptor) ? { denyListed: null } : {}),
      finishedAt: null,
    };
    input[member] = body[member];
  }
  if (Object.keys(vendors).length === 0) throw new Error("a job needs at least one member");
  return {
    version: 1,
    id,
    requestId: request.requestId,
    owner: request.owner,
    createdAt: now,
    updatedAt: now,
    expiresAt: now + policy.maxAgeMs,
    finishedAt: null,
    deleteAt: null,
    vendors,
    input,
  };
}

/** Whether a vendor's logout is followed by an edge-side record (its instance has `record`). */
function records(vendor: AnyVendor): boolean {
  return vendor.records === true;
}

function entries(job: StoredJob): [FanOutMember, VendorDelivery][] {
  return Object.entries(job.vendors) as [FanOutMember, VendorDelivery][];
}

export function jobStatus(job: StoredJob): JobStatus {
  const states = entries(job).map(([, delivery]) => delivery.state);
  if (states.some((state) => state === "pending" || state === "delivering")) return "pending";
  if (states.every((state) => state === "delivered")) return "delivered";
  if (states.every((state) => state === "failed")) return "failed";
  return "partially_failed";
}

export function viewOf(job: StoredJob): JobView {
  return {
    id: job.id,
    status: jobStatus(job),
    createdAt: iso(job.createdAt) as string,
    updatedAt: iso(job.updatedAt) as string,
    expiresAt: iso(job.expiresAt) as string,
    finishedAt: iso(job.finishedAt),
    deleteAt: iso(job.deleteAt),
    vendors: Object.fromEntries(
      entries(job).map(([member, d]) => [
        member,
        {
          vendor: d.vendor,
          state: d.state,
          attempts: d.attempts,
          nextAttemptAt: iso(d.nextAttemptAt),
          lastError: d.lastError === null ? null : deliveryErrorView(d.lastError),
          failure: d.failure,
          alreadyLoggedOut: d.alreadyLoggedOut,
          ...(d.denyListed !== undefined ? { denyListed: d.denyListed ?? null } : {}),
        },
      ]),
    ),
  };
}

/** The members a failed attempt shows; jobs stored before kept a `detail` too, never shown. */
function deliveryErrorView(error: DeliveryError): DeliveryError {
  const { code, kind, upstreamStatus, retryable } = error;
  return { code, kind, upstreamStatus, retryable };
}

/**
 * The wait before attempt n+1 after n failed attempts: exponential from the base, capped, with
 * jitter over the upper half (so a crowd of jobs spreads out but none retries at once).
 */
export function backoffMs(failedAttempts: number, policy: OutboxPolicy, random: () => number) {
  const exponent = Math.min(30, Math.max(0, failedAttempts - 1));
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function finish(
  job: StoredJob,
  member: FanOutMember,
  delivery: VendorDelivery,
  state: "delivered" | "failed",
  now: number,
): void {
  delivery.state = state;
  delivery.nextAttemptAt = null;
  delivery.finishedAt = now;
  // The member's tokens are needed no more.
  delete job.input[member];
}

/** After a vendor became final: when every vendor is, the job is finished and due for deletion. */
function settle(job: StoredJob, now: number, policy: OutboxPolicy): void {
  job.updatedAt = now;
  if (job.finishedAt !== null) return;
  if (entries(job).every(([, d]) => d.state === "delivered" || d.state === "failed")) {
    job.finishedAt = now;
    job.deleteAt = now + policy.retentionMs;
    job.input = {};
  }
}

/** Members whose attempt is due now, marked delivering; a pending vendor past the job's age fails as expired. */
export function takeDue(job: StoredJob, now: number, policy: OutboxPolicy): FanOutMember[] {
  const at = now;
  const due: FanOutMember[] = [];
  for (const [member, delivery] of entries(job)) {
    if (delivery.state !== "pending") continue;
    if (at >= job.expiresAt) {
      delivery.failure = "expired";
      finish(job, member, delivery, "failed", now);
      continue;
    }
    if ((delivery.nextAttemptAt ?? 0) <= at) due.push(member);
  }
  for (const member of due) {
    const delivery = job.vendors[member] as VendorDelivery;
    delivery.state = "delivering";
    delivery.attempts++;
    delivery.nextAttemptAt = null;
  }
  settle(job, now, policy);
  return due;
}

const INTERRUPTED: DeliveryError = {
  code: "ATTEMPT_INTERRUPTED",
  kind: "unavailable",
  upstreamStatus: null,
  retryable: true,
};

/** A FunGame logout FunGame accepted that the deny-list did not record (yet). */
const RECORD_PENDING: DeliveryError = {
  code: "DENY_LIST_UNAVAILABLE",
  kind: "unavailable",
  upstreamStatus: null,
  retryable: true,
};

/** Pending again after `waitMs`, or failed as expired when that passes the job's age. */
function retryLater(
  job: StoredJob,
  member: FanOutMember,
  delivery: VendorDelivery,
  waitMs: number,
  now: number,
): void {
  if (now + waitMs >= job.expiresAt) {
    delivery.failure = "expired";
    finish(job, member, delivery, "failed", now);
  } else {
    delivery.state = "pending";
    delivery.nextAttemptAt = now + waitMs;
  }
}

/**
 * Records an attempt's outcome: delivered, failed for good, or pending again after a backoff. A
 * FunGame logout accepted but not recorded stays pending for its record alone, retried until the
 * job's age (not LOGOUT_RETRY_MAX_ATTEMPTS): the logout happened, and without the record a FunGame
 * restart would make the token usable again.
 */
export function recordOutcome(
  job: StoredJob,
  member: FanOutMember,
  outcome: AttemptOutcome,
  now: number,
  policy: OutboxPolicy,
  random: () => number,
): void {
  const delivery = job.vendors[member];
  if (delivery === undefined) return;
  const backoff = backoffMs(delivery.attempts, policy, random);
  if (outcome.ok) {
    if (outcome.alreadyLoggedOut !== undefined)
      delivery.alreadyLoggedOut = outcome.alreadyLoggedOut;
    if (outcome.denyListed !== undefined) delivery.denyListed = outcome.denyListed;
    if (outcome.denyListed === false) {
      delivery.lastError = RECORD_PENDING;
      retryLater(job, member, delivery, backoff, now);
    } else {
      finish(job, member, delivery, "delivered", now);
    }
  } else {
    delivery.lastError = outcome.error;
    if (!outcome.error.retryable) {
      delivery.failure = "rejected";
      finish(job, member, delivery, "failed", now);
    } else if (
      delivery.denyListed !== false &&
      policy.maxAttempts !== undefined &&
      delivery.attempts >= policy.maxAttempts
    ) {
      delivery.failure = "attempts_exhausted";
      finish(job, member, delivery, "failed", now);
    } else {
      retryLater(job, member, delivery, Math.max(backoff, outcome.retryAfterMs), now);
    }
  }
  settle(job, now, policy);
}

/** Attempts found in flight when nobody runs them (the process stopped): counted, and retried. */
export function recoverInterrupted(
  job: StoredJob,
  now: number,
  policy: OutboxPolicy,
  random: () => number,
): boolean {
  let changed = false;
  for (const [member, delivery] of entries(job)) {
    if (delivery.state !== "delivering") continue;
    changed = true;
    recordOutcome(
      job,
      member,
      { ok: false, error: INTERRUPTED, retryAfterMs: 0 },
      now,
      policy,
      random,
    );
  }
  return changed;
}

/** When the outbox must wake up next for this job: its next attempt, or its deletion. */
export function nextWake(job: StoredJob): number | null {
  if (job.finishedAt !== null) return job.deleteAt;
  const times = entries(job)
    .filter(([, d]) => d.state === "pending")
    .map(([, d]) => d.nextAttemptAt ?? job.createdAt);
  return times.length === 0 ? null : Math.min(...times);
}

/** Whether a finished job is past its retention at `now`. */
export function isDueForDeletion(job: StoredJob, now: number): boolean {
  return job.deleteAt !== null && now >= job.deleteAt;
}

/** Runs the due attempts of a job, each recorded through `save` before and after. */
export async function runDue(
  job: StoredJob,
  run: AttemptRunner,
  deps: {
    now: () => number;
    random: () => number;
    policy: OutboxPolicy;
    save: (job: StoredJob) => Promise<void>;
  },
): Promise<void> {
  const due = takeDue(job, deps.now(), deps.policy);
  await deps.save(job);
  await Promise.all(
    due.map(async (member) => {
      const input = job.input;
      const delivery = job.vendors[member];
      // Every earlier attempt of a pending member failed retryably: its outcome may be unknown.
      const step: AttemptStep =
        delivery?.denyListed === false
          ? "record"
          : (delivery?.attempts ?? 0) > 1
            ? "retry"
            : "logout";
      let outcome: AttemptOutcome;
      try {
        outcome = await run(member, input as FanOutInput, `${job.id}:${member}`, step);
      } catch {
        outcome = {
          ok: false,
          error: {
            code: "INTERNAL_ERROR",
            kind: "internal",
            upstreamStatus: null,
            retryable: true,
          },
          retryAfterMs: 0,
        };
      }
      recordOutcome(job, member, outcome, deps.now(), deps.policy, deps.random);
      await deps.save(job);
    }),
  );
}

/** Random job ids for outboxes that have no ids of their own: 32 random bytes in hex. */
export function randomJobId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
