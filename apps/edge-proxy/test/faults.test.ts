// Every vendor under every simulator fault, through the proxy: the problem, retries by the policy,
// the deadline kept, the upstream body limit kept, and never an unhandled exception.
import { type FaultSwitch, type Faults, OVERSIZED_CHUNK_BYTES } from "@x/core-signing/testing";
import { PATHS } from "@x/sdk-auth";
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY } from "../src/upstream.ts";
import { UPSTREAM_MAX_BODY_BYTES } from "../src/vendors/shared.ts";

const MAX_RETRIES = DEFAULT_RETRY.maxRetries;

import {
  API_KEY,
  createHarness,
  DEVICE,
  type Harness,
  type HarnessOptions,
  HOSTS,
  readProblem,
} from "./harness.ts";

type Subject = "ebet-logout" | "ebet-callback" | "fungame" | "sdk-auth" | "lancens";
type FaultName =
  | "gateway"
  | "nonJson"
  | "truncatedJson"
  | "contentType"
  | "reset"
  | "oversizedBody"
  | "slow";

interface SubjectDef {
  vendor: string;
  host: string;
  faults(h: Harness): FaultSwitch;
  /** Makes what the call needs (before any fault is on) and returns the call itself. */
  prepare(h: Harness): Promise<() => Promise<Response>>;
  /** Upstream requests one attempt makes when every one of them fails alike. */
  callsPerAttempt: number;
}

const EBET_TOKEN = "584c26e798deffc96cc7af073c184cd0";

const SUBJECTS: Record<Subject, SubjectDef> = {
  "ebet-logout": {
    vendor: "ebet",
    host: HOSTS.ebet,
    faults: (h) => h.sims.ebet.faults,
    prepare: async (h) => () =>
      h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: API_KEY }),
    callsPerAttempt: 1,
  },
  "ebet-callback": {
    vendor: "ebet",
    host: HOSTS.ebet,
    faults: (h) => h.sims.ebet.faults,
    prepare: async (h) => () =>
      h.request("/v1/ebet/callback", {
        json: { username: "demo", accessToken: EBET_TOKEN },
        bearer: API_KEY,
      }),
    callsPerAttempt: 1,
  },
  fungame: {
    vendor: "fungame",
    host: HOSTS.fungame,
    faults: (h) => h.sims.fungame.faults,
    prepare: async (h) => {
      const token = await h.sims.fungame.login("alice");
      return () => h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    },
    callsPerAttempt: 1,
  },
  "sdk-auth": {
    vendor: "sdk-auth",
    host: HOSTS.sdkAuth,
    faults: (h) => h.sims.sdkAuth.faults,
    prepare: async (h) => {
      const sessionToken = h.sims.sdkAuth.issueSession();
      return () => h.request("/v1/sdk-auth/logout", { json: { sessionToken, device: DEVICE } });
    },
    // The public key is fetched first; when it fails, nothing else is called.
    callsPerAttempt: 1,
  },
  lancens: {
    vendor: "lancens",
    host: `${HOSTS.lancens}:6443`,
    faults: (h) => h.sims.lancens.faults,
    prepare: async (h) => {
      const { token } = await h.sims.lancens.signIn();
      return () => h.request("/v1/lancens/logout", { json: { username: "lancens-user", token } });
    },
    // Ring push token, message push token, logout: each step is tried whatever the others did.
    callsPerAttempt: 3,
  },
};

const FAULTS: Record<FaultName, Faults> = {
  gateway: { status: 503 },
  nonJson: { nonJson: true },
  truncatedJson: { truncatedJson: true },
  contentType: { contentType: "text/html" },
  reset: { reset: true },
  oversizedBody: { oversizedBody: true },
  slow: { delayMs: 60_000 },
};

/** What the caller must see: a problem (by the kind -> status table) or a success. */
type Outcome =
  | {
      problem: {
        status: number;
        code: string | number;
        kind: string;
        retryable: boolean;
        upstreamStatus: number | null;
      };
      /** Upstream requests of a whole logout; derived from the policy when left out. */
      calls?: number;
      /** Attempts made; derived from the policy (retryable or not) when left out. */
      attempts?: number;
    }
  | { ok: true; calls: number };

