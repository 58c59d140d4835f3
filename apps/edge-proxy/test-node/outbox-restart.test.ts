// An asynchronous logout outlives a restart of `wrangler dev` in the middle of its delivery: the job,
// its attempts and its alarm are in the Durable Object's SQLite storage under --persist-to.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  json,
  type ProcessGroup,
  runtimes,
  type Simulators,
  startEntry,
  startSimulators,
} from "./harness.ts";

const READY_TIMEOUT_MS = 90_000;
const REQUEST_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 10_000;
/** How long the job may take to reach a state; polled every POLL_MS. */
const STATE_TIMEOUT_MS = 60_000;
const POLL_MS = 250;
const LOGOUT_PATH = "/user/logout";

interface Proxy {
  url: string;
}

interface JobView {
  id: string;
  status: string;
  vendors: Record<string, { state: string; attempts: number; lastError: unknown }>;
}

function jtiOf(token: string): string {
  const payload = token.split(".")[1] ?? "";
  return (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { jti: string }).jti;
}

describe("asynchronous logouts across a restart of wrangler dev --persist-to", () => {
  let simulators: Simulators | undefined;
  let envFile: string;
  let stateDir: string;
  const groups: ProcessGroup[] = [];
  const folders: string[] = [];

  beforeAll(async () => {
    simulators = await startSimulators();
    stateDir = await mkdtemp(join(tmpdir(), "edge-proxy-outbox-state-"));
    folders.push(stateDir);
    const envDir = await mkdtemp(join(tmpdir(), "edge-proxy-outbox-env-"));
    folders.push(envDir);
    envFile = join(envDir, "proxy.env");
    // Retries a second apart (with jitter), so the restart falls between attempts or inside one.
    const env = {
      ...simulators.env,
      LOGOUT_RETRY_BASE_MS: "1000",
      LOGOUT_RETRY_MAX_DELAY_MS: "2000",
      LOGOUT_RETRY_MAX_ATTEMPTS: "100",
    };
    const lines = Object.entries(env).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
    await writeFile(envFile, `${lines.join("\n")}\n`, { mode: 0o600 });
  });

  afterAll(async () => {
    for (const group of groups) await runtimes.stopGroup(group, STOP_GRACE_MS);
    await simulators?.close();
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  });

  async function startProxy(): Promise<Proxy & { group: ProcessGroup }> {
    const port = await runtimes.freePort();
    const group = runtimes.spawnGroup(
      process.execPath,
      runtimes.wranglerDevArgs({
        port,
        inspectorPort: await runtimes.freePort(),
        envFile,
        persistTo: stateDir,
      }),
      { env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" } },
    );
    groups.push(group);
    const url = `http://127.0.0.1:${port}`;
    await runtimes.waitForHttp(`${url}/healthz`, group, READY_TIMEOUT_MS);
    return { url, group };
  }

  const readJob = async (proxy: Proxy, id: string): Promise<JobView> => {
    const response = await fetch(`${proxy.url}/v1/logout/${id}`, {
      headers: { authorization: `Bearer ${(simulators as Simulators).apiKey}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = await json(response);
    expect(response.status, JSON.stringify(body)).toBe(200);
    return body as unknown as JobView;
  };

  /** Polls the job until `done` holds; bounded by STATE_TIMEOUT_MS. */
  const waitFor = async (proxy: Proxy, id: string, done: (job: JobView) => boolean) => {
    const deadline = Date.now() + STATE_TIMEOUT_MS;
    let job = await readJob(proxy, id);
    while (!done(job)) {
      if (Date.now() > deadline)
        throw new Error(`the job did not get there: ${JSON.stringify(job)}`);
      await runtimes.sleep(POLL_MS);
      job = await readJob(proxy, id);
    }
    return job;
  };

  it.each([
    ["stopped (SIGTERM)", (group: ProcessGroup) => runtimes.stopGroup(group, STOP_GRACE_MS)],
    ["killed (SIGKILL)", runtimes.killGroup],
  ] as const)(
    "delivers a logout whose vendor was failing when wrangler dev was %s, after it starts again",
    async (_, stop) => {
      const sims = simulators as Simulators;
      const fungame = sims.sims.fungame;
      const token = await sims.fungameToken();
      const username = await sims.ebetUser();
      // Logouts FunGame served, and those its fault switch answered with a 503, in this case.
      const before = fungame.calls.length;
      const calls = () => fungame.calls.slice(before).filter((call) => call.path === LOGOUT_PATH);
      const logouts = () => calls().filter((call) => call.status < 500).length;
      const refused = () => calls().filter((call) => call.status === 503).length;
      fungame.faults.set({ status: 503 });

      const first = await startProxy();
      const accepted = await fetch(`${first.url}/v1/logout`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${sims.apiKey}`,
          prefer: "respond-async",
        },
        body: JSON.stringify({ ebet: { username }, fungame: { token } }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const view = (await json(accepted)) as unknown as JobView;
      expect(accepted.status, JSON.stringify(view)).toBe(202);
      expect(accepted.headers.get("location")).toBe(`/v1/logout/${view.id}`);

      // eBET is delivered; FunGame keeps failing and is retried.
      const failing = await waitFor(
        first,
        view.id,
        (job) =>
          job.vendors.ebet?.state === "delivered" && (job.vendors.fungame?.attempts ?? 0) >= 2,
      );
      expect(failing.status).toBe("pending");
      expect(failing.vendors.fungame?.lastError).toMatchObject({ upstreamStatus: 503 });
      expect(logouts()).toBe(0);
      expect(refused()).toBeGreaterThanOrEqual(2);

      // wrangler dev stops in the middle of the delivery; FunGame recovers meanwhile.
      await stop(first.group);
      const attemptsBefore = failing.vendors.fungame?.attempts ?? 0;
      fungame.faults.clear();

      const second = await startProxy();
      const done = await waitFor(second, view.id, (job) => job.status !== "pending");
      expect(done.status, JSON.stringify(done)).toBe("delivered");
      expect(done.vendors.ebet).toMatchObject({ state: "delivered", attempts: 1 });
      expect(done.vendors.fungame?.state).toBe("delivered");
      expect(done.vendors.fungame?.attempts).toBeGreaterThan(attemptsBefore);
      expect(logouts()).toBe(1);
      // Every call FunGame saw was one attempt (an attempt cut by the restart may have sent none).
      expect(refused() + 1).toBeLessThanOrEqual(done.vendors.fungame?.attempts ?? 0);
      expect(fungame.isRevoked(jtiOf(token))).toBe(true);
      expect(JSON.stringify(done)).not.toContain(token);
    },
    2 * READY_TIMEOUT_MS + 2 * STATE_TIMEOUT_MS,
  );

  it("delivers with retries on the Node entry too, from its in-memory outbox", async () => {
    const sims = simulators as Simulators;
    const fungame = sims.sims.fungame;
    const token = await sims.fungameToken();
    fungame.faults.set({ status: 503, times: 1 });
    const entry = await startEntry("node", {
      ...sims.env,
      LOGOUT_RETRY_BASE_MS: "200",
      LOGOUT_RETRY_MAX_DELAY_MS: "200",
      LOGOUT_RETRY_MAX_ATTEMPTS: "50",
    });
    try {
      const accepted = await fetch(`${entry.url}/v1/logout`, {
        method: "POST",
        headers: { "content-type": "application/json", prefer: "respond-async" },
        body: JSON.stringify({ fungame: { token } }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const view = (await json(accepted)) as unknown as JobView;
      expect(accepted.status, JSON.stringify(view)).toBe(202);
      expect(accepted.headers.get("preference-applied")).toBe("respond-async");
      const done = await waitFor(entry, view.id, (job) => job.status !== "pending");
      expect(done).toMatchObject({
        status: "delivered",
        vendors: { fungame: { state: "delivered", attempts: 2 } },
      });
      expect(fungame.isRevoked(jtiOf(token))).toBe(true);
    } finally {
      await entry.stop();
    }
  });
});
