// Runs the proxy on Node with @hono/node-server: configuration from process.env, the stores in SQLite
// (node:sqlite) by default, PostgreSQL with DATABASE_URL, memory only when named.
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { serve } from "@hono/node-server";
import type { LocalStores } from "../adapters/local-stores.ts";
import { sqlStores } from "../adapters/sql/stores.ts";
import type { ProxyConfig } from "../config.ts";
import { listenUrl, localApp, type StoreChoice } from "./local-server.ts";

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

/** A store error met in the background (a poll of the outbox): one log line, never a stack. */
function logStoreError(error: unknown): void {
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  process.stdout.write(`${JSON.stringify({ event: "store_error", error: name, message })}\n`);
}

async function openStores(choice: StoreChoice, config: ProxyConfig): Promise<LocalStores> {
  switch (choice.kind) {
    case "sqlite": {
      await mkdir(dirname(choice.file), { recursive: true });
      const { openNodeSqlite } = await import("../adapters/sql/node-sqlite.ts");
      return sqlStores(await openNodeSqlite(choice.file), config, { onError: logStoreError });
    }
    default:
      throw new Error(`${choice.kind} is not available on Node.js`);
  }
}

async function main(): Promise<void> {
  const { app, host, port, stores, graceMs } = await localApp({
    env: process.env,
    fail,
    readFile: readPublicFile,
    writeLine: (text) => process.stdout.write(text),
    kinds: ["sqlite", "memory"],
    openStores,
  });
  const server = serve(
    { fetch: (request, env) => app.fetch(request, env), hostname: host, port },
    (info) => process.stdout.write(`edge-proxy listening on ${listenUrl(host, info.port)}\n`),
  );
  server.on("error", (error) =>
    fail([`edge-proxy: cannot listen on ${host}:${port}: ${error.message}`]),
  );
  let stopping = false;
  // Stops accepting, lets the requests in flight finish within the grace, hands the outbox's
  // running attempts back, then exits.
  const stop = async () => {
    if (stopping) return;
    stopping = true;
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
