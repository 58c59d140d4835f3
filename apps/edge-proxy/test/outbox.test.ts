// Asynchronous logouts (Prefer: respond-async): the Durable Object outbox driven alarm by alarm on a
// test clock, the in-memory outbox of the other runtimes, GET /v1/logout/{id}, and the Prefer parser.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { FetchLike } from "@x/core-signing";
import { PATHS } from "@x/sdk-auth";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryDenyList } from "../src/adapters/memory/deny-list.ts";
import { MemoryOutbox, type TimerApi } from "../src/adapters/memory/outbox.ts";
import { DurableObjectDenyList } from "../src/adapters/workers/deny-list.ts";
import {
  configureOutboxObjects,
  DurableObjectOutbox,
  type LogoutOutboxObject,
} from "../src/adapters/workers/outbox.ts";
import { DEFAULT_OUTBOX_POLICY, loadConfig } from "../src/config.ts";
import { backoffMs, type JobView, type StoredJob } from "../src/outbox.ts";
import type { ClaimingDenyList } from "../src/ports.ts";
import { parsePrefer, prefersAsync } from "../src/prefer.ts";
import {
  API_KEY,
  createHarness,
  DEVICE,
  FUNGAME_JWT_KEY,
  type Harness,
  type HarnessOptions,
  jwksAnswer,
  readProblem,
  routerFor,
  type Simulators,
} from "./harness.ts";

const namespace = env.LOGOUT_OUTBOX;
const ASYNC = { prefer: "respond-async" };

/** Backoff with random() = 0 is half the ceiling: 500 ms, 1 s, 2 s… */
const POLICY_ENV = {
  LOGOUT_RETRY_BASE_MS: "1000",
  LOGOUT_RETRY_MAX_ATTEMPTS: "4",
  LOGOUT_JOB_MAX_AGE_SEC: "3600",
  LOGOUT_JOB_RETENTION_SEC: "600",
};

/**
 * The job clock runs years ahead of the real one, so no alarm fires by itself during a test: each
 * is run by runDurableObjectAlarm after the clock is moved to its time.
 */
let clock = Date.now() + 10 * 365 * 86_400_000;

function routerOf(sims: Simulators): FetchLike {
  return routerFor(sims, jwksAnswer);
}

/** The Durable Object outbox with the open-job caps of these variables. */
function durableOutbox(vars: Record<string, unknown> = POLICY_ENV): DurableObjectOutbox {
  return new DurableObjectOutbox(namespace, env.OPEN_JOBS, loadConfig(vars).outbox);
}

async function setup(
  extra: Record<string, unknown> = {},
  deps: HarnessOptions["deps"] = {},
  denyList?: HarnessOptions["denyList"],
): Promise<Harness> {
  const vars = { ...POLICY_ENV, ...extra };
  const h = await createHarness({
    env: vars,
    deps: { outbox: () => durableOutbox(vars), ...deps },
    ...(denyList === undefined ? {} : { denyList }),
  });
  configureOutboxObjects({
    env: h.env,
    fetch: routerOf(h.sims),
    now: () => clock,
    random: () => 0,
    denyList: h.denyList,
  });
  return h;
}

afterEach(() => configureOutboxObjects(undefined));

function stubOf(id: string): DurableObjectStub<LogoutOutboxObject> {
  return namespace.get(namespace.idFromString(id));
}

/** Runs the job's alarm now, whatever its time; false when none was set. */
function fire(id: string): Promise<boolean> {
  return runDurableObjectAlarm(stubOf(id));
}

function alarmOf(id: string): Promise<number | null> {
  return runInDurableObject<LogoutOutboxObject, number | null>(stubOf(id), (_o, state) =>
    state.storage.getAlarm(),
  );
}

function storedJob(id: string): Promise<StoredJob | undefined> {
  return runInDurableObject<LogoutOutboxObject, StoredJob | undefined>(stubOf(id), (_o, state) =>
    state.storage.get<StoredJob>("job"),
  );
}

async function accept(h: Harness, body: unknown): Promise<JobView> {
  const response = await h.request("/v1/logout", { json: body, bearer: API_KEY, headers: ASYNC });
  const view = (await response.json()) as JobView;
  expect(response.status, JSON.stringify(view)).toBe(202);
  return view;
}

async function jobOf(h: Harness, id: string): Promise<JobView> {
  const response = await h.request(`/v1/logout/${id}`, { bearer: API_KEY });
  const view = (await response.json()) as JobView;
  expect(response.status, JSON.stringify(view)).toBe(200);
  return view;
}

async function everything(h: Harness) {
  return {
    ebet: { username: "demo" },
    fungame: { token: await h.sims.fungame.login("alice") },
    sdkAuth: { sessionToken: h.sims.sdkAuth.issueSession(), device: DEVICE },
    lancens: { username: "lancens-user", token: (await h.sims.lancens.signIn()).token },
  };
}

const fungameLogouts = (h: Harness) =>
  h.sims.fungame.calls.filter((call) => call.path === "/user/logout").length;