const unavailable = (code: string | number, upstreamStatus: number | null) => ({
  status: 503,
  code,
  kind: "unavailable",
  retryable: true,
  upstreamStatus,
});
const badResponse = {
  status: 502,
  code: "BAD_RESPONSE",
  kind: "upstream",
  retryable: false,
  upstreamStatus: 200,
};

/** eBET's logout and login notification read their answers alike. */
const EBET_OUTCOMES: Record<FaultName, Outcome> = {
  gateway: { problem: unavailable("HTTP_503", 503) },
  nonJson: { problem: badResponse },
  truncatedJson: { problem: badResponse },
  // eBET's JSON is read as JSON whatever its label.
  contentType: { ok: true, calls: 1 },
  reset: { problem: unavailable("NETWORK_ERROR", null) },
  oversizedBody: { problem: badResponse },
  slow: { problem: unavailable("TIMEOUT", null) },
};

/**
 * The login notification is sent at most once: a failure after the request left (gateway error,
 * reset, timeout) may hide a notification eBET acted on, so it is never retried.
 */
const EBET_CALLBACK_OUTCOMES: Record<FaultName, Outcome> = {
  ...EBET_OUTCOMES,
  gateway: { problem: unavailable("HTTP_503", 503), attempts: 1 },
  reset: { problem: unavailable("NETWORK_ERROR", null), attempts: 1 },
  slow: { problem: unavailable("TIMEOUT", null), attempts: 1 },
};

/** The expected outcome of each vendor under each fault. */
const TABLE: Record<Subject, Record<FaultName, Outcome>> = {
  "ebet-logout": EBET_OUTCOMES,
  "ebet-callback": EBET_CALLBACK_OUTCOMES,
  fungame: {
    gateway: { problem: unavailable(503, 503) },
    nonJson: { problem: badResponse },
    truncatedJson: { problem: badResponse },
    contentType: { ok: true, calls: 1 },
    reset: { problem: unavailable("NETWORK_ERROR", null) },
    oversizedBody: { problem: badResponse },
    slow: { problem: unavailable("TIMEOUT", null) },
  },
  "sdk-auth": {
    gateway: { problem: unavailable("HTTP_503", 503) },
    nonJson: { problem: badResponse },
    truncatedJson: { problem: badResponse },
    // Public key, server date and logout, all read whatever their label.
    contentType: { ok: true, calls: 3 },
    reset: { problem: unavailable("NETWORK_ERROR", null) },
    oversizedBody: { problem: badResponse },
    slow: { problem: unavailable("TIMEOUT", null) },
  },
  lancens: {
    gateway: { problem: unavailable("HTTP_ERROR", 503) },
    // Lancens answers success with any 2xx; its body is read (up to the limit) only to find one of
    // Lancens' error messages, so a broken, relabelled or huge 2xx body is still a success.
    nonJson: { ok: true, calls: 3 },
    truncatedJson: { ok: true, calls: 3 },
    contentType: { ok: true, calls: 3 },
    reset: { problem: unavailable("NETWORK_ERROR", null) },
    oversizedBody: { ok: true, calls: 3 },
    slow: { problem: unavailable("TIMEOUT", null) },
  },
};

/** The request's log line (the one with a status). */
function requestLine(h: Harness): Record<string, unknown> {
  const line = h.logs.filter((entry) => "status" in entry).at(-1);
  if (line === undefined) throw new Error("no request log line");
  return line;
}

function expectNoUnexpectedError(h: Harness): void {
  expect(h.logs.filter((entry) => entry.event === "unexpected_error")).toEqual([]);
}

/** A short attempt timeout and a long deadline: slow answers time out attempt by attempt. */
const SHORT_ATTEMPTS = { UPSTREAM_TIMEOUT_MS: "30", UPSTREAM_DEADLINE_MS: "10000" };

