// A small benchmark harness: subjects measured side by side, interleaved, medians over rounds.
//
// Usage (plain erasable TypeScript; runs on Node 24, Bun and Deno; no dependencies):
//
//   import { defineCase, report, runCases } from "../../../tooling/bench/harness.ts";
//
//   const results = await runCases([
//     defineCase("sign-sha256-2048", [
//       { name: "mine", run: () => signSomething(data) },         // sync or async (returns a promise)
//       { name: "node:crypto", run: () => crypto.sign("sha256", data, key) },
//     ], { baseline: "node:crypto" }),                              // ratios are to this subject
//   ]);
//   report(results);   // an aligned table, then one `BENCH {json}` line per measurement
//
// How a case is measured: each subject is warmed up and its batch size N chosen so one batch lasts
// about `batchMs` (default 30 ms). Then, over `rounds` rounds (default 7), every subject runs one
// batch of N ops; the order of subjects rotates each round, so drift (thermal, GC, other load)
// hits all subjects alike. The figure reported is the median over rounds of the per-op time.
//
// Benchmarks that measure other figures (latency percentiles, requests per second, bytes) print
// them with `printFigures("case", "subject", { p50Ms: 1.2, rps: 830 })`, which writes
// `BENCH {"case":"case","subject":"subject","p50Ms":1.2,"rps":830}`; `formatTable` aligns any rows.

/** One operation under test. A returned promise (thenable) is awaited before the next op. */
export type Operation = () => unknown;

export interface Subject {
  readonly name: string;
  readonly run: Operation;
}

export interface BenchCase {
  readonly name: string;
  readonly subjects: readonly Subject[];
  /** The subject the ratio column divides by. */
  readonly baseline: string;
}

export interface CaseOptions {
  /** Name of the baseline subject; the first subject when omitted. */
  readonly baseline?: string;
}

export interface RunOptions {
  /** Rounds per case; the median is taken over them. Default 7. */
  readonly rounds?: number;
  /** Target duration of one batch, in milliseconds. Default 30. */
  readonly batchMs?: number;
  /** Minimum warm-up per subject, in milliseconds. Default 200. */
  readonly warmupMs?: number;
  /** Minimum ops in the warm-up, however slow an op is. Default 5. */
  readonly warmupOps?: number;
  /** Called with a line of progress after each case (e.g. to print to stderr). */
  readonly onProgress?: (line: string) => void;
}

export interface Measurement {
  readonly case: string;
  readonly subject: string;
  /** Median over rounds of the time per op, in microseconds. */
  readonly usPerOp: number;
  readonly rounds: number;
  readonly opsPerBatch: number;
  readonly minUsPerOp: number;
  readonly maxUsPerOp: number;
  readonly baseline: string;
  /** usPerOp divided by the baseline subject's usPerOp (1 for the baseline itself). */
  readonly ratio: number;
  readonly async: boolean;
}

/** Figures for a BENCH line: numbers, strings, booleans or null. */
export type Figures = Readonly<Record<string, number | string | boolean | null>>;

/** Declares a case; throws if subject names repeat or the baseline is not one of them. */
export function defineCase(
  name: string,
  subjects: readonly Subject[],
  options: CaseOptions = {},
): BenchCase {
  if (subjects.length === 0) throw new Error(`case ${name}: no subjects`);
  const names = new Set(subjects.map((subject) => subject.name));
  if (names.size !== subjects.length) throw new Error(`case ${name}: subject names repeat`);
  const baseline = options.baseline ?? (subjects[0] as Subject).name;
  if (!names.has(baseline)) throw new Error(`case ${name}: baseline ${baseline} is not a subject`);
  return { name, subjects, baseline };
}

/** The median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] as number) + upper) / 2;
}

// Results are written here so no engine can drop an op whose result is unused.
const sink: { value: unknown } = { value: undefined };

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

function timeSync(run: Operation, ops: number): number {
  const start = performance.now();
  for (let i = 0; i < ops; i++) sink.value = run();
  return performance.now() - start;
}

async function timeAsync(run: Operation, ops: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < ops; i++) sink.value = await run();
  return performance.now() - start;
}

function timeBatch(run: Operation, ops: number, isAsync: boolean): number | Promise<number> {
  return isAsync ? timeAsync(run, ops) : timeSync(run, ops);
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === "function") gc();
}

interface Calibration {
  readonly isAsync: boolean;
  readonly opsPerBatch: number;
}

/** Warms a subject up, with growing batches, and sizes its batch to last about batchMs. */
async function calibrate(
  subject: Subject,
  batchMs: number,
  warmupMs: number,
  warmupOps: number,
): Promise<Calibration> {
  const start = performance.now();
  const first = subject.run();
  const isAsync = isThenable(first);
  sink.value = isAsync ? await first : first;
  let ops = 1;
  let batch = 1;
  let msPerOp = performance.now() - start;
  while (performance.now() - start < warmupMs || ops < warmupOps) {
    const elapsed = await timeBatch(subject.run, batch, isAsync);
    ops += batch;
    msPerOp = elapsed / batch;
    if (elapsed < batchMs / 2) batch *= 2;
  }
  const opsPerBatch = Math.max(1, Math.min(1e9, Math.round(batchMs / Math.max(msPerOp, 1e-7))));
  return { isAsync, opsPerBatch };
}

