// Runs the proxy on Deno with Deno.serve: configuration from Deno.env, the deny-list in memory.

// No Deno type package is installed: the few Deno globals used here, as Deno documents them.
interface DenoServer {
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}
declare const Deno: {
  readonly env: { toObject(): Record<string, string> };
  serve(
    options: {
      hostname: string;
      port: number;
      onListen?: (address: { hostname: string; port: number }) => void;
      onError?: (error: unknown) => Response | Promise<Response>;
    },
    handler: (
      request: Request,
      info: { remoteAddr: { hostname: string } },
    ) => Response | Promise<Response>,
  ): DenoServer;
  readFile(path: URL): Promise<Uint8Array<ArrayBuffer>>;
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  readonly stdout: { writeSync(bytes: Uint8Array): number };
  readonly stderr: { writeSync(bytes: Uint8Array): number };
  exit(code?: number): never;
};

const encoder = new TextEncoder();
const stdout = (text: string) => Deno.stdout.writeSync(encoder.encode(text));

import { HOST, IN_MEMORY_NOTICE, localApp } from "./local-server.ts";

function fail(lines: string[]): never {
  Deno.stderr.writeSync(encoder.encode(`${lines.join("\n")}\n`));
  Deno.exit(1);
}

async function readPublicFile(file: URL): Promise<Uint8Array<ArrayBuffer> | undefined> {
  try {
    return await Deno.readFile(file);
  } catch {
    return undefined;
  }
}

function main(): void {
  const { app, port } = localApp({
    env: Deno.env.toObject(),
    fail,
    readFile: readPublicFile,
    writeLine: stdout,
  });
  let server: DenoServer;
  try {
    server = Deno.serve(
      {
        hostname: HOST,
        port,
        onListen: (address) => {
          stdout(IN_MEMORY_NOTICE);
          stdout(`edge-proxy listening on http://${HOST}:${address.port}\n`);
        },
      },
      (request, info) => app.fetch(request, info),
    );
  } catch (error) {
    fail([`edge-proxy: cannot listen on ${HOST}:${port}: ${(error as Error).message}`]);
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.shutdown().then(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

main();
