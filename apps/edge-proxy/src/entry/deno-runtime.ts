// What the Deno entries share: the Deno globals they call, the environment, public/ files, and the
// stores on Deno KV (a file under PROXY_DATA_DIR; Deno Deploy's managed KV there).

import type { Kv } from "../adapters/deno-kv/kv.ts";
import { kvStores } from "../adapters/deno-kv/stores.ts";
import type { LocalStores } from "../adapters/local-stores.ts";
import type { ProxyConfig } from "../config.ts";
import type { SealingKeys } from "../sealed.ts";
import { type LocalServer, localApp, type StoreChoice } from "./local-server.ts";

// No Deno type package is installed: the few Deno globals used here, as Deno documents them.
export interface DenoServer {
  readonly finished: Promise<void>;
  shutdown(): Promise<void>;
}
export interface DenoServeInfo {
  remoteAddr: { hostname: string };
}
interface DenoApi {
  readonly env: { toObject(): Record<string, string> };
  serve(
    options: {
      hostname: string;
      port: number;
      onListen?: (address: { hostname: string; port: number }) => void;
      onError?: (error: unknown) => Response | Promise<Response>;
    },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): DenoServer;
  readFile(path: URL): Promise<Uint8Array<ArrayBuffer>>;
  mkdir(path: string, options: { recursive: boolean; mode?: number }): Promise<void>;
  openKv(path?: string): Promise<Kv & { close(): void }>;
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  readonly stdout: { writeSync(bytes: Uint8Array): number };
  readonly stderr: { writeSync(bytes: Uint8Array): number };
  exit(code?: number): never;
}

export const Deno: DenoApi = (globalThis as unknown as { Deno: DenoApi }).Deno;

const encoder = new TextEncoder();
export const stdout = (text: string) => Deno.stdout.writeSync(encoder.encode(text));

export function fail(lines: string[]): never {
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

/** Opens Deno KV: the file the choice names (its folder made first), or the managed one. */
async function openStores(
  choice: StoreChoice,
  config: ProxyConfig,
  sealing: SealingKeys | undefined,
): Promise<LocalStores> {
  if (choice.kind !== "deno-kv") throw new Error(`${choice.kind} is not available on Deno`);
  const { path } = choice;
  if (path !== undefined) {
    const folder = path.slice(0, Math.max(0, path.lastIndexOf("/")));
    // Pending jobs hold vendor tokens: a folder made here is the proxy user's alone.
    if (folder !== "") await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
  }
  const kv = await Deno.openKv(path);
  return kvStores(kv, path === undefined ? "Deno KV (managed)" : `Deno KV, ${path}`, config, {
    log: (line) => stdout(`${JSON.stringify(line)}\n`),
    ...(sealing === undefined ? {} : { sealing }),
  });
}

/** The app on Deno, its stores opened: on Deno Deploy (DENO_DEPLOYMENT_ID) the managed KV. */
export function denoServer(): Promise<LocalServer> {
  const env = Deno.env.toObject();
  return localApp({
    env,
    fail,
    readFile: readPublicFile,
    writeLine: stdout,
    kinds: ["deno-kv", "memory"],
    openStores,
    deployed: env.DENO_DEPLOYMENT_ID !== undefined && env.DENO_DEPLOYMENT_ID !== "",
  });
}