describe("POST /v1/logout with Prefer: respond-async (Durable Object outbox)", () => {
  it("answers 202 with Location and Preference-Applied, then delivers every vendor on its alarm", async () => {
    const h = await setup();
    const body = await everything(h);
    const response = await h.request("/v1/logout", {
      json: body,
      bearer: API_KEY,
      headers: { prefer: "respond-async, wait=5" },
    });
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as JobView;
    expect(accepted.id).toMatch(/^[0-9a-f]{64}$/);
    expect(response.headers.get("location")).toBe(`/v1/logout/${accepted.id}`);
    expect(response.headers.get("preference-applied")).toBe("respond-async");
    expect(accepted).toMatchObject({
      status: "pending",
      finishedAt: null,
      vendors: {
        ebet: { vendor: "ebet", state: "pending", attempts: 0, lastError: null },
        fungame: { vendor: "fungame", state: "pending", attempts: 0 },
        sdkAuth: { vendor: "sdk-auth", state: "pending", attempts: 0 },
        lancens: { vendor: "lancens", state: "pending", attempts: 0 },
      },
    });
    // Nothing was called yet: the job waits for its first alarm, due now.
    expect(h.upstreamRequests).toEqual([]);
    expect(fungameLogouts(h)).toBe(0);
    expect(await alarmOf(accepted.id)).toBe(clock);

    const pending = await jobOf(h, accepted.id);
    expect(pending.status).toBe("pending");

    expect(await fire(accepted.id)).toBe(true);
    const done = await jobOf(h, accepted.id);
    expect(done.status).toBe("delivered");
    for (const member of ["ebet", "fungame", "sdkAuth", "lancens"]) {
      expect(done.vendors[member], member).toMatchObject({
        state: "delivered",
        attempts: 1,
        lastError: null,
        nextAttemptAt: null,
      });
    }
    expect(fungameLogouts(h)).toBe(1);
    expect(done.finishedAt).toBe(new Date(clock).toISOString());
    // The tokens were dropped once every vendor was final.
    expect((await storedJob(accepted.id))?.input).toEqual({});
  });

  it("ignores other preferences and answers synchronously without respond-async", async () => {
    const h = await setup();
    for (const prefer of [undefined, "return=minimal", '"respond-async"', "respond-asyncx"]) {
      const token = await h.sims.fungame.login("alice");
      const response = await h.request("/v1/logout", {
        json: { fungame: { token } },
        ...(prefer === undefined ? {} : { headers: { prefer } }),
      });
      expect(response.status, String(prefer)).toBe(200);
      expect(response.headers.get("preference-applied")).toBeNull();
      expect(await response.json()).toMatchObject({ ok: true, results: { fungame: { ok: true } } });
    }
  });

  it("checks the body and caller auth synchronously: bad input is never stored", async () => {
    const h = await setup();
    const invalid = await h.request("/v1/logout", {
      json: { fungame: { token: "t" }, extra: 1 },
      headers: ASYNC,
    });
    expect(await readProblem(invalid)).toMatchObject({ status: 400, field: "extra" });
    const empty = await h.request("/v1/logout", { json: {}, headers: ASYNC });
    expect(await readProblem(empty)).toMatchObject({ status: 400, code: "INVALID_FIELD" });
    const anonymous = await h.request("/v1/logout", {
      json: { ebet: { username: "demo" } },
      headers: ASYNC,
    });
    expect(await readProblem(anonymous)).toMatchObject({
      status: 401,
      code: "MISSING_CREDENTIALS",
    });
    const wrongType = await h.request("/v1/logout", {
      method: "POST",
      body: "{}",
      headers: { ...ASYNC, "content-type": "text/plain" },
    });
    expect(wrongType.status).toBe(415);
    expect(h.upstreamRequests).toEqual([]);
  });

  it("retries a vendor that is down for its first attempts, with backoff, until it is delivered", async () => {
    const h = await setup();
    const token = await h.sims.fungame.login("alice");
    h.sims.fungame.faults.set({ status: 503, times: 2 });
    const { id } = await accept(h, { fungame: { token } });
    const start = clock;

    expect(await fire(id)).toBe(true);
    let job = await jobOf(h, id);
    expect(job.status).toBe("pending");
    expect(job.vendors.fungame).toMatchObject({
      state: "pending",
      attempts: 1,
      lastError: { kind: "unavailable", upstreamStatus: 503, retryable: true },
      nextAttemptAt: new Date(start + 500).toISOString(),
    });
    expect(typeof job.vendors.fungame?.lastError?.code).not.toBe("undefined");
    expect(Object.keys(job.vendors.fungame?.lastError ?? {}).sort()).toEqual([
      "code",
      "kind",
      "retryable",
      "upstreamStatus",
    ]);
    expect(await alarmOf(id)).toBe(start + 500);

    // An alarm run before its time attempts nothing.
    expect(await fire(id)).toBe(true);
    expect((await jobOf(h, id)).vendors.fungame?.attempts).toBe(1);

    clock = start + 500;
    await fire(id);
    job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({ state: "pending", attempts: 2 });
    // Doubled: 1 s after the second failure.
    expect(await alarmOf(id)).toBe(start + 1500);

    clock = start + 1500;
    await fire(id);
    job = await jobOf(h, id);
    expect(job.status).toBe("delivered");
    expect(job.vendors.fungame).toMatchObject({ state: "delivered", attempts: 3 });
    expect(job.vendors.fungame?.lastError).toMatchObject({ upstreamStatus: 503 });
    expect(fungameLogouts(h)).toBe(3);
    expect(h.sims.fungame.isRevoked(JSON.parse(atob(token.split(".")[1] as string)).jti)).toBe(
      true,
    );
  });

  it("fails a vendor for good on a non-retryable error, and delivers the others", async () => {
    const h = await setup();
    const token = await h.sims.fungame.login("alice");
    const { id } = await accept(h, { ebet: { username: "nobodyhere" }, fungame: { token } });
    await fire(id);
    const job = await jobOf(h, id);
    expect(job.status).toBe("partially_failed");
    expect(job.vendors.ebet, JSON.stringify(job.vendors.ebet)).toMatchObject({
      state: "failed",
      failure: "rejected",
      attempts: 1,
      nextAttemptAt: null,
      lastError: { kind: "not_found", retryable: false },
    });
    expect(job.vendors.fungame).toMatchObject({ state: "delivered", attempts: 1 });
    // The only alarm left is the deletion.
    expect(await alarmOf(id)).toBe(clock + 600_000);
    const calls = h.sims.ebet.calls.length;
    await fire(id);
    expect(h.sims.ebet.calls.length).toBe(calls);
  });

  it("survives a 6-hour vendor outage with the default policy and logs out exactly once", async () => {
    // The defaults: no cap on attempts, only the job's age (24 h), 2 s doubling up to 10 min.
    const h = await setup({
      LOGOUT_RETRY_BASE_MS: undefined,
      LOGOUT_RETRY_MAX_ATTEMPTS: undefined,
      LOGOUT_JOB_MAX_AGE_SEC: undefined,
    });
    const sessionToken = h.sims.sdkAuth.issueSession();
    h.sims.sdkAuth.faults.set({ status: 503 });
    const { id } = await accept(h, { sdkAuth: { sessionToken, device: DEVICE } });
    const start = clock;
    let attempts = 0;
    // Six hours of 503s, each attempt when its alarm is due.
    while (clock < start + 6 * 3_600_000) {
      await fire(id);
      const job = await jobOf(h, id);
      attempts = job.vendors.sdkAuth?.attempts ?? 0;
      expect(job.vendors.sdkAuth?.state, `attempt ${attempts}`).toBe("pending");
      clock = Date.parse(job.vendors.sdkAuth?.nextAttemptAt as string);
      expect(attempts).toBeLessThan(100);
    }
    expect(attempts).toBeGreaterThan(30);
    h.sims.sdkAuth.faults.clear();
    await fire(id);
    const job = await jobOf(h, id);
    expect(job.status).toBe("delivered");
    expect(job.vendors.sdkAuth).toMatchObject({ state: "delivered", attempts: attempts + 1 });
    expect(h.sims.sdkAuth.hasSession(sessionToken)).toBe(false);
    // The outage's answers came from the fault switch: OneAccess itself saw one logout.
    expect(h.sims.sdkAuth.count(PATHS.logout)).toBe(1);
    await fire(id);
    expect(h.sims.sdkAuth.count(PATHS.logout)).toBe(1);
  });

  it("stops after LOGOUT_RETRY_MAX_ATTEMPTS attempts", async () => {
    const h = await setup();
    h.sims.sdkAuth.faults.set({ status: 502 });
    const { id } = await accept(h, {
      sdkAuth: { sessionToken: h.sims.sdkAuth.issueSession(), device: DEVICE },
    });
    for (let attempt = 1; attempt <= 4; attempt++) {
      await fire(id);
      const job = await jobOf(h, id);
      expect(job.vendors.sdkAuth?.attempts).toBe(attempt);
      const next = job.vendors.sdkAuth?.nextAttemptAt;
      if (next !== null && next !== undefined) clock = Date.parse(next);
    }
    const job = await jobOf(h, id);
    expect(job.status).toBe("failed");
    expect(job.vendors.sdkAuth).toMatchObject({
      state: "failed",
      failure: "attempts_exhausted",
      attempts: 4,
      lastError: { upstreamStatus: 502, retryable: true },
    });
    await fire(id);
    expect((await jobOf(h, id)).vendors.sdkAuth?.attempts).toBe(4);
  });

  it("stops when the job is older than LOGOUT_JOB_MAX_AGE_SEC", async () => {
    const h = await setup({ LOGOUT_JOB_MAX_AGE_SEC: "2" });
    const { token } = await h.sims.lancens.signIn();
    h.sims.lancens.faults.set({ status: 503 });
    const username = "lancens-user";
    const { id } = await accept(h, { lancens: { username, token } });
    const start = clock;
    await fire(id);
    expect((await jobOf(h, id)).vendors.lancens).toMatchObject({ state: "pending", attempts: 1 });
    // The next attempt is due, but the job's age is up: no attempt, failed as expired.
    clock = start + 2_000;
    await fire(id);
    const job = await jobOf(h, id);
    expect(job.vendors.lancens).toMatchObject({
      state: "failed",
      failure: "expired",
      attempts: 1,
    });
    expect(job.status).toBe("failed");
    expect(job.expiresAt).toBe(new Date(start + 2_000).toISOString());
  });

  it("fails a vendor at once when its backoff would pass the job's age", async () => {
    const h = await setup({ LOGOUT_JOB_MAX_AGE_SEC: "1", LOGOUT_RETRY_BASE_MS: "4000" });
    const token = await h.sims.fungame.login("alice");
    h.sims.fungame.faults.set({ status: 503 });
    const { id } = await accept(h, { fungame: { token } });
    await fire(id);
    expect((await jobOf(h, id)).vendors.fungame).toMatchObject({
      state: "failed",
      failure: "expired",
      attempts: 1,
      lastError: { upstreamStatus: 503 },
    });
  });

  it("keeps a finished job for LOGOUT_JOB_RETENTION_SEC, then deletes it", async () => {
    const h = await setup();
    const { id } = await accept(h, { fungame: { token: await h.sims.fungame.login("alice") } });
    await fire(id);
    const done = await jobOf(h, id);
    expect(done.deleteAt).toBe(new Date(clock + 600_000).toISOString());
    expect(await alarmOf(id)).toBe(clock + 600_000);
    clock += 599_999;
    await fire(id);
    expect((await jobOf(h, id)).status).toBe("delivered");
    clock += 1;
    await fire(id);
    const gone = await h.request(`/v1/logout/${id}`, { bearer: API_KEY });
    expect(await readProblem(gone)).toMatchObject({ status: 404, code: "JOB_NOT_FOUND" });
    expect(await storedJob(id)).toBeUndefined();
    expect(await alarmOf(id)).toBeNull();
  });

  it("counts and retries an attempt that a restart interrupted", async () => {
    const h = await setup();
    const { id } = await accept(h, { fungame: { token: await h.sims.fungame.login("alice") } });
    // As left by a process that stopped in the middle of the attempt.
    await runInDurableObject<LogoutOutboxObject, void>(stubOf(id), async (_o, state) => {
      const job = (await state.storage.get<StoredJob>("job")) as StoredJob;
      const fungame = job.vendors.fungame as NonNullable<StoredJob["vendors"]["fungame"]>;
      fungame.state = "delivering";
      fungame.attempts = 1;
      fungame.nextAttemptAt = null;
      await state.storage.put("job", job);
    });
    // A fresh instance reads the job from storage.
    const fresh = durableOutbox();
    expect((await fresh.get(id))?.view.vendors.fungame?.state).toBe("delivering");
    await fire(id);
    let job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({
      state: "pending",
      attempts: 1,
      lastError: { code: "ATTEMPT_INTERRUPTED" },
    });
    clock = Date.parse(job.vendors.fungame?.nextAttemptAt as string);
    await fire(id);
    job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({ state: "delivered", attempts: 2 });
  });

  it("keeps a member's tokens only until its vendor is final, and never shows them", async () => {
    const h = await setup();
    h.sims.sdkAuth.faults.set({ status: 503 });
    const body = await everything(h);
    const secrets = [body.fungame.token, body.sdkAuth.sessionToken, body.lancens.token, API_KEY];
    const accepted = await h.request("/v1/logout", { json: body, bearer: API_KEY, headers: ASYNC });
    const acceptedText = await accepted.text();
    const { id } = JSON.parse(acceptedText) as JobView;
    await fire(id);
    const response = await h.request(`/v1/logout/${id}`, { bearer: API_KEY });
    const text = await response.text();
    for (const secret of secrets) {
      expect(text).not.toContain(secret);
      expect(acceptedText).not.toContain(secret);
      expect([...response.headers.values()].join("\n")).not.toContain(secret);
    }
    const stored = await storedJob(id);
    expect(Object.keys(stored?.input ?? {})).toEqual(["sdkAuth"]);
    expect(JSON.stringify(stored)).not.toContain(body.fungame.token);
    expect(JSON.stringify(stored)).not.toContain(body.lancens.token);
    expect(JSON.stringify(h.logs)).not.toContain(body.fungame.token);
  });
});

