// Runs the proxy on Node with @hono/node-server: configuration from process.env, the stores in SQLite
// (node:sqlite) by default, PostgreSQL with DATABASE_URL, memory only when named.
import { readFile } from "node:fs/promises";
import { serve } from "@hono/node-server";
import { listenAddress, listenUrl, localApp } from "./local-server.ts";
import { logStoreError, sqlOpener } from "./sql-entry.ts";

function fail(lines: string[]): never {
  process.stderr.write(`${lines.join("\n")}\n`);
  process.exit(1);
}

async function readPublicFile(file: URL): Promise<Uint8Array<ArrayBuffer> | undefined> {
  try {
    return await readFile(file);
  } catch {
    return undefined;
  }
}

/** SQLite through this runtime's binding, loaded only when chosen. */
const openStores = sqlOpener("Node.js", async (file) => {
  const { openNodeSqlite } = await import("../adapters/sql/node-sqlite.ts");
  return openNodeSqlite(file);
});

async function main(): Promise<void> {
  const { app, host, port, stores, graceMs } = await localApp({
    env: process.env,
    fail,
    readFile: readPublicFile,
    writeLine: (text) => process.stdout.write(text),
    kinds: ["sqlite", "postgres", "memory"],
    openStores,
  });
  let stopping = false;
  const server = serve(
    {
      fetch: async (request, env) => {
        const response = await app.fetch(request, env);
        // While the server drains, a kept-alive connection closes after its answer.
        if (stopping) {
          try {
            response.headers.set("connection", "close");
          } catch {
            // An answer with immutable headers keeps them; the grace ends its connection.
          }
        }
        return response;
      },
      hostname: host,
      port,
    },
    (info) => process.stdout.write(`edge-proxy listening on ${listenUrl(host, info.port)}\n`),
  );
  server.on("error", (error) =>
    fail([`edge-proxy: cannot listen on ${listenAddress(host, port)}: ${error.message}`]),
  );
  // Stops accepting, lets the requests in flight finish within the grace, hands the outbox's
  // running attempts back, then exits.
  const stop = async () => {
    // A second signal does not wait: jobs still leased are taken again once their lease is over.
    if (stopping) process.exit(1);
    stopping = true;
    stores.pause();
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        resolve();
      }, graceMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      if ("closeIdleConnections" in server) server.closeIdleConnections();
    });
    await stores.stop(Math.max(0, graceMs - (Date.now() - started))).catch(logStoreError);
    process.stdout.write("edge-proxy: stopped\n");
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

await main();
