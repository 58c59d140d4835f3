// Replayed eBET login notifications: refused at the proxy within eBET's 300 s window, in memory and
// through the Durable Object shared by every isolate.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DurableObjectReplayGuard, type ReplayGuardObject } from "../src/entry/replay-guard.ts";
import type { WorkerBindings } from "../src/entry/worker.ts";
import {
  callbackKey,
  EBET_CALLBACK_WINDOW_MS,
  MemoryReplayGuard,
  type ReplayGuard,
} from "../src/replay.ts";
import { API_KEY, createHarness, type Harness, readProblem } from "./harness.ts";

const bindings: WorkerBindings = env;
const ACCESS_TOKEN = "584c26e798deffc96cc7af073c184cd0";

function callbacks(h: Harness): number {
  return h.sims.ebet.calls.filter((call) => call.path === "/api/callback").length;
}

function notify(h: Harness, body: Record<string, unknown>) {
  return h.request("/v1/ebet/callback", { json: body, bearer: API_KEY });
}

async function replayHarness(guard: ReplayGuard) {
  return createHarness({ deps: { replayGuard: guard } });
}

describe("replayed eBET login notifications (in memory)", () => {
  it("refuses the same body a second time with 409 and calls eBET once", async () => {
    const h = await createHarness();
    const body = { username: "demo", accessToken: ACCESS_TOKEN, subChannelId: 0 };
    expect((await notify(h, body)).status).toBe(200);
    const again = await notify(h, body);
    expect(await readProblem(again)).toMatchObject({
      status: 409,
      kind: "conflict",
      code: "REPLAYED_CALLBACK",
      vendor: "ebet",
      retryable: false,
    });
    expect(callbacks(h)).toBe(1);
    // The sub-channel is not signed: changing it does not make the notification new.
    expect((await notify(h, { ...body, subChannelId: 7 })).status).toBe(409);
    expect(callbacks(h)).toBe(1);
    expect(h.logs.at(-1)).toMatchObject({ status: 409, code: "REPLAYED_CALLBACK" });
  });

  it("accepts the same body again once the window has passed", async () => {
    let now = Date.now();
    const h = await replayHarness(new MemoryReplayGuard({ now: () => now }));
    const body = { username: "demo", accessToken: ACCESS_TOKEN };
    expect((await notify(h, body)).status).toBe(200);
    now += EBET_CALLBACK_WINDOW_MS - 1;
    expect((await notify(h, body)).status).toBe(409);
    now += 1;
    expect((await notify(h, body)).status).toBe(200);
    expect(callbacks(h)).toBe(2);
  });

  it("keeps different bodies independent", async () => {
    const h = await createHarness();
    expect((await notify(h, { username: "demo", accessToken: ACCESS_TOKEN })).status).toBe(200);
    const wrongToken = await notify(h, { username: "demo", accessToken: "another-token" });
    expect((await readProblem(wrongToken)).code).toBe(410);
    expect(callbacks(h)).toBe(2);
  });

  it("lets a notification eBET refused be sent again (a failed call releases its key)", async () => {
    const h = await createHarness();
    const body = { username: "demo", accessToken: "not-the-token" };
    expect((await readProblem(await notify(h, body))).code).toBe(410);
    expect((await readProblem(await notify(h, body))).code).toBe(410);
    expect(callbacks(h)).toBe(2);
  });

  it("fails closed with 503 when the seen-set cannot be reached, without calling eBET", async () => {
    const h = await replayHarness({
      claim: async () => {
        throw new Error("storage down");
      },
      release: async () => {},
    });
    const problem = await readProblem(
      await notify(h, { username: "demo", accessToken: ACCESS_TOKEN }),
    );
    expect(problem).toMatchObject({ status: 503, code: "REPLAY_GUARD_UNAVAILABLE" });
    expect(callbacks(h)).toBe(0);
    expect(JSON.stringify(h.logs)).not.toContain("storage down");
  });

  it("keys by SHA-256 of the signed fields, and bounds its memory", async () => {
    const key = await callbackKey({ username: "demo", accessToken: ACCESS_TOKEN });
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(await callbackKey({ username: "demo", accessToken: ACCESS_TOKEN })).toBe(key);
    expect(await callbackKey({ username: "dem", accessToken: `o${ACCESS_TOKEN}` })).not.toBe(key);
    let now = 0;
    const guard = new MemoryReplayGuard({ now: () => now, maxKeys: 3 });
    for (const k of ["a", "b", "c", "d"]) expect(await guard.claim(k)).toBe(true);
    expect(guard.size).toBe(3);
    expect(await guard.claim("d")).toBe(false);
    now += EBET_CALLBACK_WINDOW_MS;
    expect(await guard.claim("e")).toBe(true);
    expect(guard.size).toBe(1);
  });
});

