// createApp(config, deps) -> Hono: the proxy's HTTP API, with no globals: everything comes in config and deps.
import type { FetchLike } from "@x/core-signing";
import { Hono } from "hono/tiny";
import { CallerAuth } from "./auth.ts";
import { callerAuthConfigured, type ProxyConfig } from "./config.ts";
import type { ProxyContext, ProxyEnv, RequestState, RouteContext } from "./context.ts";
import { type AttemptRunner, attemptRunner } from "./delivery.ts";
import { cors } from "./http/cors.ts";
import { REQUEST_ID } from "./http/request-id.ts";
import { allRoutes } from "./http/routes.ts";
import type { DenyList, LogoutOutbox, MetricsSink, RateLimiter, ReplayGuard } from "./ports.ts";
import {
  buildProblem,
  errorName,
  type ProblemInit,
  problemResponse,
  redactCode,
  toProblemInit,
} from "./problem.ts";
import { refuseQuery } from "./query.ts";
import { rateLimit } from "./rate-limit.ts";
import type { UniversalLogout } from "./routes/universal-logout.ts";
import { callMetric, type ProxyRuntime, proxyRuntime } from "./runtime.ts";
import { LogoutProviders } from "./universal-logout/logout-token.ts";
import type { SessionRegistry } from "./universal-logout/registry.ts";
import { trustedIssuers } from "./universal-logout/settings.ts";
import type { AnyVendor } from "./vendors/descriptor.ts";
import { VENDORS } from "./vendors/index.ts";

export interface AppDeps {
  /** The vendors behind this app; defaults to VENDORS. */
  vendors?: readonly AnyVendor[];
  /** Upstream calls (vendors, JWKS); defaults to the global fetch. */
  fetch?: FetchLike;
  /** The FunGame deny-list: a Durable Object on Workers, memory elsewhere. */
  denyList: DenyList;
  /** Clock in ms since the epoch; defaults to Date.now. */
  now?: () => number;
  /** Where each vendor call's figures go (Workers Analytics Engine); none by default. */
  metrics?: MetricsSink;
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
  /**
   * eBET login notifications and logout tokens already seen, for every instance: Durable Objects on
   * Workers, the store (SQLite, PostgreSQL, Deno KV) elsewhere; memory only for tests and demos.
   */
  replayGuard: ReplayGuard;
  /**
   * The per-caller rate limit (PROXY_RATE_LIMIT): Cloudflare's Rate Limiting binding on Workers,
   * token buckets in memory elsewhere. Required when the configuration sets a rate limit.
   */
  rateLimiter?: RateLimiter;
  /** Waits between retries (backoff, Retry-After); defaults to a timer that the deadline aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /**
   * Makes the outbox of `Prefer: respond-async` logouts from a runner of single vendor attempts and
   * the app's vendors; without it the preference is ignored and logouts answer synchronously.
   */
  outbox?: (run: AttemptRunner, vendors: readonly AnyVendor[]) => LogoutOutbox;
  /**
   * The session registry of universal logout (config.universalLogout); without it the
   * universal-logout routes answer 404 UNIVERSAL_LOGOUT_OFF.
   */
  registry?: SessionRegistry;
}

function serverTiming(state: RequestState, totalMs: number): string {
  const parts = [`total;dur=${totalMs}`];
  for (const report of state.upstream) {
    parts.push(`${report.vendor};dur=${report.durationMs};desc="${report.attempts} attempt(s)"`);
  }
  return parts.join(", ");
}

