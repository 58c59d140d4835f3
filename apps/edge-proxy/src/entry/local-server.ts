// What the Bun, Deno and Node entries share: the address, the PORT check, the app with in-memory
// stores and readable config errors, and public/ served as Workers static assets would serve it.
import { MemoryDenyList } from "../adapters/memory/deny-list.ts";
import { MemoryOutbox } from "../adapters/memory/outbox.ts";
import { MemoryRateLimiter } from "../adapters/memory/rate-limiter.ts";
import { createApp } from "../app.ts";
import { localClientAddress } from "../client-address.ts";
import { ConfigError, loadConfig } from "../config.ts";

export const HOST = "127.0.0.1";
const DEFAULT_PORT = 8787;
export const IN_MEMORY_NOTICE =
  "edge-proxy: the FunGame deny-list is in memory (revoked tokens are forgotten when this process stops), and so are asynchronous logout jobs (Prefer: respond-async)\n";

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
}

function listenPort(value: string | undefined, fail: Fail): number {
  if (value === undefined || value === "") return DEFAULT_PORT;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) {
    fail(["edge-proxy: invalid configuration", "  PORT: must be an integer from 0 to 65535"]);
  }
  return port;
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

/**
 * The app for a local runtime and the port to listen on. An invalid configuration prints every
 * issue by name (never a value, never a stack) and exits 1 through `fail`.
 */
export function localApp(runtime: LocalRuntime): {
  app: ReturnType<typeof createApp>;
  port: number;
} {
  const { env, fail, readFile, writeLine } = runtime;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      fail([
        "edge-proxy: invalid configuration",
        ...error.issues.map((issue) => `  ${issue.name}: ${issue.message}`),
      ]);
    }
    throw error;
  }
  const port = listenPort(env.PORT, fail);
  const app = createApp(config, {
    denyList: new MemoryDenyList(),
    // The entries pass the connection to app.fetch; X-Forwarded-For is read only from the
    // reverse proxies PROXY_TRUSTED_PROXIES lists.
    clientAddress: localClientAddress(config.trustedProxies),
    // Prefer: respond-async works here too, but its jobs live in this process only.
    outbox: (run, vendors) => new MemoryOutbox(run, { policy: config.outbox, vendors }),
    // One process, one count: token buckets in memory (PROXY_RATE_LIMIT).
    ...(config.rateLimit === undefined
      ? {}
      : { rateLimiter: new MemoryRateLimiter(config.rateLimit, { now: () => Date.now() }) }),
    assets: staticAssets(readFile),
    log: (line) => writeLine(`${JSON.stringify(line)}\n`),
  });
  return { app, port };
}
