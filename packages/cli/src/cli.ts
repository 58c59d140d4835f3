// x-logout: reads a session list, checks it, and logs every session out at its vendors (directly or
// through a deployed proxy), journaled, paced, with progress and a report.
import { checkBaseUrl, isVendorError } from "@x/core-signing";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { readText, samePath, type Terminal } from "./host.ts";
import {
  CsvError,
  formatOfName,
  type InputFormat,
  type LineIssue,
  parseSessions,
} from "./input.ts";
import { Journal, JournalError } from "./journal.ts";
import { emptyCounts, Progress, type ProgressMode, type VendorCounts } from "./progress.ts";
import {
  EXIT_INTERRUPTED,
  EXIT_NOT_ALL_ENDED,
  EXIT_OK,
  EXIT_USAGE,
  formatSummary,
  summarize,
  writeFailures,
} from "./report.ts";
import { DEFAULT_MAX_BACKOFF_MS, type RunResult, runTasks, type Task } from "./runner.ts";
import { directSender, proxySender, type Sender } from "./senders.ts";
import {
  LABEL_OF,
  MEMBER_OF,
  sessionKey,
  VENDOR_NAMES,
  type VendorName,
  vendorOfMember,
} from "./sessions.ts";
import { readSettings, SettingsError, variablesToSet } from "./settings.ts";

export const VERSION = "0.1.0";

/** What the command runs with: a process's streams and environment, or a test's. */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  /** The whole of standard input, read when the list comes from it. */
  readStdin(): Promise<string>;
  stdout: { write(text: string): void };
  stderr: { write(text: string): void; isTTY?: boolean; columns?: number };
  /** The terminal stream for the live display, when standard error is one. */
  terminal?: Terminal;
  /** Called with a stop function: the command calls it on SIGINT/SIGTERM; returns the unsubscribe. */
  onSignal?(handler: (signal: string) => void): () => void;
  /** Leaves at once with this code (a second Ctrl-C). */
  exit?(code: number): void;
}

/** The variable that holds the proxy caller's API key: never a command-line argument (`ps` shows those). */
export const PROXY_KEY_VARIABLE = "X_LOGOUT_PROXY_KEY";

interface Options {
  format?: InputFormat;
  journal?: string;
  failures?: string;
  dryRun?: boolean;
  only?: VendorName[];
  concurrency: Record<VendorName, number>;
  retryFor: number;
  config?: string;
  proxy?: string;
  json?: boolean;
  progress: "auto" | ProgressMode;
  progressEvery: number;
}