describe("each vendor under each fault, through the proxy", () => {
  for (const subject of Object.keys(SUBJECTS) as Subject[]) {
    const def = SUBJECTS[subject];
    for (const fault of Object.keys(FAULTS) as FaultName[]) {
      const outcome = TABLE[subject][fault];
      const label =
        "ok" in outcome ? "succeeds" : `${outcome.problem.status} ${outcome.problem.code}`;
      it(`${subject}, ${fault}: ${label}`, async () => {
        const h = await createHarness({ env: SHORT_ATTEMPTS });
        const send = await def.prepare(h);
        const switches = def.faults(h);
        switches.set(FAULTS[fault]);
        const response = await send();
        const line = requestLine(h);
        const calls = h.upstreamRequests.filter((host) => host === def.host).length;
        if ("ok" in outcome) {
          expect(response.status).toBe(200);
          expect(await response.json()).toMatchObject({ vendor: def.vendor, ok: true });
          expect(calls).toBe(outcome.calls);
          expect(line).toMatchObject({ status: 200, retries: 0 });
        } else {
          const problem = await readProblem(response);
          expect(problem).toMatchObject({ ...outcome.problem, vendor: def.vendor });
          expect(String(problem.detail).length).toBeGreaterThan(0);
          // Retried exactly as the policy says: retryable failures MAX_RETRIES times, others never.
          const attempts = outcome.attempts ?? (outcome.problem.retryable ? 1 + MAX_RETRIES : 1);
          expect(calls).toBe(outcome.calls ?? attempts * def.callsPerAttempt);
          expect(line).toMatchObject({
            status: outcome.problem.status,
            code: outcome.problem.code,
            kind: outcome.problem.kind,
            retries: attempts - 1,
            upstreamStatus: outcome.problem.upstreamStatus,
          });
        }
        if (fault === "oversizedBody") {
          // The proxy stopped reading each answer at its limit: at most one chunk past it per call.
          expect(switches.streamedBytes).toBeLessThanOrEqual(
            calls * (UPSTREAM_MAX_BODY_BYTES + OVERSIZED_CHUNK_BYTES),
          );
          if (!("ok" in outcome)) {
            expect(switches.streamedBytes).toBeGreaterThan(UPSTREAM_MAX_BODY_BYTES);
          }
        }
        expectNoUnexpectedError(h);
      });
    }
  }
});

describe("OneAccess with its public key and clock already cached", () => {
  const cases: [FaultName, Record<string, unknown>][] = [
    ["reset", unavailable("NETWORK_ERROR", null)],
    ["oversizedBody", badResponse],
    ["gateway", unavailable("HTTP_503", 503)],
    ["slow", unavailable("TIMEOUT", null)],
  ];
  for (const [fault, expected] of cases) {
    it(`${fault} on the logout call itself: ${String(expected.code)}`, async () => {
      const h = await createHarness({ env: SHORT_ATTEMPTS });
      const first = h.sims.sdkAuth.issueSession();
      const warm = await h.request("/v1/sdk-auth/logout", {
        json: { sessionToken: first, device: DEVICE },
      });
      expect(warm.status).toBe(200);
      const warmCalls = h.upstreamRequests.length;
      const second = h.sims.sdkAuth.issueSession();
      h.sims.sdkAuth.faults.set(FAULTS[fault]);
      const problem = await readProblem(
        await h.request("/v1/sdk-auth/logout", { json: { sessionToken: second, device: DEVICE } }),
      );
      expect(problem).toMatchObject({ ...expected, vendor: "sdk-auth" });
      const attempts = expected.retryable ? 1 + MAX_RETRIES : 1;
      // Only the logout itself is called now, once per attempt.
      expect(h.upstreamRequests.length - warmCalls).toBe(attempts);
      expect(h.sims.sdkAuth.calls.slice(-attempts).map((call) => call.path)).toEqual(
        Array(attempts).fill(PATHS.logout),
      );
      expect(h.sims.sdkAuth.hasSession(second)).toBe(true);
      expect(requestLine(h)).toMatchObject({ code: expected.code, retries: attempts - 1 });
      if (fault === "oversizedBody") {
        expect(h.sims.sdkAuth.faults.streamedBytes).toBeLessThanOrEqual(
          UPSTREAM_MAX_BODY_BYTES + OVERSIZED_CHUNK_BYTES,
        );
      }
      expectNoUnexpectedError(h);
    });
  }
});

