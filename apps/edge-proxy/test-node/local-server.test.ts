// The local entries' app in-process: the store each environment chooses, the address and grace
// settings, what is printed at start, and how static files are typed.
import { describe, expect, it } from "vitest";
import type { LocalStores } from "../src/adapters/local-stores.ts";
import { loadConfig } from "../src/config.ts";
import {
  type LocalRuntime,
  listenAddress,
  listenUrl,
  localApp,
  memoryStores,
  NO_ASYNC_NOTICE,
  type StoreChoice,
  storeChoice,
} from "../src/entry/local-server.ts";
import { postgresFailure } from "../src/entry/sql-entry.ts";

/** Names every plain object answers to through its prototype. */
const INHERITED = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty"];

class Failed extends Error {}

/** A runtime whose `fail` throws, whose lines are kept, and whose stores are memory's or a given set. */
function runtime(env: Record<string, string>, extra: Partial<LocalRuntime> = {}) {
  const lines: string[] = [];
  const opened: StoreChoice[] = [];
  const value: LocalRuntime = {
    env,
    fail: (failure) => {
      throw new Failed(failure.join("\n"));
    },
    readFile: async (file) =>
      file.pathname.endsWith("/index.html") ? undefined : new Uint8Array([120]),
    writeLine: (text) => lines.push(text),
    kinds: ["sqlite", "postgres", "memory"],
    openStores: async (choice) => {
      opened.push(choice);
      throw new Error("no such engine here");
    },
    ...extra,
  };
  return { value, lines, opened };
}

describe("the store an environment chooses", () => {
  const node = ["sqlite", "postgres", "memory"] as const;
  const deno = ["deno-kv", "memory"] as const;

  it("is the runtime's embedded store by default, in PROXY_DATA_DIR (default data/)", () => {
    expect(storeChoice({}, node)).toEqual({ kind: "sqlite", file: "data/edge-proxy.db" });
    expect(storeChoice({ PROXY_DATA_DIR: "/var/lib/edge-proxy/" }, node)).toEqual({
      kind: "sqlite",
      file: "/var/lib/edge-proxy/edge-proxy.db",
    });
    expect(storeChoice({}, deno)).toEqual({ kind: "deno-kv", path: "data/edge-proxy.kv" });
    // On Deno Deploy, the managed KV (no path) unless a data directory is named.
    expect(storeChoice({}, deno, true)).toEqual({ kind: "deno-kv", path: undefined });
    expect(storeChoice({ PROXY_DATA_DIR: "" }, deno, true)).toEqual({
      kind: "deno-kv",
      path: undefined,
    });
    expect(storeChoice({ PROXY_DATA_DIR: "/tmp/kv" }, deno, true)).toEqual({
      kind: "deno-kv",
      path: "/tmp/kv/edge-proxy.kv",
    });
  });

  it("is PostgreSQL when DATABASE_URL is set, on a runtime that has it", () => {
    const url = "postgres://proxy:secret@db.internal:5432/proxy";
    expect(storeChoice({ DATABASE_URL: url }, node)).toEqual({ kind: "postgres", url });
    expect(storeChoice({ DATABASE_URL: url, PROXY_STORE: "sqlite" }, node)).toMatchObject({
      kind: "sqlite",
    });
    expect(storeChoice({ DATABASE_URL: url }, deno)).toMatchObject({ kind: "deno-kv" });
  });

  it("is memory only when named", () => {
    expect(storeChoice({ PROXY_STORE: "memory" }, node)).toEqual({ kind: "memory" });
  });

  it("refuses a DATABASE_URL whose password would be read as its host, and takes it percent-encoded", () => {
    // Left as they are, `/` and `?` end the host: the client would print the password's start.
    for (const url of [
      "postgres://proxy:Xq7/9kLmNp@db.internal:5432/proxy",
      "postgres://proxy:abc?def@db.internal/proxy",
      "postgres:///proxy",
      "postgres://db internal/proxy",
      // Digits first: the standard parser takes them for a port, the client for the password.
      "postgres://app:4711/Secret@db.example:5432/app",
      "postgres://app:8080?Secret@db.example/app",
      "postgres://app:99#Secret@db.example/app",
      // A password starting with `#`: the standard parser sees no password at all.
      "postgres://app:#Secret@db.example:5432/app",
    ]) {
      expect(storeChoice({ DATABASE_URL: url }, node), url).toMatchObject({ name: "DATABASE_URL" });
    }
    const encoded = "postgresql://proxy:Xq7%2F9kLmNp@db.internal:5432/proxy";
    expect(storeChoice({ DATABASE_URL: encoded }, node)).toEqual({
      kind: "postgres",
      url: encoded,
    });
  });

  it("names the variable when the choice is wrong", () => {
    expect(storeChoice({ PROXY_STORE: "redis" }, node)).toEqual({
      name: "PROXY_STORE",
      message: "must be one of sqlite, postgres, memory on this runtime",
    });
    expect(storeChoice({ PROXY_STORE: "deno-kv" }, node)).toMatchObject({ name: "PROXY_STORE" });
    expect(storeChoice({ PROXY_STORE: "constructor" }, node)).toMatchObject({
      name: "PROXY_STORE",
    });
    expect(storeChoice({ PROXY_STORE: "postgres" }, node)).toMatchObject({
      name: "DATABASE_URL",
    });
    expect(storeChoice({ DATABASE_URL: "mysql://x/y" }, node)).toMatchObject({
      name: "DATABASE_URL",
    });
  });
});

