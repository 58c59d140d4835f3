// What the Bun and Node entries share about their stores: SQLite in the data directory through the
// runtime's own binding, PostgreSQL through the `postgres` client, and background errors as log lines.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { SqlDriver } from "../adapters/sql/driver.ts";
import { type PostgresClient, postgresDriver } from "../adapters/sql/postgres.ts";
import { sqlStores } from "../adapters/sql/stores.ts";
import { type OpenStores, postgresUrl } from "./local-server.ts";

/** Connections each process keeps to PostgreSQL at most. */
const POSTGRES_POOL = 10;

/** A store error met in the background (a poll of the outbox): one log line, never a stack. */
export function logStoreError(error: unknown): void {
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  process.stdout.write(`${JSON.stringify({ event: "store_error", error: name, message })}\n`);
}

/**
 * Why PostgreSQL could not be reached, without a word of the URL but its host and port: the
 * server's own code and message (they name no password), or the network error's code.
 */
export function postgresFailure(error: unknown, url: string): string {
  const parsed = postgresUrl(url);
  const where =
    parsed === undefined ? "the database" : `${parsed.hostname}:${parsed.port || "5432"}`;
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  // SQLSTATE codes are five characters of digits and capitals; the server wrote the message.
  if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && typeof message === "string") {
    return `${where} answered ${code}: ${message}`;
  }
  const what = typeof code === "string" ? code : error instanceof Error ? error.name : "no answer";
  return `cannot reach ${where} (${what})`;
}

/** Opens SQLite with `openSqlite` (the runtime's binding) or PostgreSQL, as the choice says. */
export function sqlOpener(
  runtime: string,
  openSqlite: (file: string) => Promise<SqlDriver>,
): OpenStores {
  return async (choice, config, sealing) => {
    let db: SqlDriver;
    switch (choice.kind) {
      case "sqlite":
        // Pending jobs hold vendor tokens: a folder made here is the proxy user's alone.
        await mkdir(dirname(choice.file), { recursive: true, mode: 0o700 });
        db = await openSqlite(choice.file);
        break;
      case "postgres": {
        const { default: postgres } = await import("postgres");
        const client = postgres(choice.url, {
          max: POSTGRES_POOL,
          connect_timeout: 10,
          onnotice: () => {},
        });
        db = postgresDriver(client as unknown as PostgresClient, choice.url);
        break;
      }
      default:
        throw new Error(`${choice.kind} is not available on ${runtime}`);
    }
    try {
      return await sqlStores(db, config, {
        onError: logStoreError,
        ...(sealing === undefined ? {} : { sealing }),
      });
    } catch (error) {
      await db.close().catch(() => {});
      if (choice.kind !== "postgres") throw error;
      throw new Error(postgresFailure(error, choice.url));
    }
  };
}