describe("the upstream body limit", () => {
  it("is 64 KiB, far below a 10 MB answer", () => {
    expect(UPSTREAM_MAX_BODY_BYTES).toBe(64 * 1024);
  });

  it("refuses an oversized gateway error page too, reading no more than the limit", async () => {
    // A 503 whose body never ends: the status decides, the body is read no further than the limit.
    const h = await createHarness({
      env: SHORT_ATTEMPTS,
      wrapFetch: (router) => async (request) => {
        const host = new URL(request.url).hostname;
        if (host !== HOSTS.ebet) return router(request);
        const answer = (await router(request)) as Response;
        return new Response(answer.body, { status: 503, headers: answer.headers });
      },
    });
    h.sims.ebet.faults.set({ oversizedBody: true });
    const problem = await readProblem(
      await h.request("/v1/ebet/logout", { json: { username: "demo" }, bearer: API_KEY }),
    );
    expect(problem).toMatchObject(unavailable("HTTP_503", 503));
    expect(h.upstreamRequests).toHaveLength(1 + MAX_RETRIES);
    expect(h.sims.ebet.faults.streamedBytes).toBeLessThanOrEqual(
      (1 + MAX_RETRIES) * (UPSTREAM_MAX_BODY_BYTES + OVERSIZED_CHUNK_BYTES),
    );
    expectNoUnexpectedError(h);
  });
});

/**
 * A clock the backoff moves: the first wait between attempts jumps past the whole deadline, so
 * the deadline, not a timer race, ends the call after exactly one attempt.
 */
function jumpingClock(): Pick<NonNullable<HarnessOptions["deps"]>, "now" | "sleep" | "random"> {
  let skew = 0;
  return {
    now: () => Date.now() + skew,
    random: () => 1,
    sleep: async () => {
      skew += 60_000;
    },
  };
}

describe("slow vendors and the proxy's deadline", () => {
  const deadlineCases: [Subject, string][] = [
    ["ebet-logout", "DEADLINE_EXCEEDED"],
    // Never retried: its one attempt's own timeout.
    ["ebet-callback", "TIMEOUT"],
    ["fungame", "DEADLINE_EXCEEDED"],
    ["sdk-auth", "DEADLINE_EXCEEDED"],
    // The Lancens flow reports its logout step's own failure, with every step's outcome.
    ["lancens", "TIMEOUT"],
  ];
  for (const [subject, code] of deadlineCases) {
    it(`${subject}: no attempt starts past the deadline (${code}, one attempt)`, async () => {
      const def = SUBJECTS[subject];
      const h = await createHarness({ env: SHORT_ATTEMPTS, deps: jumpingClock() });
      const send = await def.prepare(h);
      def.faults(h).set({ delayMs: 60_000 });
      const problem = await readProblem(await send());
      expect(problem).toMatchObject({
        status: 503,
        kind: "unavailable",
        code,
        retryable: true,
        vendor: def.vendor,
        upstreamStatus: null,
      });
      expect(h.upstreamRequests.filter((host) => host === def.host)).toHaveLength(
        def.callsPerAttempt,
      );
      expect(requestLine(h)).toMatchObject({ status: 503, code, retries: 0 });
      expectNoUnexpectedError(h);
    });
  }

  it("a vendor slow only once is retried and succeeds", async () => {
    const h = await createHarness({ env: SHORT_ATTEMPTS });
    h.sims.ebet.faults.set({ delayMs: 60_000, times: 1 });
    const response = await h.request("/v1/ebet/logout", {
      json: { username: "demo" },
      bearer: API_KEY,
    });
    expect(response.status).toBe(200);
    expect(h.upstreamRequests).toEqual([HOSTS.ebet, HOSTS.ebet]);
    expect(requestLine(h)).toMatchObject({ status: 200, retries: 1, upstreamStatus: 200 });
  });

  it("a connection reset once is retried and succeeds", async () => {
    const h = await createHarness({ env: SHORT_ATTEMPTS });
    const token = await h.sims.fungame.login("alice");
    h.sims.fungame.faults.set({ reset: true, times: 1 });
    const response = await h.request("/v1/fungame/logout", { method: "POST", bearer: token });
    expect(response.status).toBe(200);
    expect(h.upstreamRequests).toEqual([HOSTS.fungame, HOSTS.fungame]);
    expect(requestLine(h)).toMatchObject({ status: 200, retries: 1 });
    expect(h.sims.fungame.state().sessions).toEqual([]);
  });
});

