// Runs the proxy on Node with @hono/node-server: configuration from process.env, the deny-list in memory.
import { readFile } from "node:fs/promises";
import { serve } from "@hono/node-server";
import { HOST, IN_MEMORY_NOTICE, localApp } from "./local-server.ts";

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

function main(): void {
  const { app, port } = localApp({
    env: process.env,
    fail,
    readFile: readPublicFile,
    writeLine: (text) => process.stdout.write(text),
  });
  const server = serve(
    { fetch: (request, env) => app.fetch(request, env), hostname: HOST, port },
    (info) => {
      process.stdout.write(IN_MEMORY_NOTICE);
      process.stdout.write(`edge-proxy listening on http://${HOST}:${info.port}\n`);
    },
  );
  server.on("error", (error) =>
    fail([`edge-proxy: cannot listen on ${HOST}:${port}: ${error.message}`]),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close(() => process.exit(0));
    if ("closeAllConnections" in server) server.closeAllConnections();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main();
