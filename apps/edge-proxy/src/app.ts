// createApp(config, deps) -> Hono: the proxy's HTTP API, with no globals: everything comes in config and deps.
import type { FetchLike } from "@x/core-signing";
import { Hono } from "hono";
import { cors } from "hono/cors";
import { MemoryRateLimiter as RateLimiter } from "./adapters/memory/rate-limiter.ts";
import { MemoryReplayGuard } from "./adapters/memory/replay-guard.ts";
import { CallerAuth } from "./auth.ts";
import type { ProxyConfig } from "./config.ts";
import type { ProxyContext, ProxyEnv, RequestState, RouteContext } from "./context.ts";
import { type AttemptRunner, attemptRunner } from "./delivery.ts";
import type { LogoutOutbox } from "./outbox.ts";
import {
  buildProblem,
  ProblemError,
  type ProblemInit,
  problemResponse,
  toProblemInit,
} from "./problem.ts";
import { refuseQuery } from "./query.ts";
import { rateLimit } from "./rate-limit.ts";
import type { ReplayGuard } from "./replay.ts";
import { ebetRoutes } from "./routes/ebet.ts";
import { fanOutRoutes } from "./routes/fan-out.ts";
import { fungameRoutes } from "./routes/fungame.ts";
import { lancensRoutes } from "./routes/lancens.ts";
import { sdkAuthRoutes } from "./routes/sdk-auth.ts";
import { RetryAfterGate } from "./upstream.ts";
import { type DenyList, errorName, VENDORS, VendorGateway, type VendorName } from "./vendors.ts";

export interface AppDeps {
  /** Upstream calls (vendors, JWKS); defaults to the global fetch. */
  fetch?: FetchLike;
  /** The FunGame deny-list: a Durable Object on Workers, memory elsewhere. */
  denyList: DenyList;
  /** Clock in ms since the epoch; defaults to Date.now. */
  now?: () => number;
  /** Randomness in [0, 1) for retry jitter; defaults to Math.random. */
  random?: () => number;
  /** One JSON-able line per request; defaults to console.log of its JSON. */
  log?: (line: Record<string, unknown>) => void;
  /**
   * Serves the static files: /docs and /openapi.json (public/, written by `npm run build`);
   * undefined when there are none.
   */
  assets?: (request: Request) => Promise<Response | undefined>;
  /**
   * The OpenAPI document to answer /openapi.json with, instead of the static file. The Worker
   * leaves it out and serves the file, so the document is not part of its script.
   */
  openApi?: object | undefined;
  /**
   * The caller's network address for the rate limit: CF-Connecting-IP on Workers, the socket's
   * address on Bun, Deno and Node (behind PROXY_TRUSTED_PROXIES, the client they forwarded for).
   */
  clientAddress?: (c: ProxyContext) => string | undefined;
  /** eBET login notifications already seen: a Durable Object on Workers, memory elsewhere. */
  replayGuard?: ReplayGuard;
  /** Waits between retries (backoff, Retry-After); defaults to a timer that the deadline aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * Makes the outbox of `Prefer: respond-async` logouts from a runner of single vendor attempts;
   * without it the preference is ignored and logouts answer synchronously.
   */
  outbox?: (run: AttemptRunner) => LogoutOutbox;
}

/** Request ids taken from callers: short, printable, no separators that could forge a log field. */
const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}$/;

/** Every route and the methods it answers; anything else on these paths is a 405. */
const ROUTES: ReadonlyArray<readonly [string, string]> = [
  ["/v1/ebet/logout", "POST"],
  ["/v1/ebet/callback", "POST"],
  ["/v1/fungame/logout", "POST"],
  ["/v1/fungame/token-status", "GET"],
  ["/v1/sdk-auth/logout", "POST"],
  ["/v1/lancens/logout", "POST"],
  ["/v1/logout", "POST"],
  ["/v1/logout/:id", "GET"],
  ["/healthz", "GET"],
  ["/openapi.json", "GET"],
  ["/docs", "GET"],
  ["/docs/*", "GET"],
];

const DOCS_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

function serverTiming(state: RequestState, totalMs: number): string {
  const parts = [`total;dur=${totalMs}`];
  for (const report of state.upstream) {
    parts.push(`${report.vendor};dur=${report.durationMs};desc="${report.attempts} attempt(s)"`);
  }
  return parts.join(", ");
}