export function createApp(config: ProxyConfig, deps: AppDeps): Hono<ProxyEnv> {
  // A rate limit the configuration asks for is never silently dropped.
  if (config.rateLimit !== undefined && deps.rateLimiter === undefined) {
    throw new TypeError("PROXY_RATE_LIMIT needs deps.rateLimiter");
  }
  const runtime: ProxyRuntime = proxyRuntime(config, {
    vendors: deps.vendors ?? VENDORS,
    denyList: deps.denyList,
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    ...(deps.now === undefined ? {} : { now: deps.now }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
    ...(deps.log === undefined ? {} : { log: deps.log }),
    ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
  });
  const { gate, gateway, now, log } = runtime;
  const auth = new CallerAuth(config.auth, {
    fetch: runtime.fetch,
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

  const outbox: LogoutOutbox | undefined = deps.outbox?.(attemptRunner(runtime), gateway.vendors);
  const upstreamFor: RouteContext["upstreamFor"] = (c) => {
    const state = c.get("state");
    return (vendor) => {
      const deadline = deadlineOf(state);
      return runtime.upstream(vendor, {
        at: deadline.at,
        signal: deadline.controller.signal,
        report: (report) => state.upstream.push(report),
        ...(deps.sleep === undefined ? {} : { sleep: deps.sleep }),
      });
    };
  };
  const settings = config.universalLogout;
  if (
    globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__ !== false &&
    settings !== undefined &&
    deps.registry === undefined
  ) {
    throw new TypeError("UNIVERSAL_LOGOUT_* needs deps.registry");
  }
  const universal: UniversalLogout | undefined =
    globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__ === false ||
    settings === undefined ||
    deps.registry === undefined
      ? undefined
      : {
          settings,
          registry: deps.registry,
          providers: new LogoutProviders(settings.oidc, {
            fetch: runtime.fetch,
            now,
            timeoutMs: config.upstreamTimeoutMs,
          }),
          issuers: trustedIssuers(settings),
          fetch: runtime.fetch,
          now,
        };
  const ctx: RouteContext = {
    vendors: gateway.vendors,
    auth,
    replay: deps.replayGuard,
    outbox,
    universal,
    callerAuthConfigured: callerAuthConfigured(config),
    clientAddress: (c) => deps.clientAddress?.(c),
    begin(c, route, vendors) {
      const state = c.get("state");
      state.route = route;
      state.vendors = vendors;
    },
    upstreamFor,
    vendor: (name) => gateway.instance(name),
    descriptor: (name) => gateway.descriptor(name),
    configured: (name) => gateway.configured(name),
    assets: deps.assets,
    openApi: deps.openApi,
    logoutCall(c, vendor, field, input) {
      c.get("state").secrets.push(...gateway.descriptor(vendor).secrets(input));
      return {
        upstream: upstreamFor(c)(vendor),
        field,
        claimId: crypto.randomUUID(),
        retry: false,
      };
    },
    conceal(c, ...values) {
      c.get("state").secrets.push(...values);
    },
  };

  const routeNotFound = (c: ProxyContext): Response =>
    renderProblem(c, {
      kind: "not_found",
      code: "ROUTE_NOT_FOUND",
      detail: `no route for ${c.req.method} ${new URL(c.req.url).pathname}; see /openapi.json`,
    });

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
      requestId: valid && offered !== undefined ? offered : crypto.randomUUID(),
      startedAt,
      route: undefined,
      vendors: [],
      upstream: [],
      secrets: [],
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
    for (const report of state.upstream) {
      runtime.metric(() => callMetric(report, "request", state.route ?? "", state.secrets));
    }
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
                  ...(report.code === undefined
                    ? {}
                    : { code: redactCode(report.code, state.secrets) }),
                },
              ]),
            ),
          }
        : {}),
      ...(state.problem === undefined
        ? {}
        : { code: redactCode(state.problem.code, state.secrets), kind: state.problem.kind }),
      ...(globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__ === false || state.trigger === undefined
        ? {}
        : state.trigger),
    });
  });

  if (config.corsOrigins.length > 0) app.use("*", cors(config.corsOrigins));

  // Per-caller rate limit (PROXY_RATE_LIMIT), after CORS so that a 429 is readable by browsers.
  const limiter = deps.rateLimiter;
  if (limiter !== undefined) {
    app.use("*", rateLimit({ limiter, auth, clientAddress: ctx.clientAddress, log }));
  }

  // API answers are per-caller: never cached by intermediaries.
  app.use("/v1/*", async (c, next) => {
    await next();
    c.res.headers.set("cache-control", "no-store");
  });

  // No API route takes query parameters: each one sent is refused by name.
  app.use("/v1/*", refuseQuery);

  // Each route has one spelling: the router would also match a path with a trailing slash. Checked
  // after CORS, the rate limit and no-store, so that this 404 is answered like any other.
  app.use("*", async (c, next) => {
    const path = c.req.path;
    if (path.length > 1 && path.endsWith("/") && path !== "/docs/") return routeNotFound(c);
    await next();
  });

  // Every declared route: the vendors' own, the fan-out's, and the operations routes.
  const routes = allRoutes(gateway.vendors);
  for (const route of routes) {
    const handle = (c: ProxyContext) => route.handle(c, ctx);
    if (route.method === "GET") app.get(route.path, handle);
    else if (route.method === "DELETE") app.delete(route.path, handle);
    else app.post(route.path, handle);
  }

  // Known paths with another method: 405 with Allow.
  const allowed = new Map<string, string[]>();
  for (const { path, method } of routes) {
    allowed.set(path, [...(allowed.get(path) ?? []), method]);
  }
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

  app.notFound(routeNotFound);

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
