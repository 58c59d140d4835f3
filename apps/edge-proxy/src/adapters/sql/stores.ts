// The stores on one SQL database: the deny-list, the replay guard, the outbox and, when asked, the
// rate limit, with the housekeeping that deletes what expired.
import type { ProxyConfig } from "../../config.ts";
import type { SealingKeys } from "../../sealed.ts";
import { jobLeaseMs, type LocalStores } from "../local-stores.ts";
import { MemoryRateLimiter } from "../memory/rate-limiter.ts";
import { createSchema, type SqlDriver } from "./driver.ts";
import { SqlDenyList, SqlReplayGuard } from "./expiring-set.ts";
import { SqlOutbox } from "./outbox.ts";
import { SqlRateLimiter } from "./rate-limiter.ts";
import { SqlSessionRegistry } from "./registry.ts";

/** How often expired entries and rate-limit windows are deleted. */
export const PURGE_MS = 60_000;

/**
 * The stores on `db`, its tables created. The rate limit counts in the database on PostgreSQL
 * (every instance shares it) and in this process on SQLite (one machine, one process).
 */
export async function sqlStores(
  db: SqlDriver,
  config: Pick<ProxyConfig, "outbox" | "rateLimit" | "upstreamDeadlineMs"> &
    Partial<Pick<ProxyConfig, "universalLogout">>,
  options: { pollMs?: number; onError?: (error: unknown) => void; sealing?: SealingKeys } = {},
): Promise<LocalStores> {
  await createSchema(db);
  const denyList = new SqlDenyList(db);
  const replayGuard = new SqlReplayGuard(db);
  const shared =
    config.rateLimit !== undefined && db.dialect === "postgres"
      ? new SqlRateLimiter(db, config.rateLimit)
      : undefined;
  const rateLimiter =
    shared ??
    (config.rateLimit === undefined
      ? undefined
      : new MemoryRateLimiter(config.rateLimit, { now: () => Date.now() }));
  const onError = options.onError ?? (() => {});
  const outboxes: SqlOutbox[] = [];
  const registry =
    config.universalLogout === undefined || options.sealing === undefined
      ? undefined
      : new SqlSessionRegistry(db, {
          sealing: options.sealing,
          limits: config.universalLogout.limits,
          onError,
        });
  const purge = setInterval(() => {
    Promise.all([
      denyList.set.purge(),
      replayGuard.set.purge(),
      shared?.purge(),
      registry?.purge(),
    ]).catch(onError);
  }, PURGE_MS);
  (purge as { unref?: () => void }).unref?.();
  return {
    description: db.description,
    inMemory: false,
    denyList,
    replayGuard,
    rateLimiter,
    registry,
    outbox:
      options.sealing === undefined
        ? undefined
        : (run, vendors) => {
            const outbox = new SqlOutbox(db, run, {
              sealing: options.sealing as SealingKeys,
              policy: config.outbox,
              vendors,
              leaseMs: jobLeaseMs(config.upstreamDeadlineMs),
              onError,
              ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
            });
            outboxes.push(outbox);
            outbox.start();
            return outbox;
          },
    pause() {
      for (const outbox of outboxes) outbox.pause();
    },
    async stop(graceMs) {
      clearInterval(purge);
      await Promise.all(outboxes.map((outbox) => outbox.stop(graceMs)));
      await db.close();
    },
  };
}
