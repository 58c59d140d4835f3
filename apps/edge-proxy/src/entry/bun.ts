// Runs the proxy on Bun with Bun.serve: configuration from Bun.env, the deny-list in memory.

// No Bun type package is installed: the few Bun globals used here, as Bun documents them.
interface BunServer {
  readonly port: number;
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
declare const process: {
  readonly stderr: { write(text: string): boolean };
  readonly stdout: { write(text: string): boolean };
  on(signal: "SIGINT" | "SIGTERM", listener: () => void): void;
  exit(code?: number): never;
};

import { HOST, IN_MEMORY_NOTICE, localApp } from "./local-server.ts";

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

function main(): void {
  const { app, port } = localApp({
    env: Bun.env,
    fail,
    readFile: readPublicFile,
    writeLine: (text) => process.stdout.write(text),
  });
  let server: BunServer;
  try {
    server = Bun.serve({ hostname: HOST, port, fetch: (request, bun) => app.fetch(request, bun) });
  } catch (error) {
    fail([`edge-proxy: cannot listen on ${HOST}:${port}: ${(error as Error).message}`]);
  }
  process.stdout.write(IN_MEMORY_NOTICE);
  process.stdout.write(`edge-proxy listening on http://${HOST}:${server.port}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.stop(true).then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main();