describe("outbox retry timing", () => {
  it("backs off exponentially from the base, capped, with jitter over the upper half", () => {
    const policy = { ...DEFAULT_OUTBOX_POLICY, baseDelayMs: 1000, maxDelayMs: 5000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, policy, () => 0))).toEqual([
      500, 1000, 2000, 2500, 2500,
    ]);
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, policy, () => 0.999_999))).toEqual([
      1000, 2000, 4000, 5000, 5000,
    ]);
    expect(backoffMs(1_000, policy, () => 0.5)).toBe(3750);
  });

  it("waits at least as long as the vendor's Retry-After", async () => {
    const h = await setup();
    const token = await h.sims.fungame.login("alice");
    const router = routerOf(h.sims);
    let first = true;
    configureOutboxObjects({
      env: h.env,
      now: () => clock,
      random: () => 0,
      denyList: h.denyList,
      fetch: async (request) => {
        if (first && new URL(request.url).pathname === "/user/logout") {
          first = false;
          return new Response("busy", { status: 503, headers: { "retry-after": "120" } });
        }
        return router(request);
      },
    });
    const { id } = await accept(h, { fungame: { token } });
    await fire(id);
    const job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({ state: "pending", attempts: 1 });
    const next = Date.parse(job.vendors.fungame?.nextAttemptAt as string);
    // The vendor's pause is measured on the real clock, the backoff (500 ms) on the job clock.
    expect(next - clock).toBeGreaterThan(100_000);
    clock = next;
    await fire(id);
    expect((await jobOf(h, id)).vendors.fungame).toMatchObject({ state: "delivered", attempts: 2 });
  });

  it("fails a vendor that is off at once, as the synchronous fan-out reports it", async () => {
    const h = await setup({ LANCENS_BASE_URL: undefined });
    configureOutboxObjects({
      env: { ...h.env, LANCENS_BASE_URL: "" },
      fetch: routerOf(h.sims),
      now: () => clock,
      random: () => 0,
      denyList: h.denyList,
    });
    const { id } = await accept(h, { lancens: { username: "lancens-user", token: "t0k3n" } });
    await fire(id);
    expect((await jobOf(h, id)).vendors.lancens).toMatchObject({
      state: "failed",
      failure: "rejected",
      attempts: 1,
      lastError: { code: "VENDOR_NOT_CONFIGURED", kind: "not_found", retryable: false },
    });
  });
});

