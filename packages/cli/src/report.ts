// The end of a run: a summary per vendor and per error code, the failures file (the sessions that did
// not end, as lines to feed back in), and the exit code.
import pc from "picocolors";
import { writePrivate } from "./host.ts";
import type { LineIssue } from "./input.ts";
import { finished, type VendorCounts } from "./progress.ts";
import type { RunResult } from "./runner.ts";
import { LABEL_OF, MEMBER_OF, type VendorName } from "./sessions.ts";

/** Every session ended (or was found already logged out). */
export const EXIT_OK = 0;
/** Some sessions did not end, or some lines could not be used. */
export const EXIT_NOT_ALL_ENDED = 1;
/** The command could not start: a bad option, setting, input file or journal. Nothing was sent. */
export const EXIT_USAGE = 2;
/** Stopped by a signal before the end; rerun with the same journal to go on. */
export const EXIT_INTERRUPTED = 130;

export interface ErrorCount {
  vendor: VendorName;
  code: string | number;
  kind: string;
  sessions: number;
}

export interface Summary {
  ok: boolean;
  exitCode: number;
  stopped: boolean;
  vendors: Record<string, Omit<VendorCounts, "waiting" | "halted"> & { halted?: string }>;
  errors: ErrorCount[];
  invalidLines: number;
  duplicateLines: number;
  failures: { file: string; sessions: number } | undefined;
}

/** The failures file: for each line that named a session which did not end, that line with only those members. */
export function writeFailures(path: string, result: RunResult): number {
  const byLine = new Map<number, Record<string, unknown>>();
  let sessions = 0;
  for (const [task, status] of result.settled) {
    if (status.status === "ended" || status.status === "already") continue;
    const line = Math.min(...task.lines);
    const members = byLine.get(line) ?? {};
    members[MEMBER_OF[task.vendor]] = task.member;
    byLine.set(line, members);
    sessions++;
  }
  const text = [...byLine.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, members]) => `${JSON.stringify(members)}\n`)
    .join("");
  // It holds tokens, as the list did: readable by its owner only.
  writePrivate(path, text);
  return sessions;
}

/** Sessions that failed or did not finish, by vendor, code and kind. */
export function errorCounts(result: RunResult): ErrorCount[] {
  const counts = new Map<string, ErrorCount>();
  for (const [task, status] of result.settled) {
    let error: { code: string | number; kind: string } | undefined;
    if (status.status === "failed") error = status.error;
    else if (status.status === "pending")
      error = status.error ?? { code: "NOT_SENT", kind: "pending" };
    if (error === undefined) continue;
    const id = `${task.vendor}\n${error.code}\n${error.kind}`;
    const entry = counts.get(id) ?? {
      vendor: task.vendor,
      code: error.code,
      kind: error.kind,
      sessions: 0,
    };
    entry.sessions++;
    counts.set(id, entry);
  }
  return [...counts.values()].sort((a, b) => b.sessions - a.sessions);
}

export function summarize(
  counts: Map<VendorName, VendorCounts>,
  result: RunResult | undefined,
  issues: readonly LineIssue[],
  duplicateLines: number,
  failures: { file: string; sessions: number } | undefined,
): Summary {
  const vendors: Summary["vendors"] = {};
  let allEnded = issues.length === 0;
  for (const [vendor, own] of counts) {
    const { waiting: _waiting, halted, ...figures } = own;
    vendors[vendor] = { ...figures, ...(halted === undefined ? {} : { halted }) };
    if (own.failed > 0 || own.pending > 0 || finished(own) < own.total) allEnded = false;
  }
  const stopped = result?.stopped === true;
  const exitCode = stopped ? EXIT_INTERRUPTED : allEnded ? EXIT_OK : EXIT_NOT_ALL_ENDED;
  return {
    ok: allEnded && !stopped,
    exitCode,
    stopped,
    vendors,
    errors: result === undefined ? [] : errorCounts(result),
    invalidLines: issues.length,
    duplicateLines,
    failures,
  };
}

/** The summary for people. */
export function formatSummary(summary: Summary): string {
  const header = [
    "vendor",
    "sessions",
    "ended",
    "already",
    "earlier run",
    "failed",
    "not finished",
  ];
  const rows = Object.entries(summary.vendors).map(([vendor, v]) => [
    LABEL_OF[vendor as VendorName],
    String(v.total),
    String(v.ended),
    String(v.already),
    String(v.skipped),
    String(v.failed),
    String(v.total - v.ended - v.already - v.skipped - v.failed),
  ]);
  const widths = header.map((_, i) =>
    Math.max(header[i]?.length ?? 0, ...rows.map((row) => row[i]?.length ?? 0)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ");
  const out = [
    pc.bold("x-logout report"),
    `  ${pc.dim(line(header))}`,
    ...rows.map((row) => `  ${line(row)}`),
  ];
  for (const [vendor, v] of Object.entries(summary.vendors)) {
    if (v.halted !== undefined) out.push(pc.red(`  ${LABEL_OF[vendor as VendorName]} ${v.halted}`));
  }
  if (summary.errors.length > 0) {
    out.push("  not ended, by error:");
    for (const error of summary.errors) {
      out.push(
        `    ${LABEL_OF[error.vendor].padEnd(10)} ${String(error.code).padEnd(24)} ${error.kind.padEnd(16)} ${error.sessions}`,
      );
    }
  }
  if (summary.invalidLines > 0) {
    out.push(
      pc.red(
        `  ${summary.invalidLines} line(s) could not be used (listed above by number and field)`,
      ),
    );
  }
  if (summary.duplicateLines > 0) {
    out.push(
      `  ${summary.duplicateLines} session(s) appeared on more than one line: each was sent once`,
    );
  }
  if (summary.failures !== undefined && summary.failures.sessions > 0) {
    out.push(
      `  failures file: ${summary.failures.file} (${summary.failures.sessions} session(s)): run it again once the cause is fixed`,
    );
  }
  out.push(
    summary.stopped
      ? pc.yellow(
          "Stopped before the end: run the same command again to go on (the journal knows what is done).",
        )
      : summary.ok
        ? pc.green("Every session ended.")
        : pc.red("Not every session ended."),
  );
  return `${out.join("\n")}\n`;
}
