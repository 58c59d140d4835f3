// Several instances on one PostgreSQL, as behind a load balancer: two Node and two Bun processes that
// share nothing but the database share the deny-list, the rate limit and the asynchronous logouts.
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
const STATE_TIMEOUT_MS = 90_000;
const POLL_MS = 250;
const JOBS = 1_000;
const FUNGAME_LOGOUT = "/user/logout";
const RUNTIMES: Runtime[] = ["node", "bun", "node", "bun"];

function jtiOf(token: string): string {
  const payload = token.split(".")[1] ?? "";
  return (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { jti: string }).jti;
}

describe("four instances on one PostgreSQL", () => {
  let server: PostgresServer;
  let simulators: Simulators;
  const instances: RunningEntry[] = [];

  beforeAll(async () => {
    server = await startPostgres();
    // An account per session: a new login of an account would end its older session.
    simulators = await startSimulators({ capacity: JOBS + 10 });
    const env = {
      ...simulators.env,
      DATABASE_URL: server.url,
      LOGOUT_RETRY_BASE_MS: "200",
      LOGOUT_RETRY_MAX_DELAY_MS: "1000",
      UPSTREAM_TIMEOUT_MS: "2000",
      LOGOUT_MAX_OPEN_JOBS_PER_CALLER: String(2 * JOBS),
      PROXY_RATE_LIMIT: "100000/3600",
    };
    // One after the other: each creates the tables if they are not there yet.
    for (const runtime of RUNTIMES) instances.push(await startEntry(runtime, env));
  }, 120_000);

  afterAll(async () => {
    for (const instance of instances) await instance.stop();
    await simulators?.close();
    await server?.stop();
  });

  const tokenStatus = async (instance: RunningEntry, token: string) => {
    const response = await fetch(`${instance.url}/v1/fungame/token-status`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return json(response);
  };

  it("each says it keeps its stores in PostgreSQL, never its password", () => {
    for (const instance of instances) {
      const output = instance.group.output.join("\n");
      expect(output).toMatch(/^edge-proxy: stores in PostgreSQL, postgres:\/\/postgres:\*\*\*@/m);
      expect(output).not.toContain(new URL(server.url).password);
    }
  });

  it("refuses at once, on every instance, a token revoked through one", async () => {
    const token = await simulators.fungameToken();
    for (const instance of instances) {
      expect(await tokenStatus(instance, token)).toEqual({ active: true });
    }
    const response = await fetch(`${instances[0]?.url}/v1/fungame/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    expect(response.status, JSON.stringify(await json(response))).toBe(200);
    // FunGame forgets; the instances' shared deny-list does not.
    simulators.sims.fungame.restart();
    for (const instance of instances) {
      expect(await tokenStatus(instance, token)).toEqual({ active: false, reason: "revoked" });
    }
  });

  it("counts one caller's requests once across the instances", async () => {
    const remaining: number[] = [];
    for (const instance of instances) {
      // No credentials: the caller is the client address, the same for all four.
      const response = await fetch(`${instance.url}/v1/logout/${"0".repeat(64)}`, {
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await response.text();
      const header = response.headers.get("ratelimit") ?? "";
      const match = /;r=(\d+);/.exec(header);
      expect(match, header).not.toBeNull();
      remaining.push(Number(match?.[1]));
    }
    const first = remaining[0] as number;
    expect(remaining).toEqual([first, first - 1, first - 2, first - 3]);
  });

  it(
    `delivers ${JOBS} logouts accepted across all four exactly once, one instance killed mid-delivery`,
    async () => {
      const fungame = simulators.sims.fungame;
      const tokens: string[] = [];
      for (let i = 0; i < JOBS; i++) tokens.push(await simulators.fungameToken());
      const before = fungame.calls.length;
      // FunGame down, slowly: attempts are in flight on every instance.
      fungame.faults.set({ status: 503, delayMs: 100 });
      const ids: string[] = [];
      const post = async (i: number) => {
        const instance = instances[i % instances.length] as RunningEntry;
        const accepted = await fetch(`${instance.url}/v1/logout`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${simulators.apiKey}`,
            prefer: "respond-async",
          },
          body: JSON.stringify({ fungame: { token: tokens[i] } }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const body = await json(accepted);
        expect(accepted.status, JSON.stringify(body)).toBe(202);
        ids[i] = body.id as string;
      };
      for (let start = 0; start < JOBS; start += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, k) => post(start + k)));
      }
      const refused = () =>
        fungame.calls.slice(before).filter((call) => call.path === FUNGAME_LOGOUT).length;
      // Every instance has been trying; then the first one dies without a word.
      for (let i = 0; i < 200 && refused() < 200; i++) await runtimes.sleep(50);
      expect(refused()).toBeGreaterThanOrEqual(200);
      await runtimes.killGroup((instances[0] as RunningEntry).group);
      fungame.faults.clear();

      const served = () =>
        fungame.calls
          .slice(before)
          .filter((call) => call.path === FUNGAME_LOGOUT && call.status < 500).length;
      const deadline = Date.now() + STATE_TIMEOUT_MS;
      while (tokens.some((token) => !fungame.isRevoked(jtiOf(token)))) {
        if (Date.now() > deadline) {
          const left = tokens.filter((token) => !fungame.isRevoked(jtiOf(token))).length;
          const index = tokens.findIndex((token) => !fungame.isRevoked(jtiOf(token)));
          const sample = await fetch(`${instances[1]?.url}/v1/logout/${ids[index]}`, {
            headers: { authorization: `Bearer ${simulators.apiKey}` },
          }).then((r) => r.text());
          const calls = fungame.calls.slice(-5);
          throw new Error(
            `${left} of ${JOBS} tokens not logged out: ${sample} ${JSON.stringify(calls)} ${instances[1]?.group.output.slice(-5).join("\n")}`,
          );
        }
        await runtimes.sleep(POLL_MS);
      }
      // Each token logged out once: as many accepted calls as tokens, every token revoked.
      expect(served()).toBe(JOBS);
      const survivor = instances[1] as RunningEntry;
      const deliveredBy = async (id: string) => {
        for (let i = 0; i < 40; i++) {
          const response = await fetch(`${survivor.url}/v1/logout/${id}`, {
            headers: { authorization: `Bearer ${simulators.apiKey}` },
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          const view = await json(response);
          if (view.status !== "pending") return view;
          await runtimes.sleep(POLL_MS);
        }
        throw new Error(`job ${id} still pending`);
      };
      for (const id of ids) {
        const view = await deliveredBy(id);
        expect(view, JSON.stringify(view)).toMatchObject({
          status: "delivered",
          vendors: { fungame: { state: "delivered", denyListed: true } },
        });
      }
      expect(served()).toBe(JOBS);
    },
    3 * STATE_TIMEOUT_MS,
  );
});
