// The load run: logouts through the proxy against the simulators, each for a user or token of its
// own, then proof that every accepted logout reached its vendor exactly once (retries excepted, and
// counted) and that every logout the proxy also records at the edge (FunGame's deny-list) is
// recorded. Subjects, audits and records all come from the vendor list and the kits.
//
// Used by load/run.ts (`npm run load`: 10,000 logouts at concurrency 100 per subject) and by
// test-node/load.test.ts (a smaller run in `npm test`). Processes and helpers are the benchmark's
// (bench/shared.ts): the simulators run in a process of their own (bench/simulators.ts), the load
// comes from autocannon, everything on 127.0.0.1. The proxy runs on one of three runtimes, each on
// its durable store: the deployed bundle in workerd through Miniflare, its Durable Objects persisted
// in a temporary folder (as `wrangler dev` runs it, without wrangler dev's own proxy, which stops
// answering after some ten thousand logged requests: load/wrangler-dev-repro/); the Deno entry on
// Deno KV; the Node entry on SQLite; each entry in a process of its own on a fresh temporary
// PROXY_DATA_DIR. Every subject and every deny-list question runs in one life of the proxy.
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
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
  runtimes,
  type Simulators,
  startEntry,
  startSimulators,
  startWorkerd,
  stopSimulators,
} from "../bench/shared.ts";
import type { Audits, Vendor } from "../bench/simulators.ts";
import { loadKits } from "../scripts/kits.mjs";

/** Every vendor of the list with its dev kit, by name, in the list's order. */
const KITS = new Map((await loadKits()).map(({ vendor, kit }) => [vendor.name, kit]));
const ALL_VENDORS: readonly Vendor[] = [...KITS.keys()];

/** What one load run sends: one vendor's logout route, or the fan-out naming every vendor. */
export type Subject = Vendor;
export const SUBJECTS: readonly Subject[] = [...ALL_VENDORS, "fanout"];

/** What the proxy runs on in a load run, each on its durable store. */
export const RUNTIMES = ["workerd", "deno", "node"] as const;
export type LoadRuntime = (typeof RUNTIMES)[number];

/** Each runtime's store by name, and what its startup line must say (the entries'). */
const STORES: Record<LoadRuntime, { name: string; said?: RegExp }> = {
  workerd: { name: "Durable Objects" },
  deno: { name: "Deno KV", said: /^Deno KV, \/.*\/edge-proxy\.kv$/ },
  node: { name: "SQLite", said: /^SQLite \(node:sqlite\), \/.*\/edge-proxy\.db, WAL$/ },
};

/** A runtime with its store, as reports name them: "workerd / Durable Objects". */
export function runtimeLabel(runtime: LoadRuntime): string {
  return `${runtime} / ${STORES[runtime].name}`;
}

/** How long a stopped entry may take to finish what it has in flight before it is killed. */
const ENTRY_STOP_GRACE_MS = 20_000;

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
  /** Whether the proxy ran in one life from the first logout to the last deny-list answer. */
  oneLife: boolean;
  /** Lines the proxy logged meanwhile, each read as it came (a line per request). */
  logLines: number;
  /** The sessions answered as recorded (for the check after a restart). */
  recorded: RecordedSession[];
  /** The first few things that went wrong, for the report. */
  problems: string[];
}

/** The lines the proxy logged, each read as it came. */
export interface ProxyLogs {
  /** Lines read since start. */
  count: number;
  /** The last few hundred, for reports. */
  recent: string[];
}

/** One life of the proxy: workerd under this process, or an entry's process. */
export interface ProxyLife {
  url: string;
  /** The processes of this life (workerd's; the entry's runtime). */
  pids: number[];
  /** Whether every process of this life still runs (no crash, no restart). */
  alive(): boolean;
  /** Stops this life gracefully; resolves with what went wrong (e.g. it had to be killed). */
  stop(): Promise<string[]>;
}

/** The simulators and the proxy on one runtime, running. */
export interface LoadEnvironment {
  sims: Simulators;
  /** The proxy's current life. */
  proxy: ProxyLife;
  /** What the proxy runs on, and on which store: "deno / Deno KV". */
  label: string;
  /** What runs the proxy and where its stores are, for the report. */
  runtime: string;
  logs: ProxyLogs;
  /** The temporary folder of the bundle and the proxy's state or data directory; removed on stop. */
  folder: string;
  /**
   * Stops the proxy gracefully and starts it again on the same state (workerd: the Durable Objects'
   * folder and the same bundle; an entry: the same data directory); `proxy` is the new life
   * afterwards. Resolves with what went wrong in the stop. Only for checkDenyListAfterRestart,
   * after every subject: the subjects and their checks run in one life.
   */
  restart(): Promise<string[]>;
  /** Stops both, gracefully, and removes the temporary folder; safe to call twice. */
  stop(): Promise<void>;
  /** Kills both at once (for process exit handlers); synchronous. */
  killNow(): void;
}