describe("GET /v1/logout/{id}", () => {
  it("refuses a credential that does not verify, naming no vendor", async () => {
    const h = await setup();
    const { id } = await accept(h, { fungame: { token: await h.sims.fungame.login("alice") } });
    const wrong = await h.request(`/v1/logout/${id}`, { bearer: "not-a-key" });
    expect(await readProblem(wrong)).toMatchObject({
      status: 401,
      code: "INVALID_CREDENTIALS",
      vendor: null,
    });
  });

  it("refuses an asynchronous logout with a credential that does not verify", async () => {
    const h = await setup();
    const response = await h.request("/v1/logout", {
      json: { fungame: { token: await h.sims.fungame.login("alice") } },
      bearer: "not-a-key",
      headers: ASYNC,
    });
    expect(await readProblem(response)).toMatchObject({
      status: 401,
      code: "INVALID_CREDENTIALS",
    });
    expect(h.upstreamRequests).toEqual([]);
  });

  it("answers 404 for an unknown id and 400 naming the field for a malformed one", async () => {
    const h = await setup();
    for (const id of [namespace.newUniqueId().toString(), "0".repeat(64)]) {
      const response = await h.request(`/v1/logout/${id}`, { bearer: API_KEY });
      expect(await readProblem(response), id).toMatchObject({
        status: 404,
        code: "JOB_NOT_FOUND",
      });
    }
    for (const id of ["xyz", "A".repeat(64), "0".repeat(65)]) {
      const response = await h.request(`/v1/logout/${id}`, { bearer: API_KEY });
      expect(await readProblem(response), id).toMatchObject({
        status: 400,
        code: "INVALID_FIELD",
        field: "id",
      });
    }
  });

  it("lets browsers send Prefer and read Location and Preference-Applied (CORS)", async () => {
    const h = await setup({ PROXY_CORS_ORIGINS: "https://app.example" });
    const preflight = await h.request("/v1/logout", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, prefer",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-headers")).toContain("prefer");
    const accepted = await h.request("/v1/logout", {
      json: { fungame: { token: await h.sims.fungame.login("alice") } },
      headers: { ...ASYNC, origin: "https://app.example" },
    });
    expect(accepted.status).toBe(202);
    const exposed = accepted.headers.get("access-control-expose-headers") ?? "";
    expect(exposed).toContain("location");
    expect(exposed).toContain("preference-applied");
  });

  it("answers 405 with Allow for another method", async () => {
    const h = await setup();
    const response = await h.request(`/v1/logout/${"0".repeat(64)}`, { method: "DELETE" });
    expect(await readProblem(response)).toMatchObject({ status: 405 });
    expect(response.headers.get("allow")).toBe("GET, HEAD");
  });

  it("answers 404 when the entry has no outbox", async () => {
    const h = await createHarness();
    const response = await h.request(`/v1/logout/${"0".repeat(64)}`, { bearer: API_KEY });
    expect(await readProblem(response)).toMatchObject({ status: 404, code: "JOB_NOT_FOUND" });
    const sync = await h.request("/v1/logout", {
      json: { fungame: { token: await h.sims.fungame.login("alice") } },
      headers: ASYNC,
    });
    expect(sync.status).toBe(200);
  });
});

