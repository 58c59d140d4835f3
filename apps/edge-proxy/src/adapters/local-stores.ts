// The stores of the Bun, Deno and Node entries as one set: what the app is given, what the startup
// line says, and how the set starts and stops with the server.
import type { AttemptRunner } from "../delivery.ts";
import type { DenyList, LogoutOutbox, RateLimiter, ReplayGuard } from "../ports.ts";
import type { SessionRegistry } from "../universal-logout/registry.ts";
import type { AnyVendor } from "../vendors/descriptor.ts";

export interface LocalStores {
  /** The engine and where it keeps its data, for the startup line (never a password). */
  description: string;
  /** Whether the stores forget everything when the process stops (tests and demos only). */
  inMemory: boolean;
  denyList: DenyList;
  replayGuard: ReplayGuard;
  /**
   * Makes the outbox of asynchronous logouts from the app's attempt runner; undefined when a
   * durable store has no PROXY_STORE_KEYS to seal their vendor tokens with (`Prefer:
   * respond-async` is then not applied: logouts are answered synchronously).
   */
  outbox: ((run: AttemptRunner, vendors: readonly AnyVendor[]) => LogoutOutbox) | undefined;
  /** Undefined without PROXY_RATE_LIMIT. */
  rateLimiter: RateLimiter | undefined;
  /**
   * The session registry of universal logout; undefined when it is off, or when a durable store
   * has no PROXY_STORE_KEYS to seal the registered sessions with.
   */
  registry: SessionRegistry | undefined;
  /** Stops taking new jobs at once (the first step of a stop, before the server drains). */
  pause(): void;
  /**
   * Stops running jobs (waiting up to `graceMs` for the attempts in flight, then handing the rest
   * back to the next start or another instance) and closes the engine.
   */
  stop(graceMs: number): Promise<void>;
}

/**
 * A job's lease beyond the upstream deadline, which bounds each of its attempts: time to write the
 * outcomes. After a crash, a job waits this long past the deadline before another process runs it.
 */
export const LEASE_MARGIN_MS = 5_000;

/** How long a process holds a job it runs, for a proxy whose attempts end by `upstreamDeadlineMs`. */
export function jobLeaseMs(upstreamDeadlineMs: number): number {
  return upstreamDeadlineMs + LEASE_MARGIN_MS;
}
