// Cloudflare Workers entry: the app per isolate from env, the Durable Object deny-list, static /docs assets.
import { DurableObject } from "cloudflare:workers";
import type { Hono } from "hono";
import { metricsOf } from "../adapters/workers/metrics.ts";
import {
  DurableObjectSessionRegistry,
  SessionRegistryObject as RegistryObject,
} from "../adapters/workers/registry.ts";
import { placementOf } from "../adapters/workers/shards.ts";
import { type WorkerEnv, workerStores } from "../adapters/workers/stores.ts";
import { createApp } from "../app.ts";
import { ConfigError, type ConfigIssue, loadConfig, type ProxyConfig } from "../config.ts";
import type { ProxyEnv } from "../context.ts";
import { requestIdOf } from "../http/request-id.ts";
import { buildProblem, problemResponse } from "../problem.ts";
import { importSealingKeys, type SealingKeys } from "../sealed.ts";
import type { SessionRegistry } from "../universal-logout/registry.ts";
import { UNIVERSAL_LOGOUT_VARIABLES } from "../universal-logout/settings.ts";

// Every Durable Object class wrangler.toml names. The deny-list and the replay guard are one
// implementation (ExpiringSetObject) under the class names their namespaces (and stored data) were
// created with, each keeping the methods the previous version's Worker calls on it.
export { DenyListObject } from "../adapters/workers/deny-list.ts";
export { OpenJobsObject } from "../adapters/workers/open-jobs.ts";
export { LogoutOutboxObject } from "../adapters/workers/outbox.ts";
export { ReplayGuardObject } from "../adapters/workers/replay-guard.ts";

/**
 * The registry's class in a script built without universal logout (the default: see
 * UNIVERSAL_LOGOUT_BUILD): it holds nothing of its own, and what a universal-logout build stored
 * stays sealed in its objects. An alarm that build set is moved on a day at a time, so that once
 * such a build is deployed again, its own alarm deletes the rows that expired meanwhile.
 */
class SessionRegistryObjectWithout extends DurableObject {
  override async alarm(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + 86_400_000);
  }
}

/** The session registry's objects (SESSION_REGISTRY), whichever way the script is built. */
export class SessionRegistryObject extends ((globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__ === false
  ? SessionRegistryObjectWithout
  : RegistryObject) as typeof RegistryObject) {}

/** How to deploy a script with universal logout, for the message of a script without it. */
const UNIVERSAL_LOGOUT_BUILD = "needs the script of npm run deploy:universal-logout";

export type { WorkerBindings, WorkerEnv } from "../adapters/workers/stores.ts";

let cached: { env: WorkerEnv; app: Promise<Hono<ProxyEnv>> } | undefined;

/** The app for this env, built once per isolate (vendor keys are imported once). */
export function appFor(env: WorkerEnv): Promise<Hono<ProxyEnv>> {
  if (cached?.env !== env) {
    const app = buildApp(env);
    cached = { env, app };
    // A configuration that does not validate stays refused for this env; any other failure is
    // tried again at the next request.
    app.catch((error) => {
      if (!(error instanceof ConfigError) && cached?.app === app) cached = undefined;
    });
  }
  return cached.app;
}

async function buildApp(env: WorkerEnv): Promise<Hono<ProxyEnv>> {
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
  const stores = workerStores(env, config);
  issues.push(...stores.issues);
  const registry =
    globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__ === false
      ? withoutUniversalLogout(env, issues)
      : await registryOf(env, config.universalLogout, stores.outbox, issues);
  const { outbox, replayGuard, rateLimiter } = stores;
  if (issues.length > 0 || replayGuard === undefined) throw new ConfigError(issues);
  const assets = env.ASSETS;
  const metrics = metricsOf(env);
  return createApp(config, {
    denyList: stores.denyList,
    ...(metrics === undefined ? {} : { metrics }),
    // Set by Cloudflare's edge for every request; callers cannot forge it.
    clientAddress: (c) => c.req.header("cf-connecting-ip"),
    replayGuard,
    // Cloudflare's Rate Limiting binding: one count per caller for every isolate of a location.
    ...(rateLimiter === undefined ? {} : { rateLimiter }),
    ...(outbox === undefined ? {} : { outbox: () => outbox }),
    ...(globalThis.__EDGE_PROXY_UNIVERSAL_LOGOUT__ === false || registry === undefined
      ? {}
      : { registry }),
    ...(assets === undefined
      ? {}
      : {
          assets: async (request: Request) => {
            const response = await assets.fetch(request);
            return response.status === 404 ? undefined : response;
          },
        }),
  });
}

/** A script built without universal logout refuses its variables, each by name. */
function withoutUniversalLogout(env: WorkerEnv, issues: ConfigIssue[]): undefined {
  for (const name of UNIVERSAL_LOGOUT_VARIABLES) {
    if (env[name]) issues.push({ name, message: UNIVERSAL_LOGOUT_BUILD });
  }
  return undefined;
}

/**
 * The session registry when universal logout is configured: its Durable Objects, registrations
 * sealed under PROXY_STORE_KEYS, logouts queued in the outbox, tokens claimed once in the shared
 * replay guard. What it lacks is added to `issues`, each by name.
 */
async function registryOf(
  env: WorkerEnv,
  settings: ProxyConfig["universalLogout"],
  outbox: unknown,
  issues: ConfigIssue[],
): Promise<SessionRegistry | undefined> {
  if (settings === undefined) return undefined;
  const needs = (name: string, message: string) => issues.push({ name, message });
  const why = "universal logout (UNIVERSAL_LOGOUT_*) needs it";
  if (env.SESSION_REGISTRY === undefined)
    needs("SESSION_REGISTRY", `${why}: the binding of the registered sessions`);
  if (env.LOGOUT_OUTBOX === undefined) {
    needs("LOGOUT_OUTBOX", `${why}: the binding its logouts are queued in`);
    // With LOGOUT_OUTBOX, workerStores names a missing OPEN_JOBS itself.
    if (env.OPEN_JOBS === undefined) needs("OPEN_JOBS", "is required with LOGOUT_OUTBOX");
  }
  // REPLAY_GUARD, which takes each logout token's jti once for every isolate, is required anyway.
  const keys = env.PROXY_STORE_KEYS;
  const sealing: SealingKeys | ConfigIssue =
    typeof keys === "string" && keys !== ""
      ? await importSealingKeys(keys, "PROXY_STORE_KEYS")
      : {
          name: "PROXY_STORE_KEYS",
          message: `${why}: the keys the registered sessions are sealed under`,
        };
  if ("message" in sealing) issues.push(sealing);
  if (
    issues.length > 0 ||
    outbox === undefined ||
    "message" in sealing ||
    env.SESSION_REGISTRY === undefined
  ) {
    return undefined;
  }
  return new DurableObjectSessionRegistry(env.SESSION_REGISTRY, {
    sealing,
    limits: settings.limits,
    // Registrations hold vendor tokens: their objects follow DURABLE_OBJECT_JURISDICTION and
    // DURABLE_OBJECT_LOCATION_HINT, as the deny-list's do.
    placement: placementOf(env, "DENY_LIST").placement,
    // A registration that could not be put back after a failed take, or not opened (sealed under a
    // key PROXY_STORE_KEYS no longer has): named by its error only.
    onError: (error) =>
      console.log(
        JSON.stringify({
          event: "registry_error",
          error: String((error as Error)?.name ?? error),
        }),
      ),
  });
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
      app = await appFor(env);
    } catch (error) {
      if (error instanceof ConfigError) return configProblem(request, error);
      throw error;
    }
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<WorkerEnv>;
