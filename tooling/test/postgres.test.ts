// The tests' PostgreSQL: a real PostgreSQL 18 from the npm registry's binaries that serves SQL (row
// locks included), stops without leaving a process or a folder behind, and goes when its process dies.
import { spawn } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { linkSharedLibraries, type PostgresServer, startPostgres } from "../postgres/server.mjs";

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
}

/** Polls `check` every 50 ms for at most 30 s; its last answer. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (await check()) return true;
    await new Promise((done) => setTimeout(done, 50));
  }
  return check();
}

describe("a PostgreSQL server for tests", () => {
  let server: PostgresServer;
  let sql: postgres.Sql;

  beforeAll(async () => {
    server = await startPostgres();
    sql = postgres(server.url, { onnotice: () => {} });
  });
  afterAll(async () => {
    await sql?.end();
    await server?.stop();
  });

  it("is PostgreSQL 18 on 127.0.0.1 and keeps what is written to it", async () => {
    const [row] = await sql<{ version: string }[]>`SELECT version()`;
    expect(row?.version).toMatch(/^PostgreSQL 18\.\d+ /);
    const [where] = await sql<{ address: string; port: number }[]>`
      SELECT host(inet_server_addr()) AS address, inet_server_port() AS port`;
    expect(where).toEqual({ address: "127.0.0.1", port: server.port });

    await sql`CREATE TABLE notes (id integer PRIMARY KEY, body text NOT NULL)`;
    await sql`INSERT INTO notes ${sql([
      { id: 1, body: "first" },
      { id: 2, body: "second" },
    ])}`;
    const rows = await sql`SELECT id, body FROM notes ORDER BY id`;
    expect(rows.map((note) => ({ ...note }))).toEqual([
      { id: 1, body: "first" },
      { id: 2, body: "second" },
    ]);
  });

  it("lets two transactions claim rows with FOR UPDATE SKIP LOCKED without taking each other's", async () => {
    await sql`CREATE TABLE jobs (id integer PRIMARY KEY, claimed_by text)`;
    await sql`INSERT INTO jobs (id) SELECT generate_series(1, 5)`;
    const claim = (tx: postgres.TransactionSql, who: string) => tx<{ id: number }[]>`
      UPDATE jobs SET claimed_by = ${who}
      WHERE id IN (SELECT id FROM jobs WHERE claimed_by IS NULL ORDER BY id LIMIT 2
                   FOR UPDATE SKIP LOCKED)
      RETURNING id`;

    let second: number[] = [];
    let blocked: unknown;
    const first = await sql.begin(async (a) => {
      const mine = (await claim(a, "a")).map((row) => row.id);
      // While a's transaction holds its rows, b and a NOWAIT lock run on other connections.
      await sql.begin(async (b) => {
        second = (await claim(b, "b")).map((row) => row.id);
      });
      blocked = await sql`SELECT id FROM jobs WHERE id = ${mine[0] ?? 0} FOR UPDATE NOWAIT`.catch(
        (error: unknown) => error,
      );
      return mine;
    });

    expect(first.sort()).toEqual([1, 2]);
    expect(second.sort()).toEqual([3, 4]);
    // The rows a skipped past were really locked: taking one without waiting failed.
    expect(blocked).toMatchObject({ code: "55P03" });
    const claimed = await sql`SELECT id, claimed_by FROM jobs ORDER BY id`;
    expect(claimed.map((row) => row.claimed_by)).toEqual(["a", "a", "b", "b", null]);
  });

  it("stops: the port refuses connections, the data directory is gone, and a second stop() is harmless", async () => {
    const other = await startPostgres();
    expect(other.port).not.toBe(server.port);
    expect(await accepts(other.port)).toBe(true);
    expect(existsSync(join(other.directory, "PG_VERSION"))).toBe(true);

    await other.stop();
    expect(await accepts(other.port)).toBe(false);
    expect(existsSync(other.directory)).toBe(false);
    expect(existsSync(dirname(other.directory))).toBe(false);
    await expect(other.stop()).resolves.toBeUndefined();
    // The first server is untouched.
    expect(await accepts(server.port)).toBe(true);
  });
});

describe("starting on a given port", () => {
  let blocker: Server;
  let taken: number;
  beforeAll(async () => {
    blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, "127.0.0.1", done));
    taken = (blocker.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((done) => blocker.close(() => done())));

  it("listens on that port", async () => {
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
    const port = (probe.address() as { port: number }).port;
    await new Promise((done) => probe.close(done));

    const server = await startPostgres({ port });
    const sql = postgres(server.url);
    const [row] = await sql<{ port: number }[]>`SELECT inet_server_port() AS port`;
    await sql.end();
    await server.stop();
    expect(server.port).toBe(port);
    expect(server.url).toContain(`@127.0.0.1:${port}/postgres`);
    expect(row?.port).toBe(port);
  });

  it("fails with the server's log when the port is taken, and leaves no folder behind", async () => {
    const failure = await startPostgres({ port: taken }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ name: "PostgresError", portTaken: true });
    const { message, log, directory } = failure as {
      message: string;
      log: string;
      directory: string;
    };
    expect(message).toContain(`PostgreSQL on 127.0.0.1:${taken} exited with 1`);
    expect(log).toMatch(/could not bind IPv4 address "127\.0\.0\.1"/);
    expect(message).toContain(log);
    expect(existsSync(directory)).toBe(false);
  });

  it("refuses a port that is not one, and options it does not know, naming them", async () => {
    for (const port of [0, 65_536, 5432.5, "5432", null]) {
      await expect(startPostgres({ port } as never)).rejects.toThrow(
        `startPostgres: port must be an integer from 1 to 65535, got ${JSON.stringify(port)}`,
      );
    }
    await expect(startPostgres({ prot: 5432 } as never)).rejects.toThrow(
      'startPostgres: unknown option "prot"',
    );
  });
});

describe("a server whose process dies without stopping it", () => {
  it("stops and removes its data once the process is gone", async () => {
    const script = `
      const { startPostgres } = await import(${JSON.stringify(new URL("../postgres/server.mjs", import.meta.url).href)});
      const server = await startPostgres();
      console.log(JSON.stringify({ port: server.port, directory: server.directory }));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((done, fail) => {
      let text = "";
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => {
        text += chunk;
        if (text.includes("\n")) done(text.split("\n")[0] ?? "");
      });
      child.once("exit", (code) => fail(new Error(`the child exited with ${code}: ${text}`)));
    });
    const { port, directory } = JSON.parse(line) as { port: number; directory: string };
    expect(await accepts(port)).toBe(true);

    child.kill("SIGKILL");
    expect(await eventually(async () => !(await accepts(port)))).toBe(true);
    expect(await eventually(async () => !existsSync(dirname(directory)))).toBe(true);
  });
});

describe("the shared-library links the binaries need", () => {
  const root = mkdtempSync(join(tmpdir(), "x-postgres-links-"));
  const lib = join(root, "native", "lib");
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const list = (links: unknown) =>
    writeFileSync(join(root, "native", "pg-symlinks.json"), JSON.stringify(links));

  it("are made from the package's list, relative, once; a wrong one is replaced, a real file kept", () => {
    mkdirSync(lib, { recursive: true });
    writeFileSync(join(lib, "libpq.so.5.18"), "library");
    writeFileSync(join(lib, "libz.so.1"), "a real file");
    symlinkSync("elsewhere.so", join(lib, "libpq.so"));
    list([
      { source: "native/lib/libpq.so.5.18", target: "native/lib/libpq.so.5" },
      { source: "native/lib/libpq.so.5.18", target: "native/lib/libpq.so" },
      { source: "native/lib/libpq.so.5.18", target: "native/lib/libz.so.1" },
    ]);

    linkSharedLibraries(root);
    linkSharedLibraries(root);

    expect(readlinkSync(join(lib, "libpq.so.5"))).toBe("libpq.so.5.18");
    expect(readlinkSync(join(lib, "libpq.so"))).toBe("libpq.so.5.18");
    expect(lstatSync(join(lib, "libz.so.1")).isFile()).toBe(true);
    expect(readdirSync(lib).sort()).toEqual([
      "libpq.so",
      "libpq.so.5",
      "libpq.so.5.18",
      "libz.so.1",
    ]);
  });

  it("never point or lie outside the package's native folder", () => {
    for (const link of [
      { source: "native/lib/libpq.so.5.18", target: "native/../../escape.so" },
      { source: "/etc/passwd", target: "native/lib/libpq.so.6" },
      { source: "native/lib/libpq.so.5.18" },
    ]) {
      list([link]);
      expect(() => linkSharedLibraries(root)).toThrow(
        /pg-symlinks\.json: .* is not a path inside native\//,
      );
    }
    expect(existsSync(join(root, "..", "escape.so"))).toBe(false);
    expect(existsSync(join(lib, "libpq.so.6"))).toBe(false);
  });
});
