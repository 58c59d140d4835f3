// The load run: logouts through the proxy in workerd against the simulators, each for a user or token
// of its own, then proof that every accepted logout reached its vendor exactly once (retries
// excepted, and counted) and that every logout the proxy also records at the edge (FunGame's
// deny-list) is recorded. Subjects, audits and records all come from the vendor list and the kits.
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
import type { Audits, Vendor } from "../bench/simulators.ts";
import { loadKits } from "../scripts/kits.mjs";

/** Every vendor of the list with its dev kit, by name, in the list's order. */
const KITS = new Map((await loadKits()).map(({ vendor, kit }) => [vendor.name, kit]));
const ALL_VENDORS: readonly Vendor[] = [...KITS.keys()];

/** What one load run sends: one vendor's logout route, or the fan-out naming every vendor. */
export type Subject = Vendor;
export const SUBJECTS: readonly Subject[] = [...ALL_VENDORS, "fanout"];

/** A session whose logout the proxy records at the edge (FunGame's deny-list), for asking again. */
export interface RecordedSession {
  vendor: Vendor;
  session: unknown;
}

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
  /** Sessions the proxy answered as recorded at the edge after the run (FunGame: revoked). */
  denyListChecked: number;
  /** Whether workerd ran in one life from the first logout to the last deny-list answer. */
  oneLife: boolean;
  /** Lines the Worker logged meanwhile, each read from workerd (a line per request). */
  logLines: number;
  /** The sessions answered as recorded (for the check after a restart). */
  recorded: RecordedSession[];
  /** The first few things that went wrong, for the report. */
  problems: string[];
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

/** The most attempts the proxy makes for one vendor call: the first and two retries. */
const MAX_ATTEMPTS = 3;

/** How a run is sent: at what concurrency, stopped after `limitMs` whatever is left. */
export interface LoadSettings {
  concurrency: number;
  limitMs?: number;
}

/**
 * Asks the proxy at `url` about each session's edge record (its kit's `record` request, e.g. GET
 * /v1/fungame/token-status) at the settings' concurrency; resolves with the indexes of the sessions
 * answered recorded. Anything else (not recorded, an error, no answer) goes to `note`.
 */
