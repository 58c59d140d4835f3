// Who may read a logout job (its owner; anyone with the id of a job created without credentials),
// what a failed attempt keeps (no vendor text), and the caps on open jobs: Durable Object and memory.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { FetchLike } from "@x/core-signing";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryOutbox, type TimerApi } from "../src/adapters/memory/outbox.ts";
import { shardOf } from "../src/adapters/workers/open-jobs.ts";
import {
  configureOutboxObjects,
  DurableObjectOutbox,
  type LogoutOutboxObject,
} from "../src/adapters/workers/outbox.ts";
import { loadConfig } from "../src/config.ts";
import type { JobView, LogoutOutbox, StoredJob } from "../src/outbox.ts";
import {
  API_KEY,
  createHarness,
  DEVICE,
  type Harness,
  jwksAnswer,
  OTHER_API_KEY,
  readProblem,
  routerFor,
  USER_JWT_SECRET,
} from "./harness.ts";

const namespace = env.LOGOUT_OUTBOX;
const ASYNC = { prefer: "respond-async" };
const POLICY_ENV = { LOGOUT_RETRY_BASE_MS: "1000", LOGOUT_RETRY_MAX_ATTEMPTS: "4" };
/** The job clock, years ahead of the real one: no alarm fires by itself. */
const clock = Date.now() + 10 * 365 * 86_400_000;

afterEach(() => configureOutboxObjects(undefined));

type Kind = "durable" | "memory";

interface Setup {
  h: Harness;
  /** Runs the job's due attempts now and waits for them. */
  run(id: string): Promise<void>;
}

/** A harness whose outbox is of `kind`; callers are told apart by a test-client-address header. */
async function setup(
  kind: Kind,
  vars: Record<string, unknown> = {},
  wrapFetch?: (router: FetchLike) => FetchLike,
): Promise<Setup> {
  const all = { ...POLICY_ENV, ...vars };
  const policy = loadConfig(all).outbox;
  let memory: MemoryOutbox | undefined;
  const due: (() => void)[] = [];
  const timers: TimerApi = { set: (callback) => due.push(callback), clear: () => {} };
  const h = await createHarness({
    env: all,
    ...(wrapFetch === undefined ? {} : { wrapFetch }),
    deps: {
      clientAddress: (c) => c.req.header("test-client-address"),
      outbox: (run): LogoutOutbox => {
        if (kind === "durable") return new DurableObjectOutbox(namespace, env.OPEN_JOBS, policy);
        memory = new MemoryOutbox(run, { policy, now: () => clock, random: () => 0, timers });
        return memory;
      },
    },
  });
  if (kind === "durable") {
    const router = routerFor(h.sims, jwksAnswer);
    configureOutboxObjects({
      env: h.env,
      fetch: wrapFetch === undefined ? router : wrapFetch(router),
      now: () => clock,
      random: () => 0,
      denyList: h.denyList,
    });
  }
  return {
    h,
    async run(id) {
      if (kind === "durable") {
        await runDurableObjectAlarm(namespace.get(namespace.idFromString(id)));
        return;
      }
      for (const callback of due.splice(0)) callback();
      await memory?.idle();
    },
  };
}

async function userToken(sub: string): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(USER_JWT_SECRET));
}

type Credentials = { bearer?: string; headers?: Record<string, string> };

async function accept(h: Harness, body: unknown, as: Credentials = {}): Promise<JobView> {
  const response = await h.request("/v1/logout", {
    json: body,
    ...(as.bearer === undefined ? {} : { bearer: as.bearer }),
    headers: { ...ASYNC, ...as.headers },
  });
  const view = (await response.json()) as JobView;
  expect(response.status, JSON.stringify(view)).toBe(202);
  return view;
}

function read(h: Harness, id: string, as: Credentials = {}): Promise<Response> {
  return h.request(`/v1/logout/${id}`, {
    ...(as.bearer === undefined ? {} : { bearer: as.bearer }),
    // One request id, so that two answers can be compared whole.
    headers: { "x-request-id": "read-1", ...as.headers },
  });
}

/** What tells two answers apart, but for the timing header. */
async function answerOf(response: Response) {
  const headers = [...response.headers].filter(([name]) => name !== "server-timing");
  return { status: response.status, headers, body: await response.text() };
}

/** A job id no outbox ever issued. */
function unknownId(kind: Kind): string {
  return kind === "durable" ? namespace.newUniqueId().toString() : "0".repeat(64);
}

const fungameBody = async (h: Harness) => ({
  fungame: { token: await h.sims.fungame.login("alice") },
});