/** Timers run by hand: the in-memory outbox's wake-ups, in time order. */
function manualTimers(): TimerApi & { runDue(at: number): number; pending(): number[] } {
  let next = 0;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    set(callback, ms) {
      next++;
      timers.set(next, { at: clock + ms, callback });
      return next;
    },
    clear(handle) {
      timers.delete(handle as number);
    },
    runDue(at) {
      let ran = 0;
      for (const [handle, timer] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (timer.at > at) continue;
        timers.delete(handle);
        timer.callback();
        ran++;
      }
      return ran;
    },
    pending: () => [...timers.values()].map((timer) => timer.at),
  };
}

describe("the in-memory outbox (Bun, Deno and Node entries)", () => {
  it("follows the same states, backoff and retention as the Durable Object", async () => {
    const timers = manualTimers();
    let outbox: MemoryOutbox | undefined;
    const h = await createHarness({
      env: POLICY_ENV,
      deps: {
        outbox: (run) => {
          outbox = new MemoryOutbox(run, {
            policy: loadConfig({ ...POLICY_ENV }).outbox,
            now: () => clock,
            random: () => 0,
            timers,
          });
          return outbox;
        },
      },
    });
    const memory = outbox as MemoryOutbox;
    const token = await h.sims.fungame.login("alice");
    h.sims.fungame.faults.set({ status: 503, times: 1 });
    const { id } = await accept(h, { fungame: { token } });
    expect(timers.pending()).toEqual([clock]);
    const start = clock;
    timers.runDue(clock);
    await memory.idle();
    expect((await jobOf(h, id)).vendors.fungame).toMatchObject({ state: "pending", attempts: 1 });
    expect(timers.pending()).toEqual([start + 500]);
    clock = start + 500;
    timers.runDue(clock);
    await memory.idle();
    const job = await jobOf(h, id);
    expect(job).toMatchObject({ status: "delivered", vendors: { fungame: { attempts: 2 } } });
    expect(timers.pending()).toEqual([clock + 600_000]);
    clock += 600_000;
    timers.runDue(clock);
    const gone = await h.request(`/v1/logout/${id}`, { bearer: API_KEY });
    expect(gone.status).toBe(404);
    expect(timers.pending()).toEqual([]);
  });
});

/** A deny-list whose next `failAdds` records fail, as a list that is down. */
function flakyRecords(inner: ClaimingDenyList) {
  const state = { failAdds: 0, adds: 0 };
  const list: ClaimingDenyList = {
    add: async (jti, exp) => {
      state.adds++;
      if (state.failAdds > 0) {
        state.failAdds--;
        throw new Error("storage down");
      }
      await inner.add(jti, exp);
    },
    has: (jti) => inner.has(jti),
    claim: (jti, claimId, leaseMs) => inner.claim(jti, claimId, leaseMs),
    release: (jti, claimId) => inner.release(jti, claimId),
  };
  return { state, list };
}

