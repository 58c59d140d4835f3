// The run: one lane per vendor with its own concurrency, pause and backoff; each attempt journaled
// before it is sent and after it answers; retryable failures retried until the session's time is
// up; a vendor whose every call would fail the same way stopped; a stop request lets the attempts in
// flight finish and starts nothing new.
import type { Journal, Outcome } from "./journal.ts";
import type { AttemptError, AttemptResult, Sender } from "./senders.ts";
import type { Member, VendorName } from "./sessions.ts";

/** One session of one vendor, and every line that named it. */
export interface Task {
  key: string;
  vendor: VendorName;
  member: Member;
  lines: number[];
  /** Attempts made in this run. */
  attempts: number;
  /** An attempt (this run's or an earlier one's) may have been acted on without its answer arriving. */
  inDoubt: boolean;
  firstAt: number | undefined;
  lastError: AttemptError | undefined;
}

/** How a task left the run. */
export type TaskStatus =
  | { status: Outcome; note?: string }
  | { status: "failed"; error: AttemptError }
  /** Not finished: its vendor was stopped, or the run was, before it ended. */
  | { status: "pending"; error: AttemptError | undefined; reason: string };

export type RunEvent =
  | { type: "attempt"; vendor: VendorName }
  | { type: "settled"; vendor: VendorName; task: Task; result: TaskStatus }
  | { type: "retry"; vendor: VendorName; error: AttemptError; waitMs: number }
  | { type: "halt"; vendor: VendorName; error: AttemptError };

export interface RunOptions {
  tasks: readonly Task[];
  senders: Partial<Record<VendorName, Sender>>;
  /** Attempts in flight at once, per vendor. */
  concurrency: Readonly<Record<VendorName, number>>;
  journal: Journal;
  /** A session's retryable failures are retried until this long after its first attempt. */
  retryForMs: number;
  /** The longest pause after failures in a row (a vendor's Retry-After may ask for more). */
  maxBackoffMs?: number;
  /** Aborted: start nothing new, let the attempts in flight finish. */
  stop: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  now?: () => number;
  random?: () => number;
}

export interface RunResult {
  settled: Map<Task, TaskStatus>;
  /** Vendors stopped for the run, with the error that stopped them. */
  halted: Partial<Record<VendorName, AttemptError>>;
  stopped: boolean;
}

const BASE_BACKOFF_MS = 500;
export const DEFAULT_MAX_BACKOFF_MS = 15_000;
/** A vendor that answers "too many requests" is waited on from 1 s, doubling to at most 4 s. */
const RATE_LIMIT_BASE_MS = 1_000;
const RATE_LIMIT_MAX_MS = 4_000;

/**
 * The pause after the `failures`-th failure in a row, with jitter (half to all of it): a vendor that
 * answered "too many requests" (and named no Retry-After) is asked again within seconds, since it is
 * up; a vendor that did not answer waits from 500 ms doubling to `maxMs`, one probe at a time.
 */