describe("the login notification is sent at most once", () => {
  const body = { username: "demo", accessToken: ACCESS_TOKEN };
  const SHORT = { UPSTREAM_TIMEOUT_MS: "30", UPSTREAM_DEADLINE_MS: "10000" };

  it("a timeout: eBET received one callback, the caller a retryable 503, and the same notification stays refused", async () => {
    const h = await createHarness({ env: SHORT });
    h.sims.ebet.faults.set({ delayMs: 60_000 });
    const problem = await readProblem(await notify(h, body));
    expect(problem).toMatchObject({
      status: 503,
      code: "TIMEOUT",
      kind: "unavailable",
      retryable: true,
      upstreamStatus: null,
      vendor: "ebet",
    });
    expect(callbacks(h)).toBe(1);
    expect(h.logs.at(-1)).toMatchObject({ retries: 0 });
    // eBET may have acted on it: its key is kept, so a second send is refused without a call.
    h.sims.ebet.faults.clear();
    expect(await readProblem(await notify(h, body))).toMatchObject({
      status: 409,
      code: "REPLAYED_CALLBACK",
    });
    expect(callbacks(h)).toBe(1);
  });

  it("a gateway 503 and a dropped connection: one call each, never retried, the key kept", async () => {
    for (const fault of [{ status: 503 }, { reset: true }] as const) {
      const h = await createHarness({ env: SHORT });
      h.sims.ebet.faults.set(fault);
      const problem = await readProblem(await notify(h, body));
      expect(problem).toMatchObject({ status: 503, retryable: true });
      expect(h.upstreamRequests).toHaveLength(1);
      h.sims.ebet.faults.clear();
      expect((await notify(h, body)).status).toBe(409);
      expect(h.upstreamRequests).toHaveLength(1);
    }
  });

  it("eBET's 500 (system error) and 4003 (busy) may hide a done notification: one call, the key kept", async () => {
    for (const status of [500, 4003]) {
      const h = await createHarness();
      h.sims.ebet.forceStatus(status);
      expect(await readProblem(await notify(h, body))).toMatchObject({
        status: 503,
        code: status,
        kind: "unavailable",
        retryable: true,
        upstreamStatus: 200,
      });
      expect(callbacks(h)).toBe(1);
      expect((await notify(h, body)).status).toBe(409);
      expect(callbacks(h)).toBe(1);
    }
  });

  it("an explicit refusal (4026 bad signature) frees the key: the same notification may be sent again", async () => {
    const h = await createHarness();
    h.sims.ebet.forceStatus(4026);
    expect(await readProblem(await notify(h, body))).toMatchObject({
      status: 500,
      code: 4026,
      kind: "misconfigured",
      retryable: false,
    });
    expect(callbacks(h)).toBe(1);
    expect((await notify(h, body)).status).toBe(200);
    expect(callbacks(h)).toBe(2);
  });

  it("4038 (too many requests) refused it without acting: retried within the request", async () => {
    const h = await createHarness();
    h.sims.ebet.forceStatus(4038);
    const response = await notify(h, body);
    expect(response.status).toBe(200);
    expect(callbacks(h)).toBe(2);
    expect(h.logs.at(-1)).toMatchObject({ status: 200, retries: 1 });
  });
});

describe("replayed eBET login notifications (Durable Object)", () => {
  it("refuses the second notification through the Durable Object; eBET is called once", async () => {
    const guard = new DurableObjectReplayGuard(
      bindings.REPLAY_GUARD as NonNullable<WorkerBindings["REPLAY_GUARD"]>,
    );
    // Two apps, as two isolates would be, share the object.
    const first = await replayHarness(guard);
    const second = first.rebuild();
    const body = { username: "demo", accessToken: ACCESS_TOKEN };
    expect((await notify(first, body)).status).toBe(200);
    expect(await readProblem(await notify(second, body))).toMatchObject({
      status: 409,
      code: "REPLAYED_CALLBACK",
    });
    expect(callbacks(first)).toBe(1);
  });

  it("claims a key once, releases it, and its alarm deletes keys past the window", async () => {
    const namespace = bindings.REPLAY_GUARD as NonNullable<WorkerBindings["REPLAY_GUARD"]>;
    const guard = new DurableObjectReplayGuard(namespace);
    const key = await callbackKey({ username: "alarm-user", accessToken: crypto.randomUUID() });
    expect(await guard.claim(key)).toBe(true);
    expect(await guard.claim(key)).toBe(false);
    await guard.release(key);
    expect(await guard.claim(key)).toBe(true);
    const shard = Number.parseInt(key.slice(0, 1), 16);
    const stub = namespace.get(namespace.idFromName(`ebet-callback-${shard}`));
    const exp = await runInDurableObject<ReplayGuardObject, number>(
      stub,
      (_instance, state) =>
        state.storage.sql.exec<{ exp: number }>("SELECT exp FROM seen WHERE key = ?", key).one()
          .exp,
    );
    expect(exp - Date.now()).toBeGreaterThan(EBET_CALLBACK_WINDOW_MS - 60_000);
    expect(exp - Date.now()).toBeLessThanOrEqual(EBET_CALLBACK_WINDOW_MS);
    // The window passes: the key is accepted again, and the alarm deletes what expired.
    await runInDurableObject<ReplayGuardObject, unknown>(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE seen SET exp = ?", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const size = await runInDurableObject<ReplayGuardObject, number>(stub, (instance) =>
      instance.size(),
    );
    expect(size).toBe(0);
    expect(await guard.claim(key)).toBe(true);
  });
});