/** Measures one case: warm-up and sizing, then interleaved rounds with rotating order. */
export async function runCase(
  benchCase: BenchCase,
  options: RunOptions = {},
): Promise<Measurement[]> {
  const rounds = options.rounds ?? 7;
  const batchMs = options.batchMs ?? 30;
  const warmupMs = options.warmupMs ?? 200;
  const warmupOps = options.warmupOps ?? 5;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error("rounds must be a positive integer");

  const { subjects } = benchCase;
  const calibrations: Calibration[] = [];
  for (const subject of subjects) {
    try {
      calibrations.push(await calibrate(subject, batchMs, warmupMs, warmupOps));
    } catch (cause) {
      throw new Error(`case ${benchCase.name}, subject ${subject.name}: warm-up failed`, { cause });
    }
  }

  const perOp: number[][] = subjects.map(() => []);
  for (let round = 0; round < rounds; round++) {
    collectGarbage();
    for (let offset = 0; offset < subjects.length; offset++) {
      const index = (offset + round) % subjects.length;
      const subject = subjects[index] as Subject;
      const { isAsync, opsPerBatch } = calibrations[index] as Calibration;
      const elapsedMs = await timeBatch(subject.run, opsPerBatch, isAsync);
      (perOp[index] as number[]).push((elapsedMs * 1000) / opsPerBatch);
    }
  }

  const medians = perOp.map((values) => median(values));
  const baselineIndex = subjects.findIndex((subject) => subject.name === benchCase.baseline);
  const baselineUs = medians[baselineIndex] as number;
  const results = subjects.map((subject, index): Measurement => {
    const values = perOp[index] as number[];
    const usPerOp = medians[index] as number;
    return {
      case: benchCase.name,
      subject: subject.name,
      usPerOp,
      rounds,
      opsPerBatch: (calibrations[index] as Calibration).opsPerBatch,
      minUsPerOp: Math.min(...values),
      maxUsPerOp: Math.max(...values),
      baseline: benchCase.baseline,
      ratio: usPerOp / baselineUs,
      async: (calibrations[index] as Calibration).isAsync,
    };
  });
  options.onProgress?.(
    `${benchCase.name}: ${results.map((r) => `${r.subject} ${formatUs(r.usPerOp)} µs`).join(", ")}`,
  );
  return results;
}

/** Runs cases one after another (subjects within a case interleave); all measurements in order. */
export async function runCases(
  cases: readonly BenchCase[],
  options: RunOptions = {},
): Promise<Measurement[]> {
  const all: Measurement[] = [];
  for (const benchCase of cases) all.push(...(await runCase(benchCase, options)));
  return all;
}

/** The median time per op of one subject in results; throws if it was not measured. */
export function usPerOpOf(
  results: readonly Measurement[],
  caseName: string,
  subject: string,
): number {
  const found = results.find((r) => r.case === caseName && r.subject === subject);
  if (!found) throw new Error(`no measurement for case ${caseName}, subject ${subject}`);
  return found.usPerOp;
}

/** Microseconds for reading: 1 decimal from 100, 2 from 1, 3 below. */
export function formatUs(us: number): string {
  if (us >= 100) return us.toFixed(1);
  if (us >= 1) return us.toFixed(2);
  return us.toFixed(3);
}

function roundFigure(value: number): number {
  return Number(value.toFixed(Math.abs(value) < 1 ? 4 : 2));
}

/** Aligns rows under a header: text columns to the left, the columns named in `right` to the right. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly number[] = [],
): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]): string =>
    widths
      .map((width, column) => {
        const cell = cells[column] ?? "";
        return right.includes(column) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  const rule = widths.map((width) => "-".repeat(width)).join("  ");
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** Prints the measurements as an aligned table: case, subject, µs/op, spread, batch, ratio. */
export function printTable(results: readonly Measurement[]): void {
  const rows = results.map((r) => {
    const spread = Math.max(r.maxUsPerOp - r.usPerOp, r.usPerOp - r.minUsPerOp) / r.usPerOp;
    const ratio = r.subject === r.baseline ? "1.00x (base)" : `${r.ratio.toFixed(2)}x`;
    return [
      r.case,
      r.subject,
      formatUs(r.usPerOp),
      `±${(spread * 100).toFixed(1)}%`,
      String(r.opsPerBatch),
      ratio,
    ];
  });
  console.log(
    formatTable(
      ["case", "subject", "µs/op", "spread", "ops/batch", "vs baseline"],
      rows,
      [2, 3, 4],
    ),
  );
}

/** The `BENCH {json}` line for arbitrary figures; `case` and `subject` come first. */
export function benchLine(caseName: string, subject: string, figures: Figures): string {
  const record: Record<string, number | string | boolean | null> = { case: caseName, subject };
  for (const [key, value] of Object.entries(figures)) {
    if (key === "case" || key === "subject") continue;
    record[key] = typeof value === "number" && Number.isFinite(value) ? roundFigure(value) : value;
  }
  return `BENCH ${JSON.stringify(record)}`;
}

/** Prints one `BENCH {"case":...,"subject":...,<figures>}` line. */
export function printFigures(caseName: string, subject: string, figures: Figures): void {
  console.log(benchLine(caseName, subject, figures));
}

/** Prints one `BENCH {json}` line per measurement. */
export function printBenchLines(results: readonly Measurement[]): void {
  for (const r of results) {
    printFigures(r.case, r.subject, {
      usPerOp: r.usPerOp,
      rounds: r.rounds,
      opsPerBatch: r.opsPerBatch,
      minUsPerOp: r.minUsPerOp,
      maxUsPerOp: r.maxUsPerOp,
      baseline: r.baseline,
      ratio: r.ratio,
    });
  }
}

/** The table, a blank line, then the BENCH lines. */
export function report(results: readonly Measurement[]): void {
  printTable(results);
  console.log("");
  printBenchLines(results);
}
