// What the Bun, Deno and Node entries share: the address and port, the store each runtime opens,
// readable config errors, the graceful stop, and public/ served as Workers static assets would serve it.

import { toBase64 } from "@x/core-signing";
import type { LocalStores } from "../adapters/local-stores.ts";
import { MemoryDenyList } from "../adapters/memory/deny-list.ts";
import { MemoryOutbox } from "../adapters/memory/outbox.ts";
import { MemoryRateLimiter } from "../adapters/memory/rate-limiter.ts";
import { MemorySessionRegistry } from "../adapters/memory/registry.ts";
import { MemoryReplayGuard } from "../adapters/memory/replay-guard.ts";
import { createApp } from "../app.ts";
import { localClientAddress } from "../client-address.ts";
import { ConfigError, type ConfigIssue, loadConfig, type ProxyConfig } from "../config.ts";
import { importSealingKeys, type SealingKeys } from "../sealed.ts";

export const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_PORT = 8787;
/** How long a stop waits for requests and attempts in flight by default. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;
const MAX_SHUTDOWN_GRACE_MS = 600_000;
export const IN_MEMORY_NOTICE =
  "edge-proxy: PROXY_STORE=memory, for tests and demos only: the FunGame deny-list, the replay guard and asynchronous logout jobs (Prefer: respond-async) are in memory, so revoked tokens are forgotten and accepted jobs are lost when this process stops\n";

/** Where the stores live, as the environment chose. */
export type StoreChoice =
  | { kind: "memory" }
  | { kind: "sqlite"; file: string }
  | { kind: "postgres"; url: string }
  | { kind: "deno-kv"; path: string | undefined };

export type StoreKind = StoreChoice["kind"];

/** Opens the stores a choice names, on this runtime's engines. */
export type OpenStores = (
  choice: StoreChoice,
  config: ProxyConfig,
  sealing: SealingKeys | undefined,
) => Promise<LocalStores>;

/** Said at start when a durable store has no keys to seal pending jobs' vendor tokens with. */
export const NO_ASYNC_NOTICE =
  "edge-proxy: asynchronous logouts (Prefer: respond-async) are off, answered synchronously: set PROXY_STORE_KEYS to keep their vendor tokens sealed in the store\n";

/** The same folder wrangler.toml serves as Workers static assets. */
const PUBLIC_DIR = new URL("../../public/", import.meta.url);
const CONTENT_TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  html: "text/html; charset=utf-8",
  ico: "image/x-icon",
  js: "text/javascript; charset=utf-8",
  json: "application/json; charset=utf-8",
  map: "application/json; charset=utf-8",
  png: "image/png",
  svg: "image/svg+xml",
  txt: "text/plain; charset=utf-8",
};

/** Prints the lines to stderr and exits 1: how each runtime does it is the entry's business. */
export type Fail = (lines: string[]) => never;
/** A file's bytes, or undefined when it does not exist or cannot be read. */
export type ReadFile = (file: URL) => Promise<Uint8Array<ArrayBuffer> | undefined>;

export interface LocalRuntime {
  env: Record<string, string | undefined>;
  fail: Fail;
  readFile: ReadFile;
  writeLine: (text: string) => void;
  /** The stores this runtime can open, the first being its default without DATABASE_URL. */
  kinds: readonly StoreKind[];
  openStores: OpenStores;
  /** Whether the process runs on Deno Deploy (its KV is the managed one, without a path). */
  deployed?: boolean;
}

function listenPort(value: string | undefined): ConfigIssue | number {
  if (value === undefined || value === "") return DEFAULT_PORT;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) {
    return { name: "PORT", message: "must be an integer from 0 to 65535" };
  }
  return port;
}

/** An IPv4 or IPv6 address, or a host name: what the server binds. */
function listenHost(value: string | undefined): ConfigIssue | string {
  if (value === undefined || value === "") return DEFAULT_HOST;
  const ipv6 = value.startsWith("[") && value.endsWith("]") ? value.slice(1, -1) : value;
  if (/^[0-9a-f:.]+$/i.test(ipv6) && ipv6.includes(":")) return ipv6;
  if (/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/i.test(value)) return value;
  return {
    name: "HOST",
    message: "must be an IP address or a host name (0.0.0.0 for every interface)",
  };
}

function shutdownGrace(value: string | undefined): ConfigIssue | number {
  if (value === undefined || value === "") return DEFAULT_SHUTDOWN_GRACE_MS;
  const ms = Number(value);
  if (!/^\d+$/.test(value) || ms > MAX_SHUTDOWN_GRACE_MS) {
    return {
      name: "SHUTDOWN_GRACE_MS",
      message: `must be an integer from 0 to ${MAX_SHUTDOWN_GRACE_MS}`,
    };
  }
  return ms;
}

