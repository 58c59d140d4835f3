// Runs the proxy on Bun with Bun.serve: configuration from Bun.env, the stores in SQLite (bun:sqlite)
// by default, PostgreSQL with DATABASE_URL, memory only when named.
import { listenAddress, listenUrl, localApp } from "./local-server.ts";
import { logStoreError, sqlOpener } from "./sql-entry.ts";

// No Bun type package is installed: the few Bun globals used here, as Bun documents them.
interface BunServer {
  readonly port: number;
  readonly pendingRequests: number;
  requestIP(request: Request): { address: string } | null;
  stop(closeActiveConnections?: boolean): Promise<void>;
}
interface BunFile {
  exists(): Promise<boolean>;
  arrayBuffer(): Promise<ArrayBuffer>;
}
declare const Bun: {
  readonly env: Record<string, string | undefined>;
  serve(options: {
    hostname: string;
    port: number;
    fetch: (request: Request, server: BunServer) => Response | Promise<Response>;
  }): BunServer;
  file(path: URL): BunFile;
};

function fail(lines: string[]): never {
  process.stderr.write(`${lines.join("\n")}\n`);
  process.exit(1);
}

async function readPublicFile(file: URL): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const handle = Bun.file(file);
  try {
    return (await handle.exists()) ? new Uint8Array(await handle.arrayBuffer()) : undefined;
  } catch {
    return undefined;
  }
}

/** SQLite through this runtime's binding, loaded only when chosen. */
const openStores = sqlOpener("Bun", async (file) => {
  const { openBunSqlite } = await import("../adapters/sql/bun-sqlite.ts");
  return openBunSqlite(file);
});

async function main(): Promise<void> {
  const { app, host, port, stores, graceMs } = await localApp({
    env: Bun.env,
    fail,
    readFile: readPublicFile,
    writeLine: (text) => process.stdout.write(text),
    kinds: ["sqlite", "postgres", "memory"],
    openStores,
  });
  let server: BunServer;
  try {
    server = Bun.serve({ hostname: host, port, fetch: (request, bun) => app.fetch(request, bun) });
  } catch (error) {
    fail([
      `edge-proxy: cannot listen on ${listenAddress(host, port)}: ${(error as Error).message}`,
    ]);
  }
  process.stdout.write(`edge-proxy listening on ${listenUrl(host, server.port)}\n`);
  let stopping = false;
  // Stops accepting, lets the requests in flight finish within the grace, hands the outbox's
  // running attempts back, then exits.
  const stop = async () => {
    // A second signal does not wait: jobs still leased are taken again once their lease is over.
    if (stopping) process.exit(1);
    stopping = true;
    stores.pause();
    const started = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      server.stop(false),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => resolve(server.stop(true)), graceMs);
      }),
    ]);
    clearTimeout(timer);
    await stores.stop(Math.max(0, graceMs - (Date.now() - started))).catch(logStoreError);
    process.stdout.write("edge-proxy: stopped\n");
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

await main();
