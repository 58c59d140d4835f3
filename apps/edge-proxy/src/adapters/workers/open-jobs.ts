// Open logout jobs counted across isolates: SQLite-backed Durable Objects, one per shard of callers,
// each holding a row per job not finished, so the per-caller and global caps hold on Workers.
import { DurableObject } from "cloudflare:workers";
import { writeGauge } from "./metrics.ts";

/** Shards the callers are hashed over; LOGOUT_MAX_OPEN_JOBS is split evenly among them. */
export const OPEN_JOB_SHARDS = 16;

/**
 * A job's slot is given back when the job finishes; should that never happen (the job's object
 * lost), the row lapses this long after the job's last attempt could start (the longest
 * UPSTREAM_DEADLINE_MS), so a counter heals itself.
 */
export const OPEN_SLOT_GRACE_MS = 600_000;

/** The counter shard of a caller (a hexadecimal digest): its Durable Object's name. */
export function shardOf(caller: string): string {
  return `open-jobs-${Number.parseInt(caller.slice(0, 4), 16) % OPEN_JOB_SHARDS}`;
}

/** What a shard answers to a request for a slot. */
export type SlotVerdict = "taken" | "caller_full" | "shard_full";

/**
 * One shard: rows (job, caller, until). A slot is taken only when the caller and the shard are
 * both below their caps; the object runs one call at a time, so the count and the insert are one
 * step. Releasing is by job id and idempotent.
 */
export class OpenJobsObject extends DurableObject<Cloudflare.Env> {
  #ready = false;

  #sql(): SqlStorage {
    const sql = this.ctx.storage.sql;
    if (!this.#ready) {
      sql.exec(
        "CREATE TABLE IF NOT EXISTS open_jobs (job TEXT PRIMARY KEY, caller TEXT NOT NULL, until INTEGER NOT NULL)",
      );
      sql.exec("CREATE INDEX IF NOT EXISTS open_jobs_caller ON open_jobs (caller)");
      sql.exec("CREATE INDEX IF NOT EXISTS open_jobs_until ON open_jobs (until)");
      this.#ready = true;
    }
    return sql;
  }

  /** Takes a slot for `job` unless `caller` holds `perCaller` or the shard `perShard` already. */
  async acquire(
    job: string,
    caller: string,
    until: number,
    now: number,
    caps: { perCaller: number; perShard: number },
  ): Promise<SlotVerdict> {
    const sql = this.#sql();
    sql.exec("DELETE FROM open_jobs WHERE until <= ?", now);
    const count = (query: string, ...args: string[]) =>
      Number(sql.exec<{ n: number }>(query, ...args).one().n);
    if (count("SELECT COUNT(*) AS n FROM open_jobs WHERE caller = ?", caller) >= caps.perCaller) {
      return "caller_full";
    }
    if (count("SELECT COUNT(*) AS n FROM open_jobs") >= caps.perShard) return "shard_full";
    sql.exec(
      "INSERT OR REPLACE INTO open_jobs (job, caller, until) VALUES (?, ?, ?)",
      job,
      caller,
      until,
    );
    this.#gauge();
    return "taken";
  }

  /** Gives the slot of a finished (or never created) job back. */
  async release(job: string): Promise<void> {
    this.#sql().exec("DELETE FROM open_jobs WHERE job = ?", job);
    this.#gauge();
  }

  /** Writes this shard's open jobs as the "jobs waiting" figure. */
  #gauge(): void {
    const rows = this.#sql().exec<{ n: number }>("SELECT COUNT(*) AS n FROM open_jobs").one().n;
    writeGauge(
      this.env as { METRICS?: AnalyticsEngineDataset },
      "open-jobs",
      this.ctx.id,
      Number(rows),
    );
  }

  /** Rows held now, per caller (for tests and operations). */
  async counts(): Promise<Record<string, number>> {
    const rows = this.#sql()
      .exec<{ caller: string; n: number }>(
        "SELECT caller, COUNT(*) AS n FROM open_jobs GROUP BY caller",
      )
      .toArray();
    return Object.fromEntries(rows.map((row) => [row.caller, Number(row.n)]));
  }
}