function wholeNumber(min: number, max: number, what: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max} (${what})`);
    }
    return Number(value);
  };
}

function vendorOf(name: string): VendorName | undefined {
  return (VENDOR_NAMES as readonly string[]).includes(name)
    ? (name as VendorName)
    : vendorOfMember(name);
}

/** `8`, `ebet=2`, or both: `8,ebet=2,lancens=4`. */
export function parseConcurrency(value: string): Record<VendorName, number> {
  const all = Object.fromEntries(VENDOR_NAMES.map((name) => [name, 8])) as Record<
    VendorName,
    number
  >;
  const own: Partial<Record<VendorName, number>> = {};
  const count = wholeNumber(1, 256, "attempts in flight per vendor");
  for (const item of value.split(",").map((part) => part.trim())) {
    const match = /^([a-zA-Z-]+)=(.+)$/.exec(item);
    if (match === null) {
      const n = count(item);
      for (const name of VENDOR_NAMES) all[name] = n;
      continue;
    }
    const vendor = vendorOf(match[1] as string);
    if (vendor === undefined) {
      throw new InvalidArgumentError(`${match[1]} is not a vendor (${VENDOR_NAMES.join(", ")})`);
    }
    own[vendor] = count(match[2] as string);
  }
  return { ...all, ...own };
}

function parseOnly(value: string): VendorName[] {
  return value.split(",").map((item) => {
    const vendor = vendorOf(item.trim());
    if (vendor === undefined) {
      throw new InvalidArgumentError(`${item.trim()} is not a vendor (${VENDOR_NAMES.join(", ")})`);
    }
    return vendor;
  });
}

function program(io: CliIo): Command {
  const command = new Command("x-logout")
    .description(
      "Log out every session of a list at eBET, FunGame, OneAccess and Lancens: resumable, paced, with progress.",
    )
    .version(VERSION)
    .argument("[input]", 'the session list, JSON Lines or CSV; "-" or none: standard input')
    .addOption(
      new Option(
        "--format <format>",
        "the list's format (default: from its name, else jsonl)",
      ).choices(["jsonl", "csv"]),
    )
    .option(
      "--journal <file>",
      "the journal of outcomes (default: <input>.journal; required with standard input)",
    )
    .option(
      "--failures <file>",
      "where the sessions that did not end go (default: <journal>.failures.jsonl)",
    )
    .option("--dry-run", "check every line and the settings, send nothing")
    .option(
      "--only <vendors>",
      "only these vendors (comma-separated, e.g. ebet,lancens)",
      parseOnly,
    )
    .option(
      "--concurrency <n>",
      'attempts in flight per vendor: "8", or per vendor "8,ebet=2"',
      parseConcurrency,
      parseConcurrency("8"),
    )
    .option(
      "--retry-for <seconds>",
      "retry a session's retryable failures for this long after its first attempt",
      wholeNumber(0, 7 * 86_400, "seconds"),
      900,
    )
    .option("--config <file>", "a JSON file of the vendor variables (the environment wins over it)")
    .option("--proxy <url>", `go through a deployed proxy (its API key from ${PROXY_KEY_VARIABLE})`)
    .option("--json", "machine output on standard output: progress and the summary as JSON lines")
    .addOption(
      new Option("--progress <mode>", "how progress is shown")
        .choices(["auto", "tty", "plain", "json", "none"])
        .default("auto"),
    )
    .option(
      "--progress-every <seconds>",
      "seconds between plain progress lines",
      wholeNumber(1, 3600, "seconds"),
      5,
    )
    .addHelpText(
      "after",
      `
Vendor settings are the proxy's variables: EBET_BASE_URL, EBET_CHANNEL_ID, EBET_PRIVATE_KEY,
EBET_TIMESTAMP_UNIT, FUNGAME_BASE_URL, FUNGAME_TREAT_500_AS_LOGGED_OUT, SDK_AUTH_BASE_URL,
SDK_AUTH_CLIENT_ID, SDK_AUTH_TENANT_ID, LANCENS_BASE_URL, UPSTREAM_TIMEOUT_MS.

Exit codes: 0 every session ended; 1 some did not (see the report and the failures file);
2 nothing was sent (a bad option, setting, list or journal); 130 stopped (rerun to go on).`,
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  return command;
}

class UsageError extends Error {}

function readInput(path: string | undefined, io: CliIo): Promise<string> | string {
  if (path === undefined || path === "-") return io.readStdin();
  try {
    return readText(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "is a folder"
            : `cannot be read (${String(code ?? "error")})`;
    throw new UsageError(`${path}: ${why}`);
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readText(path);
  } catch (error) {
    throw new UsageError(
      `--config ${path}: cannot be read (${String((error as { code?: unknown }).code ?? "error")})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--config ${path}: is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`--config ${path}: must be a JSON object of variables`);
  }
  return value as Record<string, unknown>;
}

function describeIssue(issue: LineIssue): string {
  return `line ${issue.line}: ${issue.field}: ${issue.message}`;
}