describe("the fan-out with one faulty vendor", () => {
  const MEMBERS = {
    ebet: { vendor: "ebet", sims: "ebet", host: HOSTS.ebet },
    fungame: { vendor: "fungame", sims: "fungame", host: HOSTS.fungame },
    sdkAuth: { vendor: "sdk-auth", sims: "sdkAuth", host: HOSTS.sdkAuth },
    lancens: { vendor: "lancens", sims: "lancens", host: `${HOSTS.lancens}:6443` },
  } as const;
  type Member = keyof typeof MEMBERS;

  async function everything(h: Harness) {
    const fungameToken = await h.sims.fungame.login("alice");
    const sessionToken = h.sims.sdkAuth.issueSession();
    const { token: lancensToken } = await h.sims.lancens.signIn();
    return {
      ebet: { username: "demo" },
      fungame: { token: fungameToken },
      sdkAuth: { sessionToken, device: DEVICE },
      lancens: { username: "lancens-user", token: lancensToken },
    };
  }

  const cases: [Member, FaultName, Record<string, unknown>][] = [
    ["ebet", "reset", unavailable("NETWORK_ERROR", null)],
    ["fungame", "reset", unavailable("NETWORK_ERROR", null)],
    ["sdkAuth", "reset", unavailable("NETWORK_ERROR", null)],
    ["lancens", "reset", unavailable("NETWORK_ERROR", null)],
    ["ebet", "oversizedBody", badResponse],
    ["fungame", "oversizedBody", badResponse],
    ["sdkAuth", "oversizedBody", badResponse],
    ["ebet", "slow", unavailable("TIMEOUT", null)],
    ["lancens", "slow", unavailable("TIMEOUT", null)],
    ["fungame", "gateway", unavailable(503, 503)],
    ["sdkAuth", "truncatedJson", badResponse],
  ];
  for (const [member, fault, expected] of cases) {
    it(`${member} ${fault}: 207, its problem, the others ok`, async () => {
      const h = await createHarness({ env: SHORT_ATTEMPTS });
      const body = await everything(h);
      h.sims[MEMBERS[member].sims].faults.set(FAULTS[fault]);
      const response = await h.request("/v1/logout", { json: body, bearer: API_KEY });
      expect(response.status).toBe(207);
      const answer = (await response.json()) as {
        ok: boolean;
        results: Record<string, Record<string, unknown>>;
      };
      expect(answer.ok).toBe(false);
      expect(answer.results[member]).toMatchObject({
        ok: false,
        vendor: MEMBERS[member].vendor,
        ...expected,
      });
      expect(answer.results[member]?.requestId).toBe(response.headers.get("x-request-id"));
      for (const other of Object.keys(MEMBERS) as Member[]) {
        if (other !== member) expect(answer.results[other]).toMatchObject({ ok: true });
      }
      const line = requestLine(h);
      const upstream = line.upstream as Record<string, Record<string, unknown>>;
      const faulty = upstream[MEMBERS[member].vendor];
      expect(faulty).toMatchObject({
        code: expected.code,
        retries: expected.retryable ? MAX_RETRIES : 0,
      });
      for (const other of Object.keys(MEMBERS) as Member[]) {
        if (other !== member) expect(upstream[MEMBERS[other].vendor]).toMatchObject({ retries: 0 });
      }
      expect(line).toMatchObject({ status: 207 });
      expectNoUnexpectedError(h);
    });
  }
});
