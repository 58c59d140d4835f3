// Runs the proxy on Deno with Deno.serve: configuration from Deno.env, the stores on the store PROXY_STORE names.

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

import { listenUrl, localApp } from "./local-server.ts";

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

async function main(): Promise<void> {
  const { app, host, port, stores, graceMs } = await localApp({
    env: Deno.env.toObject(),
    fail,
    readFile: readPublicFile,
    writeLine: stdout,
    kinds: ["memory"],
    openStores: (choice) => Promise.reject(new Error(`${choice.kind} is not available on Deno`)),
  });
  let server: DenoServer;
  try {
    server = Deno.serve(
      {
        hostname: host,
        port,
        onListen: (address) => stdout(`edge-proxy listening on ${listenUrl(host, address.port)}\n`),
      },
      (request, info) => app.fetch(request, info),
    );
  } catch (error) {
    fail([`edge-proxy: cannot listen on ${host}:${port}: ${(error as Error).message}`]);
  }
  let stopping = false;
  // Stops accepting, lets the requests in flight finish within the grace, hands the outbox's
  // running attempts back, then exits.
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      server.shutdown(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    await stores.stop(Math.max(0, graceMs - (Date.now() - started))).catch(() => {});
    stdout("edge-proxy: stopped\n");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

await main();