/** The version of what runs an entry, for reports: "deno 2.5.6", "node v24.21.0". */
function entryVersion(runtime: "deno" | "node"): string {
  if (runtime === "node") return `node ${process.version}`;
  const said = execFileSync(runtimes.denoBinary(), ["--version"], { encoding: "utf8" });
  return said.split("\n")[0]?.replace(/\s*\(.*$/, "") ?? "deno";
}

/**
 * Starts the simulators (bench/simulators.ts) and the proxy against them on `runtime` (default
 * workerd): the deployed bundle in workerd through Miniflare, with wrangler.toml's bindings and the
 * simulators' environment, its Durable Objects persisted in a temporary folder; or the Deno or Node
 * entry with the simulators' environment on its default store (Deno KV, SQLite) in a temporary data
 * directory. Each environment has simulators of its own: a FunGame kit's accounts are taken in
 * turn, and a new login of an account ends its older session, so the sessions of one runtime's
 * subjects never share an account with another's.
 */
export async function startLoadEnvironment(
  options: { runtime?: LoadRuntime; quiet?: boolean } = {},
): Promise<LoadEnvironment> {
  const runtime = options.runtime ?? "workerd";
  const folder = mkdtempSync(join(tmpdir(), "edge-proxy-load-"));
  let child: ChildProcess | undefined;
  /** Process groups started here (the bundle's build, the entry). */
  const groups = new Set<ProcessGroup>();
  let proxy: ProxyLife | undefined;
  let stopped = false;
  /** Set once stop() is over: the pids of the stopped processes may belong to others by then. */
  let finished = false;
  const logs: ProxyLogs = { count: 0, recent: [] };
  const onLog = (line: string) => {
    logs.count++;
    logs.recent.push(line);
    if (logs.recent.length > 400) logs.recent.splice(0, 200);
  };
  const killNow = () => {
    if (finished) return;
    for (const group of groups) {
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
  const hooks = {
    onStart: (group: ProcessGroup) => groups.add(group),
    onStop: (group: ProcessGroup) => groups.delete(group),
  };
  try {
    const sims = await startSimulators(
      (started) => {
        child = started;
      },
      { quiet: options.quiet ?? false },
    );
    let start: () => Promise<ProxyLife>;
    let describe: () => string;
    if (runtime === "workerd") {
      const script = await bundleWorker(folder, hooks);
      const miniflare = await loadMiniflare();
      start = async () => {
        const workerd = await startWorkerd(
          miniflare,
          miniflareOptions(miniflare, script, sims.env, {
            persistTo: join(folder, "state"),
            onLog,
          }),
        );
        return {
          url: workerd.url,
          pids: workerd.pids,
          alive: workerd.alive,
          stop: async () => {
            await workerd.stop();
            return [];
          },
        };
      };
      describe = () => `${miniflareRuntime()}, the deployed bundle`;
    } else {
      const dataDir = join(folder, "data");
      mkdirSync(dataDir);
      const store = STORES[runtime];
      let stores = "";
      start = async () => {
        const entry = await startEntry(runtime, sims.env, { dataDir, onLine: onLog, ...hooks });
        stores = entry.stores;
        if (store.said !== undefined && !store.said.test(entry.stores)) {
          await entry.stop();
          throw new Error(
            `the ${runtime} entry keeps its stores in ${entry.stores}, not in ${store.name} under ${dataDir}`,
          );
        }
        const pid = entry.group.child.pid as number;
        return {
          url: entry.url,
          pids: [pid],
          alive: () => entry.group.child.exitCode === null && entry.group.child.signalCode === null,
          stop: async () => {
            // The entry exits 0 only from its graceful stop (SIGTERM: in-flight work finished).
            const exit = await entry.stop(ENTRY_STOP_GRACE_MS);
            if (exit.code === 0 && exit.signal === null) return [];
            return [
              `${runtime} (pid ${pid}) did not stop gracefully: ${exit.signal ?? `exit code ${exit.code}`}`,
            ];
          },
        };
      };
      describe = () => `${entryVersion(runtime)}, stores in ${stores}`;
    }
    proxy = await start();
    const environment: LoadEnvironment = {
      sims,
      proxy,
      label: runtimeLabel(runtime),
      runtime: describe(),
      logs,
      folder,
      killNow,
      async restart() {
        const problems = await environment.proxy.stop();
        proxy = await start();
        environment.proxy = proxy;
        return problems;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await environment.proxy.stop();
        await stopSimulators(child);
        rmSync(folder, { recursive: true, force: true });
        finished = true;
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
  // in the same life of the proxy as the logouts. A question without its answer counts as a loss.
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
  if (!oneLife) {
    note(`${environment.label} (pid ${proxy.pids.join(", ")}) did not live through the run`);
  }
  if (problems.length > 0) {
    // What the proxy logged lately, other than its per-request JSON lines: its store's errors too.
    const said = logs.recent.filter(
      (line) => !line.startsWith("{") || line.includes('"store_error"'),
    );
    for (const line of said.slice(-15)) note(`proxy: ${line}`);
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
  /** Whether the life before the restart stopped gracefully (an entry: exit code 0 after SIGTERM). */
  graceful: boolean;
  /** The proxy's processes before and after the restart. */
  pidsBefore: number[];
  pidsAfter: number[];
  problems: string[];
}

/**
 * An extra step after every subject: stops the proxy gracefully, starts it again on the same state
 * (workerd's Durable Objects, an entry's data directory) and asks again about every session
 * recorded at the edge during the run (FunGame's revoked tokens), to show that the record (the
 * deny-list) outlives a restart.
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
  const stopProblems = await environment.restart();
  for (const problem of stopProblems) note(problem);
  const revoked = await askRecords(environment.proxy.url, tokens, settings, note);
  if (revoked.size < tokens.length) {
    note(`${tokens.length - revoked.size} sessions not recorded any more after the restart`);
  }
  return {
    tokens: tokens.length,
    revoked: revoked.size,
    graceful: stopProblems.length === 0,
    pidsBefore,
    pidsAfter: environment.proxy.pids,
    problems,
  };
}
