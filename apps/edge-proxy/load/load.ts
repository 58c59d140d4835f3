// The load run: logouts through the proxy in workerd against the simulators, each for a user or token
// of its own, then proof that every accepted logout reached its vendor exactly once (retries
// excepted, and counted) and that every FunGame revocation is on the proxy's deny-list.
//
// Used by load/run.ts (`npm run load`: 10,000 logouts at concurrency 100 per subject) and by
// test-node/load.test.ts (a smaller run in `npm test`). Processes and helpers are the benchmark's
// (bench/shared.ts): the simulators run in a process of their own (bench/simulators.ts), the proxy
// is the deployed bundle in workerd through Miniflare (as `wrangler dev` runs it, without wrangler
// dev's own proxy, which stops answering after some ten thousand logged requests:
// load/wrangler-dev-repro/), and the load comes from autocannon; everything on 127.0.0.1. Every
// subject and every deny-list question runs in one life of workerd.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bundleWorker,
  control,
  type LoadAnswer,
  loadMiniflare,
  miniflareOptions,
  miniflareRuntime,
  type ProcessGroup,
  prepare,
  runLoad,
  type Simulators,
  startSimulators,
  startWorkerd,
  stopSimulators,
  type Workerd,
} from "../bench/shared.ts";
import type { RequestSpec, Vendor } from "../bench/simulators.ts";

/** What one load run sends: one vendor's logout route, or the fan-out naming all four. */
export type Subject = Vendor | "fanout";
export const SUBJECTS: readonly Subject[] = ["ebet", "fungame", "sdk-auth", "lancens", "fanout"];
const ALL_VENDORS: readonly Vendor[] = ["ebet", "fungame", "sdk-auth", "lancens"];

/** The figures of one subject's run. */
export interface LoadFigures {
  subject: Subject;
  /** Logouts to send. */
  requests: number;
  /** Logouts that did not get their success answer (an error status, a failed member, no answer). */
  errors: number;
  /** Logouts answered as done whose effect is missing at the vendor or on the deny-list. */
  lost: number;
  /** Vendor calls beyond one per logout plus the retries the proxy reported for it. */
  duplicates: number;
  /** Retries the proxy reported (Server-Timing: attempts per vendor, minus one). */
  retries: number;
  /** Logouts answered per second, first request to last answer. */
  rps: number;
  /** 99th percentile of the answer time, ms (autocannon's). */
  p99Ms: number;
  /** FunGame tokens the proxy answered as revoked after the run. */
  denyListChecked: number;
  /** Whether workerd ran in one life from the first logout to the last deny-list answer. */
  oneLife: boolean;
  /** Lines the Worker logged meanwhile, each read from workerd (a line per request). */
  logLines: number;
  /** The FunGame tokens answered as revoked (for the check after a restart). */
  revokedTokens: string[];
  /** The first few things that went wrong, for the report. */
  problems: string[];
}

/** The simulators' logout calls since the last /prepare (bench/simulators.ts /audit). */
interface Audit {
  ebet: { username: string | null; ok: boolean }[];
  fungame: { logoutCalls: number; revokedJtis: string[] };
  "sdk-auth": { sessionToken: string | null; ok: boolean }[];
  lancens: { route: string; username: string | null; ok: boolean }[];
}

/** What one logout names at each vendor: the key its simulator logs it under. */
interface Identity {
  ebet?: string;
  fungame?: { token: string; jti: string };
  "sdk-auth"?: string;
  lancens?: string;
}

/** The lines the Worker logged, each read from workerd as it came. */
export interface WorkerLogs {
  /** Lines read since start. */
  count: number;
  /** The last few hundred, for reports. */
  recent: string[];
}

