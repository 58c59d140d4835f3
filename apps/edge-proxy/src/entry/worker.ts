// Cloudflare Workers entry: the app per isolate from env, the Durable Object deny-list, static /docs assets.
import type { Hono } from "hono";
import { metricsOf } from "../adapters/workers/metrics.ts";
import { type WorkerEnv, workerStores } from "../adapters/workers/stores.ts";
import { createApp } from "../app.ts";
import { ConfigError, type ConfigIssue, loadConfig } from "../config.ts";
import type { ProxyEnv } from "../context.ts";
import { requestIdOf } from "../http/request-id.ts";
import { buildProblem, problemResponse } from "../problem.ts";

// Every Durable Object class wrangler.toml names. The deny-list and the replay guard are one
// implementation (ExpiringSetObject) under the class names their namespaces (and stored data) were
// created with, each keeping the methods the previous version's Worker calls on it.
export { DenyListObject } from "../adapters/workers/deny-list.ts";
export { OpenJobsObject } from "../adapters/workers/open-jobs.ts";
export { LogoutOutboxObject } from "../adapters/workers/outbox.ts";
export { SessionRegistryObject } from "../adapters/workers/registry.ts";
export { ReplayGuardObject } from "../adapters/workers/replay-guard.ts";

export type { WorkerBindings, WorkerEnv } from "../adapters/workers/stores.ts";

let cached: { env: WorkerEnv; app: Hono<ProxyEnv> } | undefined;

/** The app for this env, built once per isolate (vendor keys are imported once). */
export function appFor(env: WorkerEnv): Hono<ProxyEnv> {
  if (cached?.env === env) return cached.app;
  const config = loadConfig(env);
  // What only Workers refuse, every one named at once.
  const issues: ConfigIssue[] = [];
  if (config.trustedProxies.length > 0) {
    // Cloudflare's edge sets CF-Connecting-IP itself: no forwarded header is read here.
    issues.push({
      name: "PROXY_TRUSTED_PROXIES",
      message: "is not read on Workers (CF-Connecting-IP is)",
    });
  }
  for (const name of ["UNIVERSAL_LOGOUT_OIDC", "UNIVERSAL_LOGOUT_SSF", "UNIVERSAL_LOGOUT_GTR"]) {
    const value = (env as unknown as Record<string, unknown>)[name];
    if (value !== undefined && value !== "") {
      issues.push({
        name,
        message: "universal logout runs on the Bun, Deno and Node entries; not on Workers yet",
      });
    }
  }
  const stores = workerStores(env, config);
  issues.push(...stores.issues);
  if (issues.length > 0) throw new ConfigError(issues);
  const assets = env.ASSETS;
  const { outbox, replayGuard, rateLimiter } = stores;
  const metrics = metricsOf(env);
  const app = createApp(config, {
    denyList: stores.denyList,
    ...(metrics === undefined ? {} : { metrics }),
    // Set by Cloudflare's edge for every request; callers cannot forge it.
    clientAddress: (c) => c.req.header("cf-connecting-ip"),
    ...(replayGuard === undefined ? {} : { replayGuard }),
    // Cloudflare's Rate Limiting binding: one count per caller for every isolate of a location.
    ...(rateLimiter === undefined ? {} : { rateLimiter }),
    ...(outbox === undefined ? {} : { outbox: () => outbox }),
    ...(assets === undefined
      ? {}
      : {
          assets: async (request: Request) => {
            const response = await assets.fetch(request);
            return response.status === 404 ? undefined : response;
          },
        }),
  });
  cached = { env, app };
  return app;
}

/** A configuration that does not validate: a 500 problem naming each variable, never its value. */
function configProblem(request: Request, error: ConfigError): Response {
  const requestId = requestIdOf(request.headers.get("x-request-id"));
  console.log(
    JSON.stringify({
      event: "config_invalid",
      requestId,
      variables: error.issues.map((i) => i.name),
    }),
  );
  return problemResponse(
    buildProblem(
      {
        kind: "misconfigured",
        code: "CONFIG_INVALID",
        detail: `the proxy's configuration is invalid: ${error.issues.map((i) => i.name).join(", ")}`,
        extensions: { errors: error.issues.map((i) => ({ field: i.name, message: i.message })) },
        headers: { "x-request-id": requestId },
      },
      requestId,
    ),
  );
}

export default {
  async fetch(request, env, ctx): Promise<Response> {
    let app: Hono<ProxyEnv>;
    try {
      app = appFor(env);
    } catch (error) {
      if (error instanceof ConfigError) return configProblem(request, error);
      throw error;
    }
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<WorkerEnv>;