/** The data directory's file for an engine: PROXY_DATA_DIR (default `data`) joined with `name`. */
function dataFile(env: Record<string, string | undefined>, name: string): string {
  const dir =
    env.PROXY_DATA_DIR === undefined || env.PROXY_DATA_DIR === "" ? "data" : env.PROXY_DATA_DIR;
  return `${dir.replace(/\/+$/, "") || "/"}/${name}`.replace(/^\/\//, "/");
}

/**
 * A PostgreSQL URL as the WHATWG parser reads it, or undefined when the `postgres` client could
 * read it otherwise: a `/`, `?`, `#` or `@` left unencoded in the password ends the host early for
 * one parser and not the other, so part of the password would be shown as a host, a port or a
 * fragment. Refused: any `#`, and any `@` after the host.
 */
export function postgresUrl(url: string): URL | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const ok =
    /^postgres(ql)?:$/.test(parsed.protocol) &&
    parsed.hostname !== "" &&
    !/[\s#]/.test(url) &&
    !`${parsed.pathname}${parsed.search}`.includes("@");
  return ok ? parsed : undefined;
}

/**
 * The store the environment chooses: PROXY_STORE when set, else PostgreSQL when DATABASE_URL is
 * set, else the runtime's embedded default (SQLite on Bun and Node, Deno KV on Deno). Memory is
 * only ever chosen by name.
 */
export function storeChoice(
  env: Record<string, string | undefined>,
  kinds: readonly StoreKind[],
  deployed = false,
): ConfigIssue | StoreChoice {
  const named = env.PROXY_STORE === "" ? undefined : env.PROXY_STORE;
  const url = env.DATABASE_URL === "" ? undefined : env.DATABASE_URL;
  const kind = named ?? (url !== undefined && kinds.includes("postgres") ? "postgres" : kinds[0]);
  if (!kinds.includes(kind as StoreKind)) {
    return { name: "PROXY_STORE", message: `must be one of ${kinds.join(", ")} on this runtime` };
  }
  switch (kind as StoreKind) {
    case "memory":
      return { kind: "memory" };
    case "sqlite":
      return { kind: "sqlite", file: dataFile(env, "edge-proxy.db") };
    case "deno-kv":
      return {
        kind: "deno-kv",
        path:
          deployed && (env.PROXY_DATA_DIR ?? "") === ""
            ? undefined
            : dataFile(env, "edge-proxy.kv"),
      };
    case "postgres":
      if (url === undefined || postgresUrl(url) === undefined) {
        return {
          name: "DATABASE_URL",
          message:
            "must be a postgres:// or postgresql:// URL with a host, its user name and password percent-encoded, with PROXY_STORE=postgres",
        };
      }
      return { kind: "postgres", url };
  }
}

/** A sealing key made for this process only: what the memory stores seal with. */
async function ephemeralKeys(): Promise<SealingKeys> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return (await importSealingKeys(`mem:${toBase64(bytes)}`, "PROXY_STORE_KEYS")) as SealingKeys;
}