export function backoffMs(
  kind: string,
  failures: number,
  maxMs: number = DEFAULT_MAX_BACKOFF_MS,
  random: () => number = Math.random,
): number {
  const limited = kind === "rate_limited";
  const base = limited ? RATE_LIMIT_BASE_MS : BASE_BACKOFF_MS;
  const cap = limited ? Math.min(RATE_LIMIT_MAX_MS, maxMs) : maxMs;
  const full = Math.min(cap, base * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(full * (0.5 + random() / 2));
}
/** How often a waiting worker looks again. */
const IDLE_MS = 20;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Lane {
  vendor: VendorName;
  sender: Sender;
  queue: Task[];
  head: number;
  retries: Task[];
  inFlight: number;
  /** Failures in a row: while there are any, one attempt at a time probes the vendor. */
  failures: number;
  pausedUntil: number;
  halted: AttemptError | undefined;
}

/** A thrown error that is not a vendor's: a defect, reported without its text. */
function defect(): AttemptError {
  return {
    code: "INTERNAL_ERROR",
    kind: "upstream",
    retryable: false,
    status: null,
    maybeSent: true,
    halt: false,
    retryAfterMs: 0,
  };
}

/** Runs every task; resolves when each has settled or the run was stopped. */
export async function runTasks(options: RunOptions): Promise<RunResult> {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const maxBackoffMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const emit = options.onEvent ?? (() => {});
  const settled = new Map<Task, TaskStatus>();
  const lanes = new Map<VendorName, Lane>();
  for (const task of options.tasks) {
    let lane = lanes.get(task.vendor);
    if (lane === undefined) {
      const sender = options.senders[task.vendor];
      if (sender === undefined) throw new Error(`no sender for ${task.vendor}`);
      lane = {
        vendor: task.vendor,
        sender,
        queue: [],
        head: 0,
        retries: [],
        inFlight: 0,
        failures: 0,
        pausedUntil: 0,
        halted: undefined,
      };
      lanes.set(task.vendor, lane);
    }
    lane.queue.push(task);
  }
  const settle = (lane: Lane, task: Task, result: TaskStatus) => {
    settled.set(task, result);
    emit({ type: "settled", vendor: lane.vendor, task, result });
  };
  const closed = (lane: Lane) => options.stop.aborted || lane.halted !== undefined;
  const next = (lane: Lane): Task | undefined =>
    lane.retries.shift() ?? (lane.head < lane.queue.length ? lane.queue[lane.head++] : undefined);

  const worker = async (lane: Lane): Promise<void> => {
    for (;;) {
      if (closed(lane)) return;
      // The gate: a pause the vendor asked for or a backoff, and one probe at a time after failures.
      if (now() < lane.pausedUntil || (lane.failures > 0 && lane.inFlight > 0)) {
        const paused = lane.pausedUntil - now();
        await sleep(paused > 0 ? Math.min(paused, 5 * IDLE_MS) : IDLE_MS);
        continue;
      }
      const task = next(lane);
      if (task === undefined) {
        // Attempts in flight may come back to be retried.
        if (lane.inFlight === 0) return;
        await sleep(IDLE_MS);
        continue;
      }
      // A retry whose time ran out during the pause is not sent: it fails with its last error.
      if (task.lastError !== undefined && now() - (task.firstAt ?? now()) >= options.retryForMs) {
        settle(lane, task, { status: "failed", error: task.lastError });
        continue;
      }
      lane.inFlight++;
      task.attempts++;
      task.firstAt ??= now();
      emit({ type: "attempt", vendor: lane.vendor });
      let result: AttemptResult;
      try {
        options.journal.send(task.key);
        result = await lane.sender.attempt(task.member, { inDoubt: task.inDoubt });
      } catch {
        result = { ok: false, error: defect() };
      } finally {
        lane.inFlight--;
      }
      if (result.ok) {
        lane.failures = 0;
        const outcome: Outcome = result.already ? "already" : "ended";
        options.journal.done(task.key, outcome, task.attempts, result.note);
        settle(lane, task, {
          status: outcome,
          ...(result.note === undefined ? {} : { note: result.note }),
        });
        continue;
      }
      const { error } = result;
      task.inDoubt ||= error.maybeSent;
      task.lastError = error;
      options.journal.fail(task.key, error, task.attempts, task.inDoubt);
      if (error.halt) {
        if (lane.halted === undefined) {
          lane.halted = error;
          emit({ type: "halt", vendor: lane.vendor, error });
        }
        settle(lane, task, { status: "failed", error });
        return;
      }
      const elapsed = now() - (task.firstAt ?? now());
      if (error.retryable && elapsed < options.retryForMs) {
        lane.failures++;
        const waitMs = Math.max(
          error.retryAfterMs,
          backoffMs(error.kind, lane.failures, maxBackoffMs, random),
        );
        lane.pausedUntil = Math.max(lane.pausedUntil, now() + waitMs);
        lane.retries.push(task);
        emit({ type: "retry", vendor: lane.vendor, error, waitMs });
        continue;
      }
      settle(lane, task, { status: "failed", error });
    }
  };

  await Promise.all(
    [...lanes.values()].flatMap((lane) =>
      Array.from({ length: Math.max(1, options.concurrency[lane.vendor]) }, () => worker(lane)),
    ),
  );
  const halted: Partial<Record<VendorName, AttemptError>> = {};
  for (const lane of lanes.values()) {
    if (lane.halted !== undefined) halted[lane.vendor] = lane.halted;
    const reason =
      lane.halted !== undefined
        ? `${lane.vendor} was stopped for the run (${lane.halted.code})`
        : "the run was stopped before this session ended";
    for (const task of [...lane.retries, ...lane.queue.slice(lane.head)]) {
      if (!settled.has(task)) {
        settle(lane, task, { status: "pending", error: task.lastError, reason });
      }
    }
  }
  return { settled, halted, stopped: options.stop.aborted };
}
