// Replayed eBET login notifications: refused at the proxy within eBET's 300 s window (Retry-After
// says for how long), claims owned per request, in memory and in the shared Durable Object.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import openApiDocument from "../public/openapi.json" with { type: "json" };
import { MemoryReplayGuard } from "../src/adapters/memory/replay-guard.ts";
import { DurableObjectReplayGuard } from "../src/adapters/workers/replay-guard.ts";
import { shardName } from "../src/adapters/workers/shards.ts";
import { ReplayGuardObject, type WorkerBindings } from "../src/entry/worker.ts";
import type { ReplayGuard } from "../src/ports.ts";
import { CLAIM_MARGIN_MS, callbackKey, EBET_CALLBACK_WINDOW_MS } from "../src/replay.ts";
import { API_KEY, createHarness, type Harness, readProblem } from "./harness.ts";

const bindings: WorkerBindings = env;
const ACCESS_TOKEN = "584c26e798deffc96cc7af073c184cd0";
const WINDOW = EBET_CALLBACK_WINDOW_MS;

function callbacks(h: Harness): number {
  return h.sims.ebet.calls.filter((call) => call.path === "/api/callback").length;
}

/** The Retry-After of an answer, which must be there: whole seconds, at least 1. */
function secondsToRetry(response: Response): number {
  const value = response.headers.get("retry-after");
  expect(value).toMatch(/^[1-9][0-9]*$/);
  return Number(value);
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

  it("a kept key tells the caller when to retry: Retry-After with the seconds left on the claim", async () => {
    // The clock starts a window ago, so that the last call signs a timestamp eBET's clock accepts.
    let now = Date.now() - WINDOW;
    const clock = () => now;
    const h = await createHarness({
      env: SHORT,
      deps: { now: clock, replayGuard: new MemoryReplayGuard({ now: clock }) },
    });
    h.sims.ebet.faults.set({ delayMs: 60_000, times: 1 });
    const timedOut = await notify(h, body);
    expect(await readProblem(timedOut)).toMatchObject({ status: 503, retryable: true });
    expect(timedOut.headers.get("retry-after")).toBe(String(WINDOW / 1000));
    now += 100_000;
    const early = await notify(h, body);
    expect(await readProblem(early)).toMatchObject({ status: 409, retryable: false });
    expect(early.headers.get("retry-after")).toBe(String(WINDOW / 1000 - 100));
    now += 199_001;
    expect((await notify(h, body)).headers.get("retry-after")).toBe("1");
    now += 999;
    expect((await notify(h, body)).status).toBe(200);
    expect(callbacks(h)).toBe(2);
  });

  it("documents Retry-After on the 409", () => {
    const replayed = openApiDocument.components.responses.Problem409;
    expect(Object.keys(replayed?.headers ?? {})).toContain("Retry-After");
  });

  it("a released key carries no Retry-After: an eBET refusal may be sent again at once", async () => {
    const h = await createHarness();
    h.sims.ebet.forceStatus(4026);
    const refused = await notify(h, body);
    expect(refused.status).toBe(500);
    expect(refused.headers.get("retry-after")).toBeNull();
  });

  it("holds the key until the request's own deadline is past, when that is later than the window", async () => {
    const held = (600_000 + CLAIM_MARGIN_MS) / 1000;
    let now = Date.now() - held * 1000;
    const clock = () => now;
    const h = await createHarness({
      env: { UPSTREAM_DEADLINE_MS: "600000" },
      deps: { now: clock, replayGuard: new MemoryReplayGuard({ now: clock }) },
    });
    h.sims.ebet.forceStatus(500);
    expect((await notify(h, body)).headers.get("retry-after")).toBe(String(held));
    now += WINDOW;
    const replayed = await notify(h, body);
    expect(replayed.status).toBe(409);
    expect(replayed.headers.get("retry-after")).toBe(String(held - WINDOW / 1000));
    now += held * 1000 - WINDOW;
    expect((await notify(h, body)).status).toBe(200);
    expect(callbacks(h)).toBe(2);
  });

  it("a request outliving the window cannot free a later request's claim: eBET gets one notification", async () => {
    // A's 4038 answers are retried past the window; B comes meanwhile and stalls at eBET; A's last
    // 4038 frees A's claim; C comes while B may still reach eBET. The proxy's clock starts in the
    // past so that B and C sign timestamps the simulator's own clock accepts.
    let now = Date.now() - WINDOW - 10_000;
    const clock = () => now;
    let phase: "a" | "b" | "done" = "a";
    let stalled: () => void = () => {};
    let resume: () => void = () => {};
    const bStalled = new Promise<void>((resolve) => {
      stalled = resolve;
    });
    const bResumed = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let b: Promise<Response> | undefined;
    const h = await createHarness({
      env: { UPSTREAM_DEADLINE_MS: "600000" },
      deps: { now: clock, replayGuard: new MemoryReplayGuard({ now: clock }) },
      wrapFetch: (router) => async (request) => {
        if (phase === "b") {
          stalled();
          await bResumed;
          return router(request);
        }
        const answer = await router(request);
        if (phase === "a" && b === undefined) {
          now += WINDOW + 10_000;
          phase = "b";
          b = notify(h, body);
          await Promise.race([bStalled, b]);
          phase = "done";
        }
        return answer;
      },
    });
    h.sims.ebet.forceStatus(4038, 3);
    expect(await readProblem(await notify(h, body))).toMatchObject({ code: 4038 });
    const c = await notify(h, body);
    resume();
    const statuses = [(await (b as Promise<Response>)).status, c.status];
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(callbacks(h)).toBe(4);
  });

  it("a gateway 503 and a dropped connection: one call each, never retried, the key kept", async () => {
    for (const fault of [{ status: 503 }, { reset: true }] as const) {
      const h = await createHarness({ env: SHORT });
      h.sims.ebet.faults.set(fault);
      const failed = await notify(h, body);
      expect(await readProblem(failed)).toMatchObject({ status: 503, retryable: true });
      expect(secondsToRetry(failed)).toBeLessThanOrEqual(WINDOW / 1000);
      expect(h.upstreamRequests).toHaveLength(1);
      h.sims.ebet.faults.clear();
      const replayed = await notify(h, body);
      expect(replayed.status).toBe(409);
      expect(secondsToRetry(replayed)).toBeLessThanOrEqual(WINDOW / 1000);
      expect(h.upstreamRequests).toHaveLength(1);
    }
  });

  it("a vendor's shorter Retry-After never shortens the wait the kept key imposes", async () => {
    const h = await createHarness({
      env: SHORT,
      wrapFetch: (router) => async (request) =>
        new URL(request.url).pathname.endsWith("/callback")
          ? new Response("busy", { status: 503, headers: { "retry-after": "1" } })
          : router(request),
    });
    const failed = await notify(h, body);
    expect(await readProblem(failed)).toMatchObject({ status: 503, retryable: true });
    // The claim is held for the whole window: a retry after eBET's 1 s would only meet a 409.
    expect(secondsToRetry(failed)).toBeGreaterThan(WINDOW / 1000 - 5);
    const replayed = await notify(h, body);
    expect(replayed.status).toBe(409);
  });

  it("eBET's 500 (system error) and 4003 (busy) may hide a done notification: one call, the key kept", async () => {
    for (const status of [500, 4003]) {
      const h = await createHarness();
      h.sims.ebet.forceStatus(status);
      const failed = await notify(h, body);
      expect(secondsToRetry(failed)).toBeLessThanOrEqual(WINDOW / 1000);
      expect(await readProblem(failed)).toMatchObject({
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

describe("claims belong to the request that made them (in memory)", () => {
  it("a release after the claim lapsed leaves the next request's claim in place", async () => {
    let now = 0;
    const guard = new MemoryReplayGuard({ now: () => now });
    expect(await guard.claim("k", "a", WINDOW)).toBe(true);
    now += WINDOW;
    expect(await guard.claim("k", "b", WINDOW)).toBe(true);
    await guard.release("k", "a");
    expect(await guard.claim("k", "c", WINDOW)).toBe(false);
    expect(await guard.heldMs("k")).toBe(WINDOW);
    await guard.release("k", "b");
    expect(await guard.heldMs("k")).toBe(0);
    expect(await guard.claim("k", "c", WINDOW)).toBe(true);
  });

  it("a claim held for longer than the window is not claimable again before it ends", async () => {
    let now = 0;
    const guard = new MemoryReplayGuard({ now: () => now });
    expect(await guard.claim("long", "a", 2 * WINDOW)).toBe(true);
    expect(await guard.claim("short", "a", WINDOW)).toBe(true);
    now += WINDOW;
    expect(await guard.claim("long", "b", WINDOW)).toBe(false);
    expect(await guard.heldMs("long")).toBe(WINDOW);
    expect(await guard.claim("short", "b", WINDOW)).toBe(true);
    now += WINDOW - 1;
    expect(await guard.claim("long", "b", WINDOW)).toBe(false);
    now += 1;
    expect(await guard.claim("long", "b", WINDOW)).toBe(true);
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
    const replayed = await notify(second, body);
    expect(await readProblem(replayed)).toMatchObject({
      status: 409,
      code: "REPLAYED_CALLBACK",
    });
    expect(secondsToRetry(replayed)).toBeLessThanOrEqual(WINDOW / 1000);
    expect(callbacks(first)).toBe(1);
  });

  it("claims a key once, releases it, and its alarm deletes keys past the window", async () => {
    const { guard, key, stub } = await objectGuard("alarm-user");
    expect(await guard.claim(key, "first", WINDOW)).toBe(true);
    expect(await guard.claim(key, "second", WINDOW)).toBe(false);
    await guard.release(key, "first");
    expect(await guard.claim(key, "second", WINDOW)).toBe(true);
    const exp = await runInDurableObject<ReplayGuardObject, number>(
      stub,
      (_instance, state) =>
        state.storage.sql.exec<{ exp: number }>("SELECT exp FROM entries WHERE key = ?", key).one()
          .exp,
    );
    expect(exp - Date.now()).toBeGreaterThan(EBET_CALLBACK_WINDOW_MS - 60_000);
    expect(exp - Date.now()).toBeLessThanOrEqual(EBET_CALLBACK_WINDOW_MS);
    // The window passes: the key is accepted again, and the alarm deletes what expired.
    await runInDurableObject<ReplayGuardObject, unknown>(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE entries SET exp = ?", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const size = await runInDurableObject<ReplayGuardObject, number>(stub, (instance) =>
      instance.size(),
    );
    expect(size).toBe(0);
    expect(await guard.claim(key, "third", WINDOW)).toBe(true);
  });

  it("a release after the claim lapsed leaves the next request's claim; the 409 says how long it holds", async () => {
    const { guard, key, stub } = await objectGuard("owner-user");
    expect(await guard.claim(key, "a", WINDOW)).toBe(true);
    await shiftClaims(stub, key, WINDOW);
    expect(await guard.heldMs(key)).toBe(0);
    expect(await guard.claim(key, "b", WINDOW)).toBe(true);
    await guard.release(key, "a");
    expect(await guard.claim(key, "c", WINDOW)).toBe(false);
    const held = await guard.heldMs(key);
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(WINDOW);
    await guard.release(key, "b");
    expect(await guard.claim(key, "c", WINDOW)).toBe(true);
  });

  it("a claim held for longer than the window is not claimable again before it ends", async () => {
    const { guard, key, stub } = await objectGuard("long-user");
    expect(await guard.claim(key, "a", 2 * WINDOW)).toBe(true);
    await shiftClaims(stub, key, WINDOW);
    expect(await guard.claim(key, "b", WINDOW)).toBe(false);
    expect(await guard.heldMs(key)).toBeGreaterThan(WINDOW - 60_000);
    await shiftClaims(stub, key, WINDOW);
    expect(await guard.claim(key, "b", WINDOW)).toBe(true);
  });

  it("refuses an owner or a hold it cannot keep, naming which", async () => {
    const { guard, key } = await objectGuard("bad-input");
    await expect(guard.claim(key, "", WINDOW)).rejects.toThrow(/owner/);
    await expect(guard.claim(key, "x".repeat(65), WINDOW)).rejects.toThrow(/owner/);
    for (const hold of [0, 1.5, Number.NaN, 24 * 3_600_000]) {
      await expect(guard.claim(key, "a", hold)).rejects.toThrow(/hold/);
    }
    expect(await guard.claim(key, "a", WINDOW)).toBe(true);
  });

  it("keeps rows claimed before claims had owners: held until they expire, released by no one", async () => {
    const namespace = bindings.REPLAY_GUARD as NonNullable<WorkerBindings["REPLAY_GUARD"]>;
    const stub = namespace.get(namespace.idFromName("replay-guard-upgrade"));
    const old = await callbackKey({ username: "old-row", accessToken: crypto.randomUUID() });
    const fresh = await callbackKey({ username: "new-row", accessToken: crypto.randomUUID() });
    const outcome = await runInDurableObject<ReplayGuardObject, unknown[]>(
      stub,
      async (_, state) => {
        // The table as it was made before claims had owners, with one row in it.
        state.storage.sql.exec("DROP TABLE IF EXISTS seen");
        state.storage.sql.exec("CREATE TABLE seen (key TEXT PRIMARY KEY, exp INTEGER NOT NULL)");
        state.storage.sql.exec("INSERT INTO seen VALUES (?, ?)", old, Date.now() + WINDOW);
        const upgraded = new ReplayGuardObject(state, env);
        const again = new ReplayGuardObject(state, env);
        // A replay claim, as DurableObjectReplayGuard makes it.
        const claim = async (object: ReplayGuardObject, key: string, owner: string) =>
          (await object.claimKey(key, owner, WINDOW, "refuse")) === "claimed";
        const results: unknown[] = [await claim(upgraded, old, "a")];
        upgraded.releaseKey(old, "a");
        results.push(await claim(again, old, "a"), upgraded.keyHeldMs(old) > 0);
        results.push(await claim(again, fresh, "b"));
        again.releaseKey(fresh, "b");
        results.push(await claim(upgraded, fresh, "c"));
        return results;
      },
    );
    expect(outcome).toEqual([false, false, true, true, true]);
  });

  it("fails closed with 503 when the object answers what this version does not know, without calling eBET", async () => {
    for (const answer of [true, "pending"]) {
      // An object of another version: its claim answers in other words.
      const object = new Proxy({}, { get: () => () => Promise.resolve(answer) });
      const namespace = { idFromName: (name: string) => name, get: () => object };
      const h = await replayHarness(
        new DurableObjectReplayGuard(
          namespace as unknown as NonNullable<WorkerBindings["REPLAY_GUARD"]>,
        ),
      );
      const problem = await readProblem(
        await notify(h, { username: "demo", accessToken: ACCESS_TOKEN }),
      );
      expect(problem, String(answer)).toMatchObject({
        status: 503,
        code: "REPLAY_GUARD_UNAVAILABLE",
      });
      expect(callbacks(h)).toBe(0);
    }
  });

  it("answers the previous version's methods in its words, over the rows this version reads", async () => {
    const { guard, key, stub } = await objectGuard("old-surface");
    expect(await stub.claim(key, "a", WINDOW)).toBe(true);
    // Held for every claim, its own owner's included, in both versions.
    expect(await stub.claim(key, "a", WINDOW)).toBe(false);
    expect(await guard.claim(key, "b", WINDOW)).toBe(false);
    const held = await stub.heldMs(key);
    expect(held).toBeGreaterThan(WINDOW - 60_000);
    expect(held).toBeLessThanOrEqual(WINDOW);
    expect(await guard.heldMs(key)).toBeLessThanOrEqual(held);
    await stub.release(key, "b");
    expect(await stub.heldMs(key)).toBeGreaterThan(0);
    await stub.release(key, "a");
    expect(await stub.heldMs(key)).toBe(0);
    expect(await guard.claim(key, "c", WINDOW)).toBe(true);
    expect(await stub.claim(key, "d", WINDOW)).toBe(false);
    await guard.release(key, "c");
    expect(await stub.claim(key, "d", WINDOW)).toBe(true);
    expect(await stub.size()).toBeGreaterThanOrEqual(1);
  });

  it("of concurrent claims of a key by both versions, exactly one wins", async () => {
    for (const username of ["race-1", "race-2", "race-3"]) {
      const { guard, key, stub } = await objectGuard(username);
      const won: unknown[] = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          i % 2 === 0
            ? guard.claim(key, `new-${i}`, WINDOW)
            : stub.claim(key, `old-${i}`, WINDOW).then((answer: unknown) => answer),
        ),
      );
      expect(
        won.filter((answer) => answer === true),
        username,
      ).toHaveLength(1);
      expect(
        won.filter((answer) => answer === false),
        username,
      ).toHaveLength(5);
    }
  });
});

/** The guard over the Durable Objects, a fresh key of `username`, and the object that holds it. */
async function objectGuard(username: string) {
  const namespace = bindings.REPLAY_GUARD as NonNullable<WorkerBindings["REPLAY_GUARD"]>;
  const key = await callbackKey({ username, accessToken: crypto.randomUUID() });
  return {
    // The object's own behaviour: the current layout alone, no previous one read.
    guard: new DurableObjectReplayGuard(namespace, { previous: undefined }),
    key,
    stub: namespace.get(namespace.idFromName(shardName({ prefix: "ebet-callback" }, 32, key))),
  };
}

/** Moves a claim `ms` into the past, as if that much time had gone by. */
async function shiftClaims(
  stub: DurableObjectStub<ReplayGuardObject>,
  key: string,
  ms: number,
): Promise<void> {
  await runInDurableObject<ReplayGuardObject, unknown>(stub, (_instance, state) => {
    state.storage.sql.exec("UPDATE entries SET exp = exp - ? WHERE key = ?", ms, key);
  });
}