/** The stores of PROXY_STORE=memory: for tests and demos, gone when the process stops. */
export function memoryStores(config: ProxyConfig, sealing?: SealingKeys): LocalStores {
  const outboxes: MemoryOutbox[] = [];
  return {
    description: "memory (for tests and demos only)",
    inMemory: true,
    denyList: new MemoryDenyList(),
    replayGuard: new MemoryReplayGuard(),
    registry:
      config.universalLogout === undefined || sealing === undefined
        ? undefined
        : new MemorySessionRegistry({ sealing, limits: config.universalLogout.limits }),
    outbox: (run, vendors) => {
      const outbox = new MemoryOutbox(run, { policy: config.outbox, vendors });
      outboxes.push(outbox);
      return outbox;
    },
    // One process, one count: token buckets in memory (PROXY_RATE_LIMIT).
    rateLimiter:
      config.rateLimit === undefined
        ? undefined
        : new MemoryRateLimiter(config.rateLimit, { now: () => Date.now() }),
    pause() {},
    async stop(graceMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(outboxes.map((outbox) => outbox.idle())),
        new Promise((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}

/** The file under public/ for a path, or undefined when the path leaves the folder. */
function publicFile(pathname: string): URL | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return undefined;
  const file = new URL(`.${decoded.endsWith("/") ? `${decoded}index.html` : decoded}`, PUBLIC_DIR);
  return file.href.startsWith(PUBLIC_DIR.href) ? file : undefined;
}

/** Serves public/ as Workers static assets do: a folder's index.html, `/docs` redirected to `/docs/`. */
function staticAssets(read: ReadFile): (request: Request) => Promise<Response | undefined> {
  return async (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") return undefined;
    const url = new URL(request.url);
    const file = publicFile(url.pathname);
    if (!file) return undefined;
    if (!url.pathname.endsWith("/")) {
      const index = publicFile(`${url.pathname}/`);
      if (index && (await read(index)) !== undefined) {
        return new Response(null, { status: 307, headers: { location: `${url.pathname}/` } });
      }
    }
    const body = await read(file);
    if (body === undefined) return undefined;
    const extension = /\.([a-z0-9]+)$/i.exec(file.pathname)?.[1]?.toLowerCase() ?? "";
    return new Response(request.method === "HEAD" ? null : body, {
      headers: {
        // An own key only: an extension such as "constructor" must not read Object's members.
        "content-type": Object.hasOwn(CONTENT_TYPES, extension)
          ? (CONTENT_TYPES[extension] as string)
          : "application/octet-stream",
        "content-length": String(body.byteLength),
      },
    });
  };
}

/** What an entry serves: the app, where to listen, its stores, and how long a stop may take. */
export interface LocalServer {
  app: ReturnType<typeof createApp>;
  host: string;
  port: number;
  stores: LocalStores;
  graceMs: number;
}

/** `host:port`, an IPv6 host in brackets. */
export function listenAddress(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The URL a server listening on `host` answers at, for the startup line. */
export function listenUrl(host: string, port: number): string {
  return `http://${listenAddress(host, port)}`;
}

/**
 * The app for a local runtime, on the stores the environment chooses. An invalid configuration, or
 * a store that cannot open, prints every issue by name (never a value, never a stack) and exits 1
 * through `fail`. Prints which store it uses.
 */
export async function localApp(runtime: LocalRuntime): Promise<LocalServer> {
  const { env, fail, readFile, writeLine } = runtime;
  const issues: ConfigIssue[] = [];
  let config: ProxyConfig | undefined;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    issues.push(...error.issues);
  }
  const port = listenPort(env.PORT);
  const host = listenHost(env.HOST);
  const graceMs = shutdownGrace(env.SHUTDOWN_GRACE_MS);
  const choice = storeChoice(env, runtime.kinds, runtime.deployed);
  const sealing =
    env.PROXY_STORE_KEYS === undefined || env.PROXY_STORE_KEYS === ""
      ? undefined
      : await importSealingKeys(env.PROXY_STORE_KEYS, "PROXY_STORE_KEYS");
  for (const value of [port, host, graceMs, choice, sealing]) {
    if (typeof value === "object" && "message" in value) issues.push(value);
  }
  if (issues.length > 0 || config === undefined) {
    return fail([
      "edge-proxy: invalid configuration",
      ...issues.map((issue) => `  ${issue.name}: ${issue.message}`),
    ]);
  }
  let stores: LocalStores;
  try {
    stores =
      (choice as StoreChoice).kind === "memory"
        ? memoryStores(
            config,
            // The memory registry seals as the others do, under a key made for this process.
            (sealing as SealingKeys | undefined) ?? (await ephemeralKeys()),
          )
        : await runtime.openStores(
            choice as StoreChoice,
            config,
            sealing as SealingKeys | undefined,
          );
  } catch (error) {
    return fail([
      `edge-proxy: cannot open the ${(choice as StoreChoice).kind} store: ${(error as Error).message}`,
    ]);
  }
  if (config.universalLogout !== undefined && stores.registry === undefined) {
    await stores.stop(0);
    return fail([
      "edge-proxy: invalid configuration",
      "  PROXY_STORE_KEYS: universal logout (UNIVERSAL_LOGOUT_*) needs it to seal the registered sessions in the store",
    ]);
  }
  writeLine(stores.inMemory ? IN_MEMORY_NOTICE : `edge-proxy: stores in ${stores.description}\n`);
  if (stores.outbox === undefined) writeLine(NO_ASYNC_NOTICE);
  if ((env.DATABASE_URL ?? "") !== "" && (choice as StoreChoice).kind !== "postgres") {
    writeLine(
      `edge-proxy: DATABASE_URL is set but not used: the store is ${(choice as StoreChoice).kind}\n`,
    );
  }
  const app = createApp(config, {
    denyList: stores.denyList,
    replayGuard: stores.replayGuard,
    // The entries pass the connection to app.fetch; X-Forwarded-For is read only from the
    // reverse proxies PROXY_TRUSTED_PROXIES lists.
    clientAddress: localClientAddress(config.trustedProxies),
    ...(stores.outbox === undefined ? {} : { outbox: stores.outbox }),
    ...(stores.rateLimiter === undefined ? {} : { rateLimiter: stores.rateLimiter }),
    ...(stores.registry === undefined ? {} : { registry: stores.registry }),
    assets: staticAssets(readFile),
    log: (line) => writeLine(`${JSON.stringify(line)}\n`),
  });
  return {
    app,
    host: host as string,
    port: port as number,
    stores,
    graceMs: graceMs as number,
  };
}
