// Each entry on its durable store, killed in the middle of deliveries and started again on the same
// data: every accepted logout reaches its vendor exactly once, and a revocation is still refused.
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PostgresServer, startPostgres } from "../../../tooling/postgres/server.mjs";
import {
  json,
  type RunningEntry,
  type Runtime,
  runtimes,
  type Simulators,
  startEntry,
  startSimulators,
} from "./harness.ts";

const REQUEST_TIMEOUT_MS = 15_000;
/** How long the jobs may take to reach a state; polled every POLL_MS. */
const STATE_TIMEOUT_MS = 60_000;
const POLL_MS = 200;
const FUNGAME_LOGOUT = "/user/logout";
const JOBS = 8;

interface JobView {
  id: string;
  status: string;
  vendors: Record<string, { state: string; attempts: number; lastError: { code: unknown } | null }>;
}

/** An entry on a durable store, and what its startup line says about that store. */
interface DurableEntry {
  name: string;
  runtime: Runtime;
  /** The store's variables, made once the engine runs. */
  env: () => Promise<Record<string, string>>;
  storeLine: RegExp;
}

let server: PostgresServer | undefined;
let databases = 0;

/** A database of its own on this file's PostgreSQL server, started at the first call. */
async function database(): Promise<Record<string, string>> {
  server ??= await startPostgres();
  const admin = postgres(server.url, { max: 1, onnotice: () => {} });
  const name = `restart_${++databases}`;
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return { DATABASE_URL: url.href };
}

afterAll(async () => {
  await server?.stop();
});

const ENTRIES: DurableEntry[] = [
  {
    name: "Node on SQLite",
    runtime: "node",
    env: async () => ({}),
    storeLine: /^edge-proxy: stores in SQLite \(node:sqlite\)/m,
  },
  {
    name: "Bun on SQLite",
    runtime: "bun",
    env: async () => ({}),
    storeLine: /^edge-proxy: stores in SQLite \(bun:sqlite\)/m,
  },
  {
    name: "Deno on Deno KV",
    runtime: "deno",
    env: async () => ({}),
    storeLine: /^edge-proxy: stores in Deno KV, \/.*\/edge-proxy\.kv$/m,
  },
  {
    name: "Node on PostgreSQL",
    runtime: "node",
    env: database,
    storeLine:
      /^edge-proxy: stores in PostgreSQL, postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/restart_\d+$/m,
  },
  {
    name: "Bun on PostgreSQL",
    runtime: "bun",
    env: database,
    storeLine: /^edge-proxy: stores in PostgreSQL, postgres:\/\/postgres:\*\*\*@/m,
  },
];