describe("why PostgreSQL could not be reached", () => {
  const url = "postgres://proxy:s3cret-pass@db.internal:6543/proxy";

  it("says the server's code and message, or the network error's code, and never the password", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED proxy:s3cret-pass"), {
      code: "ECONNREFUSED",
    });
    expect(postgresFailure(refused, url)).toBe("cannot reach db.internal:6543 (ECONNREFUSED)");
    const denied = Object.assign(new Error('password authentication failed for user "proxy"'), {
      code: "28P01",
    });
    expect(postgresFailure(denied, url)).toBe(
      'db.internal:6543 answered 28P01: password authentication failed for user "proxy"',
    );
    expect(postgresFailure(new TypeError("s3cret-pass"), url)).toBe(
      "cannot reach db.internal:6543 (TypeError)",
    );
    expect(postgresFailure(undefined, "postgres://db/x")).toBe("cannot reach db:5432 (no answer)");
  });
});

describe("the local app", () => {
  it("refuses a bad HOST, PORT, SHUTDOWN_GRACE_MS and PROXY_STORE together, each by name, opening nothing", async () => {
    const { value, opened } = runtime({
      HOST: "bad host!",
      PORT: "65536",
      SHUTDOWN_GRACE_MS: "-1",
      PROXY_STORE: "redis",
    });
    const error = await localApp(value).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(Failed);
    const text = (error as Error).message;
    expect(text).toMatch(/^edge-proxy: invalid configuration$/m);
    for (const name of ["HOST", "PORT", "SHUTDOWN_GRACE_MS", "PROXY_STORE"]) {
      expect(text).toMatch(new RegExp(`^  ${name}: `, "m"));
    }
    expect(opened).toEqual([]);
  });

  it("listens where HOST says, 127.0.0.1 by default, and prints IPv6 in brackets", async () => {
    const server = await localApp(runtime({ PROXY_STORE: "memory" }).value);
    expect(server.host).toBe("127.0.0.1");
    expect(server.port).toBe(8787);
    expect(server.graceMs).toBe(10_000);
    const everywhere = await localApp(
      runtime({ PROXY_STORE: "memory", HOST: "0.0.0.0", PORT: "0", SHUTDOWN_GRACE_MS: "0" }).value,
    );
    expect([everywhere.host, everywhere.port, everywhere.graceMs]).toEqual(["0.0.0.0", 0, 0]);
    const v6 = await localApp(runtime({ PROXY_STORE: "memory", HOST: "[::]" }).value);
    expect(v6.host).toBe("::");
    expect(listenUrl(v6.host, 8787)).toBe("http://[::]:8787");
    expect(listenAddress("::1", 0)).toBe("[::1]:0");
    expect(listenAddress("0.0.0.0", 80)).toBe("0.0.0.0:80");
  });

  it("says when DATABASE_URL is set but another store is chosen", async () => {
    const { value, lines } = runtime({
      PROXY_STORE: "memory",
      DATABASE_URL: "postgres://proxy:secret@db/proxy",
    });
    await localApp(value);
    expect(lines).toContain("edge-proxy: DATABASE_URL is set but not used: the store is memory\n");
    expect(lines.join("")).not.toContain("secret");
  });

  it("says memory is for tests and demos when it is chosen", async () => {
    const { value, lines } = runtime({ PROXY_STORE: "memory" });
    const server = await localApp(value);
    expect(server.stores.inMemory).toBe(true);
    expect(lines.join("")).toMatch(/PROXY_STORE=memory, for tests and demos only/);
  });

  it("prints the store it opened, and fails by name when the store cannot open", async () => {
    const { value, lines } = runtime(
      {},
      {
        openStores: async (choice) =>
          ({
            description: `SQLite at ${(choice as { file: string }).file}`,
            inMemory: false,
          }) as LocalStores,
      },
    );
    // A fake set of stores is enough to see the line; the app is not called.
    await localApp(value).catch(() => {});
    // A set without an outbox (no keys given): the second line says asynchronous logouts are off.
    expect(lines.join("")).toBe(
      `edge-proxy: stores in SQLite at data/edge-proxy.db\n${NO_ASYNC_NOTICE}`,
    );
    const failing = runtime({});
    const error = await localApp(failing.value).catch((failure: unknown) => failure);
    expect((error as Error).message).toBe(
      "edge-proxy: cannot open the sqlite store: no such engine here",
    );
    expect(failing.opened).toEqual([{ kind: "sqlite", file: "data/edge-proxy.db" }]);
  });
});