describe.each<Kind>(["durable", "memory"])("job ownership (%s outbox)", (kind) => {
  it("shows a job to the API key that created it; to another key, the unknown-id 404", async () => {
    const { h } = await setup(kind);
    const { id } = await accept(h, await fungameBody(h), { bearer: API_KEY });
    expect((await read(h, id, { bearer: API_KEY })).status).toBe(200);
    const other = await answerOf(await read(h, id, { bearer: OTHER_API_KEY }));
    const unknown = await answerOf(await read(h, unknownId(kind), { bearer: OTHER_API_KEY }));
    expect(other.status).toBe(404);
    expect(other).toEqual(unknown);
    // Without credentials, too.
    const anonymous = await answerOf(await read(h, id));
    expect(anonymous).toEqual(await answerOf(await read(h, unknownId(kind))));
    expect(anonymous.status).toBe(404);
  });

  it("shows a job created without credentials to anyone with its id", async () => {
    const { h } = await setup(kind);
    const { id } = await accept(h, await fungameBody(h));
    for (const as of [{}, { bearer: API_KEY }, { bearer: await userToken("someone") }]) {
      const response = await read(h, id, as);
      expect(response.status, JSON.stringify(as)).toBe(200);
      expect(((await response.json()) as JobView).id).toBe(id);
    }
  });

  it("shows a job created with a user token to tokens of the same subject only", async () => {
    const { h } = await setup(kind);
    const { id } = await accept(
      h,
      { ebet: { username: "demo" } },
      { bearer: await userToken("demo") },
    );
    expect((await read(h, id, { bearer: await userToken("demo") })).status).toBe(200);
    const unknown = await answerOf(await read(h, unknownId(kind), { bearer: API_KEY }));
    for (const bearer of [await userToken("mallory"), API_KEY]) {
      expect(await answerOf(await read(h, id, { bearer }))).toEqual(unknown);
    }
  });

  it("keeps no vendor text in lastError, even when the vendor's answer quotes the token", async () => {
    // OneAccess's logout answer quotes the session token in its code and its message.
    let quoted = "";
    const echo =
      (router: FetchLike): FetchLike =>
      async (request) => {
        if (new URL(request.url).pathname !== "/api/v2/sdk/logout") {
          return router(request);
        }
        return Response.json(
          { error_code: quoted, error_msg: `session ${quoted} is not known` },
          { status: 503 },
        );
      };
    const { h, run } = await setup(kind, {}, echo);
    const sessionToken = h.sims.sdkAuth.issueSession();
    quoted = sessionToken;
    const lancens = { username: "lancens-user", token: "lancens-token-quoted-1234" };
    h.sims.lancens.faults.set({ status: 503 });
    const { id } = await accept(h, { sdkAuth: { sessionToken, device: DEVICE }, lancens });
    await run(id);
    const response = await read(h, id);
    const text = await response.text();
    expect(response.status, text).toBe(200);
    const job = JSON.parse(text) as JobView;
    expect(job.vendors.sdkAuth?.lastError, text).toEqual({
      code: "VENDOR_ERROR",
      kind: "unavailable",
      upstreamStatus: 503,
      retryable: true,
    });
    expect(job.vendors.lancens?.lastError).toMatchObject({ upstreamStatus: 503 });
    expect(Object.keys(job.vendors.lancens?.lastError ?? {}).sort()).toEqual([
      "code",
      "kind",
      "retryable",
      "upstreamStatus",
    ]);
    expect(text).not.toContain(sessionToken);
    expect(text).not.toContain(lancens.token);
  });
});

describe("jobs stored before jobs had owners (Durable Object outbox)", () => {
  it("stay readable by any authenticated caller, as they were, and by nobody else", async () => {
    const { h } = await setup("durable");
    const { id } = await accept(h, await fungameBody(h), { bearer: API_KEY });
    // As an older version stored it: no owner, and a detail quoted from the vendor.
    await runInDurableObject<LogoutOutboxObject, void>(
      namespace.get(namespace.idFromString(id)),
      async (_o, state) => {
        const job = (await state.storage.get<StoredJob>("job")) as StoredJob;
        delete job.owner;
        const fungame = job.vendors.fungame as NonNullable<StoredJob["vendors"]["fungame"]>;
        fungame.lastError = {
          code: 503,
          kind: "unavailable",
          upstreamStatus: 503,
          retryable: true,
          detail: "vendor text",
        } as NonNullable<typeof fungame.lastError>;
        await state.storage.put("job", job);
      },
    );
    const seen = await read(h, id, { bearer: OTHER_API_KEY });
    expect(seen.status).toBe(200);
    expect(((await seen.json()) as JobView).vendors.fungame?.lastError).toEqual({
      code: 503,
      kind: "unavailable",
      upstreamStatus: 503,
      retryable: true,
    });
    expect(await answerOf(await read(h, id))).toEqual(
      await answerOf(await read(h, unknownId("durable"))),
    );
  });
});

