// The conformance suite: every package's cases, run unchanged on Node 20, Node 24, Bun, Deno and workerd.
import { cases as coreSigning } from "./cases/core-signing.ts";
import { type ConformanceReport, runCases } from "./harness.ts";

export const cases = [...coreSigning];

export function runSuite(runtime: string): Promise<ConformanceReport> {
  return runCases(runtime, cases);
}