/** Runs the command; resolves with its exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const command = program(io);
  try {
    command.parse([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    throw error;
  }
  const options = command.opts() as Options;
  const input = command.args[0];
  try {
    return await run(input, options, io);
  } catch (error) {
    if (error instanceof UsageError || error instanceof JournalError) {
      io.stderr.write(`x-logout: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof SettingsError) {
      for (const issue of error.issues)
        io.stderr.write(`x-logout: ${issue.name}: ${issue.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}

async function run(input: string | undefined, options: Options, io: CliIo): Promise<number> {
  const fromStdin = input === undefined || input === "-";
  const format: InputFormat =
    options.format ?? (fromStdin ? "jsonl" : (formatOfName(input as string) ?? "jsonl"));
  const journalPath = options.journal ?? (fromStdin ? undefined : `${input}.journal`);
  if (journalPath === undefined && options.dryRun !== true) {
    throw new UsageError("--journal is required when the list comes from standard input");
  }

  // Settings first: a run that cannot send must not read (or wait for) the list.
  let senders: Partial<Record<VendorName, Sender>> = {};
  let mode: "direct" | "proxy" = "direct";
  let available: (vendor: VendorName) => boolean;
  if (options.proxy !== undefined) {
    mode = "proxy";
    let url: string;
    try {
      url = checkBaseUrl("x-logout", options.proxy, "--proxy");
    } catch (error) {
      if (!isVendorError(error)) throw error;
      throw new UsageError(error.message.replace(/: ".*$/s, ""));
    }
    const apiKey = io.env[PROXY_KEY_VARIABLE]?.trim() || undefined;
    const timeoutMs = readSettings(
      io.env.UPSTREAM_TIMEOUT_MS === undefined
        ? {}
        : { UPSTREAM_TIMEOUT_MS: io.env.UPSTREAM_TIMEOUT_MS },
    ).timeoutMs;
    for (const vendor of VENDOR_NAMES) {
      senders[vendor] = proxySender(vendor, { url, apiKey }, timeoutMs);
    }
    available = () => true;
  } else {
    const settings = readSettings(
      io.env,
      options.config === undefined ? {} : readConfigFile(options.config),
    );
    senders = Object.fromEntries(
      VENDOR_NAMES.map((vendor) => [vendor, directSender(vendor, settings)]).filter(
        ([, sender]) => sender !== undefined,
      ),
    );
    available = (vendor) => senders[vendor] !== undefined;
  }

  const text = await readInput(input, io);
  let parsed: ReturnType<typeof parseSessions>;
  try {
    parsed = parseSessions(text, format);
  } catch (error) {
    if (error instanceof CsvError)
      throw new UsageError(`${fromStdin ? "standard input" : input}, ${error.message}`);
    throw error;
  }
  const { issues } = parsed;
  for (const issue of issues) io.stderr.write(`x-logout: ${describeIssue(issue)}\n`);

  // One task per vendor session, whichever lines name it.
  const only = options.only === undefined ? undefined : new Set(options.only);
  const tasks = new Map<string, Task>();
  const firstLine = new Map<VendorName, number>();
  let duplicateLines = 0;
  for (const line of parsed.lines) {
    for (const vendor of VENDOR_NAMES) {
      const member = line.members[vendor];
      if (member === undefined || (only !== undefined && !only.has(vendor))) continue;
      if (!firstLine.has(vendor)) firstLine.set(vendor, line.line);
      const key = await sessionKey(vendor, member);
      const known = tasks.get(key);
      if (known !== undefined) {
        known.lines.push(line.line);
        duplicateLines++;
        continue;
      }
      tasks.set(key, {
        key,
        vendor,
        member,
        lines: [line.line],
        attempts: 0,
        inDoubt: false,
        firstAt: undefined,
        lastError: undefined,
      });
    }
  }
  const named = VENDOR_NAMES.filter((vendor) => firstLine.has(vendor));
  const off = named.filter((vendor) => !available(vendor));
  if (off.length > 0) {
    for (const vendor of off) {
      io.stderr.write(
        `x-logout: ${MEMBER_OF[vendor]}: ${LABEL_OF[vendor]} is named from line ${firstLine.get(vendor)} on but is not configured: set ${variablesToSet(vendor)}, or leave it out with --only\n`,
      );
    }
    return EXIT_USAGE;
  }
  for (const vendor of named) await senders[vendor]?.check();

  if (options.dryRun === true) {
    for (const vendor of named) {
      const count = [...tasks.values()].filter((task) => task.vendor === vendor).length;
      io.stdout.write(`${LABEL_OF[vendor]}: ${count} session(s) to log out\n`);
    }
    io.stdout.write(
      issues.length === 0
        ? `dry run: ${parsed.lines.length} line(s) checked, all usable; nothing was sent\n`
        : `dry run: ${issues.length} of ${parsed.lines.length + issues.length} line(s) cannot be used; nothing was sent\n`,
    );
    if (options.json === true) {
      io.stdout.write(
        `${JSON.stringify({ type: "dry-run", lines: parsed.lines.length, issues })}\n`,
      );
    }
    return issues.length === 0 ? EXIT_OK : EXIT_NOT_ALL_ENDED;
  }

  const failuresPath = options.failures ?? `${fromStdin ? journalPath : input}.failures.jsonl`;
  if (!fromStdin && samePath(failuresPath, input as string)) {
    throw new UsageError(`--failures ${failuresPath}: is the list itself; name another file`);
  }
  if (samePath(failuresPath, journalPath as string)) {
    throw new UsageError(`--failures ${failuresPath}: is the journal; name another file`);
  }
  const journal = Journal.open(journalPath as string);
  const counts = new Map<VendorName, VendorCounts>();
  const todo: Task[] = [];
  for (const vendor of named) counts.set(vendor, emptyCounts(0, 0));
  for (const task of tasks.values()) {
    const own = counts.get(task.vendor) as VendorCounts;
    own.total++;
    const state = journal.states.get(task.key);
    if (state?.outcome !== undefined) {
      own.skipped++;
      continue;
    }
    task.inDoubt = state?.inDoubt === true;
    todo.push(task);
  }

  const json = options.json === true;
  const progressMode: ProgressMode =
    options.progress !== "auto"
      ? options.progress
      : json
        ? "json"
        : io.stderr.isTTY === true && io.terminal !== undefined
          ? "tty"
          : "plain";
  const progressOut = progressMode === "json" ? io.stdout : io.stderr;
  const progress = new Progress(
    counts,
    progressMode,
    {
      write: (text) => progressOut.write(text),
      ...(io.terminal === undefined ? {} : { stream: io.terminal }),
    },
    options.progressEvery * 1000,
  );

  const stop = new AbortController();
  let stops = 0;
  const unsubscribe = io.onSignal?.((signal) => {
    stops++;
    if (stops === 1) {
      stop.abort();
      progress.notice(
        `x-logout: ${signal}: finishing the attempts in flight, starting no new one (again to quit at once)\n`,
      );
      return;
    }
    // The journal already says which attempts were sent: a rerun treats them as in doubt.
    journal.close();
    io.exit?.(EXIT_INTERRUPTED);
  });
  const runId = crypto.randomUUID();
  journal.run(runId, mode, fromStdin ? "-" : (input as string));
  const syncing = setInterval(() => journal.sync(), 1000);
  (syncing as { unref?: () => void }).unref?.();
  let result: RunResult;
  progress.start();
  try {
    result = await runTasks({
      tasks: todo,
      senders,
      concurrency: options.concurrency,
      journal,
      retryForMs: options.retryFor * 1000,
      maxBackoffMs: DEFAULT_MAX_BACKOFF_MS,
      stop: stop.signal,
      onEvent: (event) => progress.onEvent(event),
    });
  } finally {
    clearInterval(syncing);
    progress.stop();
    unsubscribe?.();
  }
  journal.stop(runId, result.stopped ? "signal" : "end");
  journal.close();

  const failed = writeFailures(failuresPath, result);
  const summary = summarize(counts, result, issues, duplicateLines, {
    file: failuresPath,
    sessions: failed,
  });
  if (json) io.stdout.write(`${JSON.stringify({ type: "summary", ...summary })}\n`);
  else io.stdout.write(formatSummary(summary));
  return summary.exitCode;
}

export { EXIT_INTERRUPTED, EXIT_NOT_ALL_ENDED, EXIT_OK, EXIT_USAGE };