export function createApp(config: ProxyConfig, deps: AppDeps): Hono<ProxyEnv> {
  const baseFetch: FetchLike = deps.fetch ?? ((request) => fetch(request));
  const now = deps.now ?? (() => Date.now());
  const random = deps.random ?? Math.random;
  const write = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  // A failing log sink must never fail a request.
  const log = (line: Record<string, unknown>) => {
    try {
      write(line);
    } catch {
      // nothing sensible to do: the answer still goes out
    }
  };
  const gate = new RetryAfterGate(now);
  const fetchFor =
    (vendor: VendorName): FetchLike =>
    async (request) => {
      const response = await baseFetch(request);
      gate.observe(vendor, response);
      return response;
    };
  const gateway = new VendorGateway(config, { fetchFor, denyList: deps.denyList, now, log });
  const auth = new CallerAuth(config.auth, {
    fetch: baseFetch,
    now,
    timeoutMs: config.upstreamTimeoutMs,
  });

  const app = new Hono<ProxyEnv>();

  const deadlineOf = (state: RequestState) => {
    if (state.deadline === undefined) {
      const controller = new AbortController();
      const at = state.startedAt + config.upstreamDeadlineMs;
      const timer = setTimeout(
        () => controller.abort(new Error("deadline")),
        Math.max(0, at - now()),
      );
      state.deadline = { controller, timer, at };
    }
    return state.deadline;
  };

  const outbox = deps.outbox?.(
    attemptRunner({ config, fetch: baseFetch, denyList: deps.denyList, now, random, log }),
  );
  const ctx: RouteContext = {
    gateway,
    auth,
    replay: deps.replayGuard ?? new MemoryReplayGuard({ now }),
    outbox,
    callerAuthConfigured:
      config.auth.apiKeyDigests.length > 0 ||
      config.auth.jwksUrl !== undefined ||
      config.auth.jwtSecret !== undefined,
    clientAddress: (c) => deps.clientAddress?.(c),
    begin(c, route, vendors) {
      const state = c.get("state");
      state.route = route;
      state.vendors = vendors;
    },
    upstreamFor(c) {
      const state = c.get("state");
      return (vendor) => {
        const deadline = deadlineOf(state);
        return {
          fetch: fetchFor(vendor),
          gate,
          now,
          random,
          timeoutMs: config.upstreamTimeoutMs,
          deadlineAt: deadline.at,
          deadlineMs: config.upstreamDeadlineMs,
          signal: deadline.controller.signal,
          report: (report) => state.upstream.push(report),
          ...(deps.sleep === undefined ? {} : { sleep: deps.sleep }),
        };
      };
    },
  };

  const renderProblem = (c: ProxyContext, init: ProblemInit): Response => {
    const state = c.get("state");
    const single = state.vendors.length === 1 ? state.vendors[0] : undefined;
    const withVendor: ProblemInit = { ...init, vendor: init.vendor ?? single };
    // Tell the caller when the vendor asked for a pause, unless the proxy already asks for longer.
    if (withVendor.kind === "rate_limited" || withVendor.kind === "unavailable") {
      const seconds = withVendor.vendor ? gate.retryAfterSeconds(withVendor.vendor) : undefined;
      const ours = Number(withVendor.headers?.["retry-after"] ?? 0);
      if (seconds !== undefined && seconds > ours) {
        withVendor.headers = { ...withVendor.headers, "retry-after": String(seconds) };
      }
    }
    state.problem = { code: withVendor.code, kind: withVendor.kind };
    return problemResponse(buildProblem(withVendor, state.requestId));
  };

  // Request id, deadline clean-up, headers and the one log line per request.
  app.use("*", async (c, next) => {
    const startedAt = now();
    const offered = c.req.header("x-request-id");
    const valid = offered === undefined || REQUEST_ID.test(offered);
    const state: RequestState = {
      requestId: offered !== undefined && valid ? offered : crypto.randomUUID(),
      startedAt,
      route: undefined,
      vendors: [],
      upstream: [],
      problem: undefined,
      deadline: undefined,
    };
    c.set("state", state);
    if (!valid) {
      c.res = renderProblem(c, {
        kind: "invalid_request",
        code: "INVALID_REQUEST_ID",
        detail: "X-Request-Id must be 1 to 128 characters: letters, digits and . _ : + = / -",
        field: "X-Request-Id",
      });
    } else {
      await next();
    }
    if (state.deadline !== undefined) clearTimeout(state.deadline.timer);
    const latencyMs = now() - startedAt;
    // Answers from static assets have immutable headers: copy before decorating.
    let response = c.res;
    try {
      response.headers.set("x-request-id", state.requestId);
    } catch {
      response = new Response(response.body, response);
      response.headers.set("x-request-id", state.requestId);
    }
    response.headers.set("server-timing", serverTiming(state, latencyMs));
    c.res = response;
    const last = state.upstream[state.upstream.length - 1];
    log({
      at: new Date(now()).toISOString(),
      requestId: state.requestId,
      method: c.req.method,
      route: state.route ?? null,
      vendor:
        state.vendors.length === 0
          ? null
          : state.vendors.length === 1
            ? state.vendors[0]
            : state.vendors,
      status: response.status,
      upstreamStatus: state.upstream.length > 1 ? null : (last?.upstreamStatus ?? null),
      latencyMs,
      retries: state.upstream.reduce((sum, report) => sum + report.retries, 0),
      ...(state.upstream.length > 1
        ? {
            upstream: Object.fromEntries(
              state.upstream.map((report) => [
                report.vendor,
                {
                  upstreamStatus: report.upstreamStatus ?? null,
                  retries: report.retries,
                  latencyMs: report.durationMs,
                  ...(report.code === undefined ? {} : { code: report.code }),
                },
              ]),
            ),
          }
        : {}),
      ...(state.problem === undefined
        ? {}
        : { code: state.problem.code, kind: state.problem.kind }),
    });
  });

  if (config.corsOrigins.length > 0) {
    const origins = config.corsOrigins;
    app.use(
      "*",
      cors({
        origin: origins.length === 1 && origins[0] === "*" ? "*" : origins,
        allowMethods: ["GET", "POST", "OPTIONS"],
        allowHeaders: ["authorization", "content-type", "x-request-id", "prefer"],
        exposeHeaders: [
          "x-request-id",
          "server-timing",
          "retry-after",
          "ratelimit",
          "ratelimit-policy",
          "location",
          "preference-applied",
        ],
        maxAge: 600,
      }),
    );
  }

  // Per-caller rate limit (PROXY_RATE_LIMIT), after CORS so that a 429 is readable by browsers.
  if (config.rateLimit !== undefined) {
    const limiter = new RateLimiter(config.rateLimit, { now });
    app.use("*", rateLimit({ limiter, auth, clientAddress: ctx.clientAddress }));
  }

  // API answers are per-caller: never cached by intermediaries.
  app.use("/v1/*", async (c, next) => {
    await next();
    c.res.headers.set("cache-control", "no-store");
  });

  // No API route takes query parameters: each one sent is refused by name.
  app.use("/v1/*", refuseQuery);

  ebetRoutes(app, ctx);
  fungameRoutes(app, ctx);
  sdkAuthRoutes(app, ctx);
  lancensRoutes(app, ctx);
  fanOutRoutes(app, ctx);

  app.get("/healthz", (c) => {
    ctx.begin(c, "/healthz", []);
    return c.json({
      status: "ok",
      vendors: Object.fromEntries(VENDORS.map((vendor) => [vendor, gateway.configured(vendor)])),
    });
  });

  app.get("/openapi.json", async (c) => {
    ctx.begin(c, "/openapi.json", []);
    if (deps.openApi !== undefined) return c.json(deps.openApi);
    const answer = deps.assets
      ? await deps.assets(new Request(new URL("/openapi.json", c.req.url)))
      : undefined;
    if (answer === undefined || answer.status !== 200) {
      throw new ProblemError({
        kind: "not_found",
        code: "OPENAPI_NOT_AVAILABLE",
        detail: "the OpenAPI document is not served by this entry; run npm run build",
      });
    }
    const response = new Response(answer.body, answer);
    response.headers.set("content-type", "application/json; charset=utf-8");
    return response;
  });

  const serveDocs = async (c: ProxyContext) => {
    ctx.begin(c, "/docs", []);
    const url = new URL(c.req.url);
    if (url.pathname === "/docs" || url.pathname === "/docs/") url.pathname = "/docs/index.html";
    const answer = deps.assets
      ? await deps.assets(new Request(url, { method: "GET", headers: c.req.raw.headers }))
      : undefined;
    if (answer === undefined || answer.status === 404) {
      throw new ProblemError({
        kind: "not_found",
        code: deps.assets ? "ASSET_NOT_FOUND" : "DOCS_NOT_AVAILABLE",
        detail: deps.assets
          ? `no such documentation file: ${url.pathname}`
          : "the documentation assets are not served by this entry",
      });
    }
    const response = new Response(answer.body, answer);
    response.headers.set("content-security-policy", DOCS_CSP);
    response.headers.set("x-content-type-options", "nosniff");
    return response;
  };
  app.get("/docs", serveDocs);
  app.get("/docs/*", serveDocs);

  // Known paths with another method: 405 with Allow.
  const allowed = new Map<string, string[]>();
  for (const [path, method] of ROUTES) allowed.set(path, [...(allowed.get(path) ?? []), method]);
  for (const [path, methods] of allowed) {
    const allow = [...methods, ...(methods.includes("GET") ? ["HEAD"] : [])].join(", ");
    app.all(path, (c) =>
      renderProblem(c, {
        kind: "method_not_allowed",
        code: "METHOD_NOT_ALLOWED",
        detail: `${c.req.method} is not allowed here; use ${allow}`,
        headers: { allow },
      }),
    );
  }

  app.notFound((c) =>
    renderProblem(c, {
      kind: "not_found",
      code: "ROUTE_NOT_FOUND",
      detail: `no route for ${c.req.method} ${new URL(c.req.url).pathname}; see /openapi.json`,
    }),
  );

  app.onError((error, c) => {
    const init = toProblemInit(error);
    if (init.kind === "internal") {
      log({
        event: "unexpected_error",
        requestId: c.get("state")?.requestId ?? null,
        error: errorName(error),
      });
    }
    return renderProblem(c, init);
  });

  return app;
}