describe.each<Kind>(["durable", "memory"])("open-job caps (%s outbox)", (kind) => {
  /** A client address of its own per test: the Durable Object counters outlive a test. */
  const address = () => `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
  const from = (client: string) => ({ headers: { "test-client-address": client } });

  it("refuses a caller's job beyond LOGOUT_MAX_OPEN_JOBS_PER_CALLER with 429, until one finishes", async () => {
    const { h, run } = await setup(kind, { LOGOUT_MAX_OPEN_JOBS_PER_CALLER: "2" });
    const client = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}::1`;
    const first = await accept(h, await fungameBody(h), from(client));
    await accept(h, await fungameBody(h), from(client));
    const refused = await h.request("/v1/logout", {
      json: await fungameBody(h),
      headers: { ...ASYNC, "test-client-address": client },
    });
    expect(await readProblem(refused)).toMatchObject({
      status: 429,
      code: "TOO_MANY_OPEN_JOBS",
      retryable: true,
    });
    expect(refused.headers.get("retry-after")).toBe("60");
    // Another client, and the same client's address with a user token, are other callers.
    await accept(h, await fungameBody(h), from(address()));
    const bearer = await userToken(`user-${client}`);
    await accept(h, await fungameBody(h), { ...from(client), bearer });
    // The first job finishes: its slot is free again.
    await run(first.id);
    expect((await read(h, first.id)).status).toBe(200);
    await accept(h, await fungameBody(h), from(client));
  });

  it("refuses any job once LOGOUT_MAX_OPEN_JOBS are open with 503 OUTBOX_FULL", async () => {
    // On Workers the cap is split over 16 counter shards: 16 is one job per shard, so the second
    // caller is one of the same shard.
    const { h } = await setup(kind, {
      LOGOUT_MAX_OPEN_JOBS: kind === "durable" ? "16" : "1",
      LOGOUT_MAX_OPEN_JOBS_PER_CALLER: "1",
    });
    const [client, other] = await sameShard();
    if (kind === "durable") await emptyShardOf(client);
    await accept(h, await fungameBody(h), from(client));
    const refused = await h.request("/v1/logout", {
      json: await fungameBody(h),
      headers: { ...ASYNC, "test-client-address": other },
    });
    expect(await readProblem(refused)).toMatchObject({
      status: 503,
      code: "OUTBOX_FULL",
      retryable: true,
    });
    expect(refused.headers.get("retry-after")).toBe("60");
  });
});

/** The counter shard of an anonymous client's address. */
async function shardOfAddress(client: string): Promise<string> {
  const { digestHex } = await import("../src/auth.ts");
  return shardOf(await digestHex(`address:${client}`));
}

/** Two client addresses whose counts live in one shard (of any 17 addresses, two share one). */
async function sameShard(): Promise<[string, string]> {
  const seen = new Map<string, string>();
  const base = Math.floor(Math.random() * 200);
  for (let n = 1; n <= 17; n++) {
    const client = `203.0.113.${base + n}`;
    const shard = await shardOfAddress(client);
    const first = seen.get(shard);
    if (first !== undefined) return [first, client];
    seen.set(shard, client);
  }
  throw new Error("17 addresses over 16 shards share one");
}

/** Clears the counter shard of an anonymous client's address (left over by other tests). */
async function emptyShardOf(client: string): Promise<void> {
  const shard = await shardOfAddress(client);
  const stub = env.OPEN_JOBS.get(env.OPEN_JOBS.idFromName(shard));
  await stub.counts();
  await runInDurableObject(stub, (_o, state) => {
    state.storage.sql.exec("DELETE FROM open_jobs");
  });
}

describe("an open-jobs shard", () => {
  it("counts per caller and in all, releases by job id once, and lets a lost job's row lapse", async () => {
    const stub = env.OPEN_JOBS.get(env.OPEN_JOBS.idFromName("open-jobs-test-shard"));
    const caps = { perCaller: 1, perShard: 2 };
    const now = 1_000_000;
    expect(await stub.acquire("job-1", "caller-a", now + 10, now, caps)).toBe("taken");
    expect(await stub.acquire("job-2", "caller-a", now + 10, now, caps)).toBe("caller_full");
    expect(await stub.acquire("job-3", "caller-b", now + 10, now, caps)).toBe("taken");
    expect(await stub.acquire("job-4", "caller-c", now + 10, now, caps)).toBe("shard_full");
    expect(await stub.counts()).toEqual({ "caller-a": 1, "caller-b": 1 });
    await stub.release("job-3");
    await stub.release("job-3");
    expect(await stub.counts()).toEqual({ "caller-a": 1 });
    // job-1 never finished (its object lost): at its `until` its slot is free again.
    expect(await stub.acquire("job-5", "caller-a", now + 20, now + 9, caps)).toBe("caller_full");
    expect(await stub.acquire("job-5", "caller-a", now + 20, now + 10, caps)).toBe("taken");
    expect(await stub.counts()).toEqual({ "caller-a": 1 });
  });
});
