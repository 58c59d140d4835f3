// Runs the proxy on Bun with Bun.serve: configuration from Bun.env, the deny-list in memory.
import { MemoryRevocationList } from "@x/fungame";
import { createApp } from "../app.ts";
import { ConfigError, loadConfig } from "../config.ts";

// No Bun type package is installed: the few Bun globals used here, as Bun documents them.
interface BunServer {
  readonly port: number;
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
    fetch: (request: Request) => Response | Promise<Response>;
  }): BunServer;
  file(path: URL): BunFile;
};
declare const process: {
  readonly stderr: { write(text: string): boolean };
  readonly stdout: { write(text: string): boolean };
  on(signal: "SIGINT" | "SIGTERM", listener: () => void): void;
  exit(code?: number): never;
};

const HOST = "127.0.0.1";
const DEFAULT_PORT = 8787;
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

function fail(lines: string[]): never {
  process.stderr.write(`${lines.join("\n")}\n`);
  process.exit(1);
}

function listenPort(value: string | undefined): number {
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

async function read(file: URL): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const handle = Bun.file(file);
  try {
    return (await handle.exists()) ? new Uint8Array(await handle.arrayBuffer()) : undefined;
  } catch {
    return undefined;
  }
}

/** Serves public/ as Workers static assets do: a folder's index.html, `/docs` redirected to `/docs/`. */
async function assets(request: Request): Promise<Response | undefined> {
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
      "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream",
      "content-length": String(body.byteLength),
    },
  });
}

function main(): void {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(Bun.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      fail([
        "edge-proxy: invalid configuration",
        ...error.issues.map((issue) => `  ${issue.name}: ${issue.message}`),
      ]);
    }
    throw error;
  }
  const port = listenPort(Bun.env.PORT);
  const app = createApp(config, {
    denyList: new MemoryRevocationList(),
    assets,
    log: (line) => process.stdout.write(`${JSON.stringify(line)}\n`),
  });
  let server: BunServer;
  try {
    server = Bun.serve({ hostname: HOST, port, fetch: (request) => app.fetch(request) });
  } catch (error) {
    fail([`edge-proxy: cannot listen on ${HOST}:${port}: ${(error as Error).message}`]);
  }
  process.stdout.write(
    "edge-proxy: the FunGame deny-list is in memory (revoked tokens are forgotten when this process stops)\n",
  );
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
