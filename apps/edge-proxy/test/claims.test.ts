// FunGame deny-list claims under faults, through the proxy: each scenario against the Durable Object
// list and the in-memory list of the Bun, Deno and Node entries.
import { env } from "cloudflare:workers";
import type { FetchLike } from "@x/core-signing";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { MemoryDenyList } from "../src/adapters/memory/deny-list.ts";
import { MemoryOutbox, type TimerApi } from "../src/adapters/memory/outbox.ts";
import { DurableObjectDenyList } from "../src/adapters/workers/deny-list.ts";
import { loadConfig } from "../src/config.ts";
import type { ClaimingDenyList, DenyList } from "../src/ports.ts";
import {
  API_KEY,
  createHarness,
  FUNGAME_JWT_KEY,
  type Harness,
  HOSTS,
  readProblem,
} from "./harness.ts";

const LISTS: [string, () => ClaimingDenyList][] = [
  [
    "Durable Object",
    () => new DurableObjectDenyList(env.DENY_LIST, { prefix: `claims-${crypto.randomUUID()}` }),
  ],
  ["memory", () => new MemoryDenyList()],
];

/** A FunGame call held until `open()`: the first logout stays in flight while others arrive. */
function heldFunGame() {
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const state = { held: 0, open };
  const wrapFetch =
    (router: FetchLike): FetchLike =>
    async (request) => {
      if (new URL(request.url).hostname === HOSTS.fungame && state.held++ === 0) await gate;
      return router(request);
    };
  return { state, wrapFetch };
}