describe.each(ENTRIES)("$name, killed and started again", (entry) => {
  let simulators: Simulators;
  let dataDir: string;
  let storeEnv: Record<string, string>;
  const running: RunningEntry[] = [];

  beforeAll(async () => {
    simulators = await startSimulators();
    dataDir = await mkdtemp(join(tmpdir(), "edge-proxy-restart-"));
    storeEnv = await entry.env();
  });

  afterAll(async () => {
    for (const proxy of running) await proxy.stop();
    await simulators?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const start = async (extra: Record<string, string> = {}) => {
    const proxy = await startEntry(entry.runtime, {
      ...simulators.env,
      ...storeEnv,
      PROXY_DATA_DIR: dataDir,
      LOGOUT_RETRY_BASE_MS: "200",
      LOGOUT_RETRY_MAX_DELAY_MS: "1000",
      UPSTREAM_TIMEOUT_MS: "3000",
      ...extra,
    });
    running.push(proxy);
    expect(proxy.group.output.join("\n")).toMatch(entry.storeLine);
    return proxy;
  };

  const readJob = async (proxy: RunningEntry, id: string): Promise<JobView> => {
    const response = await fetch(`${proxy.url}/v1/logout/${id}`, {
      headers: { authorization: `Bearer ${simulators.apiKey}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = await json(response);
    expect(response.status, JSON.stringify(body)).toBe(200);
    return body as unknown as JobView;
  };

  /** Polls every job until `done` holds for all; bounded by STATE_TIMEOUT_MS. */
  const waitForAll = async (
    proxy: RunningEntry,
    ids: string[],
    done: (job: JobView) => boolean,
  ): Promise<JobView[]> => {
    const deadline = Date.now() + STATE_TIMEOUT_MS;
    for (;;) {
      const jobs = await Promise.all(ids.map((id) => readJob(proxy, id)));
      if (jobs.every(done)) return jobs;
      if (Date.now() > deadline) {
        throw new Error(
          `the jobs did not get there: ${JSON.stringify(jobs.filter((j) => !done(j)))}`,
        );
      }
      await runtimes.sleep(POLL_MS);
    }
  };

  /** Every byte the store keeps: the data directory's files, or PostgreSQL's jobs as text. */
  const storedText = async (): Promise<string> => {
    if (storeEnv.DATABASE_URL !== undefined) {
      const client = postgres(storeEnv.DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        const rows = await client.unsafe("SELECT id || job AS row FROM edge_proxy_jobs");
        return rows.map((row) => String(row.row)).join("\n");
      } finally {
        await client.end();
      }
    }
    const texts: string[] = [];
    for (const name of await readdir(dataDir, { recursive: true })) {
      const file = join(dataDir, name);
      if ((await stat(file)).isFile()) texts.push((await readFile(file)).toString("latin1"));
    }
    return texts.join("\n");
  };

  const tokenStatus = async (proxy: RunningEntry, token: string) => {
    const response = await fetch(`${proxy.url}/v1/fungame/token-status`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return json(response);
  };

  it(
    "delivers every accepted logout exactly once and still refuses a revoked token",
    async () => {
      const fungame = simulators.sims.fungame;
      const ebet = simulators.sims.ebet;
      const first = await start();

      // A token logged out synchronously before the kill.
      const revoked = await simulators.fungameToken();
      const logout = await fetch(`${first.url}/v1/fungame/logout`, {
        method: "POST",
        headers: { authorization: `Bearer ${revoked}` },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      expect(logout.status, JSON.stringify(await json(logout))).toBe(200);

      const tokens: string[] = [];
      const users: string[] = [];
      for (let i = 0; i < JOBS; i++) {
        tokens.push(await simulators.fungameToken());
        users.push(await simulators.ebetUser());
      }
      // FunGame is down (slowly: attempts are in flight when the kill comes); eBET is up.
      const fungameBefore = fungame.calls.length;
      const ebetBefore = ebet.calls.length;
      fungame.faults.set({ status: 503, delayMs: 300 });
      const ids: string[] = [];
      for (let i = 0; i < JOBS; i++) {
        const accepted = await fetch(`${first.url}/v1/logout`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${simulators.apiKey}`,
            prefer: "respond-async",
          },
          body: JSON.stringify({ ebet: { username: users[i] }, fungame: { token: tokens[i] } }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const view = (await json(accepted)) as unknown as JobView;
        expect(accepted.status, JSON.stringify(view)).toBe(202);
        ids.push(view.id);
      }
      await waitForAll(
        first,
        ids,
        (job) =>
          job.vendors.ebet?.state === "delivered" && (job.vendors.fungame?.attempts ?? 0) >= 2,
      );

      // What the store holds (its files, or its jobs table) names the jobs, never their tokens.
      const stored = await storedText();
      for (const id of ids) expect(stored).toContain(id);
      for (const token of tokens) expect(stored).not.toContain(token);
      for (const user of users) expect(stored).not.toContain(user);

      // kill -9, FunGame back meanwhile, and forgetting every revocation it made.
      await runtimes.killGroup(first.group);
      fungame.faults.clear();
      fungame.restart();

      const second = await start();
      expect(await tokenStatus(second, revoked)).toEqual({ active: false, reason: "revoked" });
      const jobs = await waitForAll(second, ids, (job) => job.status !== "pending");
      for (const job of jobs) {
        expect(job, JSON.stringify(job)).toMatchObject({
          status: "delivered",
          vendors: { ebet: { state: "delivered", attempts: 1 }, fungame: { state: "delivered" } },
        });
      }
      // Each vendor saw each logout once: FunGame's refused attempts aside, one accepted call per
      // token; eBET one call per player, none again after the restart.
      const served = fungame.calls
        .slice(fungameBefore)
        .filter((call) => call.path === FUNGAME_LOGOUT && call.status < 500);
      expect(served).toHaveLength(JOBS);
      expect(ebet.calls.slice(ebetBefore).filter((call) => call.status === 200)).toHaveLength(JOBS);
      for (const user of users) expect(ebet.isPlaying(user)).toBe(false);
      // Every one of the new tokens is refused through the proxy's deny-list (FunGame forgot).
      for (const token of tokens) {
        expect(await tokenStatus(second, token)).toEqual({ active: false, reason: "revoked" });
      }
    },
    3 * STATE_TIMEOUT_MS,
  );

  it(
    "on SIGTERM stops within its grace and hands an attempt in flight back: the next start runs it at once",
    async () => {
      const fungame = simulators.sims.fungame;
      // A lease of 305 s: only a job handed back runs again within this test's bounded waits.
      const slow = { UPSTREAM_TIMEOUT_MS: "20000", UPSTREAM_DEADLINE_MS: "300000" };
      const first = await start({ ...slow, SHUTDOWN_GRACE_MS: "300" });
      const token = await simulators.fungameToken();
      fungame.faults.set({ delayMs: 15_000 });
      const accepted = await fetch(`${first.url}/v1/logout`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${simulators.apiKey}`,
          prefer: "respond-async",
        },
        body: JSON.stringify({ fungame: { token } }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const view = (await json(accepted)) as unknown as JobView;
      expect(accepted.status, JSON.stringify(view)).toBe(202);
      await waitForAll(first, [view.id], (job) => job.vendors.fungame?.state === "delivering");

      process.kill(-(first.group.child.pid as number), "SIGTERM");
      const exit = await Promise.race([
        first.group.exited,
        runtimes.sleep(20_000).then(() => ({ code: "timeout", signal: null })),
      ]);
      expect(exit.code, first.group.output.join("\n")).toBe(0);
      expect(first.group.output).toContain("edge-proxy: stopped");
      fungame.faults.clear();

      const second = await start(slow);
      const [done] = await waitForAll(second, [view.id], (job) => job.status !== "pending");
      expect(done).toMatchObject({
        status: "delivered",
        vendors: { fungame: { state: "delivered", attempts: 2 } },
      });
      expect(await tokenStatus(second, token)).toEqual({ active: false, reason: "revoked" });
    },
    3 * STATE_TIMEOUT_MS,
  );
});