/** A harness over an outbox of `kind` and `list`, and a step that runs the job's due attempts. */
async function recordSetup(
  kind: "durable" | "memory",
  list: ClaimingDenyList,
  extra: Record<string, unknown> = {},
  wrapFetch?: (router: FetchLike) => FetchLike,
): Promise<{ h: Harness; step(id: string): Promise<void> }> {
  if (kind === "durable") {
    const h = await setup(extra, {}, list);
    if (wrapFetch !== undefined) {
      configureOutboxObjects({
        env: h.env,
        fetch: wrapFetch(routerOf(h.sims)),
        now: () => clock,
        random: () => 0,
        denyList: list,
      });
    }
    return {
      h,
      async step(id) {
        await fire(id);
      },
    };
  }
  const vars = { ...POLICY_ENV, ...extra };
  const timers = manualTimers();
  let outbox: MemoryOutbox | undefined;
  const h = await createHarness({
    env: vars,
    denyList: list,
    ...(wrapFetch === undefined ? {} : { wrapFetch }),
    deps: {
      outbox: (run) => {
        outbox = new MemoryOutbox(run, {
          policy: loadConfig(vars).outbox,
          now: () => clock,
          random: () => 0,
          timers,
        });
        return outbox;
      },
    },
  });
  return {
    h,
    async step() {
      timers.runDue(clock);
      await outbox?.idle();
    },
  };
}

const RECORD_PENDING = {
  code: "DENY_LIST_UNAVAILABLE",
  kind: "unavailable",
  upstreamStatus: null,
  retryable: true,
};

const durableList = () =>
  new DurableObjectDenyList(env.DENY_LIST, { prefix: `record-${crypto.randomUUID()}` });

describe.each([
  ["durable", durableList],
  ["memory", () => new MemoryDenyList()],
] as const)("a FunGame logout whose deny-list record fails (%s outbox)", (kind, makeList) => {
  it("retries only the record, shows it pending with denyListed false, and is delivered once recorded", async () => {
    const { state, list } = flakyRecords(makeList());
    state.failAdds = 2;
    const { h, step } = await recordSetup(kind, list);
    const token = await h.sims.fungame.login("alice");
    const { id, vendors } = await accept(h, { fungame: { token }, ebet: { username: "demo" } });
    expect(vendors.fungame).toMatchObject({ denyListed: null });
    expect(vendors.ebet).not.toHaveProperty("denyListed");
    const start = clock;
    await step(id);
    let job = await jobOf(h, id);
    expect(job.status).toBe("pending");
    expect(job.vendors.fungame).toEqual({
      vendor: "fungame",
      state: "pending",
      attempts: 1,
      nextAttemptAt: new Date(start + 500).toISOString(),
      lastError: RECORD_PENDING,
      failure: null,
      alreadyLoggedOut: false,
      denyListed: false,
    });
    expect(job.vendors.ebet).toMatchObject({ state: "delivered" });
    expect(job.vendors.ebet).not.toHaveProperty("denyListed");
    expect(fungameLogouts(h)).toBe(1);
    // FunGame forgets its own revocation: only the edge's record keeps the token out.
    h.sims.fungame.restart();
    clock = start + 500;
    await step(id);
    job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({
      state: "pending",
      attempts: 2,
      lastError: RECORD_PENDING,
      alreadyLoggedOut: false,
      denyListed: false,
    });
    clock = start + 1500;
    await step(id);
    job = await jobOf(h, id);
    expect(job.status).toBe("delivered");
    expect(job.vendors.fungame).toMatchObject({
      state: "delivered",
      attempts: 3,
      alreadyLoggedOut: false,
      denyListed: true,
    });
    // FunGame was called once: the record steps never logged the token out again.
    expect(fungameLogouts(h)).toBe(1);
    expect(state.adds).toBe(3);
    const status = await h.request("/v1/fungame/token-status", { bearer: token });
    expect(await status.json()).toEqual({ active: false, reason: "revoked" });
    const again = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(await again.json()).toMatchObject({ ok: true, alreadyLoggedOut: true });
    expect(fungameLogouts(h)).toBe(1);
  });

  it("retries the record past LOGOUT_RETRY_MAX_ATTEMPTS until the job's age, then fails the member as expired, denyListed false", async () => {
    const { state, list } = flakyRecords(makeList());
    state.failAdds = 1_000;
    const { h, step } = await recordSetup(kind, list, { LOGOUT_JOB_MAX_AGE_SEC: "60" });
    const token = await h.sims.fungame.login("alice");
    const { id } = await accept(h, { fungame: { token } });
    const start = clock;
    await step(id);
    // LOGOUT_RETRY_MAX_ATTEMPTS is 4: the record is retried beyond it.
    for (let attempt = 2; attempt <= 6; attempt++) {
      const next = (await jobOf(h, id)).vendors.fungame?.nextAttemptAt;
      expect(typeof next).toBe("string");
      clock = Date.parse(next as string);
      await step(id);
      expect((await jobOf(h, id)).vendors.fungame).toMatchObject({
        state: "pending",
        attempts: attempt,
        denyListed: false,
      });
    }
    expect(fungameLogouts(h)).toBe(1);
    clock = start + 60_000;
    await step(id);
    const job = await jobOf(h, id);
    expect(job.status).toBe("failed");
    expect(job.vendors.fungame).toMatchObject({
      state: "failed",
      failure: "expired",
      attempts: 6,
      lastError: RECORD_PENDING,
      alreadyLoggedOut: false,
      denyListed: false,
    });
    expect(fungameLogouts(h)).toBe(1);
  });
});