/** The simulators and the proxy in workerd, running. */
export interface LoadEnvironment {
  sims: Simulators;
  /** The proxy's current life in workerd. */
  proxy: Workerd;
  /** What runs the proxy, for the report. */
  runtime: string;
  logs: WorkerLogs;
  /** The temporary folder of the bundle and the Durable Objects' state; removed on stop. */
  folder: string;
  /**
   * Stops workerd and starts it again on the same state folder (Durable Objects kept) and the same
   * bundle; `proxy` is the new life afterwards. Only for checkDenyListAfterRestart, after every
   * subject: the subjects and their checks run in one life.
   */
  restart(): Promise<void>;
  /** Stops both, gracefully, and removes the temporary folder; safe to call twice. */
  stop(): Promise<void>;
  /** Kills both at once (for process exit handlers); synchronous. */
  killNow(): void;
}

/**
 * Starts the simulators (bench/simulators.ts) and the proxy against them: the deployed bundle in
 * workerd through Miniflare, with wrangler.toml's bindings and the simulators' environment, its
 * Durable Objects persisted in a temporary folder.
 */
export async function startLoadEnvironment(
  options: { quiet?: boolean } = {},
): Promise<LoadEnvironment> {
  const folder = mkdtempSync(join(tmpdir(), "edge-proxy-load-"));
  let child: ChildProcess | undefined;
  const builds = new Set<ProcessGroup>();
  let proxy: Workerd | undefined;
  let stopped = false;
  const logs: WorkerLogs = { count: 0, recent: [] };
  const onLog = (line: string) => {
    logs.count++;
    logs.recent.push(line);
    if (logs.recent.length > 400) logs.recent.splice(0, 200);
  };
  const killNow = () => {
    for (const group of builds) {
      try {
        process.kill(-(group.child.pid as number), "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    for (const pid of proxy?.pids ?? []) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    child?.kill("SIGKILL");
    rmSync(folder, { recursive: true, force: true });
  };
  try {
    const sims = await startSimulators(
      (started) => {
        child = started;
      },
      { quiet: options.quiet ?? false },
    );
    const script = await bundleWorker(folder, {
      onStart: (group) => builds.add(group),
      onStop: (group) => builds.delete(group),
    });
    const miniflare = await loadMiniflare();
    const start = () =>
      startWorkerd(
        miniflare,
        miniflareOptions(miniflare, script, sims.env, { persistTo: join(folder, "state"), onLog }),
      );
    proxy = await start();
    const environment: LoadEnvironment = {
      sims,
      proxy,
      runtime: `${miniflareRuntime()}, the deployed bundle`,
      logs,
      folder,
      killNow,
      async restart() {
        await environment.proxy.stop();
        proxy = await start();
        environment.proxy = proxy;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await environment.proxy.stop();
        await stopSimulators(child);
        rmSync(folder, { recursive: true, force: true });
      },
    };
    return environment;
  } catch (error) {
    killNow();
    await stopSimulators(child);
    throw error;
  }
}

/** The `jti` claim of a JWT, read without verifying it. */
function jtiOf(token: string): string {
  const payload = token.split(".")[1] ?? "";
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
    jti?: unknown;
  };
  if (typeof claims.jti !== "string") throw new Error("a FunGame token without jti");
  return claims.jti;
}

/** The vendor identities one logout request names. */
function identityOf(subject: Subject, spec: RequestSpec): Identity {
  const body = (spec.body === undefined ? {} : JSON.parse(spec.body)) as Record<string, unknown>;
  const member = (name: string) => (body[name] ?? {}) as Record<string, unknown>;
  switch (subject) {
    case "ebet":
      return { ebet: String(body.username) };
    case "fungame": {
      const token = (spec.headers.authorization ?? "").replace(/^Bearer /, "");
      return { fungame: { token, jti: jtiOf(token) } };
    }
    case "sdk-auth":
      return { "sdk-auth": String(body.sessionToken) };
    case "lancens":
      return { lancens: String(body.username) };
    case "fanout": {
      const token = String(member("fungame").token);
      return {
        ebet: String(member("ebet").username),
        fungame: { token, jti: jtiOf(token) },
        "sdk-auth": String(member("sdkAuth").sessionToken),
        lancens: String(member("lancens").username),
      };
    }
  }
}

/** Attempts per vendor, from the Server-Timing entries `<vendor>;dur=…;desc="<n> attempt(s)"`. */
export function attemptsOf(serverTiming: string | undefined): Map<string, number> {
  const attempts = new Map<string, number>();
  if (serverTiming === undefined) return attempts;
  for (const match of serverTiming.matchAll(/(?:^|,)\s*([\w-]+);dur=[^;,]*;desc="(\d+) attempt/g)) {
    const vendor = match[1] as string;
    attempts.set(vendor, (attempts.get(vendor) ?? 0) + Number(match[2]));
  }
  return attempts;
}

function header(headers: Record<string, string | string[]>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(", ") : value;
  }
  return undefined;
}

/** How many times each key occurs among the successful entries. */
function tally<T>(entries: readonly T[], key: (entry: T) => string | null): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    const name = key(entry);
    if (name !== null) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** The most attempts the proxy makes for one vendor call: the first and two retries. */
const MAX_ATTEMPTS = 3;

/** The Lancens routes one logout calls, in order: both push-token clears, then the logout. */
const LANCENS_ROUTES = ["clearRingPushToken", "clearMessagePushToken", "logout"] as const;

/** How a run is sent: at what concurrency, stopped after `limitMs` whatever is left. */
export interface LoadSettings {
  concurrency: number;
  limitMs?: number;
}

/**
 * Asks the proxy at `url` the status of each FunGame token (GET /v1/fungame/token-status) at the
 * settings' concurrency; resolves with the indexes of the tokens answered revoked. Anything else (an
 * active token, an error, no answer) goes to `note`.
 */
async function askDenyList(
  url: string,
  tokens: readonly string[],
  settings: LoadSettings,
  note: (problem: string) => void,
): Promise<Set<number>> {
  const revoked = new Set<number>();
  if (tokens.length === 0) return revoked;
  const answered = new Set<number>();
  // Padded like the logouts' pool: a connection may build one request more than it sends.
  const padded = [
    ...tokens,
    ...Array.from({ length: settings.concurrency + 5 }, () => tokens[0] as string),
  ];
  const statusItems = padded.map((token) => [
    {
      method: "GET",
      path: "/v1/fungame/token-status",
      headers: { authorization: `Bearer ${token}` },
    },
  ]);
  await runLoad(
    url,
    statusItems,
    {
      connections: settings.concurrency,
      amount: tokens.length,
      ...(settings.limitMs === undefined ? {} : { limitMs: settings.limitMs }),
    },
    (body) => body.includes('"revoked"'),
    (answer) => {
      if (answer.item >= tokens.length) return;
      answered.add(answer.item);
      const isRevoked =
        answer.status === 200 &&
        /"active":\s*false/.test(answer.body) &&
        /"reason":\s*"revoked"/.test(answer.body);
      if (isRevoked) revoked.add(answer.item);
      else note(`token-status ${answer.item}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
    },
  );
  const unanswered = tokens.length - answered.size;
  if (unanswered > 0) note(`token-status: ${unanswered} questions got no answer`);
  return revoked;
}

/**
 * Sends `requests` logouts of `subject` at `concurrency` through the proxy, each with credentials of
 * its own made at the simulators first, then audits the simulators' call logs and the deny-list,
 * all in the proxy's current life.
 */
export async function runSubject(
  environment: LoadEnvironment,
  subject: Subject,
  settings: LoadSettings & { requests: number },
): Promise<LoadFigures> {
  const { sims, proxy, logs } = environment;
  const { requests, concurrency } = settings;
  const logLinesBefore = logs.count;
  // Every connection may build one request more than it sends.
  const pool = requests + concurrency + 5;
  const prepared =
    subject === "fanout"
      ? await prepare(sims, "/prepare-fanout", {
          vendors: ALL_VENDORS,
          count: pool,
          fresh: true,
        })
      : await prepare(sims, "/prepare", {
          vendor: subject,
          mode: "proxy",
          count: pool,
          fresh: true,
        });
  const items = prepared.items;
  const identities = items.map((steps) => identityOf(subject, steps[0] as RequestSpec));

  const problems: string[] = [];
  const note = (problem: string) => {
    if (problems.length < 40) problems.push(problem);
  };
  const answered = new Map<number, { ok: boolean; attempts: Map<string, number> }>();
  const isSuccess = (status: number, body: string) => status === 200 && body.includes('"ok":true');
  const start = performance.now();
  let last = start;
  const run = await runLoad(
    proxy.url,
    items,
    {
      connections: concurrency,
      amount: requests,
      ...(settings.limitMs === undefined ? {} : { limitMs: settings.limitMs }),
    },
    (body) => body.includes('"ok":true'),
    (answer: LoadAnswer) => {
      last = performance.now();
      const ok = isSuccess(answer.status, answer.body);
      if (!ok) note(`item ${answer.item}: HTTP ${answer.status} ${answer.body.slice(0, 300)}`);
      if (answered.has(answer.item)) note(`item ${answer.item} answered twice`);
      answered.set(answer.item, {
        ok,
        attempts: attemptsOf(header(answer.headers, "server-timing")),
      });
    },
  );
  const seconds = (last - start) / 1000;
  const succeeded = [...answered].filter(([, answer]) => answer.ok);
  const errors = requests - succeeded.length;
  if (run.errors > 0) note(`autocannon counted ${run.errors} failed requests`);

  let retries = 0;
  for (const [, answer] of answered) {
    for (const count of answer.attempts.values()) retries += Math.max(0, count - 1);
  }
  const attemptsFor = (item: number, vendor: Vendor) =>
    Math.max(1, answered.get(item)?.attempts.get(vendor) ?? 1);

  // The simulators' view: each logout once (retries excepted), nothing lost.
  const audit = await control<Audit>(sims, "/audit");
  const ebetCalls = tally(
    audit.ebet.filter((call) => call.ok),
    (call) => call.username,
  );
  const sdkCalls = tally(
    audit["sdk-auth"].filter((call) => call.ok),
    (call) => call.sessionToken,
  );
  const lancensCalls = new Map(
    LANCENS_ROUTES.map((route) => [
      route,
      tally(
        audit.lancens.filter((call) => call.ok && call.route === route),
        (call) => call.username,
      ),
    ]),
  );
  const revoked = new Set(audit.fungame.revokedJtis);
  let lost = 0;
  let duplicates = 0;
  let fungameAllowed = 0;
  const fungameTokens: string[] = [];
  const check = (item: number, vendor: Vendor, calls: number, what: string) => {
    const allowed = attemptsFor(item, vendor);
    if (calls === 0) {
      lost++;
      note(`lost: ${what} was answered as logged out but ${vendor} never saw its logout`);
    } else if (calls > allowed) {
      duplicates += calls - allowed;
      note(`duplicate: ${what} reached ${vendor} ${calls} times for ${allowed} attempt(s)`);
    }
  };
  for (const [item] of succeeded) {
    const identity = identities[item] as Identity;
    if (identity.ebet !== undefined) {
      check(item, "ebet", ebetCalls.get(identity.ebet) ?? 0, `eBET player ${identity.ebet}`);
    }
    if (identity["sdk-auth"] !== undefined) {
      check(item, "sdk-auth", sdkCalls.get(identity["sdk-auth"]) ?? 0, `OneAccess session`);
    }
    if (identity.lancens !== undefined) {
      for (const route of LANCENS_ROUTES) {
        const calls = lancensCalls.get(route)?.get(identity.lancens) ?? 0;
        check(item, "lancens", calls, `Lancens user ${identity.lancens} (${route})`);
      }
    }
    if (identity.fungame !== undefined) {
      fungameAllowed += attemptsFor(item, "fungame");
      fungameTokens.push(identity.fungame.token);
      if (!revoked.has(identity.fungame.jti)) {
        lost++;
        note(`lost: FunGame token ${identity.fungame.jti} answered as logged out, not revoked`);
      }
    }
  }
  // FunGame's log names nobody: its logout calls are counted against the logouts and their retries.
  // A logout that failed may have reached FunGame too: each is allowed the attempts its answer
  // reported, or every attempt the proxy may make (1 + 2 retries) when no answer told.
  const fungameSent = succeeded.filter(([item]) => identities[item]?.fungame !== undefined).length;
  if (identities.some((identity) => identity.fungame !== undefined)) {
    for (const answer of answered.values()) {
      if (!answer.ok) fungameAllowed += answer.attempts.get("fungame") ?? MAX_ATTEMPTS;
    }
    fungameAllowed += MAX_ATTEMPTS * Math.max(0, requests - answered.size);
  }
  if (fungameSent > 0 && audit.fungame.logoutCalls > fungameAllowed) {
    duplicates += audit.fungame.logoutCalls - fungameAllowed;
    note(
      `duplicate: FunGame got ${audit.fungame.logoutCalls} logout calls for ${fungameSent} logouts and ${fungameAllowed} attempts`,
    );
  }

  // The deny-list's view: every FunGame token logged out is refused as revoked, asked in the same
  // life of workerd as the logouts. A question without its answer counts as a loss.
  let denyListChecked = 0;
  const revokedTokens: string[] = [];
  if (fungameTokens.length > 0) {
    const revokedAt = await askDenyList(proxy.url, fungameTokens, settings, note);
    for (const index of revokedAt) revokedTokens.push(fungameTokens[index] as string);
    denyListChecked = revokedAt.size;
    const missing = fungameTokens.length - denyListChecked;
    if (missing > 0) {
      lost += missing;
      note(`lost: ${missing} FunGame tokens logged out are not revoked on the deny-list`);
    }
  }

  const oneLife = environment.proxy === proxy && proxy.alive();
  if (!oneLife) note(`workerd (pid ${proxy.pids.join(", ")}) did not live through the run`);
  if (problems.length > 0) {
    // What the Worker logged lately, other than its per-request JSON lines.
    const said = logs.recent.filter((line) => !line.startsWith("{"));
    for (const line of said.slice(-15)) note(`worker: ${line}`);
  }
  return {
    subject,
    requests,
    errors,
    lost,
    duplicates,
    retries,
    rps: seconds > 0 ? succeeded.length / seconds : 0,
    p99Ms: run.p99Ms,
    denyListChecked,
    oneLife,
    logLines: logs.count - logLinesBefore,
    revokedTokens,
    problems,
  };
}

/** What checkDenyListAfterRestart found. */
export interface RestartCheck {
  /** FunGame tokens asked about. */
  tokens: number;
  /** Of those, answered revoked by the new life. */
  revoked: number;
  /** The workerd processes before and after the restart. */
  pidsBefore: number[];
  pidsAfter: number[];
  problems: string[];
}

/**
 * An extra step after every subject: restarts workerd on the same state and asks again about every
 * FunGame token revoked during the run, to show that the deny-list outlives a restart.
 */
export async function checkDenyListAfterRestart(
  environment: LoadEnvironment,
  tokens: readonly string[],
  settings: LoadSettings,
): Promise<RestartCheck> {
  const problems: string[] = [];
  const note = (problem: string) => {
    if (problems.length < 40) problems.push(problem);
  };
  const pidsBefore = environment.proxy.pids;
  await environment.restart();
  const revoked = await askDenyList(environment.proxy.url, tokens, settings, note);
  if (revoked.size < tokens.length) {
    note(`${tokens.length - revoked.size} FunGame tokens not revoked after the restart`);
  }
  return {
    tokens: tokens.length,
    revoked: revoked.size,
    pidsBefore,
    pidsAfter: environment.proxy.pids,
    problems,
  };
}