/** Yields until `ready()` holds, at most 2000 turns. */
async function until(ready: () => boolean): Promise<void> {
  for (let turn = 0; turn < 2000 && !ready(); turn++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  if (!ready()) throw new Error("the condition never held");
}

const logouts = (h: Harness) =>
  h.sims.fungame.calls.filter((call) => call.path === "/user/logout").length;

const logout = (h: Harness, token: string) =>
  h.request("/v1/fungame/logout", { method: "POST", bearer: token });

const statusOf = async (h: Harness, token: string) =>
  (await h.request("/v1/fungame/token-status", { bearer: token })).json();

/** Timers run by hand, for the in-memory outbox. */
function manualTimers(): TimerApi & { runAll(): void } {
  const timers = new Map<number, () => void>();
  let next = 0;
  return {
    set(callback) {
      timers.set(++next, callback);
      return next;
    },
    clear(handle) {
      timers.delete(handle as number);
    },
    runAll() {
      const due = [...timers.values()];
      timers.clear();
      for (const callback of due) callback();
    },
  };
}

for (const [name, makeList] of LISTS) {
  describe(`FunGame claims (${name} deny-list)`, () => {
    it("a second logout while the first is in flight is told to retry, and the token stays usable when the first fails", async () => {
      const held = heldFunGame();
      const h = await createHarness({ denyList: makeList(), wrapFetch: held.wrapFetch });
      const token = await h.sims.fungame.login("alice");
      h.sims.fungame.faults.set({ status: 403 });
      const first = logout(h, token);
      await until(() => held.state.held === 1);
      const second = await logout(h, token);
      expect(second.headers.get("retry-after")).toBe("1");
      expect(await readProblem(second)).toMatchObject({
        status: 409,
        kind: "conflict",
        code: "LOGOUT_IN_PROGRESS",
        retryable: true,
        vendor: "fungame",
        field: "Authorization",
      });
      // A claim in flight is not a revocation.
      expect(await statusOf(h, token)).toEqual({ active: true, reason: "unverified" });
      held.state.open();
      expect((await first).status).toBe(401);
      expect(await statusOf(h, token)).toEqual({ active: true, reason: "unverified" });
      h.sims.fungame.faults.clear();
      const retried = await logout(h, token);
      expect(await retried.json()).toMatchObject({ ok: true, alreadyLoggedOut: false });
      expect(logouts(h)).toBe(2);
    });

    it("two simultaneous logouts of one token: FunGame is called once and both callers are told the truth", async () => {
      const h = await createHarness({ denyList: makeList() });
      const token = await h.sims.fungame.login("alice");
      const answers = await Promise.all([logout(h, token), logout(h, token)]);
      expect(logouts(h)).toBe(1);
      const bodies = await Promise.all(
        answers.map(async (answer) => (await answer.json()) as Record<string, unknown>),
      );
      const done = bodies.filter((body) => body.ok === true && body.alreadyLoggedOut === false);
      expect(done).toHaveLength(1);
      const other = bodies.find((body) => body !== done[0]) as Record<string, unknown>;
      // The other one either met the logout in flight or found it done.
      if (other.ok === true) expect(other).toMatchObject({ alreadyLoggedOut: true });
      else expect(other).toMatchObject({ status: 409, code: "LOGOUT_IN_PROGRESS" });
      const third = await logout(h, token);
      expect(await third.json()).toMatchObject({
        ok: true,
        alreadyLoggedOut: true,
        result: { denyListed: true },
      });
      expect(logouts(h)).toBe(1);
    });

    it("a logout held in flight, then a second one, then the first succeeds: one call, 409 then done", async () => {
      const held = heldFunGame();
      const h = await createHarness({ denyList: makeList(), wrapFetch: held.wrapFetch });
      const token = await h.sims.fungame.login("alice");
      const first = logout(h, token);
      await until(() => held.state.held === 1);
      expect((await readProblem(await logout(h, token))).code).toBe("LOGOUT_IN_PROGRESS");
      held.state.open();
      expect(await (await first).json()).toMatchObject({ ok: true, alreadyLoggedOut: false });
      expect(await statusOf(h, token)).toEqual({ active: false, reason: "revoked" });
      expect(await (await logout(h, token)).json()).toMatchObject({ alreadyLoggedOut: true });
      expect(logouts(h)).toBe(1);
    });

    it("a token already logged out is an idempotent success, without calling FunGame", async () => {
      const h = await createHarness({ denyList: makeList() });
      const token = await h.sims.fungame.login("alice");
      expect((await logout(h, token)).status).toBe(200);
      h.sims.fungame.restart(); // FunGame forgets its revocations; the edge does not
      const again = await logout(h, token);
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({
        vendor: "fungame",
        ok: true,
        alreadyLoggedOut: true,
        result: { denyListed: true },
      });
      expect(logouts(h)).toBe(1);
    });

    it("an outbox attempt cut short after its claim is retried under the same claim and delivered", async () => {
      const inner = makeList() as ClaimingDenyList;
      let cutShort = 1;
      // The first attempt dies between its claim and its release: the claim is left behind.
      const list: DenyList = {
        add: (...args: Parameters<typeof inner.add>) => inner.add(...args),
        has: (...args: Parameters<typeof inner.has>) => inner.has(...args),
        claim: (...args: Parameters<typeof inner.claim>) => inner.claim(...args),
        release: async (...args: Parameters<typeof inner.release>) => {
          if (cutShort-- > 0) throw new Error("the attempt was cut short");
          return inner.release(...args);
        },
      };
      const timers = manualTimers();
      let outbox: MemoryOutbox | undefined;
      let jobClock = Date.now();
      const policyEnv = { LOGOUT_RETRY_MAX_ATTEMPTS: "4", LOGOUT_RETRY_BASE_MS: "1000" };
      const h = await createHarness({
        env: policyEnv,
        denyList: list,
        deps: {
          outbox: (run) => {
            outbox = new MemoryOutbox(run, {
              policy: loadConfig(policyEnv).outbox,
              now: () => jobClock,
              random: () => 0,
              timers,
            });
            return outbox;
          },
        },
      });
      const token = await h.sims.fungame.login("alice");
      h.sims.fungame.faults.set({ reset: true, times: 1 });
      const accepted = await h.request("/v1/logout", {
        json: { fungame: { token } },
        bearer: API_KEY,
        headers: { prefer: "respond-async" },
      });
      const { id } = (await accepted.json()) as { id: string };
      timers.runAll();
      await (outbox as MemoryOutbox).idle();
      expect(h.logs.filter((line) => line.event === "deny_list_release_failed")).toHaveLength(1);
      jobClock += 1000;
      timers.runAll();
      await (outbox as MemoryOutbox).idle();
      const job = await (await h.request(`/v1/logout/${id}`, { bearer: API_KEY })).json();
      expect(job).toMatchObject({
        status: "delivered",
        vendors: { fungame: { state: "delivered", attempts: 2, alreadyLoggedOut: false } },
      });
      expect(h.sims.fungame.state().sessions).toEqual([]);
      expect(await statusOf(h, token)).toEqual({ active: false, reason: "revoked" });
    });

    it("a token the deny-list cannot key (no jti, a jti over 256 characters, no or a fractional exp) is refused naming its field, before anything is written", async () => {
      const claimed: string[] = [];
      const inner = makeList();
      const h = await createHarness({
        denyList: {
          add: (...args: Parameters<typeof inner.add>) => inner.add(...args),
          has: (...args: Parameters<typeof inner.has>) => inner.has(...args),
          claim: (...args: Parameters<typeof inner.claim>) => {
            claimed.push(args[0]);
            return inner.claim(...args);
          },
          release: (...args: Parameters<typeof inner.release>) => inner.release(...args),
        },
      });
      const key = new TextEncoder().encode(FUNGAME_JWT_KEY);
      const exp = Math.floor(Date.now() / 1000) + 600;
      const cases: Record<string, unknown>[] = [
        { exp },
        { jti: "", exp },
        { jti: "j".repeat(257), exp },
        { jti: crypto.randomUUID() },
        { jti: crypto.randomUUID(), exp: exp + 0.5 },
      ];
      for (const claims of cases) {
        const token = await new SignJWT({ sub: "alice", ...claims })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer("FunGame")
          .setAudience("FunGame Web API")
          .sign(key);
        const problem = await readProblem(await logout(h, token));
        expect(problem, JSON.stringify(claims)).toMatchObject({
          status: 401,
          code: "TOKEN_CLAIM_INVALID",
          field: "Authorization",
          vendor: "fungame",
        });
        expect(String(problem.detail)).toMatch(/^Authorization: /);
        const fanOut = await h.request("/v1/logout", { json: { fungame: { token } } });
        const answer = (await fanOut.json()) as { results: Record<string, unknown> };
        expect(answer.results.fungame).toMatchObject({
          code: "TOKEN_CLAIM_INVALID",
          field: "fungame.token",
        });
      }
      expect(claimed).toEqual([]);
      expect(logouts(h)).toBe(0);
      // A jti of 256 characters is a key the list takes.
      await h.sims.fungame.login("alice");
      const longest = await new SignJWT({ sub: "alice", jti: "j".repeat(256), exp })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("FunGame")
        .setAudience("FunGame Web API")
        .sign(key);
      expect(await (await logout(h, longest)).json()).toMatchObject({
        ok: true,
        result: { denyListed: true },
      });
      expect(await inner.has("j".repeat(256))).toBe(true);
    });

    it("a token whose exp is beyond FunGame's lifetime and skew is refused before anything is written", async () => {
      const h = await createHarness({ denyList: makeList() });
      const jti = crypto.randomUUID();
      const forged = await new SignJWT({
        sub: "alice",
        jti,
        iss: "FunGame",
        aud: "FunGame Web API",
      })
        .setProtectedHeader({ alg: "HS256" })
        .setExpirationTime(Date.UTC(2300, 0, 1) / 1000)
        .sign(new TextEncoder().encode("a-key-that-is-not-fungames-0123456789"));
      const problem = await readProblem(await logout(h, forged));
      expect(problem).toMatchObject({
        status: 401,
        code: "TOKEN_EXP_TOO_FAR",
        kind: "unauthorized",
        field: "Authorization",
        vendor: "fungame",
      });
      expect(String(problem.detail)).toMatch(/^Authorization: /);
      expect(logouts(h)).toBe(0);
      expect(await h.denyList.has(jti)).toBe(false);
      // In the fan-out the field is the member's.
      const fanOut = await h.request("/v1/logout", {
        json: { fungame: { token: forged } },
        bearer: API_KEY,
      });
      const answer = (await fanOut.json()) as { results: Record<string, unknown> };
      expect(answer.results.fungame).toMatchObject({
        code: "TOKEN_EXP_TOO_FAR",
        field: "fungame.token",
      });
      expect(logouts(h)).toBe(0);
      // A real token at the limit is accepted.
      const key = new TextEncoder().encode(FUNGAME_JWT_KEY);
      const atLimit = await new SignJWT({ sub: "alice", jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuer("FunGame")
        .setAudience("FunGame Web API")
        .setExpirationTime(Math.floor(Date.now() / 1000) + 30 * 60 + 300 - 5)
        .sign(key);
      expect((await logout(h, atLimit)).status).toBe(200);
    });
  });
}