describe("a FunGame record step cut short (Durable Object outbox)", () => {
  it("is counted and made again as a record, never as a second logout", async () => {
    const { state, list } = flakyRecords(durableList());
    state.failAdds = 1;
    const { h, step } = await recordSetup("durable", list);
    const token = await h.sims.fungame.login("alice");
    const { id } = await accept(h, { fungame: { token } });
    await step(id);
    // As left by a process that stopped in the middle of the record attempt.
    await runInDurableObject<LogoutOutboxObject, void>(stubOf(id), async (_o, stored) => {
      const job = (await stored.storage.get<StoredJob>("job")) as StoredJob;
      const fungame = job.vendors.fungame as NonNullable<StoredJob["vendors"]["fungame"]>;
      fungame.state = "delivering";
      fungame.attempts = 2;
      fungame.nextAttemptAt = null;
      await stored.storage.put("job", job);
    });
    await step(id);
    let job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({
      state: "pending",
      attempts: 2,
      lastError: { code: "ATTEMPT_INTERRUPTED" },
      denyListed: false,
    });
    clock = Date.parse(job.vendors.fungame?.nextAttemptAt as string);
    await step(id);
    job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({ state: "delivered", denyListed: true });
    expect(fungameLogouts(h)).toBe(1);
    expect(state.adds).toBe(2);
  });
});

describe("the in-memory outbox's bound", () => {
  it("drops the oldest finished job when full, and refuses a job when all are pending", async () => {
    const timers = manualTimers();
    const outbox = new MemoryOutbox(async () => ({ ok: true, alreadyLoggedOut: false }), {
      policy: DEFAULT_OUTBOX_POLICY,
      now: () => clock,
      timers,
      maxJobs: 2,
    });
    const body = { ebet: { username: "demo" } };
    const request = (requestId: string, caller = requestId) => ({ requestId, owner: null, caller });
    const first = await outbox.enqueue(body, request("r1"));
    timers.runDue(clock);
    await outbox.idle();
    expect((await outbox.get(first.id))?.view.status).toBe("delivered");
    const second = await outbox.enqueue(body, request("r2"));
    const third = await outbox.enqueue(body, request("r3"));
    expect(await outbox.get(first.id)).toBeUndefined();
    expect((await outbox.get(second.id))?.view.status).toBe("pending");
    expect((await outbox.get(third.id))?.view.status).toBe("pending");
    await expect(outbox.enqueue(body, request("r4"))).rejects.toMatchObject({
      init: { code: "OUTBOX_FULL", kind: "unavailable" },
    });
  });
});

describe("a job's members", () => {
  it("are each a vendor of the outbox: an unknown member or none at all is refused, never a job delivered to nobody", async () => {
    const timers = manualTimers();
    const outbox = new MemoryOutbox(async () => ({ ok: true, alreadyLoggedOut: false }), {
      policy: DEFAULT_OUTBOX_POLICY,
      now: () => clock,
      timers,
    });
    const request = { requestId: "r", owner: null, caller: "c" };
    await expect(outbox.enqueue({ acme: { sessionId: "s" } }, request)).rejects.toThrow(
      "no vendor of this outbox has the member acme",
    );
    await expect(
      outbox.enqueue({ ebet: { username: "demo" }, acme: { sessionId: "s" } }, request),
    ).rejects.toThrow("no vendor of this outbox has the member acme");
    await expect(outbox.enqueue({}, request)).rejects.toThrow("a job needs at least one member");
    const job = await outbox.enqueue({ ebet: { username: "demo" } }, request);
    expect(Object.keys(job.vendors)).toEqual(["ebet"]);
  });
});

