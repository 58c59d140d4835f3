// The load run: logouts through `wrangler dev` against the simulators, each for a user or token of
// its own, then proof that every accepted logout reached its vendor exactly once (retries excepted,
// and counted) and that every FunGame revocation is on the proxy's deny-list.
//
// Used by load/run.ts (`npm run load`: 10,000 logouts at concurrency 100 per subject) and by
// test-node/load.test.ts (a smaller run in `npm test`). Processes and helpers are the benchmark's
// (bench/shared.ts): the simulators run in a process of their own (bench/simulators.ts), the proxy
// under `wrangler dev`, the load comes from autocannon; everything on 127.0.0.1.
import type { ChildProcess } from "node:child_process";
import {
  control,
  type LoadAnswer,
  type ProcessGroup,
  prepare,
  runLoad,
  type Simulators,
  startSimulators,
  startWranglerDev,
  stopSimulators,
  trimOutput,
  type WranglerDev,
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
  /** Deny-list questions asked again because wrangler dev dropped the connection. */
  denyListAskedAgain: number;
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

/** The simulators and the proxy under `wrangler dev`, running. */
export interface LoadEnvironment {
  sims: Simulators;
  proxy: WranglerDev;
  /** Stops both, gracefully; safe to call twice. */
  stop(): Promise<void>;
  /** Kills both at once (for process exit handlers); synchronous. */
  killNow(): void;
}

/** Starts the simulators (bench/simulators.ts) and `wrangler dev` of the proxy against them. */
export async function startLoadEnvironment(
  options: { quiet?: boolean } = {},
): Promise<LoadEnvironment> {
  let child: ChildProcess | undefined;
  let group: ProcessGroup | undefined;
  let trimmer: ReturnType<typeof setInterval> | undefined;
  let stopped = false;
  const killNow = () => {
    if (trimmer) clearInterval(trimmer);
    const pid = group?.child.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    child?.kill("SIGKILL");
  };
  try {
    const sims = await startSimulators(
      (started) => {
        child = started;
      },
      { quiet: options.quiet ?? false },
    );
    // The deployed bundle, made once: edits to the sources during a run cannot restart the Worker.
    const proxy = await startWranglerDev(sims.env, {
      onStart: (started) => {
        group = started;
      },
      bundleOnce: true,
    });
    // The proxy logs a line per request: keep only the last ones.
    trimmer = setInterval(() => trimOutput(proxy.group), 500);
    trimmer.unref();
    return {
      sims,
      proxy,
      killNow,
      async stop() {
        if (stopped) return;
        stopped = true;
        clearInterval(trimmer);
        await proxy.stop();
        await stopSimulators(child);
      },
    };
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

/** Rounds of deny-list questions at most (the first, and two after restarts of wrangler dev). */
const CHECK_ROUNDS = 3;

/** The most attempts the proxy makes for one vendor call: the first and two retries. */
const MAX_ATTEMPTS = 3;

/** The Lancens routes one logout calls, in order: both push-token clears, then the logout. */
const LANCENS_ROUTES = ["clearRingPushToken", "clearMessagePushToken", "logout"] as const;

/**
 * Sends `requests` logouts of `subject` at `concurrency` through the proxy, each with credentials of
 * its own made at the simulators first, then audits the simulators' call logs and the deny-list.
 */
export async function runSubject(
  environment: LoadEnvironment,
  subject: Subject,
  settings: {
    requests: number;
    concurrency: number;
    limitMs?: number;
    /**
     * Restart wrangler dev (same state) before the logouts and again before the deny-list check:
     * workerd under wrangler dev fails after some ten thousand requests in one life, and the check
     * then also shows the deny-list outlives a restart.
     */
    restart?: boolean;
  },
): Promise<LoadFigures> {
  const { sims, proxy } = environment;
  const { requests, concurrency } = settings;
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
  if (settings.restart) await proxy.restart();
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

  // The deny-list's view: every FunGame token logged out is refused as revoked. A question that
  // gets no answer from the proxy (wrangler dev's own 500 when workerd drops the connection) is
  // asked again after a restart of wrangler dev on the same state: the question is read-only.
  let denyListChecked = 0;
  let denyListAskedAgain = 0;
  if (fungameTokens.length > 0) {
    const revokedAt = new Map<number, boolean>();
    for (let round = 0; round < CHECK_ROUNDS; round++) {
      const pending = fungameTokens.map((_, index) => index).filter((i) => !revokedAt.has(i));
      if (pending.length === 0) break;
      if (round > 0) denyListAskedAgain += pending.length;
      if (settings.restart || round > 0) await proxy.restart();
      // Padded like the logouts' pool: a connection may build one request more than it sends.
      const padded = [
        ...pending,
        ...Array.from({ length: concurrency + 5 }, () => pending[0] as number),
      ];
      const statusItems = padded.map((index) => [
        {
          method: "GET",
          path: "/v1/fungame/token-status",
          headers: { authorization: `Bearer ${fungameTokens[index]}` },
        },
      ]);
      await runLoad(
        proxy.url,
        statusItems,
        {
          connections: concurrency,
          amount: pending.length,
          ...(settings.limitMs === undefined ? {} : { limitMs: settings.limitMs }),
        },
        (body) => body.includes('"revoked"'),
        (answer) => {
          if (answer.item >= pending.length) return;
          const index = pending[answer.item] as number;
          if (answer.status === 200) {
            const revoked =
              /"active":\s*false/.test(answer.body) && /"reason":\s*"revoked"/.test(answer.body);
            revokedAt.set(index, revoked);
            if (!revoked) note(`token-status ${index}: ${answer.body}`);
          } else if (round === CHECK_ROUNDS - 1) {
            note(`token-status ${index}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
          }
        },
      );
    }
    denyListChecked = [...revokedAt.values()].filter(Boolean).length;
    const missing = fungameTokens.length - denyListChecked;
    if (missing > 0) {
      lost += missing;
      note(`lost: ${missing} FunGame tokens logged out are not revoked on the deny-list`);
    }
  }

  if (problems.length > 0) {
    // What wrangler dev said lately, other than its per-request log lines (reloads, crashes).
    const said = proxy.group.output.slice(-400).filter((line) => !line.startsWith("{"));
    for (const line of said.slice(-15)) note(`wrangler: ${line}`);
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
    denyListAskedAgain,
    problems,
  };
}