describe("PROXY_STORE_KEYS", () => {
  it("is refused by name when malformed, without a word of the key", async () => {
    const { value } = runtime({ PROXY_STORE: "memory", PROXY_STORE_KEYS: "k1:c2hvcnQ=" });
    const error = await localApp(value).catch((failure: unknown) => failure);
    expect((error as Error).message).toMatch(/^ {2}PROXY_STORE_KEYS: entry 1: /m);
    expect((error as Error).message).not.toContain("c2hvcnQ");
  });

  it("is handed to the store; without it a durable store keeps no jobs, and says so", async () => {
    const seen: unknown[] = [];
    const durable = (sealing: unknown): LocalStores => {
      seen.push(sealing);
      return {
        ...memoryStores(loadConfig({})),
        description: "SQLite, somewhere",
        inMemory: false,
        outbox: undefined,
      };
    };
    const without = runtime({}, { openStores: async (_c, _config, sealing) => durable(sealing) });
    const { app } = await localApp(without.value);
    expect(without.lines).toContain(NO_ASYNC_NOTICE);
    // Prefer: respond-async is not applied: the logout is answered as it happens (here, refused
    // before any vendor, as none is configured), never 202 with a job nobody keeps.
    const response = await app.request("/v1/logout", {
      method: "POST",
      headers: { "content-type": "application/json", prefer: "respond-async" },
      body: JSON.stringify({ lancens: { username: "u", token: "t" } }),
    });
    expect(response.status).not.toBe(202);
    expect(response.headers.get("preference-applied")).toBeNull();
    const key = `k1:${Buffer.alloc(32, 7).toString("base64")}`;
    const withKeys = runtime(
      { PROXY_STORE_KEYS: key },
      { openStores: async (_c, _config, sealing) => durable(sealing) },
    );
    await localApp(withKeys.value);
    expect(seen[0]).toBeUndefined();
    expect(seen[1]).toMatchObject({ current: "k1" });
  });
});

describe("the local entries' static files", () => {
  it("type a file whose extension is named after an Object member as octet-stream", async () => {
    const { app } = await localApp(runtime({ PROXY_STORE: "memory" }).value);
    for (const extension of INHERITED.filter((name) => /^[a-z0-9]+$/i.test(name))) {
      const response = await app.request(`/docs/file.${extension}`);
      expect(response.status, extension).toBe(200);
      expect(response.headers.get("content-type"), extension).toBe("application/octet-stream");
    }
    expect((await app.request("/docs/file.css")).headers.get("content-type")).toMatch(/^text\/css/);
  });
});
