// A tiny test harness that needs nothing but the language: the conformance suite runs on every runtime.

export interface ConformanceCase {
  name: string;
  run: () => unknown | Promise<unknown>;
}

export interface ConformanceReport {
  runtime: string;
  passed: number;
  failed: number;
  failures: { name: string; error: string }[];
}

/** Collects cases under a group name: `const t = group("core-signing"); t("imports PEM", () => …)`. */
export function group(
  prefix: string,
  into: ConformanceCase[],
): (name: string, run: ConformanceCase["run"]) => void {
  return (name, run) => {
    into.push({ name: `${prefix} › ${name}`, run });
  };
}

export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertEqual<T>(actual: T, expected: T, message: string): void {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(`${message}: expected ${String(expected)}, got ${String(actual)}`);
  }
}

export function assertBytes(actual: Uint8Array, expected: Uint8Array, message: string): void {
  const same = actual.length === expected.length && actual.every((byte, i) => byte === expected[i]);
  if (!same)
    throw new AssertionError(
      `${message}: bytes differ (${actual.length} vs ${expected.length} bytes)`,
    );
}

/** Runs `fn` and checks that it throws (or rejects with) an instance of `type` whose message matches. */
export async function assertRejects(
  fn: () => unknown,
  type: abstract new (...args: never[]) => Error,
  pattern: RegExp,
  message: string,
): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof type)) {
      throw new AssertionError(`${message}: expected ${type.name}, got ${String(error)}`);
    }
    if (!pattern.test(error.message)) {
      throw new AssertionError(
        `${message}: message ${JSON.stringify(error.message)} does not match ${pattern}`,
      );
    }
    return error;
  }
  throw new AssertionError(`${message}: expected ${type.name}, nothing was thrown`);
}

/** Runs every case in order; a case fails by throwing. */
export async function runCases(
  runtime: string,
  cases: ConformanceCase[],
): Promise<ConformanceReport> {
  const report: ConformanceReport = { runtime, passed: 0, failed: 0, failures: [] };
  for (const testCase of cases) {
    try {
      await testCase.run();
      report.passed++;
    } catch (error) {
      report.failed++;
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      report.failures.push({ name: testCase.name, error: text });
    }
  }
  return report;
}