async function askRecords(
  url: string,
  sessions: readonly RecordedSession[],
  settings: LoadSettings,
  note: (problem: string) => void,
): Promise<Set<number>> {
  const recorded = new Set<number>();
  if (sessions.length === 0) return recorded;
  const checkOf = (vendor: Vendor) => {
    const check = KITS.get(vendor)?.record;
    if (check === undefined) throw new Error(`${vendor}'s kit has no edge record to ask about`);
    return check;
  };
  const answered = new Set<number>();
  // Padded like the logouts' pool: a connection may build one request more than it sends.
  const padded = [
    ...sessions,
    ...Array.from({ length: settings.concurrency + 5 }, () => sessions[0] as RecordedSession),
  ];
  const items = padded.map(({ vendor, session }) => [checkOf(vendor).request(session)]);
  await runLoad(
    url,
    items,
    {
      connections: settings.concurrency,
      amount: sessions.length,
      ...(settings.limitMs === undefined ? {} : { limitMs: settings.limitMs }),
    },
    () => true,
    (answer) => {
      if (answer.item >= sessions.length) return;
      answered.add(answer.item);
      const { vendor } = sessions[answer.item] as RecordedSession;
      if (checkOf(vendor).recorded(answer.status, answer.body)) recorded.add(answer.item);
      else
        note(`${vendor} record ${answer.item}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
    },
  );
  const unanswered = sessions.length - answered.size;
  if (unanswered > 0) note(`records: ${unanswered} questions got no answer`);
  return recorded;
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
  /** The vendors each logout names, each item's session and its audit key by vendor. */
  const vendors = subject === "fanout" ? ALL_VENDORS : [subject];
  const keysOf = (vendor: Vendor): string[] => {
    const keys = prepared.keys?.[vendor];
    if (keys === undefined || keys.length !== items.length) {
      throw new Error(`the simulators gave no audit keys of ${vendor}`);
    }
    return keys;
  };

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

  // The simulators' view: each logout once (retries excepted), nothing lost. A vendor whose log
  // tells every call apart is checked per session and step; one whose log cannot (FunGame: it names
  // nobody) per session for being logged out at all, and its calls in all against the attempts.
  const audits = await control<Audits>(sims, "/audit");
  let lost = 0;
  let duplicates = 0;
  const toRecord: RecordedSession[] = [];
  for (const vendor of vendors) {
    const audit = audits[vendor];
    if (audit === undefined) throw new Error(`the simulators gave no audit of ${vendor}`);
    const keys = keysOf(vendor);
    const record = KITS.get(vendor)?.record;
    let allowedInAll = 0;
    for (const [item] of succeeded) {
      const key = keys[item] as string;
      const allowed = attemptsFor(item, vendor);
      allowedInAll += allowed;
      const counts = audit.sessions[key] ?? [];
      audit.steps.forEach((step, index) => {
        const calls = counts[index] ?? 0;
        const what = `${vendor} session ${key.slice(0, 40)} (${step})`;
        if (calls === 0) {
          lost++;
          note(`lost: ${what} was answered as logged out but ${vendor} never saw its logout`);
        } else if (audit.exact && calls > allowed) {
          duplicates += calls - allowed;
          note(`duplicate: ${what} reached ${vendor} ${calls} times for ${allowed} attempt(s)`);
        }
      });
      if (record !== undefined) {
        const session = prepared.sessions?.[vendor]?.[item];
        if (session === undefined) throw new Error(`the simulators gave no sessions of ${vendor}`);
        toRecord.push({ vendor, session });
      }
    }
    if (!audit.exact) {
      // A logout that failed may have reached the vendor too: each is allowed the attempts its
      // answer reported, or every attempt the proxy may make (1 + 2 retries) when no answer told.
      for (const answer of answered.values()) {
        if (!answer.ok) allowedInAll += answer.attempts.get(vendor) ?? MAX_ATTEMPTS;
      }
      allowedInAll += MAX_ATTEMPTS * Math.max(0, requests - answered.size);
      const expected = audit.steps.length * allowedInAll;
      if (succeeded.length > 0 && audit.calls > expected) {
        duplicates += audit.calls - expected;
        note(
          `duplicate: ${vendor} got ${audit.calls} logout calls for ${succeeded.length} logouts and ${allowedInAll} attempts`,
        );
      }
    }
  }

  // The edge's view: every logout the proxy also records (FunGame's deny-list) is recorded, asked
  // in the same life of workerd as the logouts. A question without its answer counts as a loss.
  let denyListChecked = 0;
  const recorded: RecordedSession[] = [];
  if (toRecord.length > 0) {
    const recordedAt = await askRecords(proxy.url, toRecord, settings, note);
    for (const index of recordedAt) recorded.push(toRecord[index] as RecordedSession);
    denyListChecked = recordedAt.size;
    const missing = toRecord.length - denyListChecked;
    if (missing > 0) {
      lost += missing;
      note(`lost: ${missing} sessions logged out are not recorded at the edge`);
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
    recorded,
    problems,
  };
}

/** What checkDenyListAfterRestart found. */
export interface RestartCheck {
  /** Sessions (FunGame: tokens) asked about. */
  tokens: number;
  /** Of those, answered recorded (revoked) by the new life. */
  revoked: number;
  /** The workerd processes before and after the restart. */
  pidsBefore: number[];
  pidsAfter: number[];
  problems: string[];
}

/**
 * An extra step after every subject: restarts workerd on the same state and asks again about every
 * session recorded at the edge during the run (FunGame's revoked tokens), to show that the record
 * (the deny-list) outlives a restart.
 */
export async function checkDenyListAfterRestart(
  environment: LoadEnvironment,
  tokens: readonly RecordedSession[],
  settings: LoadSettings,
): Promise<RestartCheck> {
  const problems: string[] = [];
  const note = (problem: string) => {
    if (problems.length < 40) problems.push(problem);
  };
  const pidsBefore = environment.proxy.pids;
  await environment.restart();
  const revoked = await askRecords(environment.proxy.url, tokens, settings, note);
  if (revoked.size < tokens.length) {
    note(`${tokens.length - revoked.size} sessions not recorded any more after the restart`);
  }
  return {
    tokens: tokens.length,
    revoked: revoked.size,
    pidsBefore,
    pidsAfter: environment.proxy.pids,
    problems,
  };
}
