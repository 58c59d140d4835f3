// Test harness: the four simulators behind one router fetch, the app built against them, captured logs.
import type { FetchLike } from "@x/core-signing";
import type { RsaPrivateKey } from "@x/core-signing/rsa";
import { createEbetSimulator, EBET_TEST_PRIVATE_KEY, type EbetSimulator } from "@x/ebet/testing";
import {
  createFunGameSimulator,
  DEFAULT_SIMULATOR_JWT_KEY,
  type FunGameSimulator,
} from "@x/fungame/testing";
import { createLancensSimulator, type LancensSimulator } from "@x/lancens/testing";
import { createOneAccessSimulator, type OneAccessSimulator } from "@x/sdk-auth/testing";
import openApiDocument from "../public/openapi.json" with { type: "json" };
import { MemoryDenyList } from "../src/adapters/memory/deny-list.ts";
import { MemoryRateLimiter } from "../src/adapters/memory/rate-limiter.ts";
import { MemoryReplayGuard } from "../src/adapters/memory/replay-guard.ts";
import { type AppDeps, createApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import type { DenyList } from "../src/ports.ts";
import type { AnyVendor } from "../src/vendors/descriptor.ts";

/**
 * A store kept in one object named `name`, as the deny-list was before sharding: for tests of one
 * object's behaviour through its adapter.
 */
export function oneObject(name: string) {
  return { prefix: name, shards: "legacy" as const, previous: undefined };
}

export const API_KEY = "test-api-key-7f3c9a1e5b";
export const OTHER_API_KEY = "second-key-for-rotation";
export const USER_JWT_SECRET = "user-jwt-secret-for-tests-0123456789abcdef";

export const HOSTS = {
  ebet: "ebet.test",
  fungame: "fungame.test",
  sdkAuth: "oneaccess.test",
  lancens: "lancens.test",
  jwks: "jwks.test",
} as const;

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** A OneAccess simulator is slow to make (RSA key generation): one key for every harness. */
let sdkKey: RsaPrivateKey | undefined;
async function oneAccessSimulator(): Promise<OneAccessSimulator> {
  if (sdkKey === undefined) {
    const first = await createOneAccessSimulator();
    sdkKey = first.privateKey;
    return first;
  }
  return createOneAccessSimulator({ privateKey: sdkKey });
}

export interface Simulators {
  ebet: EbetSimulator;
  fungame: FunGameSimulator;
  sdkAuth: OneAccessSimulator;
  lancens: LancensSimulator;
}

export interface Harness {
  sims: Simulators;
  app: ReturnType<typeof createApp>;
  logs: Record<string, unknown>[];
  /** Every request the proxy sent upstream, by host. */
  upstreamRequests: string[];
  denyList: DenyList;
  env: Record<string, unknown>;
  /** Sends a request to the app; `json` sets the body and content type. */
  request(
    path: string,
    init?: RequestInit & { json?: unknown; bearer?: string },
  ): Promise<Response>;
  /** Rebuilds the app (same simulators) with other env, deps or deny-list. */
  rebuild(options?: HarnessOptions): Harness;
}

export interface HarnessOptions {
  env?: Record<string, unknown>;
  denyList?: DenyList;
  deps?: Partial<AppDeps>;
  /** Wraps the router, e.g. to fake a vendor's 429. */
  wrapFetch?: (router: FetchLike) => FetchLike;
  /** The vendors behind the app, instead of VENDORS. */
  vendors?: readonly AnyVendor[];
}

export async function baseEnv(): Promise<Record<string, unknown>> {
  return {
    EBET_BASE_URL: `https://${HOSTS.ebet}`,
    EBET_CHANNEL_ID: "1",
    EBET_PRIVATE_KEY: EBET_TEST_PRIVATE_KEY,
    FUNGAME_BASE_URL: `https://${HOSTS.fungame}`,
    SDK_AUTH_BASE_URL: `https://${HOSTS.sdkAuth}`,
    SDK_AUTH_CLIENT_ID: "oneaccess-simulator-client",
    LANCENS_BASE_URL: `https://${HOSTS.lancens}:6443`,
    PROXY_API_KEY_SHA256: `${await sha256Hex(OTHER_API_KEY)}, ${await sha256Hex(API_KEY)}`,
    PROXY_JWT_SECRET: USER_JWT_SECRET,
    UPSTREAM_TIMEOUT_MS: "1000",
  };
}

/** Routes a request to the simulator of its host (or the JWKS answer). */
export function routerFor(sims: Simulators, jwks: { body: unknown; status: number }): FetchLike {
  return async (request) => {
    const host = new URL(request.url).hostname;
    switch (host) {
      case HOSTS.ebet:
        return sims.ebet.fetch(request);
      case HOSTS.fungame:
        return sims.fungame.fetch(request);
      case HOSTS.sdkAuth:
        return sims.sdkAuth.fetch(request);
      case HOSTS.lancens:
        return sims.lancens.fetch(request);
      case HOSTS.jwks:
        return Response.json(jwks.body, { status: jwks.status });
      default:
        throw new TypeError(`no route to host ${host}`);
    }
  };
}

/** What the JWKS host answers; tests set `body` to their key set. */
export const jwksAnswer: { body: unknown; status: number } = { body: { keys: [] }, status: 200 };

function build(
  sims: Simulators,
  env: Record<string, unknown>,
  options: HarnessOptions,
  denyList: DenyList,
): Harness {
  const logs: Record<string, unknown>[] = [];
  const upstreamRequests: string[] = [];
  const router = routerFor(sims, jwksAnswer);
  const wrapped = options.wrapFetch ? options.wrapFetch(router) : router;
  const fetch: FetchLike = (request) => {
    upstreamRequests.push(new URL(request.url).host);
    return wrapped(request);
  };
  const config = loadConfig(env, options.vendors);
  const now = options.deps?.now ?? (() => Date.now());
  const app = createApp(config, {
    ...(options.vendors === undefined ? {} : { vendors: options.vendors }),
    fetch,
    denyList,
    random: () => 0,
    // As the local entries do: PROXY_RATE_LIMIT counts in memory, on the app's clock.
    ...(config.rateLimit === undefined
      ? {}
      : { rateLimiter: new MemoryRateLimiter(config.rateLimit, { now }) }),
    log: (line) => logs.push(line),
    openApi: openApiDocument,
    replayGuard: new MemoryReplayGuard({ now }),
    ...options.deps,
  });
  const harness: Harness = {
    sims,
    app,
    logs,
    upstreamRequests,
    denyList,
    env,
    async request(path, init = {}) {
      const { json, bearer, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (json !== undefined) headers.set("content-type", "application/json");
      if (bearer !== undefined) headers.set("authorization", `Bearer ${bearer}`);
      return app.request(path, {
        ...rest,
        method: rest.method ?? (json === undefined ? "GET" : "POST"),
        headers,
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      });
    },
    rebuild(next = {}) {
      return build(
        sims,
        { ...env, ...next.env },
        { ...options, ...next },
        next.denyList ?? denyList,
      );
    },
  };
  return harness;
}

/** Fresh simulators (FunGame user alice, eBET user demo, one OneAccess and one Lancens user) and an app. */
export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const sims: Simulators = {
    ebet: createEbetSimulator(),
    fungame: createFunGameSimulator(),
    sdkAuth: await oneAccessSimulator(),
    lancens: createLancensSimulator(),
  };
  const env = { ...(await baseEnv()), ...options.env };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  return build(sims, env, options, options.denyList ?? new MemoryDenyList());
}

export const FUNGAME_JWT_KEY = DEFAULT_SIMULATOR_JWT_KEY;

/** A device as OneAccess wants it. */
export const DEVICE = {
  osVersion: "Android 14",
  fingerprint: "156aysdna213sc50",
  agent: "tests/1.0",
};

/** Problem documents always carry these members. */
export const PROBLEM_MEMBERS = [
  "type",
  "title",
  "status",
  "detail",
  "vendor",
  "code",
  "kind",
  "retryable",
  "upstreamStatus",
  "requestId",
] as const;

/** Reads a problem answer and checks its shape: content type, members, status consistency. */
export async function readProblem(response: Response): Promise<Record<string, unknown>> {
  const type = response.headers.get("content-type");
  if (type !== "application/problem+json") {
    throw new Error(`expected a problem, got ${response.status} ${type}: ${await response.text()}`);
  }
  const body = (await response.json()) as Record<string, unknown>;
  for (const member of PROBLEM_MEMBERS) {
    if (!(member in body)) throw new Error(`problem lacks ${member}: ${JSON.stringify(body)}`);
  }
  if (body.status !== response.status) throw new Error("problem status differs from HTTP status");
  if (body.requestId !== response.headers.get("x-request-id")) {
    throw new Error("problem requestId differs from X-Request-Id");
  }
  if (JSON.stringify(body).includes("    at ")) throw new Error("problem carries a stack trace");
  return body;
}
