// PostgreSQL as the stores' engine for several instances, through the `postgres` client.
import { numbered, type SqlDriver, type SqlValue } from "./driver.ts";

/** The calls of a `postgres` client (or one of its transactions) the driver makes. */
export interface PostgresClient {
  unsafe(
    query: string,
    params?: SqlValue[],
  ): Promise<Record<string, unknown>[] & { count: number }>;
  begin<T>(work: (tx: PostgresClient) => Promise<T>): Promise<T>;
  end(options?: { timeout?: number }): Promise<void>;
}

/** The URL with its password hidden, for the startup line. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.href;
  } catch {
    return "(an unparsable DATABASE_URL)";
  }
}

class PostgresDriver implements SqlDriver {
  readonly dialect = "postgres";
  readonly description: string;
  readonly #client: PostgresClient;
  readonly #root: boolean;

  constructor(client: PostgresClient, description: string, root: boolean) {
    this.#client = client;
    this.description = description;
    this.#root = root;
  }

  async all<Row extends Record<string, unknown>>(
    sql: string,
    params: readonly SqlValue[] = [],
  ): Promise<Row[]> {
    return (await this.#client.unsafe(numbered(sql), [...params])) as unknown as Row[];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.#client.unsafe(numbered(sql), [...params])).count;
  }

  transaction<T>(work: (tx: SqlDriver) => Promise<T>): Promise<T> {
    if (!this.#root) return Promise.reject(new Error("transactions do not nest"));
    return this.#client.begin((tx) => work(new PostgresDriver(tx, this.description, false)));
  }

  async close(): Promise<void> {
    if (this.#root) await this.#client.end({ timeout: 5 });
  }
}

/** A SqlDriver over a `postgres` client (its pool is shared by every store of the process). */
export function postgresDriver(client: PostgresClient, url: string): SqlDriver {
  return new PostgresDriver(client, `PostgreSQL, ${redactedUrl(url)}`, true);
}