describe("the outbox settings", () => {
  it("defaults, and refuses bad values by name", () => {
    expect(loadConfig({}).outbox).toEqual(DEFAULT_OUTBOX_POLICY);
    expect(
      loadConfig({ LOGOUT_JOB_RETENTION_SEC: "0", LOGOUT_RETRY_BASE_MS: "10" }).outbox,
    ).toMatchObject({ retentionMs: 0, baseDelayMs: 10 });
    const bad = (vars: Record<string, string>) => {
      try {
        loadConfig(vars);
      } catch (error) {
        return (error as { issues: { name: string }[] }).issues.map((issue) => issue.name);
      }
      return [];
    };
    expect(bad({ LOGOUT_RETRY_MAX_ATTEMPTS: "0" })).toEqual(["LOGOUT_RETRY_MAX_ATTEMPTS"]);
    expect(bad({ LOGOUT_RETRY_BASE_MS: "soon" })).toEqual(["LOGOUT_RETRY_BASE_MS"]);
    expect(bad({ LOGOUT_JOB_MAX_AGE_SEC: "-1" })).toEqual(["LOGOUT_JOB_MAX_AGE_SEC"]);
    expect(bad({ LOGOUT_JOB_RETENTION_SEC: "1.5" })).toEqual(["LOGOUT_JOB_RETENTION_SEC"]);
    // Without a cap on attempts, the job's age alone bounds them: the wait may not be tiny.
    expect(bad({ LOGOUT_RETRY_BASE_MS: "1", LOGOUT_RETRY_MAX_DELAY_MS: "999" })).toEqual([
      "LOGOUT_RETRY_MAX_DELAY_MS",
    ]);
    expect(
      bad({
        LOGOUT_RETRY_BASE_MS: "1",
        LOGOUT_RETRY_MAX_DELAY_MS: "999",
        LOGOUT_RETRY_MAX_ATTEMPTS: "5",
      }),
    ).toEqual([]);
    expect(bad({ LOGOUT_RETRY_BASE_MS: "5000", LOGOUT_RETRY_MAX_DELAY_MS: "1000" })).toEqual([
      "LOGOUT_RETRY_MAX_DELAY_MS",
    ]);
    // A value quoted in a message is left out when it is also a secret's value.
    const secret = "a-user-jwt-secret-that-is-long-enough-000";
    let message = "";
    try {
      loadConfig({ LOGOUT_RETRY_BASE_MS: secret, PROXY_JWT_SECRET: secret });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("LOGOUT_RETRY_BASE_MS: must be a whole number");
    expect(message).not.toContain(secret);
    expect(() => loadConfig({ LOGOUT_RETRY_BASE_MS: "x1" })).toThrow(/got "x1"/);
  });
});

describe("Prefer (RFC 7240)", () => {
  it("parses preferences, values, parameters and quoted strings; first instance wins", () => {
    const parsed = parsePrefer('Return=minimal; foo="a,b;c", respond-async , wait=10, wait=20');
    expect([...parsed.keys()]).toEqual(["return", "respond-async", "wait"]);
    expect(parsed.get("return")?.value).toBe("minimal");
    expect(parsed.get("return")?.params.get("foo")).toBe("a,b;c");
    expect(parsed.get("wait")?.value).toBe("10");
    expect(prefersAsync("RESPOND-ASYNC")).toBe(true);
    expect(prefersAsync('handling=lenient; x="respond-async"')).toBe(false);
    expect(prefersAsync("respond-async-later")).toBe(false);
    expect(prefersAsync("")).toBe(false);
    expect(prefersAsync(undefined)).toBe(false);
    expect(prefersAsync('"unterminated, respond-async')).toBe(false);
  });
});

describe.each([
  ["durable", durableList],
  ["memory", () => new MemoryDenyList()],
] as const)("a FunGame logout whose answer was lost (%s outbox)", (kind, makeList) => {
  it("the retry meets FunGame's 401 for the token it revoked: delivered as already logged out, and recorded", async () => {
    let lose = 1;
    // FunGame handles the logout (the token is revoked there), then the answer never arrives.
    const { h, step } = await recordSetup(kind, makeList(), {}, (router) => async (request) => {
      const answer = await router(request);
      if (new URL(request.url).pathname === "/user/logout" && lose-- > 0) {
        throw new TypeError("Network connection lost.");
      }
      return answer;
    });
    const token = await h.sims.fungame.login("alice");
    const { id } = await accept(h, { fungame: { token } });
    await step(id);
    let job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({
      state: "pending",
      denyListed: null,
      lastError: { code: "NETWORK_ERROR", retryable: true },
    });
    clock = Date.parse(job.vendors.fungame?.nextAttemptAt as string);
    await step(id);
    job = await jobOf(h, id);
    expect(job.status).toBe("delivered");
    expect(job.vendors.fungame).toMatchObject({
      state: "delivered",
      attempts: 2,
      alreadyLoggedOut: true,
      denyListed: true,
    });
    expect(fungameLogouts(h)).toBe(2);
    // FunGame forgets its revocation on restart; the edge's record keeps the token out.
    h.sims.fungame.restart();
    const status = await h.request("/v1/fungame/token-status", { bearer: token });
    expect(await status.json()).toMatchObject({ active: false, reason: "revoked" });
  });

  it("a retry after the token's exp and FunGame's skew does not read FunGame's 401 as done", async () => {
    let lose = 1;
    // The first attempt never reaches FunGame; by the retry the token has expired there.
    const { h, step } = await recordSetup(kind, makeList(), {}, (router) => async (request) => {
      if (new URL(request.url).pathname === "/user/logout" && lose-- > 0) {
        throw new TypeError("Network connection lost.");
      }
      return router(request);
    });
    const { issuer, audience } = h.sims.fungame.options;
    const { SignJWT } = await import("jose");
    const expired = await new SignJWT({ sub: "alice", jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer(issuer)
      .setAudience(audience)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 400)
      .sign(new TextEncoder().encode(FUNGAME_JWT_KEY));
    const { id } = await accept(h, { fungame: { token: expired } });
    await step(id);
    let job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({ state: "pending", attempts: 1 });
    clock = Date.parse(job.vendors.fungame?.nextAttemptAt as string);
    await step(id);
    job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({
      state: "failed",
      failure: "rejected",
      alreadyLoggedOut: null,
      lastError: { kind: "unauthorized", upstreamStatus: 401 },
    });
    expect(job.status).toBe("failed");
  });

  it("FunGame's 401 on a first attempt stays a refusal: only a retry may read it as done", async () => {
    const list = makeList();
    const { h, step } = await recordSetup(kind, list);
    const token = await h.sims.fungame.login("alice");
    // A signature FunGame refuses (the proxy has no FUNGAME_JWT_SECRET and cannot tell).
    const forged = `${token.slice(0, -6)}AAAAAA`;
    const { id } = await accept(h, { fungame: { token: forged } });
    await step(id);
    const job = await jobOf(h, id);
    expect(job.vendors.fungame).toMatchObject({
      state: "failed",
      failure: "rejected",
      attempts: 1,
      alreadyLoggedOut: null,
    });
    const { inspectToken } = await import("@x/fungame");
    expect(await list.has(inspectToken(forged).jti as string)).toBe(false);
  });
});
