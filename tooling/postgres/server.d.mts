// Types of server.mjs: throwaway PostgreSQL 18 servers on 127.0.0.1 for tests.

export interface PostgresServer {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  /** The data directory; gone once `stop()` resolves. */
  readonly directory: string;
  /** Fast shutdown, then removes the data; the same promise on every call. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Listen on this port; by default a free one, picked again if another process takes it first. */
  port?: number;
}

/** Starts a server; initdb runs once per process, later starts copy its cluster. */
export function startPostgres(options?: StartOptions): Promise<PostgresServer>;

export class PostgresError extends Error {
  /** The end of the server's (or initdb's) output. */
  readonly log: string;
  /** The server's folder, removed before the error was thrown. */
  readonly directory: string | undefined;
  readonly portTaken: boolean;
}

/** The platform package's root folder and the paths of its initdb and postgres binaries. */
export function postgresBinaries(): Promise<{ root: string; initdb: string; postgres: string }>;

/** Creates the shared-library symlinks `<root>/native/pg-symlinks.json` lists, if not there yet. */
export function linkSharedLibraries(root: string): void;
